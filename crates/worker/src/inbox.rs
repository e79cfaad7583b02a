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
            level: item.level.as_str().to_owned(),
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
