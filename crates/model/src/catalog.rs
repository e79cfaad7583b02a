//! What the validator needs to know about actions. The catalog itself lives
//! in `orbflow-actions`, which implements this trait; the model stays free of
//! I/O and of the actions' code.

use serde_json::Value;

/// Read access to the action catalog's config schemas.
pub trait ActionSchemas {
    /// JSON Schema of `action`'s config, or `None` if there is no such action.
    fn config_schema(&self, action: &str) -> Option<&Value>;
    /// Whether `action` names a control-flow block (written as a `type:`).
    fn is_block(&self, action: &str) -> bool;
    /// Every action name (for did-you-mean suggestions).
    fn names(&self) -> Vec<&str>;
}
