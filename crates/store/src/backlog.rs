//! `Store::backlog`: the queued steps and unfinished runs, for metrics.
//! Both aggregates filter on `status`, which leads an index of each table
//! (`idx_step_executions_status_queued_at`, `idx_workflow_runs_status_updated_at`).

use orbflow_engine::Result as EngineResult;
use orbflow_engine::store::Backlog;
use orbflow_model::{RunStatus, StepStatus};
use sea_orm::sea_query::{Expr, Func};
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QuerySelect};

use crate::entity::{step_executions as se, workflow_runs as runs};
use crate::repo::sql;

/// Reads the backlog.
pub(crate) async fn read(db: &DatabaseConnection) -> EngineResult<Backlog> {
    let queued: Option<(i64, Option<chrono::DateTime<chrono::Utc>>)> = se::Entity::find()
        .select_only()
        .column_as(Expr::from(Func::count(Expr::col(se::Column::Id))), "n")
        .column_as(Expr::from(Func::min(Expr::col(se::Column::QueuedAt))), "oldest")
        .filter(se::Column::Status.eq(StepStatus::Queued.as_str()))
        .into_tuple()
        .one(db)
        .await
        .map_err(sql)?;
    let (queued_steps, oldest_queued_at) = queued.unwrap_or((0, None));
    let by_status: Vec<(String, i64)> = runs::Entity::find()
        .select_only()
        .column(runs::Column::Status)
        .column_as(Expr::from(Func::count(Expr::col(runs::Column::Id))), "n")
        .filter(runs::Column::Status.is_in([RunStatus::Pending.as_str(), RunStatus::Running.as_str()]))
        .group_by(runs::Column::Status)
        .into_tuple()
        .all(db)
        .await
        .map_err(sql)?;
    let count = |s: RunStatus| {
        by_status
            .iter()
            .find(|(x, _)| x == s.as_str())
            .map_or(0, |(_, n)| u64::try_from(*n).unwrap_or(0))
    };
    Ok(Backlog {
        queued_steps: u64::try_from(queued_steps).unwrap_or(0),
        oldest_queued_at,
        pending_runs: count(RunStatus::Pending),
        running_runs: count(RunStatus::Running),
    })
}
