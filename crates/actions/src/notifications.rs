//! CREATE_NOTIFICATION: a notification in the workspace's in-app inbox
//! (`GET /v1/notifications`). SEND_EMAIL is [`crate::email`],
//! SEND_SLACK_MESSAGE [`crate::slack`].
//!
//! The worker hands the action the run's [`Inbox`]: notifications land in
//! the run's own workspace, once per step of a run (a retried attempt gets
//! the notification its earlier attempt made).
//!
//! With an `inbox_webhook` connection, each notification is also POSTed to
//! the workspace's receiver, signed as Standard Webhooks (`webhook-id` is
//! the notification's id, so a re-delivery after a retry is recognised); a
//! 5xx, 408, 429 or transport failure is retryable (the retry finds the same
//! notification and delivers it again), another 4xx fatal.

use std::sync::Arc;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use base64::Engine as _;
use hmac::{KeyInit as _, Mac as _};

use crate::action::{Action, ActionContext, ActionError, LogLevel, Outcome};
use crate::connections::InboxWebhookConnection;
use crate::net::{self, HttpPolicy, LazyClient};
use crate::spec::{ActionSpec, Category, ConnectionUse, schema_of};

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
        orbflow_model::NotificationLevel::from(self).as_str()
    }
}

impl From<Level> for orbflow_model::NotificationLevel {
    fn from(l: Level) -> Self {
        match l {
            Level::Info => Self::Info,
            Level::Warning => Self::Warning,
            Level::Error => Self::Error,
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
#[derive(Debug)]
pub struct CreateNotification {
    http: LazyClient,
}

impl CreateNotification {
    /// An action whose delivery webhook obeys `policy`.
    pub fn new(policy: &HttpPolicy) -> Self {
        Self {
            http: LazyClient::new(policy),
        }
    }
}

/// The Standard Webhooks signature of `body`: `v1,` and the base64
/// HMAC-SHA256 of `{id}.{timestamp}.{body}` under the secret (the base64
/// after `whsec_`, else the secret's bytes).
pub fn sign(secret: &str, id: &str, timestamp: i64, body: &[u8]) -> Result<String, ActionError> {
    let b64 = base64::engine::general_purpose::STANDARD;
    let encoded = secret.strip_prefix("whsec_").unwrap_or(secret);
    let key = b64.decode(encoded).unwrap_or_else(|_| secret.as_bytes().to_vec());
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(&key)
        .map_err(|e| ActionError::fatal(format!("CREATE_NOTIFICATION: the signing secret cannot key HMAC: {e}")))?;
    mac.update(format!("{id}.{timestamp}.").as_bytes());
    mac.update(body);
    Ok(format!("v1,{}", b64.encode(mac.finalize().into_bytes())))
}

impl CreateNotification {
    /// POSTs the notification to the workspace's receiver.
    async fn deliver(&self, ctx: &ActionContext, settings: &Value, event: &Value, id: &str) -> Result<(), ActionError> {
        let hook: InboxWebhookConnection = serde_json::from_value(settings.clone()).map_err(|e| {
            ActionError::fatal(format!(
                "CREATE_NOTIFICATION: the inbox_webhook connection is invalid: {e}"
            ))
        })?;
        let url = url::Url::parse(hook.url.trim())
            .map_err(|e| ActionError::fatal(format!("CREATE_NOTIFICATION: invalid webhook URL: {e}")))?;
        let label = format!("POST {}", crate::webhook::origin(&url));
        net::check_url(self.http.policy(), &url)
            .map_err(|e| ActionError::fatal(format!("CREATE_NOTIFICATION {label}: {e}")))?;
        let client = self.http.get().map_err(ActionError::fatal)?;
        let body = serde_json::to_vec(event).map_err(|e| ActionError::fatal(e.to_string()))?;
        let ts = ctx.now.timestamp();
        let request = client
            .post(url)
            .header("content-type", "application/json")
            .header("webhook-id", id)
            .header("webhook-timestamp", ts.to_string())
            .header("webhook-signature", sign(&hook.secret, id, ts, &body)?)
            .body(body)
            .timeout(crate::webhook::DEFAULT_TIMEOUT);
        let sent = tokio::select! {
            biased;
            () = ctx.cancel.cancelled() => return Err(ActionError::Cancelled),
            r = request.send() => r,
        };
        let resp = sent.map_err(|e| match net::refusal(&e) {
            Some(r) => ActionError::fatal(format!("CREATE_NOTIFICATION {label}: {r}")),
            None => ActionError::retryable(format!("CREATE_NOTIFICATION {label}: {}", crate::webhook::describe(&e))),
        })?;
        let status = resp.status();
        if status.is_success() {
            return Ok(());
        }
        let message = format!("CREATE_NOTIFICATION {label} answered {}", status.as_u16());
        if status.is_server_error() || status.as_u16() == 408 || status.as_u16() == 429 {
            Err(ActionError::retryable(message))
        } else {
            Err(ActionError::fatal(message))
        }
    }
}

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
        let item = InboxItem {
            recipient: cfg.user_id.clone(),
            title: cfg.title,
            body: cfg.message,
            level,
            link: cfg.link,
            data: cfg.data,
        };
        let mut event = json!({
            "type": "notification.created",
            "data": {
                "recipient": item.recipient, "title": item.title, "body": item.body,
                "level": level.as_str(), "link": item.link, "data": item.data,
            },
        });
        let id = inbox.create(item).await?;
        ctx.logger.log(
            LogLevel::Info,
            &format!(
                "CREATE_NOTIFICATION: {} notification {id} for {}",
                level.as_str(),
                cfg.user_id
            ),
            None,
        );
        let delivered = match &ctx.connection {
            Some(settings) => {
                event["data"]["id"] = json!(id);
                self.deliver(&ctx, settings, &event, &id).await?;
                true
            }
            None => false,
        };
        Ok(Outcome::Completed(
            json!({ "notificationId": id, "delivered": delivered }),
        ))
    }
}

pub(crate) fn action(p: &HttpPolicy) -> (ActionSpec, Arc<dyn Action>) {
    (
        ActionSpec {
            name: "CREATE_NOTIFICATION",
            description: "Create a notification in the workspace's in-app inbox (GET /v1/notifications).",
            category: Category::Notification,
            config_schema: schema_of::<CreateNotificationConfig>(),
            example: json!({"userId": "user_42", "title": "Post published", "message": "Your post is live", "level": "info", "link": "/posts/42"}),
            required_permissions: &["notify:inbox"],
            output: "{ notificationId, delivered } (delivered: POSTed to the workspace's inbox_webhook connection)",
            security: "Notifications are scoped to the run's workspace. One notification per step of a run: a \
                       retried attempt returns the one its earlier attempt made. With an inbox_webhook connection \
                       each is POSTed to its URL, signed as Standard Webhooks with the connection's secret; the \
                       URL obeys ORBFLOW_HTTP_ALLOW_PRIVATE.",
            block: false,
            implemented: true,
            connection: Some(ConnectionUse {
                unless: &[],
                optional: true,
                ..ConnectionUse::of("inbox_webhook")
            }),
        },
        Arc::new(CreateNotification::new(p)),
    )
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;

    fn action() -> CreateNotification {
        CreateNotification::new(&HttpPolicy { allow_private: true })
    }

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

    #[test]
    fn signatures_match_the_standard_webhooks_published_vector() {
        let body = br#"{"test": 2432232314}"#;
        let want = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";
        let id = "msg_p5jXN8AQM9LWM0D4loKWxJek";
        assert_eq!(
            sign("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", id, 1614265330, body).unwrap(),
            want
        );
        assert_eq!(
            sign("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", id, 1614265330, body).unwrap(),
            want
        );
        assert_ne!(
            sign("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", id, 1614265331, body).unwrap(),
            want
        );
    }

    #[tokio::test]
    async fn creates_through_the_inbox_it_is_given() {
        let inbox = Arc::new(Memory::default());
        let (mut ctx, _) =
            ActionContext::for_test(json!({"userId": "u1", "title": "T", "message": "M", "data": {"k": 1}}));
        ctx.inbox = Some(inbox.clone());
        let out = action().execute(ctx).await.unwrap();
        assert_eq!(
            out,
            Outcome::Completed(json!({"notificationId": "n1", "delivered": false}))
        );
        let items = inbox.0.lock().unwrap();
        assert_eq!(items[0].level, Level::Info);
        assert_eq!(items[0].data, Some(json!({"k": 1})));
    }

    #[tokio::test]
    async fn oversized_data_and_a_missing_inbox_are_fatal() {
        let big = "x".repeat(MAX_DATA_BYTES);
        let (mut ctx, _) = ActionContext::for_test(json!({"userId": "u", "title": "T", "message": "", "data": big}));
        ctx.inbox = Some(Arc::new(Memory::default()));
        let err = action().execute(ctx).await.unwrap_err();
        assert!(err.to_string().contains("16384-byte limit"), "{err}");
        let (ctx, _) = ActionContext::for_test(json!({"userId": "u", "title": "T", "message": "m"}));
        let err = action().execute(ctx).await.unwrap_err();
        assert!(!err.is_retryable() && err.to_string().contains("inbox"), "{err}");
    }
}
