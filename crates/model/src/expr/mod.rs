//! Expressions.
/// An expression error.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{expression}: {reason}")]
pub struct ExprError { /// expr
pub expression: String, /// why
pub reason: String }
