//! Notification actions: SEND_EMAIL, SEND_SLACK_MESSAGE, CREATE_NOTIFICATION.
//!
//! Configs are complete; SMTP, Slack and the in-app inbox land with their own
//! issue and fail with a fatal "not configured" error until then.

use std::sync::Arc;

use orbflow_model::validate::config as config_format;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::json;

use crate::action::Action;
use crate::registry::not_configured;
use crate::spec::{ActionSpec, Category, schema_of};

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

/// SEND_SLACK_MESSAGE config.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SendSlackMessageConfig {
    /// Incoming-webhook URL (http or https); keep it in a secret:
    /// `{{ secrets.SLACK_WEBHOOK }}`.
    #[schemars(extend("format" = config_format::HTTP_URL))]
    pub webhook_url: String,
    /// Message text (Slack mrkdwn).
    #[schemars(length(min = 1))]
    pub text: String,
    /// Channel override, where the webhook allows it.
    #[serde(default)]
    pub channel: Option<String>,
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
            },
            "an SMTP server (ORBFLOW_SMTP_URL)",
        ),
        not_configured(
            ActionSpec {
                name: "SEND_SLACK_MESSAGE",
                description: "Post a message to Slack through an incoming webhook.",
                category: Category::Notification,
                config_schema: schema_of::<SendSlackMessageConfig>(),
                example: json!({"webhookUrl": "{{ secrets.SLACK_WEBHOOK }}", "text": "Negative mention: {{ input.text }}"}),
                required_permissions: &["notify:slack"],
                output: "{ ok: true }",
                security: "The webhook URL is a credential: reference it as a secret. Outgoing HTTP refuses private addresses unless ORBFLOW_HTTP_ALLOW_PRIVATE=true.",
                block: false,
                implemented: false,
            },
            "the Slack integration",
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
            },
            "the notification inbox",
        ),
    ]
}
