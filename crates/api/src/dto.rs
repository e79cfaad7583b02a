//! Request and response bodies (their JSON Schemas are in the OpenAPI
//! document). Field names are camelCase; timestamps RFC 3339 in UTC.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use orbflow_engine::admin::{ScheduleInfo, TokenRecord, VersionInfo, WorkflowRecord};
use orbflow_engine::store::{LogRecord, RunRecord, StepRecord};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::error::DiagnosticOut;

mod trigger;
mod workspace;

pub use trigger::TriggerTypeQ;
pub use workspace::{
    ConnectionIn, ConnectionList, ConnectionOut, EmailTemplateIn, EmailTemplateList, EmailTemplateOut, NotificationOut,
    NotificationPage, RecordIn, RecordOut, RecordPage, SecretIn, SecretList, SecretOut,
};

/// The token's workspace.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WorkspaceOut {
    /// Id.
    pub id: Uuid,
    /// URL-safe name (webhook URLs use it).
    pub slug: String,
    /// Display name.
    pub name: String,
    /// Created.
    pub created_at: DateTime<Utc>,
}

/// A workflow.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WorkflowOut {
    /// Id.
    pub id: Uuid,
    /// URL-safe name, unique in the workspace.
    pub slug: String,
    /// Display name.
    pub name: String,
    /// DRAFT (never published), ACTIVE (triggers live) or ARCHIVED.
    pub status: String,
    /// Number of the version whose triggers are live.
    pub active_version: Option<i32>,
    /// Current revision of the draft (its ETag is `"<revision>"`).
    pub draft_revision: i64,
    /// `yaml` or `json`.
    pub draft_format: String,
    /// The draft document's `description`.
    pub description: Option<String>,
    /// Id of the API token that created it; null for workflows created
    /// without a token (`orbflow run` / `dev`) or before this was recorded.
    pub created_by: Option<String>,
    /// Id of the API token that last changed it (create, save, publish,
    /// archive); null as for `createdBy`.
    pub updated_by: Option<String>,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Last changed.
    pub updated_at: DateTime<Utc>,
}

impl From<&WorkflowRecord> for WorkflowOut {
    fn from(w: &WorkflowRecord) -> Self {
        Self {
            id: w.id,
            slug: w.slug.clone(),
            name: w.name.clone(),
            status: w.status.as_str().to_owned(),
            active_version: w.active_version,
            draft_revision: w.draft_revision,
            draft_format: w.draft_format.clone(),
            description: w.description.clone(),
            created_by: w.created_by.clone(),
            updated_by: w.updated_by.clone(),
            created_at: w.created_at,
            updated_at: w.updated_at,
        }
    }
}

/// A page of workflows.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WorkflowPage {
    /// The workflows, newest first.
    pub items: Vec<WorkflowOut>,
    /// Pass as `cursor` for the next page; null on the last.
    pub next_cursor: Option<String>,
}

/// Result of validating a document.
#[derive(Debug, Serialize, ToSchema)]
pub struct ValidationOut {
    /// Whether it is valid.
    pub valid: bool,
    /// Every problem, in document order.
    pub errors: Vec<DiagnosticOut>,
}

/// A published version.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct VersionOut {
    /// Id (runs pin it).
    pub id: Uuid,
    /// Workflow.
    pub workflow_id: Uuid,
    /// 1, 2, …
    pub number: i32,
    /// SHA-256 hex of the canonical document.
    pub checksum: String,
    /// Published.
    pub published_at: DateTime<Utc>,
    /// Who published it.
    pub published_by: Option<String>,
    /// The canonical document (only when one version is fetched).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub document: Option<Value>,
}

impl VersionOut {
    /// Without the document.
    pub fn summary(v: &VersionInfo) -> Self {
        Self {
            id: v.id,
            workflow_id: v.workflow_id,
            number: v.number,
            checksum: v.checksum.clone(),
            published_at: v.published_at,
            published_by: v.published_by.clone(),
            document: None,
        }
    }

    /// With the document.
    pub fn full(v: &VersionInfo) -> Self {
        Self {
            document: serde_json::from_str(&v.document).ok(),
            ..Self::summary(v)
        }
    }
}

/// A page of versions.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct VersionPage {
    /// Versions, newest first.
    pub items: Vec<VersionOut>,
    /// Pass as `cursor` for the next page; null on the last.
    pub next_cursor: Option<String>,
}

/// One difference between two versions.
#[derive(Debug, Serialize, ToSchema)]
pub struct ChangeOut {
    /// JSON path: `steps[2].config.text`.
    pub path: String,
    /// `added`, `removed` or `changed`.
    pub op: String,
    /// Value in the first version (absent when added).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<Value>,
    /// Value in the second version (absent when removed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to: Option<Value>,
}

/// The differences between two versions.
#[derive(Debug, Serialize, ToSchema)]
pub struct DiffOut {
    /// First version.
    pub from: i32,
    /// Second version.
    pub to: i32,
    /// Differences in document order.
    pub changes: Vec<ChangeOut>,
}

/// Body of a run start.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StartRunIn {
    /// Run input, checked against the workflow's `inputs` schema.
    #[serde(default)]
    pub input: Option<Value>,
}

/// One step execution in a run record.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct StepOut {
    /// PENDING, QUEUED, RUNNING, WAITING, COMPLETED, FAILED, SKIPPED or CANCELLED.
    pub status: String,
    /// Attempts made.
    pub attempts: i32,
    /// Output once COMPLETED.
    pub output: Value,
    /// Error once FAILED (or of the last attempt while WAITING).
    pub error: Value,
    /// When the last attempt started.
    pub started_at: Option<DateTime<Utc>>,
    /// When it finished.
    pub ended_at: Option<DateTime<Utc>>,
}

impl From<&StepRecord> for StepOut {
    fn from(s: &StepRecord) -> Self {
        Self {
            status: s.status.as_str().to_owned(),
            attempts: s.attempt,
            output: s.output.clone().unwrap_or(Value::Null),
            error: s.error.clone().unwrap_or(Value::Null),
            started_at: s.started_at,
            ended_at: s.ended_at,
        }
    }
}

/// A run.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RunOut {
    /// Id.
    pub id: Uuid,
    /// Workflow.
    pub workflow_id: Uuid,
    /// Pinned version number.
    pub version: i32,
    /// PENDING, RUNNING, COMPLETED, FAILED or CANCELLED.
    pub status: String,
    /// manual, schedule, webhook or event.
    pub trigger_type: String,
    /// What the trigger delivered.
    pub trigger_data: Value,
    /// Input.
    pub input: Value,
    /// Output once COMPLETED.
    pub output: Value,
    /// Error once FAILED or CANCELLED.
    pub error: Value,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// First step started.
    pub started_at: Option<DateTime<Utc>>,
    /// Finished.
    pub ended_at: Option<DateTime<Utc>>,
    /// The run's OpenTelemetry trace id (32 hex digits): look the run up in
    /// the tracing backend with it. Null for runs from before traces.
    pub trace_id: Option<String>,
    /// Step path → execution (only when one run is fetched).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub step_executions: Option<BTreeMap<String, StepOut>>,
}

impl RunOut {
    /// Without its steps.
    pub fn summary(r: &RunRecord) -> Self {
        Self {
            id: r.id,
            workflow_id: r.workflow_id,
            version: r.version_number,
            status: r.status.as_str().to_owned(),
            trigger_type: r.trigger_type.as_str().to_owned(),
            trigger_data: r.trigger_data.clone().unwrap_or(Value::Null),
            input: r.input.clone(),
            output: r.output.clone().unwrap_or(Value::Null),
            error: r.error.clone().unwrap_or(Value::Null),
            created_at: r.created_at,
            started_at: r.started_at,
            ended_at: r.ended_at,
            trace_id: r.trace.map(|t| t.span.trace_id_hex()),
            step_executions: None,
        }
    }

    /// With its step executions (loop iteration rows left out).
    pub fn full(r: &RunRecord, steps: &[StepRecord]) -> Self {
        Self {
            step_executions: Some(
                steps
                    .iter()
                    .filter(|s| !orbflow_model::path::StepPath::new(&s.path).is_iteration())
                    .map(|s| (s.path.clone(), StepOut::from(s)))
                    .collect(),
            ),
            ..Self::summary(r)
        }
    }
}

/// A page of runs.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RunPage {
    /// Runs, newest first.
    pub items: Vec<RunOut>,
    /// Pass as `cursor` for the next page; null on the last.
    pub next_cursor: Option<String>,
}

/// A run log line.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LogOut {
    /// Position (pass the last one as `after` to tail).
    pub id: i64,
    /// Step path, for step lines.
    pub step_path: Option<String>,
    /// Attempt, for step lines.
    pub attempt: Option<i32>,
    /// debug, info, warn or error.
    pub level: String,
    /// The line.
    pub message: String,
    /// Structured fields.
    pub data: Value,
    /// When.
    pub created_at: DateTime<Utc>,
}

impl LogOut {
    /// From a stored line.
    pub fn new(id: i64, l: &LogRecord) -> Self {
        Self {
            id,
            step_path: l.step_path.clone(),
            attempt: l.attempt,
            level: l.level.as_str().to_owned(),
            message: l.message.clone(),
            data: l.data.clone().unwrap_or(Value::Null),
            created_at: l.created_at,
        }
    }
}

/// A page of log lines.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LogPage {
    /// Lines, oldest first.
    pub items: Vec<LogOut>,
    /// Pass as `after` for the next page. While the run is going it is
    /// always set (more lines will come: poll with it); on a finished run's
    /// last page it is null.
    pub next_cursor: Option<String>,
}

/// A catalog entry.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ActionOut {
    /// Catalog name.
    pub name: String,
    /// What it does.
    pub description: String,
    /// Family: social, notifications, ai, data, control.
    pub category: String,
    /// JSON Schema of its config.
    pub config_schema: Value,
    /// A valid config.
    pub example: Value,
    /// Permissions needed to publish a workflow that uses it.
    pub required_permissions: Vec<String>,
    /// What its output looks like.
    pub output: String,
    /// A control-flow block rather than an action.
    pub block: bool,
    /// Whether this build executes it.
    pub implemented: bool,
    /// The kind of workspace connection it uses (`smtp`, `slack`), if any:
    /// `config.connection` names one, else the workspace's default of the kind.
    pub connection: Option<String>,
}

/// A schedule (a cron trigger of a workflow's active version).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ScheduleOut {
    /// Id.
    pub id: Uuid,
    /// Workflow.
    pub workflow_id: Uuid,
    /// Index of the trigger in the document.
    pub trigger_index: i32,
    /// Cron expression.
    pub cron: String,
    /// IANA zone.
    pub timezone: String,
    /// Input of its runs.
    pub input: Value,
    /// Missed-tick policy: skip, latest or all.
    pub catch_up: String,
    /// Whether it fires.
    pub enabled: bool,
    /// Next tick.
    pub next_fire_at: Option<DateTime<Utc>>,
    /// Last tick that started a run.
    pub last_fired_at: Option<DateTime<Utc>>,
}

impl From<&ScheduleInfo> for ScheduleOut {
    fn from(s: &ScheduleInfo) -> Self {
        Self {
            id: s.id,
            workflow_id: s.workflow_id,
            trigger_index: s.trigger_index,
            cron: s.cron.clone(),
            timezone: s.timezone.clone(),
            input: s.input.clone().unwrap_or(Value::Null),
            catch_up: s.catch_up.as_str().to_owned(),
            enabled: s.enabled,
            next_fire_at: s.next_fire_at,
            last_fired_at: s.last_fired_at,
        }
    }
}

/// Schedules.
#[derive(Debug, Serialize, ToSchema)]
pub struct ScheduleList {
    /// Schedules.
    pub items: Vec<ScheduleOut>,
}

/// Next fire times.
#[derive(Debug, Serialize, ToSchema)]
pub struct PreviewOut {
    /// RFC 3339 in the schedule's zone offset, ascending.
    pub times: Vec<String>,
}

/// Preview of an arbitrary cron expression.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PreviewIn {
    /// Cron expression, 5 or 6 fields.
    pub cron: String,
    /// IANA zone; default UTC.
    #[serde(default)]
    pub timezone: Option<String>,
    /// Times after this instant; default now.
    #[serde(default)]
    pub from: Option<DateTime<Utc>>,
    /// How many (1–100); default 5.
    #[serde(default)]
    #[schema(minimum = 1, maximum = 100)]
    pub count: Option<u32>,
}

/// An event to publish.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EventIn {
    /// Event type, e.g. `mention.received`.
    #[serde(rename = "type")]
    #[schema(pattern = "^[A-Za-z0-9._:/-]{1,128}$", min_length = 1, max_length = 128)]
    pub kind: String,
    /// Payload (`event.data` in filters).
    #[serde(default)]
    pub data: Value,
    /// Publisher's id; an id is accepted once. Default: a new id.
    #[serde(default)]
    #[schema(min_length = 1, max_length = 200)]
    pub id: Option<String>,
}

/// What an event started.
#[derive(Debug, Serialize, ToSchema)]
pub struct EventOut {
    /// Event id.
    pub id: String,
    /// True when the id had been accepted before (nothing new started).
    pub duplicate: bool,
    /// Runs it started.
    pub runs: Vec<Uuid>,
    /// Subscribed workflows that started no run for this event: their
    /// filter failed on the event's data (an error, or over its budget), or
    /// it held but their `inputs` rejected the data.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub rejected: Vec<RejectedOut>,
}

/// A workflow that did not start a run for an event.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RejectedOut {
    /// The workflow.
    pub workflow_id: Uuid,
    /// Why: `filter failed: …`, or the input problems with their paths.
    pub reason: String,
}

/// What a webhook delivery started.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct HookOut {
    /// The run.
    pub run_id: Uuid,
    /// True when this delivery id had started the run before.
    pub duplicate: bool,
}

/// A new token.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenIn {
    /// Label.
    #[schema(min_length = 1, max_length = 100, pattern = "\\S")]
    pub name: String,
    /// Permissions; at most those of the creating token: `area:action`,
    /// `area:*` or `*`.
    #[schema(inline, value_type = Vec<String>)]
    pub permissions: Vec<Permission>,
}

/// A permission: `area:action`, `area:*` or `*`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[schema(pattern = "^(\\*|[a-z]+:(\\*|[a-z-]+))$", max_length = 64)]
#[serde(transparent)]
pub struct Permission(pub String);

/// A token (never its secret).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TokenOut {
    /// Id.
    pub id: Uuid,
    /// Label.
    pub name: String,
    /// First characters of the secret.
    pub prefix: String,
    /// Permissions.
    pub permissions: Vec<String>,
    /// Issued.
    pub created_at: DateTime<Utc>,
    /// Last used.
    pub last_used_at: Option<DateTime<Utc>>,
    /// Revoked.
    pub revoked_at: Option<DateTime<Utc>>,
}

impl From<&TokenRecord> for TokenOut {
    fn from(t: &TokenRecord) -> Self {
        Self {
            id: t.id,
            name: t.name.clone(),
            prefix: t.prefix.clone(),
            permissions: t.permissions.clone(),
            created_at: t.created_at,
            last_used_at: t.last_used_at,
            revoked_at: t.revoked_at,
        }
    }
}

/// A token just issued: the secret is shown this once.
#[derive(Debug, Serialize, ToSchema)]
pub struct NewTokenOut {
    /// The bearer secret. Store it now; it cannot be shown again.
    pub secret: String,
    /// The token.
    pub token: TokenOut,
}

/// Tokens.
#[derive(Debug, Serialize, ToSchema)]
pub struct TokenList {
    /// Tokens, oldest first.
    pub items: Vec<TokenOut>,
}

/// A workflow's status, as a filter.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum WorkflowStatusQ {
    /// Never published.
    Draft,
    /// Triggers live.
    Active,
    /// Archived.
    Archived,
}

impl From<WorkflowStatusQ> for orbflow_model::WorkflowStatus {
    fn from(s: WorkflowStatusQ) -> Self {
        match s {
            WorkflowStatusQ::Draft => Self::Draft,
            WorkflowStatusQ::Active => Self::Active,
            WorkflowStatusQ::Archived => Self::Archived,
        }
    }
}

/// A run's status, as a filter.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RunStatusQ {
    /// Created, no step started.
    Pending,
    /// Started, not finished.
    Running,
    /// Finished.
    Completed,
    /// A step failed it.
    Failed,
    /// Cancelled.
    Cancelled,
}

impl From<RunStatusQ> for orbflow_model::RunStatus {
    fn from(s: RunStatusQ) -> Self {
        match s {
            RunStatusQ::Pending => Self::Pending,
            RunStatusQ::Running => Self::Running,
            RunStatusQ::Completed => Self::Completed,
            RunStatusQ::Failed => Self::Failed,
            RunStatusQ::Cancelled => Self::Cancelled,
        }
    }
}

/// Export formats.
#[derive(Debug, Clone, Copy, Default, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ExportFormat {
    /// Canonical YAML.
    #[default]
    Yaml,
    /// Canonical JSON.
    Json,
}

/// Cursor pagination.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// Page size (default 50; values above 200 are capped to 200).
    #[param(minimum = 0)]
    pub limit: Option<u64>,
    /// `nextCursor` of the previous page.
    pub cursor: Option<String>,
}
