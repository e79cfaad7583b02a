//! A small action catalog for the model's tests (the real one lives in
//! orbflow-actions, which depends on this crate).

#![allow(dead_code, unreachable_pub)]

use orbflow_model::dsl::{self, Format};
use orbflow_model::{ActionSchemas, Diagnostic};
use serde_json::{Value, json};

pub struct TestCatalog {
    entries: Vec<(&'static str, Value, bool)>,
}

impl TestCatalog {
    pub fn new() -> Self {
        Self {
            entries: vec![
                (
                    "TRANSFORM",
                    json!({"type": "object", "properties": {"value": {}}, "required": ["value"], "additionalProperties": false}),
                    false,
                ),
                (
                    "TRIGGER_WEBHOOK",
                    json!({"type": "object", "properties": {
                        "url": {"type": "string", "minLength": 1},
                        "method": {"enum": ["GET", "POST"]},
                        "timeout": {"type": "integer"},
                        "headers": {"type": "object", "additionalProperties": {"type": "string"}}
                    }, "required": ["url"], "additionalProperties": false}),
                    false,
                ),
                (
                    "LOG_EVENT",
                    json!({"type": "object", "properties": {"message": {"type": "string"}}, "required": ["message"], "additionalProperties": false}),
                    false,
                ),
                (
                    "ANALYZE_SENTIMENT",
                    json!({"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"], "additionalProperties": false}),
                    false,
                ),
                (
                    "DELAY",
                    json!({"type": "object", "properties": {"duration": {}}, "additionalProperties": false}),
                    false,
                ),
                (
                    "SEND_SLACK_MESSAGE",
                    json!({"type": "object", "properties": {"webhookUrl": {"type": "string"}, "text": {"type": "string"}}, "required": ["webhookUrl", "text"], "additionalProperties": false}),
                    false,
                ),
                ("LOOP", json!({"type": "object"}), true),
                ("CONDITIONAL_BRANCH", json!({"type": "object"}), true),
            ],
        }
    }
}

impl ActionSchemas for TestCatalog {
    fn config_schema(&self, action: &str) -> Option<&Value> {
        self.entries.iter().find(|e| e.0 == action).map(|e| &e.1)
    }
    fn is_block(&self, action: &str) -> bool {
        self.entries.iter().any(|e| e.0 == action && e.2)
    }
    fn names(&self) -> Vec<&str> {
        self.entries.iter().map(|e| e.0).collect()
    }
}

/// Validates YAML; returns the diagnostics (empty when valid).
pub fn check(yaml: &str) -> Vec<Diagnostic> {
    match dsl::load(yaml, Format::Yaml, &TestCatalog::new()) {
        Ok(_) => Vec::new(),
        Err(d) => d.0,
    }
}

/// Asserts that validating `yaml` reports an error with `code` at `path`
/// whose message contains `msg`; returns it.
#[track_caller]
pub fn expect_error(yaml: &str, path: &str, code: &str, msg: &str) -> Diagnostic {
    let diags = check(yaml);
    match diags.iter().find(|d| d.path == path && d.code == code) {
        Some(d) => {
            assert!(
                d.message.contains(msg),
                "message of {path}: {:?} lacks {msg:?}",
                d.message
            );
            d.clone()
        }
        None => panic!("no {code} at {path}; got:\n{diags:#?}"),
    }
}

/// A valid workflow with the given steps YAML (indented by 2).
pub fn wf(steps: &str) -> String {
    format!("schemaVersion: 1\nname: t\nsteps:\n{steps}")
}
