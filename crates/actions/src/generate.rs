//! GENERATE_CONTENT: text from a language model, through the workspace's
//! `llm` connection, in one of the two API shapes that cover the providers
//! users run:
//!
//! - OpenAI-compatible Chat Completions (`POST {baseUrl}/chat/completions`,
//!   `Authorization: Bearer KEY`): OpenAI, Azure OpenAI, Ollama, vLLM,
//!   llama.cpp server;
//! - Anthropic Messages (`POST {baseUrl}/v1/messages`, `x-api-key`,
//!   `anthropic-version`).
//!
//! The output is `{ <outputVariable>: text, model, usage: { inputTokens,
//! outputTokens }, finishReason, provider }`. 429 and 5xx retry after the
//! provider's `Retry-After` or rate-limit reset ([`crate::call`]); 400, 401,
//! 403 and 404 are fatal with the provider's own message. A call may take
//! minutes: the worker renews the step's lease meanwhile, and the step's
//! `timeout` (not a fixed one here) bounds it.

use std::sync::Arc;
use std::time::Duration;

use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::action::{Action, ActionContext, ActionError, LogLevel, Outcome};
use crate::call::{Endpoint, failure, join, sensitive};
use crate::connections::{LlmConnection, LlmProvider};
use crate::net::{HttpPolicy, LazyClient};
use crate::spec::{ActionSpec, Category, ConnectionUse, schema_of};

/// OpenAI's API when an `openai` connection names no base URL.
pub const OPENAI_URL: &str = "https://api.openai.com/v1";
/// Anthropic's API when an `anthropic` connection names no base URL.
pub const ANTHROPIC_URL: &str = "https://api.anthropic.com";
/// The `anthropic-version` sent when the connection names none.
pub const ANTHROPIC_VERSION: &str = "2023-06-01";
/// `max_tokens` sent to Anthropic (which requires one) when the step sets none.
pub const DEFAULT_MAX_TOKENS: u32 = 1024;
/// The longest a call may take when the step sets no shorter `timeout`.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(600);
/// Output fields `outputVariable` may not name.
pub const RESERVED_OUTPUTS: [&str; 4] = ["model", "usage", "finishReason", "provider"];

/// GENERATE_CONTENT config.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GenerateContentConfig {
    /// The prompt (the user message).
    #[schemars(length(min = 1))]
    pub prompt: String,
    /// A system prompt: instructions the model follows.
    #[serde(default)]
    pub system: Option<String>,
    /// Upper bound on generated tokens. Default: the provider's (1024 on
    /// Anthropic, which requires one).
    #[serde(default)]
    #[schemars(range(min = 1, max = 200000))]
    pub max_tokens: Option<u32>,
    /// Sampling temperature.
    #[serde(default)]
    #[schemars(range(min = 0.0, max = 2.0))]
    pub temperature: Option<f64>,
    /// Name of the output field holding the text. Default: `text`.
    #[serde(default)]
    #[schemars(length(min = 1), regex(pattern = r"^[A-Za-z_][A-Za-z0-9_]*$"))]
    pub output_variable: Option<String>,
    /// The model, instead of the connection's.
    #[serde(default)]
    #[schemars(length(min = 1))]
    pub model: Option<String>,
    /// The workspace's `llm` connection to use. Default: the workspace's
    /// default llm connection.
    #[serde(default)]
    #[schemars(length(min = 1))]
    pub connection: Option<String>,
}

/// What a provider generated.
#[derive(Debug, PartialEq)]
pub(crate) struct Generated {
    pub(crate) text: String,
    pub(crate) model: String,
    pub(crate) input_tokens: Option<u64>,
    pub(crate) output_tokens: Option<u64>,
    pub(crate) finish_reason: Option<String>,
}

/// The GENERATE_CONTENT action.
#[derive(Debug)]
pub struct GenerateContent {
    http: LazyClient,
}

impl GenerateContent {
    /// An action obeying `policy`; its HTTP client is built on first use.
    pub fn new(policy: &HttpPolicy) -> Self {
        Self {
            http: LazyClient::new(policy),
        }
    }
}

const NAME: &str = "GENERATE_CONTENT";

/// The provider's own message in an error body: OpenAI's
/// `{error: {message}}`, Anthropic's `{type: "error", error: {type, message}}`,
/// Ollama's `{error: "..."}`.
fn provider_message(body: &Value) -> Option<String> {
    let e = body.get("error")?;
    if let Some(s) = e.as_str() {
        return Some(s.to_owned());
    }
    let message = e.get("message").and_then(Value::as_str)?;
    Some(match e.get("type").and_then(Value::as_str) {
        Some(t) => format!("{t}: {message}"),
        None => message.to_owned(),
    })
}

fn openai_body(cfg: &GenerateContentConfig, model: &str) -> Value {
    let mut messages = Vec::new();
    if let Some(s) = &cfg.system {
        messages.push(json!({"role": "system", "content": s}));
    }
    messages.push(json!({"role": "user", "content": cfg.prompt}));
    let mut body = json!({"model": model, "messages": messages});
    if let Some(n) = cfg.max_tokens {
        body["max_tokens"] = json!(n);
    }
    if let Some(t) = cfg.temperature {
        body["temperature"] = json!(t);
    }
    body
}

fn anthropic_body(cfg: &GenerateContentConfig, model: &str) -> Value {
    let mut body = json!({
        "model": model,
        "max_tokens": cfg.max_tokens.unwrap_or(DEFAULT_MAX_TOKENS),
        "messages": [{"role": "user", "content": cfg.prompt}],
    });
    if let Some(s) = &cfg.system {
        body["system"] = json!(s);
    }
    if let Some(t) = cfg.temperature {
        body["temperature"] = json!(t);
    }
    body
}

fn u64_at(v: &Value, key: &str) -> Option<u64> {
    v.get(key).and_then(Value::as_u64)
}

fn parse_openai(v: &Value, asked: &str) -> Result<Generated, String> {
    let choice = v
        .get("choices")
        .and_then(|c| c.get(0))
        .ok_or("the answer has no `choices`")?;
    let text = choice
        .pointer("/message/content")
        .and_then(Value::as_str)
        .ok_or("the answer's first choice has no `message.content`")?;
    let usage = v.get("usage").cloned().unwrap_or(Value::Null);
    Ok(Generated {
        text: text.to_owned(),
        model: v.get("model").and_then(Value::as_str).unwrap_or(asked).to_owned(),
        input_tokens: u64_at(&usage, "prompt_tokens"),
        output_tokens: u64_at(&usage, "completion_tokens"),
        finish_reason: choice.get("finish_reason").and_then(Value::as_str).map(str::to_owned),
    })
}

fn parse_anthropic(v: &Value, asked: &str) -> Result<Generated, String> {
    let blocks = v
        .get("content")
        .and_then(Value::as_array)
        .ok_or("the answer has no `content`")?;
    let text: String = blocks
        .iter()
        .filter(|b| b.get("type").and_then(Value::as_str) == Some("text"))
        .filter_map(|b| b.get("text").and_then(Value::as_str))
        .collect();
    let usage = v.get("usage").cloned().unwrap_or(Value::Null);
    Ok(Generated {
        text,
        model: v.get("model").and_then(Value::as_str).unwrap_or(asked).to_owned(),
        input_tokens: u64_at(&usage, "input_tokens"),
        output_tokens: u64_at(&usage, "output_tokens"),
        finish_reason: v.get("stop_reason").and_then(Value::as_str).map(str::to_owned),
    })
}

impl GenerateContent {
    /// One completion of `cfg` through the provider of `conn`.
    pub(crate) async fn generate(
        &self,
        ctx: &ActionContext,
        cfg: &GenerateContentConfig,
        conn: &LlmConnection,
    ) -> Result<Generated, ActionError> {
        let model = cfg.model.as_deref().unwrap_or(&conn.model).trim().to_owned();
        let key = conn.api_key.as_deref().map(str::trim).filter(|k| !k.is_empty());
        let secrets: Vec<String> = key.map(str::to_owned).into_iter().collect();
        let (endpoint, body) = match conn.provider {
            LlmProvider::Openai => (
                join(NAME, conn.base_url.as_deref().unwrap_or(OPENAI_URL), "chat/completions")?,
                openai_body(cfg, &model),
            ),
            LlmProvider::Anthropic => (
                join(NAME, conn.base_url.as_deref().unwrap_or(ANTHROPIC_URL), "v1/messages")?,
                anthropic_body(cfg, &model),
            ),
        };
        let endpoint = Endpoint::post(NAME, endpoint);
        let auth = match (key, conn.provider, conn.api_key_header.as_deref()) {
            (None, ..) => None,
            (Some(k), _, Some(h)) => Some((h.trim().to_owned(), sensitive(NAME, k)?)),
            (Some(k), LlmProvider::Openai, None) => {
                Some(("authorization".to_owned(), sensitive(NAME, &format!("Bearer {k}"))?))
            }
            (Some(k), LlmProvider::Anthropic, None) => Some(("x-api-key".to_owned(), sensitive(NAME, k)?)),
        };
        let version = conn.api_version.as_deref().unwrap_or(ANTHROPIC_VERSION).to_owned();
        let anthropic = conn.provider == LlmProvider::Anthropic;
        let answer = endpoint
            .send(ctx, &self.http, CALL_TIMEOUT, |mut r| {
                r = r.json(&body);
                if let Some((name, value)) = auth {
                    r = r.header(name, value);
                }
                if anthropic {
                    r = r.header("anthropic-version", version);
                }
                r
            })
            .await?;
        let label = endpoint.label();
        let v = answer.json();
        if !answer.status.is_success() {
            return Err(failure(&label, &answer, provider_message(&v), &secrets));
        }
        let parsed = if anthropic {
            parse_anthropic(&v, &model)
        } else {
            parse_openai(&v, &model)
        };
        // a 200 whose body is not the API's shape: a proxy's page, a
        // half-written answer; another attempt may get the real one
        parsed.map_err(|m| ActionError::retryable(format!("{label}: {m}")))
    }
}

#[async_trait::async_trait]
impl Action for GenerateContent {
    async fn execute(&self, ctx: ActionContext) -> Result<Outcome, ActionError> {
        let cfg: GenerateContentConfig = serde_json::from_value(ctx.config.clone())
            .map_err(|e| ActionError::fatal(format!("invalid {NAME} config: {e}")))?;
        let field = cfg.output_variable.clone().unwrap_or_else(|| "text".to_owned());
        if RESERVED_OUTPUTS.contains(&field.as_str()) {
            return Err(ActionError::fatal(format!(
                "{NAME}: `outputVariable` cannot be `{field}`, a field the output already has"
            )));
        }
        let Some(settings) = &ctx.connection else {
            return Err(ActionError::fatal(format!(
                "{NAME} needs an `llm` connection: `orbflow connections set NAME --kind llm --default` \
                 (PUT /v1/connections/NAME), or ORBFLOW_CONNECTION_LLM for the whole installation"
            )));
        };
        let conn: LlmConnection = serde_json::from_value(settings.clone())
            .map_err(|e| ActionError::fatal(format!("{NAME}: the llm connection is invalid: {e}")))?;
        let g = self.generate(&ctx, &cfg, &conn).await?;
        let provider = match conn.provider {
            LlmProvider::Openai => "openai",
            LlmProvider::Anthropic => "anthropic",
        };
        ctx.logger.log(
            LogLevel::Info,
            &format!(
                "{NAME}: {} characters from {} ({provider}), finish reason {}",
                g.text.chars().count(),
                g.model,
                g.finish_reason.as_deref().unwrap_or("unknown")
            ),
            None,
        );
        let mut out = serde_json::Map::new();
        out.insert(field, json!(g.text));
        out.insert("model".into(), json!(g.model));
        out.insert(
            "usage".into(),
            json!({"inputTokens": g.input_tokens, "outputTokens": g.output_tokens}),
        );
        out.insert("finishReason".into(), json!(g.finish_reason));
        out.insert("provider".into(), json!(provider));
        Ok(Outcome::Completed(Value::Object(out)))
    }
}

pub(crate) fn action(p: &HttpPolicy) -> (ActionSpec, Arc<dyn Action>) {
    (
        ActionSpec {
            name: NAME,
            description: "Generate text with a language model: OpenAI-compatible Chat Completions (OpenAI, Azure \
                          OpenAI, Ollama, vLLM, llama.cpp) or Anthropic Messages, through the workspace's `llm` \
                          connection.",
            category: Category::Ai,
            config_schema: schema_of::<GenerateContentConfig>(),
            example: json!({"prompt": "Write a friendly reply to: {{ input.text }}", "system": "You are a concise community manager.", "maxTokens": 200, "temperature": 0.7, "outputVariable": "reply"}),
            required_permissions: &["ai:generate"],
            output: "{ <outputVariable, default text>: the text, model, usage: { inputTokens, outputTokens }, finishReason, provider }",
            security: "The prompt, with whatever user content it templates in, goes to the model provider; do not \
                       template secrets into prompts. The API key is a workspace secret the connection references. \
                       429 and 5xx retry after the provider's Retry-After or rate-limit reset; 400, 401, 403 and 404 \
                       are fatal with the provider's message. Providers take no idempotency key: a retry after a \
                       time-out generates (and bills) again.",
            block: false,
            implemented: true,
            connection: Some(ConnectionUse::of("llm")),
        },
        Arc::new(GenerateContent::new(p)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(v: Value) -> GenerateContentConfig {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn request_bodies_follow_each_api() {
        let c = cfg(json!({"prompt": "hi", "system": "be brief", "maxTokens": 5, "temperature": 0.2}));
        assert_eq!(
            openai_body(&c, "m"),
            json!({"model": "m", "messages": [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hi"}], "max_tokens": 5, "temperature": 0.2})
        );
        assert_eq!(
            anthropic_body(&c, "m"),
            json!({"model": "m", "max_tokens": 5, "system": "be brief", "messages": [{"role": "user", "content": "hi"}], "temperature": 0.2})
        );
        // Anthropic requires max_tokens; OpenAI gets none unless set
        let bare = cfg(json!({"prompt": "hi"}));
        assert_eq!(anthropic_body(&bare, "m")["max_tokens"], DEFAULT_MAX_TOKENS);
        assert!(openai_body(&bare, "m").get("max_tokens").is_none());
    }

    #[test]
    fn answers_parse_or_explain_what_is_missing() {
        let a = json!({"content": [{"type": "text", "text": "Hel"}, {"type": "tool_use"}, {"type": "text", "text": "lo"}], "stop_reason": "end_turn", "usage": {"input_tokens": 3, "output_tokens": 2}});
        let g = parse_anthropic(&a, "claude").unwrap();
        assert_eq!(
            (g.text.as_str(), g.model.as_str(), g.output_tokens),
            ("Hello", "claude", Some(2))
        );
        assert_eq!(
            parse_openai(&json!({"choices": []}), "m").unwrap_err(),
            "the answer has no `choices`"
        );
        assert!(
            parse_openai(&json!({"choices": [{"message": {}}]}), "m")
                .unwrap_err()
                .contains("message.content")
        );
        assert_eq!(
            parse_anthropic(&json!({}), "m").unwrap_err(),
            "the answer has no `content`"
        );
        assert_eq!(
            provider_message(
                &json!({"type": "error", "error": {"type": "invalid_request_error", "message": "max_tokens: too big"}})
            ),
            Some("invalid_request_error: max_tokens: too big".into())
        );
        assert_eq!(
            provider_message(&json!({"error": "model not found"})),
            Some("model not found".into())
        );
        assert_eq!(provider_message(&json!({"detail": "x"})), None);
    }
}
