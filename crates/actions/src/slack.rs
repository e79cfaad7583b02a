//! SEND_SLACK_MESSAGE: a message to Slack, through an incoming webhook
//! (`webhookUrl`) or the Web API's `chat.postMessage` with a bot token
//! (`token` and `channel`).
//!
//! Slack's error model decides the step's fate:
//!
//! - HTTP 429 is retryable after its `Retry-After`; 5xx, 408, timeouts and
//!   transport errors are retryable.
//! - Web API: a 200 with `ok: false` carries an error code: `ratelimited`,
//!   `service_unavailable`, `request_timeout`, `internal_error` and
//!   `fatal_error` are retryable, every other code (`channel_not_found`,
//!   `not_in_channel`, `invalid_auth`, `msg_too_long`, …) is fatal.
//! - Incoming webhook: a 4xx answers a code as text (`invalid_payload`,
//!   `channel_not_found`, `no_service`, …): fatal.
//!
//! The output is `{ ok, channel, ts }` from the Web API (`ts` identifies the
//! message, for a thread or an update) and `{ ok }` from a webhook, which
//! returns neither. Messages name the target's origin, never its path (a
//! webhook URL is a credential) or the token.
//!
//! Slack has no idempotency key: an attempt that timed out after Slack
//! posted the message posts it again when retried.

use orbflow_model::validate::config as config_format;
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Value, json};
use url::Url;

use crate::action::{Action, ActionContext, ActionError, LogLevel, Outcome};
use crate::call::{Answer, Endpoint, failure, sensitive};
use crate::connections::SlackConnection;
use crate::net::{HttpPolicy, LazyClient};
use crate::spec::{ActionSpec, Category, ConnectionUse, schema_of};
use crate::webhook::{DEFAULT_TIMEOUT, excerpt};

/// The Web API's base URL when the config names none.
pub const DEFAULT_API_URL: &str = "https://slack.com/api";

/// Web API error codes worth another attempt; every other code is fatal.
pub const RETRYABLE_CODES: [&str; 6] = [
    "ratelimited",
    "rate_limited",
    "service_unavailable",
    "request_timeout",
    "internal_error",
    "fatal_error",
];

/// SEND_SLACK_MESSAGE config: `webhookUrl` (incoming webhook), or `token`
/// (bot token, with `channel`), or neither: the workspace's slack connection.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schemars(extend("not" = { "required": ["webhookUrl", "token"] }))]
#[schemars(extend("dependentRequired" = { "token": ["channel"] }))]
pub struct SendSlackMessageConfig {
    /// The workspace's `slack` connection to post with, when the config has
    /// neither `webhookUrl` nor `token`. Default: the workspace's default
    /// slack connection.
    #[serde(default)]
    #[schemars(length(min = 1))]
    pub connection: Option<String>,
    /// Incoming-webhook URL (http or https); it is a credential, keep it in a
    /// secret: `{{ secrets.SLACK_WEBHOOK }}`.
    #[serde(default)]
    #[schemars(extend("format" = config_format::HTTP_URL))]
    pub webhook_url: Option<String>,
    /// Bot token (`xoxb-…`) for the Web API's `chat.postMessage`, from a
    /// secret: `{{ secrets.SLACK_BOT_TOKEN }}`. Needs `channel`.
    #[serde(default)]
    #[schemars(length(min = 1))]
    pub token: Option<String>,
    /// The Web API's base URL. Default: `https://slack.com/api`.
    #[serde(default)]
    #[schemars(extend("format" = config_format::HTTP_URL))]
    pub api_url: Option<String>,
    /// Channel id or name (`C0123456789`, `#alerts`); required with `token`,
    /// an override where a webhook allows one.
    #[serde(default)]
    #[schemars(length(min = 1))]
    pub channel: Option<String>,
    /// Message text (Slack mrkdwn); with `blocks`, the notification's fallback.
    #[schemars(length(min = 1))]
    pub text: String,
    /// Block Kit blocks.
    #[serde(default)]
    pub blocks: Option<Vec<Value>>,
    /// Reply in this thread: the parent message's `ts`.
    #[serde(default)]
    #[schemars(length(min = 1))]
    pub thread_ts: Option<String>,
}

/// Where a message goes.
enum Target {
    Webhook(Url),
    Api { url: Url, token: String },
}

/// The SEND_SLACK_MESSAGE action.
#[derive(Debug)]
pub struct SendSlackMessage {
    http: LazyClient,
}

impl SendSlackMessage {
    /// An action obeying `policy`; its HTTP client is built on first use.
    pub fn new(policy: &HttpPolicy) -> Self {
        Self {
            http: LazyClient::new(policy),
        }
    }
}

fn parse_url(s: &str, what: &str) -> Result<Url, ActionError> {
    Url::parse(s.trim()).map_err(|e| ActionError::fatal(format!("SEND_SLACK_MESSAGE: invalid {what}: {e}")))
}

/// Where the message goes and the channel it names: the config's own
/// webhook or token, else the connection's.
fn target(cfg: &SendSlackMessageConfig, connection: Option<&Value>) -> Result<(Target, Option<String>), ActionError> {
    let api = |token: &str, base: Option<&str>, channel: Option<String>| {
        if channel.as_deref().is_none_or(str::is_empty) {
            return Err(ActionError::fatal("SEND_SLACK_MESSAGE: `token` needs `channel`"));
        }
        let base = base.unwrap_or(DEFAULT_API_URL);
        let url = parse_url(
            &format!("{}/chat.postMessage", base.trim().trim_end_matches('/')),
            "`apiUrl`",
        )?;
        Ok((
            Target::Api {
                url,
                token: token.trim().to_owned(),
            },
            channel,
        ))
    };
    match (&cfg.webhook_url, &cfg.token) {
        (Some(u), None) => Ok((Target::Webhook(parse_url(u, "`webhookUrl`")?), cfg.channel.clone())),
        (None, Some(token)) => api(token, cfg.api_url.as_deref(), cfg.channel.clone()),
        (None, None) => {
            let Some(conn) = connection else {
                return Err(ActionError::fatal(
                    "SEND_SLACK_MESSAGE needs `webhookUrl`, `token`, or a slack connection in the workspace \
                     (`orbflow connections set NAME --kind slack`, PUT /v1/connections/NAME)",
                ));
            };
            let c: SlackConnection = serde_json::from_value(conn.clone())
                .map_err(|e| ActionError::fatal(format!("SEND_SLACK_MESSAGE: the slack connection is invalid: {e}")))?;
            let channel = cfg.channel.clone().or(c.channel);
            match (c.webhook_url, c.token) {
                (Some(u), None) => Ok((Target::Webhook(parse_url(&u, "connection `webhookUrl`")?), channel)),
                (None, Some(token)) => api(&token, c.api_url.as_deref().or(cfg.api_url.as_deref()), channel),
                _ => Err(ActionError::fatal(
                    "SEND_SLACK_MESSAGE: the slack connection needs exactly one of `webhookUrl` or `token`",
                )),
            }
        }
        _ => Err(ActionError::fatal(
            "SEND_SLACK_MESSAGE needs exactly one of `webhookUrl` or `token`",
        )),
    }
}

/// The message as Slack reads it (snake_case fields).
fn payload(cfg: &SendSlackMessageConfig, channel: Option<&str>) -> Value {
    let mut body = json!({ "text": cfg.text });
    if let Some(c) = channel {
        body["channel"] = json!(c);
    }
    if let Some(b) = &cfg.blocks {
        body["blocks"] = json!(b);
    }
    if let Some(t) = &cfg.thread_ts {
        body["thread_ts"] = json!(t);
    }
    body
}

/// Slack's answer: a webhook's `ok`, or the Web API's `{ok, channel, ts}`
/// and its error codes.
fn outcome(label: &str, answer: &Answer, api: bool, secrets: &[String]) -> Result<Outcome, ActionError> {
    if !answer.status.is_success() {
        return Err(failure(label, answer, None, secrets));
    }
    if !api {
        return Ok(Outcome::Completed(json!({ "ok": true })));
    }
    let v: Value = serde_json::from_slice(&answer.body).map_err(|_| {
        ActionError::retryable(format!(
            "{label}: the answer is not Slack's JSON: {}",
            excerpt(&answer.body, secrets)
        ))
    })?;
    if v["ok"] == json!(true) {
        return Ok(Outcome::Completed(json!({
            "ok": true,
            "channel": v["channel"],
            "ts": v["ts"],
        })));
    }
    let code = v["error"].as_str().unwrap_or("unknown_error");
    let message = format!("{label}: Slack answered `{code}`");
    if RETRYABLE_CODES.contains(&code) {
        Err(ActionError::retryable(message))
    } else {
        Err(ActionError::fatal(message))
    }
}

#[async_trait::async_trait]
impl Action for SendSlackMessage {
    async fn execute(&self, ctx: ActionContext) -> Result<Outcome, ActionError> {
        if ctx.cancel.is_cancelled() {
            return Err(ActionError::Cancelled);
        }
        let cfg: SendSlackMessageConfig = serde_json::from_value(ctx.config.clone())
            .map_err(|e| ActionError::fatal(format!("invalid SEND_SLACK_MESSAGE config: {e}")))?;
        let (target, channel) = target(&cfg, ctx.connection.as_ref())?;
        let (url, token) = match target {
            Target::Webhook(u) => (u, None),
            Target::Api { url, token } => (url, Some(token)),
        };
        let endpoint = Endpoint::post("SEND_SLACK_MESSAGE", url);
        let label = endpoint.label();
        let body = serde_json::to_vec(&payload(&cfg, channel.as_deref()))
            .map_err(|e| ActionError::fatal(format!("SEND_SLACK_MESSAGE: cannot encode the message: {e}")))?;
        let auth = token
            .as_deref()
            .map(|t| sensitive("SEND_SLACK_MESSAGE", &format!("Bearer {t}")))
            .transpose()?;
        let secrets: Vec<String> = token.iter().cloned().collect();
        let result = match endpoint
            .send(&ctx, &self.http, DEFAULT_TIMEOUT, |mut r| {
                r = r.header(CONTENT_TYPE, "application/json; charset=utf-8").body(body);
                if let Some(a) = auth {
                    r = r.header(AUTHORIZATION, a);
                }
                r
            })
            .await
        {
            Ok(answer) => outcome(&label, &answer, token.is_some(), &secrets),
            Err(e) => Err(e),
        };
        match &result {
            Ok(_) => ctx.logger.log(LogLevel::Info, &format!("{label}: sent"), None),
            Err(ActionError::Cancelled) => {}
            Err(e) => ctx.logger.log(
                if e.is_retryable() {
                    LogLevel::Warn
                } else {
                    LogLevel::Error
                },
                &e.to_string(),
                None,
            ),
        }
        result
    }
}

pub(crate) fn action(p: &HttpPolicy) -> (ActionSpec, std::sync::Arc<dyn Action>) {
    (
        ActionSpec {
            name: "SEND_SLACK_MESSAGE",
            description: "Post a message to Slack: through an incoming webhook (`webhookUrl`), or with a bot token \
                          through the Web API's chat.postMessage (`token`, `channel`, optional `threadTs`, `blocks`).",
            category: Category::Notification,
            config_schema: schema_of::<SendSlackMessageConfig>(),
            example: json!({"webhookUrl": "{{ secrets.SLACK_WEBHOOK }}", "text": "Negative mention: {{ input.text }}"}),
            required_permissions: &["notify:slack"],
            output: "{ ok: true, channel, ts } with a bot token (`ts` names the message, for `threadTs`); { ok: true } through a webhook",
            security: "The webhook URL and the bot token are credentials: reference them as workspace secrets \
                       (`{{ secrets.NAME }}`); messages and logs name the target's origin only. HTTP 429 waits for \
                       Retry-After; 5xx, timeouts and the Web API codes ratelimited, service_unavailable, \
                       request_timeout, internal_error and fatal_error retry; any other code (channel_not_found, \
                       invalid_auth, …) or 4xx is fatal. Slack has no idempotency key: a retry after a timeout may \
                       post twice. Outgoing HTTP refuses private addresses unless ORBFLOW_HTTP_ALLOW_PRIVATE=true.",
            block: false,
            implemented: true,
            connection: Some(ConnectionUse {
                unless: &["webhookUrl", "token"],
                optional: false,
                ..ConnectionUse::of("slack")
            }),
        },
        std::sync::Arc::new(SendSlackMessage::new(p)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(v: Value) -> SendSlackMessageConfig {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn the_target_is_the_webhook_or_the_api_with_a_channel() {
        let t = target(
            &cfg(json!({"webhookUrl": "https://hooks.example/T/B/x", "text": "t"})),
            None,
        )
        .unwrap();
        assert!(matches!(t.0, Target::Webhook(u) if u.path() == "/T/B/x"));
        let t = target(
            &cfg(json!({"token": "xoxb-1", "channel": "C1", "text": "t", "apiUrl": "http://127.0.0.1:9/api/"})),
            None,
        )
        .unwrap();
        assert!(
            matches!(t.0, Target::Api { url, token } if url.as_str() == "http://127.0.0.1:9/api/chat.postMessage" && token == "xoxb-1")
        );
        let t = target(&cfg(json!({"token": "xoxb-1", "channel": "C1", "text": "t"})), None).unwrap();
        assert!(matches!(t.0, Target::Api { url, .. } if url.as_str() == "https://slack.com/api/chat.postMessage"));
        for bad in [
            json!({"token": "xoxb-1", "text": "t"}),
            json!({"text": "t"}),
            json!({"token": "x", "webhookUrl": "https://h.example/", "channel": "C", "text": "t"}),
            json!({"webhookUrl": "not a url", "text": "t"}),
        ] {
            assert!(
                matches!(target(&cfg(bad.clone()), None), Err(ActionError::Fatal { .. })),
                "{bad}"
            );
        }
    }

    #[test]
    fn a_connection_supplies_what_the_config_leaves_out() {
        let conn = json!({"token": "xoxb-c", "apiUrl": "http://127.0.0.1:9/api", "channel": "#alerts"});
        let (t, channel) = target(&cfg(json!({"text": "t"})), Some(&conn)).unwrap();
        assert!(
            matches!(t, Target::Api { url, token } if url.as_str() == "http://127.0.0.1:9/api/chat.postMessage" && token == "xoxb-c")
        );
        assert_eq!(channel.as_deref(), Some("#alerts"));
        // the step's channel wins; its own webhook wins over the connection
        let (_, channel) = target(&cfg(json!({"text": "t", "channel": "C9"})), Some(&conn)).unwrap();
        assert_eq!(channel.as_deref(), Some("C9"));
        let (t, _) = target(
            &cfg(json!({"text": "t", "webhookUrl": "https://h.example/x"})),
            Some(&conn),
        )
        .unwrap();
        assert!(matches!(t, Target::Webhook(_)));
        let hook = json!({"webhookUrl": "https://h.example/hook"});
        let (t, _) = target(&cfg(json!({"text": "t"})), Some(&hook)).unwrap();
        assert!(matches!(t, Target::Webhook(u) if u.path() == "/hook"));
        let Err(err) = target(&cfg(json!({"text": "t"})), Some(&json!({"token": "x"}))) else {
            panic!("no channel anywhere")
        };
        assert!(err.to_string().contains("`token` needs `channel`"), "{err}");
        let Err(err) = target(&cfg(json!({"text": "t"})), None) else {
            panic!("nothing to post with")
        };
        assert!(err.to_string().contains("slack connection"), "{err}");
    }

    #[test]
    fn the_payload_uses_slacks_field_names() {
        let c = cfg(json!({
            "token": "x", "channel": "C1", "text": "hi", "threadTs": "1.2", "blocks": [{"type": "divider"}]
        }));
        assert_eq!(
            payload(&c, Some("C1")),
            json!({"text": "hi", "channel": "C1", "thread_ts": "1.2", "blocks": [{"type": "divider"}]})
        );
        let c = cfg(json!({"webhookUrl": "https://h.example/", "text": "hi"}));
        assert_eq!(payload(&c, None), json!({"text": "hi"}));
    }
}
