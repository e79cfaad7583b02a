//! The run's workspace inbox handed to CREATE_NOTIFICATION: notifications
//! go to the run's workspace, keyed by run and step, so a retried attempt
//! finds the one its earlier attempt made.

use std::sync::Arc;

use orbflow_actions::ActionError;
use orbflow_actions::notifications::{Inbox, InboxItem};
use orbflow_engine::Engine;
use orbflow_engine::admin::NewNotification;
use uuid::Uuid;

/// The inbox of one attempt's run and step.
pub(crate) struct RunInbox {
    pub(crate) engine: Arc<Engine>,
    pub(crate) workspace_id: Uuid,
    pub(crate) run_id: Uuid,
    pub(crate) step_path: String,
}

#[async_trait::async_trait]
impl Inbox for RunInbox {
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
            dedup_key: format!("{}:{}", self.run_id, self.step_path),
        };
        self.engine
            .store()
            .create_notification(self.workspace_id, &n)
            .await
            .map(|(id, _)| id.to_string())
            .map_err(|e| ActionError::retryable(format!("CREATE_NOTIFICATION: writing the notification failed: {e}")))
    }
}
