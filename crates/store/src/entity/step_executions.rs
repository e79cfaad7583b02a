//! The `step_executions` table. One execution of one step path in a run (a loop body step has one row per iteration).

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// A row of `step_executions`. One execution of one step path in a run (a loop body step has one row per iteration).
#[derive(Clone, Debug, PartialEq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "step_executions")]
pub struct Model {
    /// Step execution id (UUIDv7).
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// The run.
    pub run_id: Uuid,
    /// Step path, unique in the run: the key with loop indexes, e.g. `each[3].double`.
    #[sea_orm(column_type = "Text")]
    pub path: String,
    /// Step key (the path without loop indexes).
    #[sea_orm(column_type = "Text")]
    pub step_key: String,
    /// Path of the enclosing block execution.
    #[sea_orm(column_type = "Text")]
    pub parent_path: Option<String>,
    /// Iteration index inside the nearest enclosing loop.
    pub loop_index: Option<i32>,
    /// `PENDING`, `QUEUED`, `RUNNING`, `WAITING`, `COMPLETED`, `FAILED`, `SKIPPED` or `CANCELLED`.
    #[sea_orm(column_type = "Text")]
    pub status: String,
    /// Current attempt number, from 1 once the step first runs (0 before).
    pub attempt: i32,
    /// Attempts allowed by the retry policy.
    pub max_attempts: i32,
    /// Dependencies not yet terminal; the step is ready when it reaches 0.
    pub pending_deps: i32,
    /// For blocks: children not yet terminal; the block finishes at 0.
    pub pending_children: i32,
    /// Dependencies that ended COMPLETED (or FAILED with `onError: continue`).
    pub satisfied_deps: i32,
    /// Dependencies that ended SKIPPED.
    pub skipped_deps: i32,
    /// Output of the completed attempt.
    #[sea_orm(column_type = "JsonBinary")]
    pub output: Option<Json>,
    /// Error of the last failed attempt.
    #[sea_orm(column_type = "JsonBinary")]
    pub error: Option<Json>,
    /// State kept across a WAITING period (e.g. a delay's wake time).
    #[sea_orm(column_type = "JsonBinary")]
    pub wait_output: Option<Json>,
    /// When the row was created.
    pub created_at: DateTimeUtc,
    /// When the step last became QUEUED.
    pub queued_at: Option<DateTimeUtc>,
    /// When the current attempt started RUNNING.
    pub started_at: Option<DateTimeUtc>,
    /// When the step reached a terminal state.
    pub ended_at: Option<DateTimeUtc>,
    /// When a WAITING step is due again (retry backoff or delay).
    pub next_attempt_at: Option<DateTimeUtc>,
    /// Worker holding the lease on the running attempt.
    #[sea_orm(column_type = "Text")]
    pub lease_owner: Option<String>,
    /// Fencing token of the lease; every write-back compares it.
    pub lease_token: Option<i64>,
    /// When the lease expires unless renewed.
    pub lease_expires_at: Option<DateTimeUtc>,
    /// Last change to the row.
    pub updated_at: DateTimeUtc,
}

/// Foreign-key relations of `step_executions`.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    /// `step_executions.run_id` → `workflow_runs.id`.
    #[sea_orm(
        belongs_to = "super::workflow_runs::Entity",
        from = "Column::RunId",
        to = "super::workflow_runs::Column::Id",
        on_delete = "Cascade"
    )]
    Run,
}

impl Related<super::workflow_runs::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Run.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
