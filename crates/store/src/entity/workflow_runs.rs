//! The `workflow_runs` table. One run of a workflow, pinned to the version it started on.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// A row of `workflow_runs`. One run of a workflow, pinned to the version it started on.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "workflow_runs")]
pub struct Model {
    /// Run id (UUIDv7).
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// Workspace (denormalized from the workflow for listing).
    pub workspace_id: Uuid,
    /// The workflow.
    pub workflow_id: Uuid,
    /// The pinned version.
    pub version_id: Uuid,
    /// Number of the pinned version.
    pub version_number: i32,
    /// `PENDING`, `RUNNING`, `COMPLETED`, `FAILED` or `CANCELLED`.
    #[sea_orm(column_type = "Text")]
    pub status: String,
    /// `manual`, `schedule`, `webhook` or `event`.
    #[sea_orm(column_type = "Text")]
    pub trigger_type: String,
    /// What fired the run (schedule tick, webhook body, event).
    #[sea_orm(column_type = "JsonBinary")]
    pub trigger_data: Option<Json>,
    /// Run input.
    #[sea_orm(column_type = "JsonBinary")]
    pub input: Json,
    /// Run output, once completed.
    #[sea_orm(column_type = "JsonBinary")]
    pub output: Option<Json>,
    /// Run error, once failed or cancelled.
    #[sea_orm(column_type = "JsonBinary")]
    pub error: Option<Json>,
    /// Idempotency-Key or webhook delivery id; unique per workflow when set.
    #[sea_orm(column_type = "Text")]
    pub idempotency_key: Option<String>,
    /// OpenTelemetry trace id of the run.
    #[sea_orm(column_type = "Text")]
    pub trace_id: Option<String>,
    /// W3C `traceparent` of the run's own span.
    #[sea_orm(column_type = "Text")]
    pub trace_context: Option<String>,
    /// Span id (hex) of the span the run was started under, if any.
    #[sea_orm(column_type = "Text")]
    pub trace_parent_span_id: Option<String>,
    /// Number of step executions created so far.
    pub total_steps: i32,
    /// Number of step executions in a terminal state.
    pub finished_steps: i32,
    /// When the run was created.
    pub created_at: DateTimeUtc,
    /// When the run became RUNNING.
    pub started_at: Option<DateTimeUtc>,
    /// When the run reached a terminal state.
    pub ended_at: Option<DateTimeUtc>,
    /// When the run must have finished (the workflow's `timeout`), if ever.
    pub deadline_at: Option<DateTimeUtc>,
    /// Last change to the row.
    pub updated_at: DateTimeUtc,
}

/// Foreign-key relations of `workflow_runs`.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    /// `workflow_runs.workspace_id` → `workspaces.id`.
    #[sea_orm(
        belongs_to = "super::workspaces::Entity",
        from = "Column::WorkspaceId",
        to = "super::workspaces::Column::Id",
        on_delete = "NoAction"
    )]
    Workspace,
    /// `workflow_runs.workflow_id` → `workflows.id`.
    #[sea_orm(
        belongs_to = "super::workflows::Entity",
        from = "Column::WorkflowId",
        to = "super::workflows::Column::Id",
        on_delete = "NoAction"
    )]
    Workflow,
    /// `workflow_runs.version_id` → `workflow_versions.id`.
    #[sea_orm(
        belongs_to = "super::workflow_versions::Entity",
        from = "Column::VersionId",
        to = "super::workflow_versions::Column::Id",
        on_delete = "NoAction"
    )]
    Version,
    /// Rows of `step_executions` that reference this row.
    #[sea_orm(has_many = "super::step_executions::Entity")]
    StepExecutions,
    /// Rows of `workflow_run_logs` that reference this row.
    #[sea_orm(has_many = "super::workflow_run_logs::Entity")]
    WorkflowRunLogs,
    /// Rows of `workflow_schedule_fires` that reference this row.
    #[sea_orm(has_many = "super::workflow_schedule_fires::Entity")]
    WorkflowScheduleFires,
}

impl Related<super::workspaces::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Workspace.def()
    }
}

impl Related<super::workflows::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Workflow.def()
    }
}

impl Related<super::workflow_versions::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Version.def()
    }
}

impl Related<super::step_executions::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::StepExecutions.def()
    }
}

impl Related<super::workflow_run_logs::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::WorkflowRunLogs.def()
    }
}

impl Related<super::workflow_schedule_fires::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::WorkflowScheduleFires.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
