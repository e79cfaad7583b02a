//! What the HTTP API needs from the store beyond running workflows:
//! workspaces, tokens, workflows with drafts and published versions, their
//! triggers, and paginated listings. `orbflow-store` implements it on SQLite
//! and Postgres; the conformance suite runs it on both.
//!
//! Every listing is keyset-paginated on a time-ordered id (UUIDv7) or a
//! number, newest first unless said otherwise: a page is `limit` rows after
//! `cursor`, never an `OFFSET` scan.

use chrono::{DateTime, Utc};
use orbflow_model::{CatchUp, NotificationLevel, RunStatus, TriggerType, VerifyScheme, WorkflowStatus};
use serde_json::Value;
use uuid::Uuid;

use crate::Result;
use crate::store::{LogRecord, RunRecord};

/// A workspace (tenant).
#[derive(Debug, Clone, PartialEq)]
pub struct WorkspaceRecord {
    /// Id.
    pub id: Uuid,
    /// URL-safe name, unique.
    pub slug: String,
    /// Display name.
    pub name: String,
    /// Created.
    pub created_at: DateTime<Utc>,
}

/// A workspace secret as listed: never its value.
#[derive(Debug, Clone, PartialEq)]
pub struct SecretRecord {
    /// Its name (`secrets.NAME` in templates).
    pub name: String,
    /// When it was first set.
    pub created_at: DateTime<Utc>,
    /// When it was last set.
    pub updated_at: DateTime<Utc>,
}

/// A workspace connection: a provider's settings, credentials as
/// `{{ secrets.NAME }}` templates (never values).
#[derive(Debug, Clone, PartialEq)]
pub struct ConnectionRecord {
    /// Its name (`config.connection` in steps), unique in the workspace.
    pub name: String,
    /// Its kind: `smtp`, `slack`.
    pub kind: String,
    /// Its settings, as written.
    pub settings: serde_json::Value,
    /// Steps of its kind that name no connection use it (one per kind).
    pub is_default: bool,
    /// When it was first set.
    pub created_at: DateTime<Utc>,
    /// When it was last set.
    pub updated_at: DateTime<Utc>,
}

/// Who changes a workflow through the API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    /// Recorded as a workflow's `created_by`/`updated_by`: the token's id.
    pub id: String,
    /// Recorded as a version's `published_by`, for people: `token:PREFIX (NAME)`.
    pub label: String,
}

/// A notification of a workspace's in-app inbox.
#[derive(Debug, Clone, PartialEq)]
pub struct NotificationRecord {
    /// Id (UUIDv7).
    pub id: Uuid,
    /// Who it is for.
    pub recipient: String,
    /// Title.
    pub title: String,
    /// Body.
    pub body: String,
    /// Level.
    pub level: NotificationLevel,
    /// Where it points.
    pub link: Option<String>,
    /// Extra data.
    pub data: Option<serde_json::Value>,
    /// The run that made it.
    pub run_id: Option<Uuid>,
    /// The step that made it.
    pub step_path: Option<String>,
    /// When it was read; `None`: unread.
    pub read_at: Option<DateTime<Utc>>,
    /// When it was made.
    pub created_at: DateTime<Utc>,
}

/// A notification to create.
#[derive(Debug, Clone, PartialEq)]
pub struct NewNotification {
    /// Who it is for.
    pub recipient: String,
    /// Title.
    pub title: String,
    /// Body.
    pub body: String,
    /// Level.
    pub level: NotificationLevel,
    /// Where it points.
    pub link: Option<String>,
    /// Extra data.
    pub data: Option<serde_json::Value>,
    /// The run that makes it.
    pub run_id: Option<Uuid>,
    /// The step that makes it.
    pub step_path: Option<String>,
    /// One notification per key in a workspace (`run_id:step_path`): a
    /// second create with the key returns the first one.
    pub dedup_key: String,
}

/// Which notifications to list.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NotificationFilter {
    /// Only this recipient's.
    pub recipient: Option<String>,
    /// Only unread ones.
    pub unread_only: bool,
}

/// A record of a workspace's data store.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordRow {
    /// Id (UUIDv7).
    pub id: Uuid,
    /// Its collection.
    pub collection: String,
    /// The record: a JSON object.
    pub data: serde_json::Value,
    /// When it was made.
    pub created_at: DateTime<Utc>,
    /// When it was last written.
    pub updated_at: DateTime<Utc>,
}

/// What a write to the data store does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordOp {
    /// Adds `data` as a new record.
    Insert,
    /// Merges `data` into every record matching `filter`.
    Update,
    /// Updates the records matching `filter`, or inserts `filter` + `data`
    /// when none does.
    Upsert,
    /// Deletes the records matching `filter`.
    Delete,
}

/// A write to a workspace's data store.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordWrite {
    /// The collection.
    pub collection: String,
    /// What it does.
    pub op: RecordOp,
    /// The fields written (a JSON object).
    pub data: Option<serde_json::Value>,
    /// Top-level fields a record must equal (JSON equality) to be matched.
    pub filter: Option<serde_json::Value>,
    /// One write per key in a workspace (`run_id:step_path`): a second
    /// write with the key returns what the first did, writing nothing.
    pub dedup_key: Option<String>,
}

/// A stored email template of a workspace (SEND_EMAIL's `templateId`).
#[derive(Debug, Clone, PartialEq)]
pub struct EmailTemplateRecord {
    /// Its name.
    pub name: String,
    /// The subject; may hold `{{ }}` templates over the step's `data`.
    pub subject: String,
    /// The text body.
    pub text: Option<String>,
    /// The HTML body.
    pub html: Option<String>,
    /// When it was first set.
    pub created_at: DateTime<Utc>,
    /// When it was last set.
    pub updated_at: DateTime<Utc>,
}

/// An API token as stored (only its hash is kept).
#[derive(Debug, Clone, PartialEq)]
pub struct TokenRecord {
    /// Id.
    pub id: Uuid,
    /// Workspace it acts in.
    pub workspace_id: Uuid,
    /// Label.
    pub name: String,
    /// First characters of the secret, to recognise it in listings.
    pub prefix: String,
    /// Granted permissions (`*` grants every one).
    pub permissions: Vec<String>,
    /// Issued.
    pub created_at: DateTime<Utc>,
    /// Last authenticated.
    pub last_used_at: Option<DateTime<Utc>>,
    /// Revoked (authenticates nothing since).
    pub revoked_at: Option<DateTime<Utc>>,
}

/// A workflow with its draft.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkflowRecord {
    /// Id.
    pub id: Uuid,
    /// Workspace.
    pub workspace_id: Uuid,
    /// URL-safe name, unique in the workspace.
    pub slug: String,
    /// Display name.
    pub name: String,
    /// Its status.
    pub status: WorkflowStatus,
    /// Number of the version whose triggers are live.
    pub active_version: Option<i32>,
    /// The draft as written (YAML or JSON text).
    pub draft_document: String,
    /// `yaml` or `json`.
    pub draft_format: String,
    /// Optimistic-concurrency revision of the draft.
    pub draft_revision: i64,
    /// The draft document's `description`.
    pub description: Option<String>,
    /// Who created it (the API token's id); `None` for workflows created
    /// without a token (`orbflow run` / `dev`) or before it was recorded.
    pub created_by: Option<String>,
    /// Who last wrote its draft (created or saved it); `None` as for
    /// `created_by`.
    pub updated_by: Option<String>,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Last changed.
    pub updated_at: DateTime<Utc>,
}

/// A new workflow, or a new draft of one.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct NewWorkflow {
    /// Workspace.
    pub workspace_id: Uuid,
    /// Slug.
    pub slug: String,
    /// Display name.
    pub name: String,
    /// Draft text.
    pub draft_document: String,
    /// `yaml` or `json`.
    pub draft_format: String,
    /// The draft document's `description`.
    pub description: Option<String>,
    /// Who writes it (the API token's id): `created_by` and `updated_by`
    /// of a new workflow, `updated_by` of a saved draft.
    pub actor: Option<String>,
}

/// A published version.
#[derive(Debug, Clone, PartialEq)]
pub struct VersionInfo {
    /// Id (runs pin it).
    pub id: Uuid,
    /// Workflow.
    pub workflow_id: Uuid,
    /// 1, 2, …
    pub number: i32,
    /// Canonical JSON document.
    pub document: String,
    /// SHA-256 hex of the document.
    pub checksum: String,
    /// Published.
    pub published_at: DateTime<Utc>,
    /// Publisher.
    pub published_by: Option<String>,
}

/// A schedule (a cron trigger of the active version).
#[derive(Debug, Clone, PartialEq)]
pub struct ScheduleInfo {
    /// Id.
    pub id: Uuid,
    /// Workflow.
    pub workflow_id: Uuid,
    /// Version the trigger comes from.
    pub version_id: Uuid,
    /// Index of the trigger in the document.
    pub trigger_index: i32,
    /// Cron expression.
    pub cron: String,
    /// IANA zone.
    pub timezone: String,
    /// Input of its runs.
    pub input: Option<Value>,
    /// The missed-tick policy.
    pub catch_up: CatchUp,
    /// Whether it fires.
    pub enabled: bool,
    /// Next tick.
    pub next_fire_at: Option<DateTime<Utc>>,
    /// Last tick that started a run.
    pub last_fired_at: Option<DateTime<Utc>>,
}

/// A webhook trigger of an active workflow.
#[derive(Debug, Clone, PartialEq)]
pub struct WebhookRecord {
    /// The workflow (ACTIVE).
    pub workflow_id: Uuid,
    /// Its active version.
    pub version_id: Uuid,
    /// Path key.
    pub key: String,
    /// Verification scheme.
    pub scheme: VerifyScheme,
    /// Name of the secret holding the signing key.
    pub secret_name: Option<String>,
    /// Accepted timestamp skew.
    pub tolerance_ms: Option<i64>,
    /// Signature header (hmac-sha256).
    pub header: Option<String>,
    /// Signed timestamp header (hmac-sha256), when the trigger names one.
    pub timestamp_header: Option<String>,
}

/// An event trigger of an active workflow.
#[derive(Debug, Clone, PartialEq)]
pub struct SubscriptionRecord {
    /// The workflow (ACTIVE).
    pub workflow_id: Uuid,
    /// Its active version.
    pub version_id: Uuid,
    /// Event type.
    pub event_type: String,
    /// CEL filter over `event`.
    pub filter: Option<String>,
}

/// Which runs to list.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RunFilter {
    /// Only this workflow.
    pub workflow_id: Option<Uuid>,
    /// Only this status.
    pub status: Option<RunStatus>,
    /// Created at or after.
    pub since: Option<DateTime<Utc>>,
    /// Created before.
    pub until: Option<DateTime<Utc>>,
    /// Only runs started by this kind of trigger.
    pub trigger_type: Option<TriggerType>,
}

/// One page of a keyset-paginated listing.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Page<C> {
    /// Rows after this cursor (exclusive).
    pub after: Option<C>,
    /// At most this many rows.
    pub limit: u64,
}

/// The API's storage.
#[async_trait::async_trait]
pub trait Admin: Send + Sync + 'static {
    /// Creates a workspace ([`Error::Duplicate`](crate::Error::Duplicate) if the slug is taken).
    async fn create_workspace(&self, slug: &str, name: &str) -> Result<WorkspaceRecord>;
    /// The workspace with this slug, created (named after it) if missing;
    /// safe against a concurrent creator.
    async fn ensure_workspace(&self, slug: &str) -> Result<WorkspaceRecord>;
    /// The workspace with this slug.
    async fn workspace_by_slug(&self, slug: &str) -> Result<Option<WorkspaceRecord>>;
    /// The workspace with this id.
    async fn workspace(&self, id: Uuid) -> Result<Option<WorkspaceRecord>>;

    /// Stores a token by the SHA-256 hex of its secret.
    async fn insert_token(&self, token: &TokenRecord, hash: &str) -> Result<()>;
    /// The token whose secret hashes to `hash` (revoked ones too).
    async fn token_by_hash(&self, hash: &str) -> Result<Option<TokenRecord>>;
    /// Records a successful authentication.
    async fn touch_token(&self, id: Uuid, at: DateTime<Utc>) -> Result<()>;
    /// A workspace's tokens, oldest first.
    async fn tokens(&self, workspace_id: Uuid) -> Result<Vec<TokenRecord>>;
    /// Revokes a token of the workspace; false if there is none.
    async fn revoke_token(&self, workspace_id: Uuid, id: Uuid, at: DateTime<Utc>) -> Result<bool>;

    /// Sets a secret of the workspace, sealed by the store under the
    /// operator's key ([`Error::State`](crate::Error::State) without one):
    /// true when it is new.
    async fn put_secret(&self, workspace_id: Uuid, name: &str, value: &str) -> Result<bool>;
    /// The workspace's secrets by name (never their values).
    async fn secrets(&self, workspace_id: Uuid) -> Result<Vec<SecretRecord>>;
    /// Deletes a secret of the workspace; false if there is none.
    async fn delete_secret(&self, workspace_id: Uuid, name: &str) -> Result<bool>;

    /// Sets a connection of the workspace (its timestamps are the store's):
    /// true when it is new. A default one stops being the default of
    /// another of its kind, in the same transaction.
    async fn put_connection(&self, workspace_id: Uuid, c: &ConnectionRecord) -> Result<bool>;
    /// The workspace's connections by name.
    async fn connections(&self, workspace_id: Uuid) -> Result<Vec<ConnectionRecord>>;
    /// Deletes a connection of the workspace; false if there is none.
    async fn delete_connection(&self, workspace_id: Uuid, name: &str) -> Result<bool>;

    /// Sets an email template of the workspace (its timestamps are the
    /// store's): true when it is new.
    async fn put_email_template(&self, workspace_id: Uuid, t: &EmailTemplateRecord) -> Result<bool>;
    /// The workspace's email templates by name.
    async fn email_templates(&self, workspace_id: Uuid) -> Result<Vec<EmailTemplateRecord>>;
    /// Deletes an email template; false when there is none.
    async fn delete_email_template(&self, workspace_id: Uuid, name: &str) -> Result<bool>;

    /// A collection's records, oldest first, after `page.after` (an id).
    async fn records(&self, workspace_id: Uuid, collection: &str, page: Page<Uuid>) -> Result<Vec<RecordRow>>;
    /// One record of a collection.
    async fn record(&self, workspace_id: Uuid, collection: &str, id: Uuid) -> Result<Option<RecordRow>>;
    /// Replaces a record's data; `None` when there is no such record.
    async fn replace_record(
        &self,
        workspace_id: Uuid,
        collection: &str,
        id: Uuid,
        data: &serde_json::Value,
    ) -> Result<Option<RecordRow>>;
    /// Deletes a record; false when there is none.
    async fn delete_record(&self, workspace_id: Uuid, collection: &str, id: Uuid) -> Result<bool>;

    /// The workspace's notifications, newest first, after `page.after` (an id).
    async fn notifications(
        &self,
        workspace_id: Uuid,
        filter: &NotificationFilter,
        page: Page<Uuid>,
    ) -> Result<Vec<NotificationRecord>>;
    /// One notification of the workspace.
    async fn notification(&self, workspace_id: Uuid, id: Uuid) -> Result<Option<NotificationRecord>>;
    /// Marks a notification read at `read_at`, or unread (`None`); `None`
    /// when the workspace has no such notification.
    async fn mark_notification(
        &self,
        workspace_id: Uuid,
        id: Uuid,
        read_at: Option<DateTime<Utc>>,
    ) -> Result<Option<NotificationRecord>>;

    /// Creates a workflow (DRAFT) with its draft at revision 1.
    async fn create_workflow(&self, wf: &NewWorkflow) -> Result<WorkflowRecord>;
    /// A workflow of the workspace by slug or id.
    async fn workflow(&self, workspace_id: Uuid, slug_or_id: &str) -> Result<Option<WorkflowRecord>>;
    /// A workspace's workflows, newest first, optionally of one status.
    async fn workflows(
        &self,
        workspace_id: Uuid,
        status: Option<WorkflowStatus>,
        page: Page<Uuid>,
    ) -> Result<Vec<WorkflowRecord>>;
    /// Replaces the draft if its revision is still `revision`; `None` when
    /// someone saved in between.
    async fn save_draft(&self, workflow_id: Uuid, revision: i64, draft: &NewWorkflow)
    -> Result<Option<WorkflowRecord>>;
    /// Archives a workflow: its triggers stop (schedules, webhooks, events).
    /// `by`, when given, becomes its `updated_by`.
    async fn archive_workflow(&self, workflow_id: Uuid, by: Option<&Actor>) -> Result<()>;

    /// Publishes `document` (canonical JSON) as version n + 1, makes it the
    /// active version and re-syncs the workflow's triggers from it. `by`,
    /// when given, is the version's `published_by` (its label) and the
    /// workflow's `updated_by` (its id).
    async fn publish(&self, workflow_id: Uuid, document: &str, by: Option<&Actor>) -> Result<VersionInfo>;
    /// Versions, newest first.
    async fn versions(&self, workflow_id: Uuid, page: Page<i32>) -> Result<Vec<VersionInfo>>;
    /// Version `number`.
    async fn version_info(&self, workflow_id: Uuid, number: i32) -> Result<Option<VersionInfo>>;

    /// The webhook `key` of the ACTIVE workflow `workflow` in workspace `workspace` (slugs).
    async fn webhook(&self, workspace: &str, workflow: &str, key: &str) -> Result<Option<WebhookRecord>>;
    /// The webhook that holds the short URL `/hooks/{workflow}/{key}`: the
    /// one of the ACTIVE workflow that claimed it at publish (claims are
    /// unique across workspaces, taken at publish and released when the
    /// workflow is archived or publishes a version without that webhook).
    async fn webhook_claim(&self, workflow: &str, key: &str) -> Result<Option<WebhookRecord>>;
    /// Event triggers of the workspace's ACTIVE workflows for this type.
    async fn subscriptions(&self, workspace_id: Uuid, event_type: &str) -> Result<Vec<SubscriptionRecord>>;
    /// Records an accepted event; false if the id was accepted before.
    async fn record_event(&self, workspace_id: Uuid, event_id: &str, event: &Value, runs: &[Uuid]) -> Result<bool>;
    /// The runs an accepted event started, if it was accepted.
    async fn event_runs(&self, workspace_id: Uuid, event_id: &str) -> Result<Option<Vec<Uuid>>>;

    /// A workspace's runs, newest first.
    async fn runs(&self, workspace_id: Uuid, filter: &RunFilter, page: Page<Uuid>) -> Result<Vec<RunRecord>>;
    /// A run's log lines with their ids, oldest first.
    async fn log_page(&self, run_id: Uuid, page: Page<i64>) -> Result<Vec<(i64, LogRecord)>>;

    /// A workspace's schedules, optionally of one workflow.
    async fn schedules(&self, workspace_id: Uuid, workflow_id: Option<Uuid>) -> Result<Vec<ScheduleInfo>>;
    /// One schedule of the workspace.
    async fn schedule(&self, workspace_id: Uuid, id: Uuid) -> Result<Option<ScheduleInfo>>;
    /// Enables (with its next tick) or disables a schedule.
    async fn set_schedule_enabled(&self, id: Uuid, enabled: bool, next_fire_at: Option<DateTime<Utc>>) -> Result<()>;
}
