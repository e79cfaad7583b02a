//! The error recorded on a failed step (`step_executions.error`) or run
//! (`workflow_runs.error`): a message and what is known about the failure.
//! Stored and served as a JSON object whose keys are the camelCase field
//! names; absent fields are left out.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Why a step (or a run) failed.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StepError {
    /// What went wrong, for people.
    pub message: String,
    /// The attempt that failed, when another follows (a retry's wait).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attempt: Option<i32>,
    /// Attempts made, when the step failed for good.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attempts: Option<i32>,
    /// Whether the action called the failure retryable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retryable: Option<bool>,
    /// The attempt's worker was lost (its lease expired) with no attempt left.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lost: Option<bool>,
    /// The run went past its timeout.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timed_out: Option<bool>,
    /// The expression that failed (blocks and the run's output).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expression: Option<String>,
    /// The step whose failure failed the run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step: Option<String>,
    /// The underlying error (the failed step's, or the output expression's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cause: Option<Value>,
}

impl StepError {
    /// An error with `message` and nothing else known.
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            ..Self::default()
        }
    }

    /// An action's failure after `attempts` attempts.
    pub fn after_attempts(message: impl Into<String>, attempts: i32) -> Self {
        Self {
            attempts: Some(attempts),
            ..Self::new(message)
        }
    }

    /// A failure the action called retryable (`true`) or fatal (`false`).
    pub fn retryable(self, retryable: bool) -> Self {
        Self {
            retryable: Some(retryable),
            ..self
        }
    }

    /// An expression that could not be compiled or evaluated, or whose value
    /// does not fit its block.
    pub fn expression(message: impl Into<String>, expression: impl Into<String>) -> Self {
        Self {
            expression: Some(expression.into()),
            ..Self::new(message)
        }
    }

    /// The message of an error object as stored, if it has one.
    pub fn message_of(error: &Value) -> Option<&str> {
        error.get("message").and_then(Value::as_str)
    }

    /// The stored form: a JSON object.
    pub fn to_value(&self) -> Value {
        serde_json::to_value(self).unwrap_or_else(|_| serde_json::json!({ "message": self.message }))
    }
}

impl From<StepError> for Value {
    fn from(e: StepError) -> Self {
        e.to_value()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn only_known_fields_are_written_in_camel_case() {
        let e = StepError::after_attempts("HTTP 503", 3).retryable(true);
        assert_eq!(
            serde_json::to_string(&e.to_value()).unwrap(),
            r#"{"message":"HTTP 503","attempts":3,"retryable":true}"#
        );
        let timeout = StepError {
            timed_out: Some(true),
            ..StepError::new("the run exceeded its timeout")
        };
        assert_eq!(
            Value::from(timeout),
            json!({"message": "the run exceeded its timeout", "timedOut": true})
        );
        let expr = StepError::expression("no such key: x", "input.x > 1");
        assert_eq!(
            expr.to_value(),
            json!({"message": "no such key: x", "expression": "input.x > 1"})
        );
    }

    #[test]
    fn stored_errors_read_back() {
        let stored = json!({"message": "step `a` failed", "step": "a", "cause": {"message": "x", "attempts": 1}});
        let e: StepError = serde_json::from_value(stored.clone()).unwrap();
        assert_eq!(e.step.as_deref(), Some("a"));
        assert_eq!(e.to_value(), stored);
        assert_eq!(StepError::message_of(&stored), Some("step `a` failed"));
        assert_eq!(StepError::message_of(&json!({"code": 1})), None);
    }
}
