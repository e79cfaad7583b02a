//! CREATE_NOTIFICATION: a notification in the workspace's in-app inbox
//! (`GET /v1/notifications`). SEND_EMAIL is [`crate::email`],
//! SEND_SLACK_MESSAGE [`crate::slack`].
//!
//! The worker hands the action the run's [`Inbox`]: notifications land in
//! the run's own workspace, once per step of a run (a retried attempt gets
//! the notification its earlier attempt made).

use std::sync::Arc;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::action::{Action, ActionContext, ActionError, LogLevel, Outcome};
use crate::spec::{ActionSpec, Category, schema_of};

/// Notification severity.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// Informational.
    #[default]
    Info,
    /// Needs attention.
    Warning,
    /// Something failed.
    Error,
}

impl Level {
    /// Stable name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Info => "info",
            Self::Warning => "warning",
            Self::Error => "error",
        }
    }
}

/// CREATE_NOTIFICATION config.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateNotificationConfig {
    /// Recipient user.
    #[schemars(length(min = 1, max = 256))]
    pub user_id: String,
    /// Title.
    #[schemars(length(min = 1, max = 512))]
    pub title: String,
    /// Body.
    #[schemars(length(max = 16384))]
    pub message: String,
    /// Severity. Default: info.
    #[serde(default)]
    pub level: Option<Level>,
    /// Where the notification points (a URL or an app path).
    #[serde(default)]
    #[schemars(length(min = 1, max = 2048))]
    pub link: Option<String>,
    /// Extra data for the app (at most 16 KiB as JSON).
    #[serde(default)]
    pub data: Option<Value>,
}

/// The largest `data`, as JSON bytes.
pub const MAX_DATA_BYTES: usize = 16 * 1024;

/// A notification an action asks for.
#[derive(Debug, Clone, PartialEq)]
pub struct InboxItem {
    /// Recipient user.
    pub recipient: String,
    /// Title.
    pub title: String,
    /// Body.
    pub body: String,
    /// Severity.
    pub level: Level,
    /// Where it points.
    pub link: Option<String>,
    /// Extra data.
    pub data: Option<Value>,
}

/// The run's workspace inbox, bound by the worker to the run and step.
#[async_trait::async_trait]
pub trait Inbox: Send + Sync {
    /// Creates the step's notification (or finds the one an earlier attempt
    /// made); returns its id.
    async fn create(&self, item: InboxItem) -> Result<String, ActionError>;
}

/// The CREATE_NOTIFICATION action.
#[derive(Debug, Clone, Copy)]
pub struct CreateNotification;

#[async_trait::async_trait]
impl Action for CreateNotification {
    async fn execute(&self, ctx: ActionContext) -> Result<Outcome, ActionError> {
        if ctx.cancel.is_cancelled() {
            return Err(ActionError::Cancelled);
        }
        let cfg: CreateNotificationConfig = serde_json::from_value(ctx.config.clone())
            .map_err(|e| ActionError::fatal(format!("invalid CREATE_NOTIFICATION config: {e}")))?;
        if let Some(d) = &cfg.data {
            let size = serde_json::to_vec(d).map_or(usize::MAX, |v| v.len());
            if size > MAX_DATA_BYTES {
                return Err(ActionError::fatal(format!(
                    "CREATE_NOTIFICATION: `data` is {size} bytes as JSON, over the {MAX_DATA_BYTES}-byte limit"
                )));
            }
        }
        let Some(inbox) = &ctx.inbox else {
            return Err(ActionError::fatal(
                "CREATE_NOTIFICATION needs the workspace inbox, which this runner does not give",
            ));
        };
        let level = cfg.level.unwrap_or_default();
        let id = inbox
            .create(InboxItem {
                recipient: cfg.user_id.clone(),
                title: cfg.title,
                body: cfg.message,
                level,
                link: cfg.link,
                data: cfg.data,
            })
            .await?;
        ctx.logger.log(
            LogLevel::Info,
            &format!(
                "CREATE_NOTIFICATION: {} notification {id} for {}",
                level.as_str(),
                cfg.user_id
            ),
            None,
        );
        Ok(Outcome::Completed(json!({ "notificationId": id })))
    }
}

pub(crate) fn actions() -> Vec<(ActionSpec, Arc<dyn Action>)> {
    vec![(
        ActionSpec {
            name: "CREATE_NOTIFICATION",
            description: "Create a notification in the workspace's in-app inbox (GET /v1/notifications).",
            category: Category::Notification,
            config_schema: schema_of::<CreateNotificationConfig>(),
            example: json!({"userId": "user_42", "title": "Post published", "message": "Your post is live", "level": "info", "link": "/posts/42"}),
            required_permissions: &["notify:inbox"],
            output: "{ notificationId }",
            security: "Notifications are scoped to the run's workspace. One notification per step of a run: a \
                       retried attempt returns the one its earlier attempt made.",
            block: false,
            implemented: true,
            connection: None,
        },
        Arc::new(CreateNotification),
    )]
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;

    #[derive(Default)]
    struct Memory(Mutex<Vec<InboxItem>>);

    #[async_trait::async_trait]
    impl Inbox for Memory {
        async fn create(&self, item: InboxItem) -> Result<String, ActionError> {
            let mut items = self.0.lock().unwrap();
            items.push(item);
            Ok(format!("n{}", items.len()))
        }
    }

    #[tokio::test]
    async fn creates_through_the_inbox_it_is_given() {
        let inbox = Arc::new(Memory::default());
        let (mut ctx, _) =
            ActionContext::for_test(json!({"userId": "u1", "title": "T", "message": "M", "data": {"k": 1}}));
        ctx.inbox = Some(inbox.clone());
        let out = CreateNotification.execute(ctx).await.unwrap();
        assert_eq!(out, Outcome::Completed(json!({"notificationId": "n1"})));
        let items = inbox.0.lock().unwrap();
        assert_eq!(items[0].level, Level::Info);
        assert_eq!(items[0].data, Some(json!({"k": 1})));
    }

    #[tokio::test]
    async fn oversized_data_and_a_missing_inbox_are_fatal() {
        let big = "x".repeat(MAX_DATA_BYTES);
        let (mut ctx, _) = ActionContext::for_test(json!({"userId": "u", "title": "T", "message": "", "data": big}));
        ctx.inbox = Some(Arc::new(Memory::default()));
        let err = CreateNotification.execute(ctx).await.unwrap_err();
        assert!(err.to_string().contains("16384-byte limit"), "{err}");
        let (ctx, _) = ActionContext::for_test(json!({"userId": "u", "title": "T", "message": "m"}));
        let err = CreateNotification.execute(ctx).await.unwrap_err();
        assert!(!err.is_retryable() && err.to_string().contains("inbox"), "{err}");
    }
}
