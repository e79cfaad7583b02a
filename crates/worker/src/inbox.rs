//! What an attempt's actions reach in the run's workspace: the inbox
//! (CREATE_NOTIFICATION) and the data store (UPDATE_DATABASE), keyed by run
//! and step, so a retried attempt finds what its earlier attempt did; and
//! the email templates (SEND_EMAIL's `templateId`).

use std::sync::Arc;

use orbflow_actions::ActionError;
use orbflow_actions::database::{DataWrite, DbOperation, Records};
use orbflow_actions::email::{EmailTemplate, EmailTemplates};
use orbflow_actions::notifications::{Inbox, InboxItem};
use orbflow_engine::Engine;
use orbflow_engine::admin::{NewNotification, RecordOp, RecordWrite};
use uuid::Uuid;

/// What one attempt reaches in its run's workspace: one handle, shared by
/// the context's inbox, data store and email templates (one allocation per
/// attempt). Writes are keyed by `run_id:step_path`.
pub(crate) struct RunWorkspace {
    pub(crate) engine: Arc<Engine>,
    pub(crate) workspace_id: Uuid,
    pub(crate) run_id: Uuid,
    pub(crate) step_path: String,
}

impl RunWorkspace {
    fn dedup_key(&self) -> String {
        format!("{}:{}", self.run_id, self.step_path)
    }
}

#[async_trait::async_trait]
impl Inbox for RunWorkspace {
    async fn create(&self, item: InboxItem) -> Result<String, ActionError> {
        let n = NewNotification {
            recipient: item.recipient,
            title: item.title,
            body: item.body,
            level: item.level.into(),
            link: item.link,
            data: item.data,
            run_id: Some(self.run_id),
            step_path: Some(self.step_path.clone()),
            dedup_key: self.dedup_key(),
        };
        self.engine
            .store()
            .create_notification(self.workspace_id, &n)
            .await
            .map(|(id, _)| id.to_string())
            .map_err(|e| ActionError::retryable(format!("CREATE_NOTIFICATION: writing the notification failed: {e}")))
    }
}

#[async_trait::async_trait]
impl Records for RunWorkspace {
    async fn write(&self, w: DataWrite) -> Result<serde_json::Value, ActionError> {
        let op = match w.operation {
            DbOperation::Insert => RecordOp::Insert,
            DbOperation::Update => RecordOp::Update,
            DbOperation::Upsert => RecordOp::Upsert,
            DbOperation::Delete => RecordOp::Delete,
        };
        let write = RecordWrite {
            collection: w.collection,
            op,
            data: w.data,
            filter: w.filter,
            dedup_key: Some(self.dedup_key()),
        };
        match self.engine.store().write_records(self.workspace_id, &write).await {
            Ok(v) => Ok(v),
            Err(orbflow_engine::Error::InvalidInput(m)) => Err(ActionError::fatal(format!("UPDATE_DATABASE: {m}"))),
            Err(e) => Err(ActionError::retryable(format!(
                "UPDATE_DATABASE: the write failed: {e}"
            ))),
        }
    }
}

#[async_trait::async_trait]
impl EmailTemplates for RunWorkspace {
    async fn get(&self, name: &str) -> Result<Option<EmailTemplate>, ActionError> {
        let t = self
            .engine
            .store()
            .email_template(self.workspace_id, name)
            .await
            .map_err(|e| ActionError::retryable(format!("SEND_EMAIL: reading the email template failed: {e}")))?;
        Ok(t.map(|t| EmailTemplate {
            subject: t.subject,
            text: t.text,
            html: t.html,
        }))
    }
}

#[cfg(test)]
mod tests {
    use orbflow_actions::notifications::Level;
    use orbflow_engine::admin::Admin;
    use sea_orm::ConnectionTrait;
    use serde_json::json;

    use super::*;
    use crate::embedded::Embedded;

    async fn workspace() -> (Embedded, RunWorkspace) {
        let embedded = Embedded::builder().build().await.unwrap();
        let ws = embedded.store().ensure_workspace("acme").await.unwrap();
        let at = RunWorkspace {
            engine: embedded.engine().clone(),
            workspace_id: ws.id,
            run_id: Uuid::now_v7(),
            step_path: "notify".into(),
        };
        (embedded, at)
    }

    fn item() -> InboxItem {
        InboxItem {
            recipient: "ops".into(),
            title: "t".into(),
            body: "b".into(),
            level: Level::Warning,
            link: None,
            data: None,
        }
    }

    fn write(data: serde_json::Value) -> DataWrite {
        DataWrite {
            collection: "leads".into(),
            operation: DbOperation::Insert,
            data: Some(data),
            filter: None,
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn writes_are_keyed_by_run_and_step_and_bad_data_is_fatal() {
        let (embedded, at) = workspace().await;
        let id = at.create(item()).await.unwrap();
        assert_eq!(
            at.create(item()).await.unwrap(),
            id,
            "a retried attempt finds its notification"
        );
        let n = embedded
            .store()
            .notification(at.workspace_id, id.parse().unwrap())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(n.level, orbflow_model::NotificationLevel::Warning);
        assert_eq!(n.step_path.as_deref(), Some("notify"));
        let first = at.write(write(json!({"a": 1}))).await.unwrap();
        assert_eq!(
            at.write(write(json!({"a": 2}))).await.unwrap(),
            first,
            "the same write once"
        );
        let other = RunWorkspace {
            step_path: "other".into(),
            ..at
        };
        let e = other.write(write(json!([1]))).await.unwrap_err();
        assert!(!e.is_retryable(), "{e:?}");
        assert_eq!(e.to_string(), "UPDATE_DATABASE: `data` must be a JSON object");
        assert!(other.get("welcome").await.unwrap().is_none());
        embedded.shutdown().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_store_that_fails_makes_retryable_errors() {
        let (embedded, at) = workspace().await;
        for table in [
            "workspace_notifications",
            "workspace_record_writes",
            "workspace_email_templates",
        ] {
            embedded
                .store()
                .connection()
                .execute_unprepared(&format!("DROP TABLE {table}"))
                .await
                .unwrap();
        }
        let e = at.create(item()).await.unwrap_err();
        assert!(e.is_retryable(), "{e:?}");
        assert!(
            e.to_string()
                .starts_with("CREATE_NOTIFICATION: writing the notification failed: "),
            "{e}"
        );
        let e = at.write(write(json!({"a": 1}))).await.unwrap_err();
        assert!(e.is_retryable(), "{e:?}");
        assert!(e.to_string().starts_with("UPDATE_DATABASE: the write failed: "), "{e}");
        let e = at.get("welcome").await.unwrap_err();
        assert!(e.is_retryable(), "{e:?}");
        assert!(
            e.to_string()
                .starts_with("SEND_EMAIL: reading the email template failed: "),
            "{e}"
        );
        embedded.shutdown().await;
    }
}
