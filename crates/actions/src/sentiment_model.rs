//! ANALYZE_SENTIMENT as the catalog runs it: the offline scorer of
//! [`crate::sentiment`] by default, or, with `provider: llm`, the
//! workspace's language model through GENERATE_CONTENT's providers.
//!
//! The model is asked for one JSON object, `{"score": -1..1}`, at
//! temperature 0; the label comes from the score by the same thresholds as
//! the offline scorer, so both providers answer alike. An answer that is not
//! such an object (a model that chats instead) is retried, like any answer
//! that is not the API's shape.
//!
//! A model-backed step is not pure: [`crate::Registry::is_pure_step`] sends
//! it through the queue instead of running it inline.

use serde_json::{Value, json};

use crate::action::{Action, ActionContext, ActionError, LogLevel, Outcome};
use crate::connections::LlmConnection;
use crate::generate::{GenerateContent, GenerateContentConfig};
use crate::net::HttpPolicy;
use crate::sentiment::{AnalyzeSentiment, AnalyzeSentimentConfig, Label, MAX_TEXT_BYTES, SentimentProvider};

const NAME: &str = "ANALYZE_SENTIMENT";

/// The instructions the model gets.
pub const SYSTEM_PROMPT: &str = "You rate the sentiment of the text the user sends. Answer with one JSON object and nothing else: {\"score\": S} where S is a number from -1 (very negative) to 1 (very positive), 0 for neutral.";

/// Whether a step's config (as written) asks for the model: `provider` is
/// `llm`, or a template that may turn out to be.
pub fn uses_model(config: Option<&Value>) -> bool {
    match config.and_then(|c| c.get("provider")) {
        None => false,
        Some(Value::String(s)) => s != "builtin",
        Some(_) => true,
    }
}

/// The connection kind a sentiment step needs: `llm` with the model, none
/// offline.
pub fn model_kind(config: Option<&Value>) -> Option<&'static str> {
    uses_model(config).then_some("llm")
}

/// The score in the model's answer: the first `{…}` of the text (models
/// like to wrap it in a code fence), its `score` clamped to [-1, 1].
fn parse_score(text: &str) -> Option<f64> {
    let start = text.find('{')?;
    let end = text.rfind('}')?;
    let v: Value = serde_json::from_str(text.get(start..=end)?).ok()?;
    let s = v.get("score")?.as_f64()?;
    s.is_finite()
        .then(|| (s.clamp(-1.0, 1.0) * 10_000.0).round() / 10_000.0)
}

/// The ANALYZE_SENTIMENT action: offline, or through a language model.
#[derive(Debug)]
pub struct AnalyzeSentimentAction {
    model: GenerateContent,
}

impl AnalyzeSentimentAction {
    /// An action whose model calls obey `policy`.
    pub fn new(policy: &HttpPolicy) -> Self {
        Self {
            model: GenerateContent::new(policy),
        }
    }
}

#[async_trait::async_trait]
impl Action for AnalyzeSentimentAction {
    async fn execute(&self, ctx: ActionContext) -> Result<Outcome, ActionError> {
        let cfg: AnalyzeSentimentConfig = serde_json::from_value(ctx.config.clone())
            .map_err(|e| ActionError::fatal(format!("invalid {NAME} config: {e}")))?;
        if cfg.provider == SentimentProvider::Builtin {
            return AnalyzeSentiment.execute(ctx).await;
        }
        let Some(settings) = &ctx.connection else {
            return Err(ActionError::fatal(format!(
                "{NAME} with `provider: llm` needs an `llm` connection: `orbflow connections set NAME --kind llm --default`, or ORBFLOW_CONNECTION_LLM"
            )));
        };
        let conn: LlmConnection = serde_json::from_value(settings.clone())
            .map_err(|e| ActionError::fatal(format!("{NAME}: the llm connection is invalid: {e}")))?;
        if cfg.text.len() > MAX_TEXT_BYTES {
            return Err(ActionError::fatal(format!(
                "{NAME}: `text` is {} bytes, over the {MAX_TEXT_BYTES}-byte limit for a model",
                cfg.text.len()
            )));
        }
        let ask = GenerateContentConfig {
            prompt: cfg.text.clone(),
            system: Some(SYSTEM_PROMPT.to_owned()),
            max_tokens: Some(50),
            temperature: Some(0.0),
            output_variable: None,
            model: None,
            connection: None,
        };
        let g = self.model.generate(&ctx, &ask, &conn).await?;
        let score = parse_score(&g.text).ok_or_else(|| {
            ActionError::retryable(format!(
                "{NAME}: the model did not answer {{\"score\": -1..1}}: {}",
                g.text.chars().take(200).collect::<String>()
            ))
        })?;
        let label = Label::of(score);
        ctx.logger.log(
            LogLevel::Info,
            &format!("{NAME}: {score} ({label:?}) from {}", g.model),
            None,
        );
        Ok(Outcome::Completed(json!({
            "score": score,
            "label": label,
            "provider": "llm",
            "model": g.model,
            "usage": {"inputTokens": g.input_tokens, "outputTokens": g.output_tokens},
        })))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_model_is_used_only_when_asked() {
        assert!(!uses_model(None));
        assert!(!uses_model(Some(&json!({"text": "x"}))));
        assert!(!uses_model(Some(&json!({"text": "x", "provider": "builtin"}))));
        assert!(uses_model(Some(&json!({"text": "x", "provider": "llm"}))));
        assert!(
            uses_model(Some(&json!({"provider": "{{ input.p }}"}))),
            "a template may be llm"
        );
        assert_eq!(model_kind(Some(&json!({"provider": "llm"}))), Some("llm"));
        assert_eq!(model_kind(Some(&json!({}))), None);
    }

    #[test]
    fn scores_are_read_from_what_models_answer() {
        assert_eq!(parse_score("{\"score\": -0.8}"), Some(-0.8));
        assert_eq!(parse_score("```json\n{\"score\": 0.12345}\n```"), Some(0.1235));
        assert_eq!(parse_score("{\"score\": 3}"), Some(1.0), "clamped");
        assert_eq!(parse_score("I think it is positive"), None);
        assert_eq!(parse_score("{\"label\": \"positive\"}"), None);
        assert_eq!(parse_score("} {"), None);
    }
}
