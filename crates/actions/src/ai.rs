//! AI actions: GENERATE_CONTENT, ANALYZE_SENTIMENT, MODERATE_CONTENT.
//!
//! ANALYZE_SENTIMENT is implemented in [`crate::sentiment`] (no network).
//! GENERATE_CONTENT and MODERATE_CONTENT need a model provider and fail with
//! a fatal "not configured" error until their issue lands.

use std::sync::Arc;

use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::json;

use crate::action::Action;
use crate::registry::not_configured;
use crate::spec::{ActionSpec, Category, schema_of};

/// GENERATE_CONTENT config.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GenerateContentConfig {
    /// The prompt.
    #[schemars(length(min = 1))]
    pub prompt: String,
    /// Upper bound on generated tokens.
    #[serde(default)]
    #[schemars(range(min = 1, max = 32768))]
    pub max_tokens: Option<u32>,
    /// Sampling temperature.
    #[serde(default)]
    #[schemars(range(min = 0.0, max = 2.0))]
    pub temperature: Option<f64>,
    /// Name of the output field holding the text. Default: `text`.
    #[serde(default)]
    pub output_variable: Option<String>,
}

/// MODERATE_CONTENT config.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ModerateContentConfig {
    /// Text to check.
    pub text: String,
    /// Categories to check. Default: all.
    #[serde(default)]
    pub categories: Vec<String>,
}

pub(crate) fn actions() -> Vec<(ActionSpec, Arc<dyn Action>)> {
    vec![
        not_configured(
            ActionSpec {
                name: "GENERATE_CONTENT",
                description: "Generate text with a language model.",
                category: Category::Ai,
                config_schema: schema_of::<GenerateContentConfig>(),
                example: json!({"prompt": "Write a friendly reply to: {{ input.text }}", "maxTokens": 200, "temperature": 0.7, "outputVariable": "reply"}),
                required_permissions: &["ai:generate"],
                output: "{ <outputVariable>: text, model, usage: { inputTokens, outputTokens } }",
                security: "Prompts may carry user content to the model provider; do not template secrets into prompts.",
                block: false,
                implemented: false,
                connection: None,
            },
            "a language-model provider (ORBFLOW_LLM_URL)",
        ),
        crate::sentiment::action(),
        not_configured(
            ActionSpec {
                name: "MODERATE_CONTENT",
                description: "Check text against moderation categories.",
                category: Category::Ai,
                config_schema: schema_of::<ModerateContentConfig>(),
                example: json!({"text": "{{ input.text }}"}),
                required_permissions: &["ai:moderate"],
                output: "{ flagged: bool, categories: { name: score } }",
                security: "Sends the text to the moderation provider.",
                block: false,
                implemented: false,
                connection: None,
            },
            "a moderation provider",
        ),
    ]
}
