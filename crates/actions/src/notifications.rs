//! Notification actions: SEND_EMAIL and CREATE_NOTIFICATION (SEND_SLACK_MESSAGE
//! is [`crate::slack`]).
//!
//! Configs are complete; SMTP and the in-app inbox land with their own issue
//! and fail with a fatal "not configured" error until then.

use std::sync::Arc;

use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::json;

use crate::action::Action;
use crate::registry::not_configured;
use crate::spec::{ActionSpec, Category, ConnectionUse, schema_of};

/// SEND_EMAIL config: exactly one of `body` and `templateId`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schemars(extend("oneOf" = [
    { "required": ["body"], "properties": { "body": { "type": "string" } } },
    { "required": ["templateId"], "properties": { "templateId": { "type": "string" } } }
]))]
pub struct SendEmailConfig {
    /// Recipient address(es), comma separated.
    #[schemars(length(min = 3))]
    pub to: String,
    /// Subject line.
    pub subject: String,
    /// Plain-text body.
    #[serde(default)]
    pub body: Option<String>,
    /// A stored template to render instead of `body`.
    #[serde(default)]
    pub template_id: Option<String>,
}

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
    vec![
        not_configured(
            ActionSpec {
                name: "SEND_EMAIL",
                description: "Send an email through the configured SMTP server.",
                category: Category::Notification,
                config_schema: schema_of::<SendEmailConfig>(),
                example: json!({"to": "team@example.com", "subject": "Daily digest", "body": "3 new mentions"}),
                required_permissions: &["notify:email"],
                output: "{ messageId, accepted: [address] }",
                security: "SMTP credentials come from the server's configuration, never from the workflow. Recipients are not restricted: review workflows that template `to` from input.",
                block: false,
                implemented: false,
                connection: Some(ConnectionUse {
                    kind: "smtp",
                    unless: &[],
                }),
            },
            "an SMTP server (ORBFLOW_SMTP_URL)",
        ),
        not_configured(
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
        ),
    ]
}
