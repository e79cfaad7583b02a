//! The engine's storage traits ([`orbflow_engine::store`]) on SeaORM, for
//! SQLite and Postgres alike.
//!
//! Every engine transaction locks its run first, shared (`FOR KEY SHARE`)
//! for step transitions or exclusive (`FOR UPDATE`) for run-level ones, and
//! the step rows it reads to change with `FOR UPDATE`; on SQLite the
//! transaction begins IMMEDIATE (one writer at a time), which serializes it
//! with every other writer. Database errors that mean a lost race
//! (deadlock, serialization failure, busy) become
//! [`EngineError::Race`], which the engine retries.
//!
//! - `tx`: the engine's transaction ([`Tx`]) on a SeaORM transaction.
//! - `publish`: a version published (its steps materialized, its schedules
//!   and intake triggers synced), and `ensure_version` for `orbflow run`/`dev`.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use orbflow_engine::store::{
    DueReason, DueStep, LeaseRef, LogRecord, RunRecord, ScheduleRecord, StepRecord, Store, Tx, VersionRecord,
};
use orbflow_engine::{Error as EngineError, Result as EngineResult};
use orbflow_model::{RunStatus, StepStatus};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, DatabaseConnection, DatabaseTransaction, DbBackend, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, SqliteTransactionMode, TransactionOptions, TransactionTrait,
};
use uuid::Uuid;

mod publish;
mod tx;

pub(crate) use publish::publish_in;
use tx::{SeaTx, version_record};

use crate::entity::{
    step_executions as se, workflow_run_logs as logs, workflow_runs as runs, workflow_schedules as schedules,
};

pub(crate) fn db(e: impl std::fmt::Display) -> EngineError {
    EngineError::Store(e.to_string())
}

/// Postgres SQLSTATEs and SQLite result codes of a lost race.
const RACE_CODES: [&str; 6] = ["40P01", "40001", "55P03", "5", "6", "517"];

/// A database error, keeping its kind: a lost race (deadlock, serialization
/// failure, lock not available, SQLite busy/locked) is [`EngineError::Race`].
pub(crate) fn sql(e: sea_orm::DbErr) -> EngineError {
    use sea_orm::{DbErr, RuntimeErr};
    if let DbErr::Exec(RuntimeErr::SqlxError(x)) | DbErr::Query(RuntimeErr::SqlxError(x)) = &e
        && let sea_orm::sqlx::Error::Database(d) = x.as_ref()
        && d.code().is_some_and(|c| RACE_CODES.contains(&c.as_ref()))
    {
        return EngineError::Race(d.message().to_owned());
    }
    db(e)
}

/// A stored name read back as its enum; anything else is a corrupt row.
pub(crate) fn status<T: std::str::FromStr>(s: &str) -> EngineResult<T>
where
    T::Err: std::fmt::Display,
{
    s.parse().map_err(|e: T::Err| EngineError::Corrupt(e.to_string()))
}

/// A run log row read back.
pub(crate) fn log_from(l: logs::Model) -> EngineResult<LogRecord> {
    Ok(LogRecord {
        run_id: l.run_id,
        step_path: l.step_path,
        attempt: l.attempt,
        level: status(&l.level)?,
        message: l.message,
        data: l.data,
        created_at: l.created_at,
    })
}

pub(crate) fn run_from(m: runs::Model) -> EngineResult<RunRecord> {
    Ok(RunRecord {
        id: m.id,
        workspace_id: m.workspace_id,
        workflow_id: m.workflow_id,
        version_id: m.version_id,
        version_number: m.version_number,
        status: status::<RunStatus>(&m.status)?,
        trigger_type: status(&m.trigger_type)?,
        trigger_data: m.trigger_data,
        input: m.input,
        output: m.output,
        error: m.error,
        total_steps: m.total_steps,
        finished_steps: m.finished_steps,
        created_at: m.created_at,
        started_at: m.started_at,
        ended_at: m.ended_at,
        deadline_at: m.deadline_at,
        trace: orbflow_engine::trace::RunTrace::load(m.trace_context.as_deref(), m.trace_parent_span_id.as_deref()),
    })
}

fn step_from(m: se::Model) -> EngineResult<StepRecord> {
    Ok(StepRecord {
        id: m.id,
        run_id: m.run_id,
        path: m.path,
        step_key: m.step_key,
        parent_path: m.parent_path,
        loop_index: m.loop_index,
        status: status::<StepStatus>(&m.status)?,
        attempt: m.attempt,
        max_attempts: m.max_attempts,
        pending_deps: m.pending_deps,
        pending_children: m.pending_children,
        satisfied_deps: m.satisfied_deps,
        skipped_deps: m.skipped_deps,
        output: m.output,
        error: m.error,
        wait_output: m.wait_output,
        created_at: m.created_at,
        queued_at: m.queued_at,
        started_at: m.started_at,
        ended_at: m.ended_at,
        next_attempt_at: m.next_attempt_at,
        lease_owner: m.lease_owner,
        lease_token: m.lease_token,
        lease_expires_at: m.lease_expires_at,
    })
}

fn step_model(s: &StepRecord, now: DateTime<Utc>) -> se::ActiveModel {
    se::ActiveModel {
        id: Set(s.id),
        run_id: Set(s.run_id),
        path: Set(s.path.clone()),
        step_key: Set(s.step_key.clone()),
        parent_path: Set(s.parent_path.clone()),
        loop_index: Set(s.loop_index),
        status: Set(s.status.as_str().to_owned()),
        attempt: Set(s.attempt),
        max_attempts: Set(s.max_attempts),
        pending_deps: Set(s.pending_deps),
        pending_children: Set(s.pending_children),
        satisfied_deps: Set(s.satisfied_deps),
        skipped_deps: Set(s.skipped_deps),
        output: Set(s.output.clone()),
        error: Set(s.error.clone()),
        wait_output: Set(s.wait_output.clone()),
        created_at: Set(crate::truncate_to_micros(s.created_at)),
        queued_at: Set(s.queued_at.map(crate::truncate_to_micros)),
        started_at: Set(s.started_at.map(crate::truncate_to_micros)),
        ended_at: Set(s.ended_at.map(crate::truncate_to_micros)),
        next_attempt_at: Set(s.next_attempt_at.map(crate::truncate_to_micros)),
        lease_owner: Set(s.lease_owner.clone()),
        lease_token: Set(s.lease_token),
        lease_expires_at: Set(s.lease_expires_at.map(crate::truncate_to_micros)),
        updated_at: Set(now),
    }
}

/// The engine store on a SeaORM connection.
#[derive(Debug, Clone)]
pub struct SeaStore {
    db: DatabaseConnection,
    /// Seals and opens workspace secrets; `None`: they are off.
    keys: Option<Arc<crate::sealing::SecretKeys>>,
}

impl SeaStore {
    /// Wraps a migrated connection (workspace secrets off).
    pub fn new(db: DatabaseConnection) -> Arc<Self> {
        Self::with_secret_keys(db, None)
    }

    /// Wraps a migrated connection; `keys` seal and open workspace secrets.
    pub fn with_secret_keys(db: DatabaseConnection, keys: Option<crate::sealing::SecretKeys>) -> Arc<Self> {
        Arc::new(Self {
            db,
            keys: keys.map(Arc::new),
        })
    }

    /// The secrets keys, if any.
    pub fn secret_keys(&self) -> Option<&crate::sealing::SecretKeys> {
        self.keys.as_deref()
    }

    /// The connection.
    pub fn connection(&self) -> &DatabaseConnection {
        &self.db
    }
}

/// Begins a write transaction (IMMEDIATE on SQLite).
pub(crate) async fn write_tx(c: &DatabaseConnection) -> EngineResult<DatabaseTransaction> {
    let backend = c.get_database_backend();
    let options = TransactionOptions {
        sqlite_transaction_mode: (backend == DbBackend::Sqlite).then_some(SqliteTransactionMode::Immediate),
        ..TransactionOptions::default()
    };
    c.begin_with_options(options).await.map_err(sql)
}

#[async_trait::async_trait]
impl Store for SeaStore {
    async fn begin(&self) -> EngineResult<Box<dyn Tx>> {
        Ok(Box::new(SeaTx::new(
            write_tx(&self.db).await?,
            self.db.get_database_backend(),
        )))
    }

    async fn due_steps(
        &self,
        now: DateTime<Utc>,
        queued_grace: chrono::Duration,
        limit: u64,
    ) -> EngineResult<Vec<DueStep>> {
        let mut out = Vec::new();
        let checks = [
            (
                DueReason::Queued,
                StepStatus::Queued,
                se::Column::QueuedAt,
                now - queued_grace,
            ),
            (
                DueReason::LeaseExpired,
                StepStatus::Running,
                se::Column::LeaseExpiresAt,
                now,
            ),
            (DueReason::TimerDue, StepStatus::Waiting, se::Column::NextAttemptAt, now),
        ];
        for (reason, st, col, before) in checks {
            let rows = se::Entity::find()
                .filter(se::Column::Status.eq(st.as_str()))
                .filter(col.lte(crate::truncate_to_micros(before)))
                .order_by_asc(col)
                .limit(limit)
                .all(&self.db)
                .await
                .map_err(sql)?;
            out.extend(rows.into_iter().map(|r| DueStep {
                run_id: r.run_id,
                path: r.path,
                reason,
            }));
        }
        Ok(out)
    }

    async fn renew_leases(&self, leases: &[LeaseRef], expires_at: DateTime<Utc>) -> EngineResult<Vec<LeaseRef>> {
        let mut renewed = Vec::with_capacity(leases.len());
        for chunk in leases.chunks(200) {
            let mut held = sea_orm::Condition::any();
            for l in chunk {
                held = held.add(
                    sea_orm::Condition::all()
                        .add(se::Column::RunId.eq(l.run_id))
                        .add(se::Column::Path.eq(l.path.clone()))
                        .add(se::Column::Attempt.eq(l.attempt))
                        .add(se::Column::LeaseToken.eq(l.lease_token)),
                );
            }
            let rows = se::Entity::update_many()
                .col_expr(
                    se::Column::LeaseExpiresAt,
                    Expr::value(crate::truncate_to_micros(expires_at)),
                )
                .filter(se::Column::Status.eq(StepStatus::Running.as_str()))
                .filter(held)
                .exec_with_returning(&self.db)
                .await
                .map_err(sql)?;
            renewed.extend(rows.into_iter().filter_map(|r| {
                Some(LeaseRef {
                    run_id: r.run_id,
                    path: r.path,
                    attempt: r.attempt,
                    lease_token: r.lease_token?,
                })
            }));
        }
        Ok(renewed)
    }

    async fn overdue_runs(&self, now: DateTime<Utc>, limit: u64) -> EngineResult<Vec<Uuid>> {
        let rows = runs::Entity::find()
            .filter(runs::Column::DeadlineAt.lte(crate::truncate_to_micros(now)))
            .filter(runs::Column::Status.is_in([RunStatus::Pending.as_str(), RunStatus::Running.as_str()]))
            .order_by_asc(runs::Column::DeadlineAt)
            .limit(limit)
            .all(&self.db)
            .await
            .map_err(sql)?;
        Ok(rows.into_iter().map(|r| r.id).collect())
    }

    async fn unfinished_runs(&self) -> EngineResult<Vec<Uuid>> {
        let rows = runs::Entity::find()
            .filter(runs::Column::Status.is_in([RunStatus::Pending.as_str(), RunStatus::Running.as_str()]))
            .all(&self.db)
            .await
            .map_err(sql)?;
        Ok(rows.into_iter().map(|r| r.id).collect())
    }

    async fn due_schedules(&self, now: DateTime<Utc>, limit: u64) -> EngineResult<Vec<ScheduleRecord>> {
        let rows = schedules::Entity::find()
            .filter(schedules::Column::Enabled.eq(true))
            .filter(schedules::Column::NextFireAt.lte(crate::truncate_to_micros(now)))
            .order_by_asc(schedules::Column::NextFireAt)
            .limit(limit)
            .all(&self.db)
            .await
            .map_err(sql)?;
        rows.into_iter()
            .map(|r| {
                Ok(ScheduleRecord {
                    id: r.id,
                    workflow_id: r.workflow_id,
                    version_id: r.version_id,
                    cron: r.cron,
                    timezone: r.timezone,
                    input: r.input,
                    catch_up: status(&r.catch_up)?,
                    next_fire_at: r.next_fire_at,
                })
            })
            .collect()
    }

    async fn advance_schedule(&self, id: Uuid, next: Option<DateTime<Utc>>, fired: DateTime<Utc>) -> EngineResult<()> {
        // only forward: a slower replica never moves a schedule back
        schedules::Entity::update_many()
            .col_expr(
                schedules::Column::NextFireAt,
                Expr::value(next.map(crate::truncate_to_micros)),
            )
            .col_expr(
                schedules::Column::LastFiredAt,
                Expr::value(Some(crate::truncate_to_micros(fired))),
            )
            .filter(schedules::Column::Id.eq(id))
            .filter(
                sea_orm::Condition::any()
                    .add(schedules::Column::LastFiredAt.is_null())
                    .add(schedules::Column::LastFiredAt.lt(crate::truncate_to_micros(fired))),
            )
            .exec(&self.db)
            .await
            .map_err(sql)?;
        Ok(())
    }

    async fn run_by_key(&self, workflow_id: Uuid, idempotency_key: &str) -> EngineResult<Option<Uuid>> {
        Ok(runs::Entity::find()
            .filter(runs::Column::WorkflowId.eq(workflow_id))
            .filter(runs::Column::IdempotencyKey.eq(idempotency_key))
            .one(&self.db)
            .await
            .map_err(sql)?
            .map(|r| r.id))
    }

    async fn version_record(&self, id: Uuid) -> EngineResult<Option<VersionRecord>> {
        version_record(&self.db, id).await
    }

    async fn backlog(&self) -> EngineResult<orbflow_engine::store::Backlog> {
        crate::backlog::read(&self.db).await
    }

    async fn workspace_secrets(&self, workspace_id: Uuid) -> EngineResult<std::collections::HashMap<String, String>> {
        crate::secrets::open_all(self, workspace_id).await
    }

    async fn email_template(
        &self,
        workspace_id: Uuid,
        name: &str,
    ) -> EngineResult<Option<orbflow_engine::admin::EmailTemplateRecord>> {
        crate::email_templates::get(self, workspace_id, name).await
    }

    async fn write_records(
        &self,
        workspace_id: Uuid,
        w: &orbflow_engine::admin::RecordWrite,
    ) -> EngineResult<serde_json::Value> {
        crate::records::write(self, workspace_id, w).await
    }

    async fn create_notification(
        &self,
        workspace_id: Uuid,
        n: &orbflow_engine::admin::NewNotification,
    ) -> EngineResult<(Uuid, bool)> {
        crate::notifications::create(self, workspace_id, n).await
    }

    async fn connection(
        &self,
        workspace_id: Uuid,
        kind: &str,
        name: Option<&str>,
    ) -> EngineResult<Option<orbflow_engine::admin::ConnectionRecord>> {
        crate::connections::find(self, workspace_id, kind, name).await
    }

    async fn active_steps(&self, limit: u64) -> EngineResult<Vec<StepRecord>> {
        let rows = se::Entity::find()
            .filter(se::Column::Status.is_in([
                StepStatus::Queued.as_str(),
                StepStatus::Running.as_str(),
                StepStatus::Waiting.as_str(),
            ]))
            .limit(limit)
            .all(&self.db)
            .await
            .map_err(sql)?;
        rows.into_iter().map(step_from).collect()
    }

    async fn run_view(&self, run_id: Uuid) -> EngineResult<Option<(RunRecord, Vec<StepRecord>)>> {
        let Some(run) = runs::Entity::find_by_id(run_id).one(&self.db).await.map_err(sql)? else {
            return Ok(None);
        };
        let steps = se::Entity::find()
            .filter(se::Column::RunId.eq(run_id))
            .order_by_asc(se::Column::CreatedAt)
            .order_by_asc(se::Column::Id)
            .all(&self.db)
            .await
            .map_err(sql)?;
        Ok(Some((
            run_from(run)?,
            steps.into_iter().map(step_from).collect::<EngineResult<_>>()?,
        )))
    }

    async fn logs(&self, run_id: Uuid) -> EngineResult<Vec<LogRecord>> {
        let rows = logs::Entity::find()
            .filter(logs::Column::RunId.eq(run_id))
            .order_by_asc(logs::Column::Id)
            .all(&self.db)
            .await
            .map_err(sql)?;
        rows.into_iter().map(log_from).collect()
    }

    async fn ensure_version(
        &self,
        workspace: &str,
        workflow: &str,
        name: &str,
        document: &str,
    ) -> EngineResult<VersionRecord> {
        // Several processes may register the same workflow at once: inserts
        // are ON CONFLICT DO NOTHING followed by a read, and a lost race for
        // a version number is retried.
        let mut last = None;
        for _ in 0..8 {
            match self.try_ensure_version(workspace, workflow, name, document).await {
                Ok(v) => return Ok(v),
                // lost a race (version number) or a busy database: try again
                Err(e @ (EngineError::Conflict(_) | EngineError::Race(_) | EngineError::Store(_))) => last = Some(e),
                Err(e) => return Err(e),
            }
        }
        Err(last.unwrap_or(EngineError::NotFound("version")))
    }
}
