//! CREATE_NOTIFICATION (SEND_EMAIL is [`crate::email`], SEND_SLACK_MESSAGE
//! [`crate::slack`]).
//!
//! Its config is complete; the in-app inbox lands with its own issue, and
//! until then every attempt fails with a fatal "not configured" error.

use std::sync::Arc;

use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::json;

use crate::action::Action;
use crate::registry::not_configured;
use crate::spec::{ActionSpec, Category, schema_of};

/// Notification severity.
#[derive(Debug, Clone, Copy, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// Informational.
    Info,
    /// Needs attention.
    Warning,
    /// Something failed.
    Error,
}

/// CREATE_NOTIFICATION config.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateNotificationConfig {
    /// Recipient user.
    pub user_id: String,
    /// Title.
    pub title: String,
    /// Body.
    pub message: String,
    /// Severity. Default: info.
    #[serde(default)]
    pub level: Option<Level>,
}

pub(crate) fn actions() -> Vec<(ActionSpec, Arc<dyn Action>)> {
    vec![not_configured(
        ActionSpec {
            name: "CREATE_NOTIFICATION",
            description: "Create an in-app notification for a user.",
            category: Category::Notification,
            config_schema: schema_of::<CreateNotificationConfig>(),
            example: json!({"userId": "user_42", "title": "Post published", "message": "Your post is live", "level": "info"}),
            required_permissions: &["notify:inbox"],
            output: "{ notificationId }",
            security: "Notifications are scoped to the run's workspace.",
            block: false,
            implemented: false,
            connection: None,
        },
        "the notification inbox",
    )]
}
