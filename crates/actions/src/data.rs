//! Data actions: TRANSFORM, LOG_EVENT. (TRIGGER_WEBHOOK lives in
//! [`crate::webhook`], UPDATE_DATABASE in [`crate::database`].)

use std::sync::Arc;

use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::action::{Action, ActionContext, ActionError, LogLevel, Outcome};
use crate::spec::{ActionSpec, Category, schema_of};

/// TRANSFORM config.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TransformConfig {
    /// Any JSON value; templates inside it are resolved. This is the output.
    pub value: Value,
}

/// TRANSFORM: the output is the templated `value`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Transform;

#[async_trait::async_trait]
impl Action for Transform {
    async fn execute(&self, ctx: ActionContext) -> Result<Outcome, ActionError> {
        match ctx.config {
            Value::Object(mut m) => match m.remove("value") {
                Some(v) => Ok(Outcome::Completed(v)),
                None => Err(ActionError::fatal("TRANSFORM needs `value`")),
            },
            _ => Err(ActionError::fatal("TRANSFORM config must be an object")),
        }
    }
}

/// LOG_EVENT level.
#[derive(Debug, Clone, Copy, Default, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum EventLevel {
    /// Detail.
    Debug,
    /// Normal (default).
    #[default]
    Info,
    /// Attention.
    Warn,
    /// Failure.
    Error,
}

/// LOG_EVENT config.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LogEventConfig {
    /// The line to log.
    pub message: String,
    /// Level. Default: info.
    #[serde(default)]
    pub level: Option<EventLevel>,
    /// Structured data logged with the line.
    #[serde(default)]
    pub data: Option<Value>,
}

/// LOG_EVENT: writes a line to the run log.
#[derive(Debug, Clone, Copy, Default)]
pub struct LogEvent;

#[async_trait::async_trait]
impl Action for LogEvent {
    async fn execute(&self, ctx: ActionContext) -> Result<Outcome, ActionError> {
        let cfg: LogEventConfig = serde_json::from_value(ctx.config)
            .map_err(|e| ActionError::fatal(format!("invalid LOG_EVENT config: {e}")))?;
        let level = cfg.level.unwrap_or_default();
        let lvl = match level {
            EventLevel::Debug => LogLevel::Debug,
            EventLevel::Info => LogLevel::Info,
            EventLevel::Warn => LogLevel::Warn,
            EventLevel::Error => LogLevel::Error,
        };
        ctx.logger.log(lvl, &cfg.message, cfg.data.as_ref());
        Ok(Outcome::Completed(json!({
            "logged": true,
            "level": serde_json::to_value(lvl).unwrap_or(Value::Null),
            "message": cfg.message,
        })))
    }
}

pub(crate) fn actions() -> Vec<(ActionSpec, Arc<dyn Action>)> {
    vec![
        (
            ActionSpec {
                name: "TRANSFORM",
                description: "Shape data: the output is the templated `value`.",
                category: Category::Data,
                config_schema: schema_of::<TransformConfig>(),
                example: json!({"value": {"text": "{{ input.text }}", "length": "{{ size(input.text) }}"}}),
                required_permissions: &[],
                output: "the templated `value`, typed (a whole-string template keeps its JSON type)",
                security: "Pure: no I/O. Secrets are not available outside action configs and should not be copied into outputs.",
                block: false,
                implemented: true,
                connection: None,
            },
            Arc::new(Transform),
        ),
        (
            ActionSpec {
                name: "LOG_EVENT",
                description: "Write a line (and optional data) to the run log.",
                category: Category::Data,
                config_schema: schema_of::<LogEventConfig>(),
                example: json!({"message": "mention from {{ input.platform }}", "level": "info"}),
                required_permissions: &[],
                output: "{ logged: true, level, message }",
                security: "Logs are visible to every member of the workspace: never log secrets.",
                block: false,
                implemented: true,
                connection: None,
            },
            Arc::new(LogEvent),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn transform_returns_value() {
        let (ctx, _) = ActionContext::for_test(json!({"value": {"a": [1, 2]}}));
        assert_eq!(
            Transform.execute(ctx).await,
            Ok(Outcome::Completed(json!({"a": [1, 2]})))
        );
        let (ctx, _) = ActionContext::for_test(json!({}));
        assert!(Transform.execute(ctx).await.is_err());
    }

    #[tokio::test]
    async fn log_event_logs_to_the_step_logger() {
        let (ctx, log) = ActionContext::for_test(json!({"message": "hi", "level": "warn", "data": {"n": 1}}));
        let out = LogEvent.execute(ctx).await.unwrap();
        assert_eq!(
            out,
            Outcome::Completed(json!({"logged": true, "level": "warn", "message": "hi"}))
        );
        assert_eq!(
            log.lines(),
            vec![(LogLevel::Warn, "hi".to_owned(), Some(json!({"n": 1})))]
        );
        let (ctx, _) = ActionContext::for_test(json!({"level": "warn"}));
        let e = LogEvent.execute(ctx).await.unwrap_err();
        assert!(e.to_string().contains("missing field `message`"), "{e}");
    }
}
