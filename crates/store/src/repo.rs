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

use std::sync::Arc;

use chrono::{DateTime, Utc};
use orbflow_engine::store::{
    DueReason, DueStep, Expect, LeaseRef, LogRecord, RunLock, RunRecord, ScheduleRecord, StepOutput, StepRecord, Store,
    Tx, VersionRecord,
};
use orbflow_engine::{Error as EngineError, Result as EngineResult};
use orbflow_model::{RunStatus, StepStatus, WorkflowStatus};
use sea_orm::sea_query::{Expr, ExprTrait, LockBehavior, LockType, OnConflict};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend, EntityTrait,
    QueryFilter, QueryOrder, QuerySelect, SqliteTransactionMode, TransactionOptions, TransactionTrait,
};
use uuid::Uuid;

use crate::entity::{
    step_executions as se, workflow_run_logs as logs, workflow_runs as runs, workflow_schedules as schedules,
    workflow_steps, workflow_versions as versions, workflows, workspaces,
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
    async fn try_ensure_version(
        &self,
        workspace: &str,
        workflow: &str,
        name: &str,
        document: &str,
    ) -> EngineResult<VersionRecord> {
        let backend = self.db.get_database_backend();
        let options = TransactionOptions {
            sqlite_transaction_mode: (backend == DbBackend::Sqlite).then_some(SqliteTransactionMode::Immediate),
            ..TransactionOptions::default()
        };
        let tx = self.db.begin_with_options(options).await.map_err(sql)?;
        let now = crate::now();
        workspaces::Entity::insert(workspaces::ActiveModel {
            id: Set(crate::new_id()),
            slug: Set(workspace.to_owned()),
            name: Set(workspace.to_owned()),
            created_at: Set(now),
        })
        .on_conflict(OnConflict::column(workspaces::Column::Slug).do_nothing().to_owned())
        .exec_without_returning(&tx)
        .await
        .map_err(sql)?;
        let ws = workspaces::Entity::find()
            .filter(workspaces::Column::Slug.eq(workspace))
            .one(&tx)
            .await
            .map_err(sql)?
            .ok_or(EngineError::NotFound("workspace"))?
            .id;
        workflows::Entity::insert(workflows::ActiveModel {
            id: Set(crate::new_id()),
            workspace_id: Set(ws),
            slug: Set(workflow.to_owned()),
            name: Set(name.to_owned()),
            status: Set(WorkflowStatus::Active.as_str().into()),
            active_version: Set(None),
            draft_document: Set(document.to_owned()),
            draft_format: Set("json".into()),
            draft_revision: Set(1),
            description: Set(document_description(document)),
            // `orbflow run` / `dev`: no token, no one to record
            created_by: Set(None),
            updated_by: Set(None),
            created_at: Set(now),
            updated_at: Set(now),
        })
        .on_conflict(
            OnConflict::columns([workflows::Column::WorkspaceId, workflows::Column::Slug])
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(&tx)
        .await
        .map_err(sql)?;
        let wf_id = workflows::Entity::find()
            .filter(workflows::Column::WorkspaceId.eq(ws))
            .filter(workflows::Column::Slug.eq(workflow))
            .one(&tx)
            .await
            .map_err(sql)?
            .ok_or(EngineError::NotFound("workflow"))?
            .id;
        let checksum = sha256_hex(document);
        let record = |v: versions::Model| VersionRecord {
            id: v.id,
            workflow_id: wf_id,
            workspace_id: ws,
            number: v.number,
            document: v.document,
        };
        let existing = versions::Entity::find()
            .filter(versions::Column::WorkflowId.eq(wf_id))
            .filter(versions::Column::Checksum.eq(checksum.clone()))
            .one(&tx)
            .await
            .map_err(sql)?;
        if let Some(v) = existing {
            tx.commit().await.map_err(sql)?;
            return Ok(record(v));
        }
        let model = publish_in(&tx, wf_id, document, None).await?;
        tx.commit().await.map_err(sql)?;
        Ok(record(model))
    }
}

/// The `description` of a canonical JSON workflow document, if it has one.
fn document_description(document: &str) -> Option<String> {
    serde_json::from_str::<serde_json::Value>(document)
        .ok()?
        .get("description")?
        .as_str()
        .map(str::to_owned)
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

/// Inserts `document` as version n + 1 of `wf_id`, materializes its steps,
/// replaces the workflow's triggers with the version's and makes it the
/// active version. [`EngineError::Conflict`] when another publisher took the
/// number first (the caller retries).
pub(crate) async fn publish_in(
    tx: &DatabaseTransaction,
    wf_id: Uuid,
    document: &str,
    by: Option<&orbflow_engine::admin::Actor>,
) -> EngineResult<versions::Model> {
    let now = crate::now();
    // the document was validated before it got here; a version that is not
    // a workflow is refused rather than stored half-materialized
    let parsed: orbflow_model::Workflow =
        serde_json::from_str(document).map_err(|e| EngineError::InvalidWorkflow(format!("version document: {e}")))?;
    let latest = versions::Entity::find()
        .filter(versions::Column::WorkflowId.eq(wf_id))
        .order_by_desc(versions::Column::Number)
        .one(tx)
        .await
        .map_err(sql)?;
    let model = versions::Model {
        id: crate::new_id(),
        workflow_id: wf_id,
        number: latest.map_or(1, |v| v.number + 1),
        document: document.to_owned(),
        checksum: sha256_hex(document),
        published_at: now,
        published_by: by.map(|a| a.label.clone()),
    };
    let inserted = versions::Entity::insert(versions::ActiveModel {
        id: Set(model.id),
        workflow_id: Set(wf_id),
        number: Set(model.number),
        document: Set(model.document.clone()),
        checksum: Set(model.checksum.clone()),
        published_at: Set(now),
        published_by: Set(model.published_by.clone()),
    })
    .on_conflict(
        OnConflict::columns([versions::Column::WorkflowId, versions::Column::Number])
            .do_nothing()
            .to_owned(),
    )
    .exec_without_returning(tx)
    .await
    .map_err(sql)?;
    if inserted == 0 {
        return Err(EngineError::Conflict(format!(
            "version {} of workflow {wf_id}",
            model.number
        )));
    }
    materialize_steps(tx, model.id, &parsed).await?;
    sync_schedules(tx, wf_id, model.id, &parsed, now).await?;
    crate::triggers::sync_intake(tx, wf_id, model.id, &parsed, now).await?;
    let mut update = workflows::Entity::update_many();
    if let Some(by) = by {
        update = update.col_expr(workflows::Column::UpdatedBy, Expr::value(by.id.clone()));
    }
    update
        .col_expr(workflows::Column::ActiveVersion, Expr::value(model.number))
        .col_expr(workflows::Column::Status, Expr::value(WorkflowStatus::Active.as_str()))
        .col_expr(workflows::Column::UpdatedAt, Expr::value(now))
        .filter(workflows::Column::Id.eq(wf_id))
        .exec(tx)
        .await
        .map_err(sql)?;
    Ok(model)
}

struct SeaTx {
    tx: DatabaseTransaction,
    backend: DbBackend,
    /// Log lines, written with one multi-row insert at commit.
    logs: Vec<LogRecord>,
}

impl SeaTx {
    /// The rows at `paths`, locked on Postgres (waiting for other holders,
    /// or as `how` says: skipping their rows), in path order.
    async fn steps_locked(
        &mut self,
        run_id: Uuid,
        paths: &[String],
        how: Option<LockBehavior>,
    ) -> EngineResult<Vec<StepRecord>> {
        let mut sorted = paths.to_vec();
        sorted.sort();
        let mut out = Vec::with_capacity(paths.len());
        for chunk in sorted.chunks(500) {
            let mut q = se::Entity::find()
                .filter(se::Column::RunId.eq(run_id))
                .filter(se::Column::Path.is_in(chunk.iter().cloned()))
                .order_by_asc(se::Column::Path);
            q = match (self.backend, how) {
                (DbBackend::Postgres, Some(how)) => q.lock_with_behavior(LockType::Update, how),
                (DbBackend::Postgres, None) => q.lock(LockType::Update),
                _ => q,
            };
            for r in q.all(&self.tx).await.map_err(sql)? {
                out.push(step_from(r)?);
            }
        }
        // the database's collation may order differently from bytes
        out.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(out)
    }

    async fn flush_logs(&mut self) -> EngineResult<()> {
        if self.backend == DbBackend::Postgres {
            for chunk in self.logs.chunks(5000) {
                let stmt = crate::batch::insert_logs(chunk);
                self.tx.execute_raw(stmt).await.map_err(sql)?;
            }
            self.logs.clear();
            return Ok(());
        }
        for chunk in self.logs.chunks(500) {
            logs::Entity::insert_many(chunk.iter().map(|e| logs::ActiveModel {
                run_id: Set(e.run_id),
                step_path: Set(e.step_path.clone()),
                attempt: Set(e.attempt),
                level: Set(e.level.as_str().to_owned()),
                message: Set(e.message.clone()),
                data: Set(e.data.clone()),
                created_at: Set(crate::truncate_to_micros(e.created_at)),
                ..Default::default()
            }))
            .exec_without_returning(&self.tx)
            .await
            .map_err(sql)?;
        }
        self.logs.clear();
        Ok(())
    }
}

#[async_trait::async_trait]
impl Tx for SeaTx {
    async fn lock_run(&mut self, run_id: Uuid, mode: RunLock) -> EngineResult<Option<RunRecord>> {
        let mut q = runs::Entity::find_by_id(run_id);
        if self.backend == DbBackend::Postgres {
            q = q.lock(match mode {
                RunLock::Shared => LockType::KeyShare,
                RunLock::Exclusive => LockType::Update,
            });
        }
        q.one(&self.tx).await.map_err(sql)?.map(run_from).transpose()
    }

    async fn mark_run_running(&mut self, run_id: Uuid, at: DateTime<Utc>) -> EngineResult<()> {
        runs::Entity::update_many()
            .col_expr(runs::Column::Status, Expr::value(RunStatus::Running.as_str()))
            .col_expr(
                runs::Column::StartedAt,
                Expr::value(Some(crate::truncate_to_micros(at))),
            )
            .col_expr(runs::Column::UpdatedAt, Expr::value(crate::now()))
            .filter(runs::Column::Id.eq(run_id))
            .filter(runs::Column::Status.eq(RunStatus::Pending.as_str()))
            .exec(&self.tx)
            .await
            .map_err(sql)?;
        Ok(())
    }

    async fn add_finished(&mut self, run_id: Uuid, n: i32) -> EngineResult<(i32, i32)> {
        let rows = runs::Entity::update_many()
            .col_expr(
                runs::Column::FinishedSteps,
                Expr::col(runs::Column::FinishedSteps).add(n),
            )
            .filter(runs::Column::Id.eq(run_id))
            .exec_with_returning(&self.tx)
            .await
            .map_err(sql)?;
        let r = rows.first().ok_or(EngineError::NotFound("run"))?;
        Ok((r.finished_steps, r.total_steps))
    }

    async fn insert_run(&mut self, run: &RunRecord, idempotency_key: Option<&str>) -> EngineResult<()> {
        let now = crate::now();
        let trace = run.trace.map(|t| (t.span.trace_id_hex(), t.store()));
        let (trace_id, trace_context, trace_parent_span_id) = match trace {
            Some((id, (ctx, parent))) => (Some(id), Some(ctx), parent),
            None => (None, None, None),
        };
        runs::Entity::insert(runs::ActiveModel {
            id: Set(run.id),
            workspace_id: Set(run.workspace_id),
            workflow_id: Set(run.workflow_id),
            version_id: Set(run.version_id),
            version_number: Set(run.version_number),
            status: Set(run.status.as_str().to_owned()),
            trigger_type: Set(run.trigger_type.as_str().to_owned()),
            trigger_data: Set(run.trigger_data.clone()),
            input: Set(run.input.clone()),
            output: Set(run.output.clone()),
            error: Set(run.error.clone()),
            idempotency_key: Set(idempotency_key.map(str::to_owned)),
            trace_id: Set(trace_id),
            trace_context: Set(trace_context),
            trace_parent_span_id: Set(trace_parent_span_id),
            total_steps: Set(run.total_steps),
            finished_steps: Set(run.finished_steps),
            created_at: Set(crate::truncate_to_micros(run.created_at)),
            started_at: Set(run.started_at.map(crate::truncate_to_micros)),
            ended_at: Set(run.ended_at.map(crate::truncate_to_micros)),
            deadline_at: Set(run.deadline_at.map(crate::truncate_to_micros)),
            updated_at: Set(now),
        })
        .exec_without_returning(&self.tx)
        .await
        .map_err(sql)?;
        Ok(())
    }

    async fn update_run(&mut self, run: &RunRecord) -> EngineResult<()> {
        runs::Entity::update_many()
            .col_expr(runs::Column::Status, Expr::value(run.status.as_str()))
            .col_expr(runs::Column::Output, Expr::value(run.output.clone()))
            .col_expr(runs::Column::Error, Expr::value(run.error.clone()))
            .col_expr(runs::Column::FinishedSteps, Expr::value(run.finished_steps))
            .col_expr(
                runs::Column::StartedAt,
                Expr::value(run.started_at.map(crate::truncate_to_micros)),
            )
            .col_expr(
                runs::Column::EndedAt,
                Expr::value(run.ended_at.map(crate::truncate_to_micros)),
            )
            .col_expr(
                runs::Column::DeadlineAt,
                Expr::value(run.deadline_at.map(crate::truncate_to_micros)),
            )
            .col_expr(runs::Column::UpdatedAt, Expr::value(crate::now()))
            .filter(runs::Column::Id.eq(run.id))
            .exec(&self.tx)
            .await
            .map_err(sql)?;
        Ok(())
    }

    async fn step(&mut self, run_id: Uuid, path: &str) -> EngineResult<Option<StepRecord>> {
        se::Entity::find()
            .filter(se::Column::RunId.eq(run_id))
            .filter(se::Column::Path.eq(path))
            .one(&self.tx)
            .await
            .map_err(sql)?
            .map(step_from)
            .transpose()
    }

    async fn lock_step(&mut self, run_id: Uuid, path: &str) -> EngineResult<Option<StepRecord>> {
        let mut q = se::Entity::find()
            .filter(se::Column::RunId.eq(run_id))
            .filter(se::Column::Path.eq(path));
        if self.backend == DbBackend::Postgres {
            q = q.lock(LockType::Update);
        }
        q.one(&self.tx).await.map_err(sql)?.map(step_from).transpose()
    }

    async fn lock_steps(&mut self, run_id: Uuid, paths: &[String]) -> EngineResult<Vec<StepRecord>> {
        self.steps_locked(run_id, paths, None).await
    }

    async fn try_lock_steps(&mut self, run_id: Uuid, paths: &[String]) -> EngineResult<Vec<StepRecord>> {
        self.steps_locked(run_id, paths, Some(LockBehavior::SkipLocked)).await
    }

    async fn lock_steps_of_key(&mut self, run_id: Uuid, prefix: &str, key: &str) -> EngineResult<Vec<StepRecord>> {
        let mut q = se::Entity::find()
            .filter(se::Column::RunId.eq(run_id))
            .filter(se::Column::StepKey.eq(key))
            .order_by_asc(se::Column::Path);
        if !prefix.is_empty() {
            q = q.filter(se::Column::Path.starts_with(prefix));
        }
        if self.backend == DbBackend::Postgres {
            q = q.lock(LockType::Update);
        }
        let mut rows = q.all(&self.tx).await.map_err(sql)?;
        // path order is byte order; the database's collation may differ
        rows.sort_by(|a, b| a.path.cmp(&b.path));
        rows.into_iter()
            .filter(|r| r.path.starts_with(prefix))
            .map(step_from)
            .collect()
    }

    async fn steps(&mut self, run_id: Uuid, paths: &[String]) -> EngineResult<Vec<StepRecord>> {
        let mut out = Vec::with_capacity(paths.len());
        for chunk in paths.chunks(500) {
            let rows = se::Entity::find()
                .filter(se::Column::RunId.eq(run_id))
                .filter(se::Column::Path.is_in(chunk.iter().cloned()))
                .all(&self.tx)
                .await
                .map_err(sql)?;
            for r in rows {
                out.push(step_from(r)?);
            }
        }
        Ok(out)
    }

    async fn steps_with_prefix(&mut self, run_id: Uuid, prefix: &str) -> EngineResult<Vec<StepRecord>> {
        let mut q = se::Entity::find().filter(se::Column::RunId.eq(run_id));
        if !prefix.is_empty() {
            // LIKE treats `_` as a wildcard: narrow with it, then check exactly.
            q = q.filter(se::Column::Path.starts_with(prefix));
        }
        let rows = q.all(&self.tx).await.map_err(sql)?;
        rows.into_iter()
            .filter(|r| r.path.starts_with(prefix))
            .map(step_from)
            .collect()
    }

    async fn outputs_of_key(&mut self, run_id: Uuid, prefix: &str, key: &str) -> EngineResult<Vec<StepOutput>> {
        let mut q = se::Entity::find()
            .select_only()
            .columns([se::Column::Path, se::Column::LoopIndex, se::Column::Output])
            .filter(se::Column::RunId.eq(run_id))
            .filter(se::Column::StepKey.eq(key))
            .order_by_asc(se::Column::Path);
        if !prefix.is_empty() {
            q = q.filter(se::Column::Path.starts_with(prefix));
        }
        let mut rows: Vec<(String, Option<i32>, Option<serde_json::Value>)> =
            q.into_tuple().all(&self.tx).await.map_err(sql)?;
        // path order is byte order; the database's collation may differ
        rows.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(rows
            .into_iter()
            .filter(|(path, ..)| path.starts_with(prefix))
            .map(|(path, loop_index, output)| StepOutput {
                path,
                loop_index,
                output,
            })
            .collect())
    }

    async fn insert_steps(&mut self, steps: &[StepRecord]) -> EngineResult<()> {
        let now = crate::now();
        for chunk in steps.chunks(200) {
            se::Entity::insert_many(chunk.iter().map(|s| step_model(s, now)))
                .exec_without_returning(&self.tx)
                .await
                .map_err(sql)?;
        }
        Ok(())
    }

    async fn update_step(&mut self, s: &StepRecord, expect: &Expect) -> EngineResult<bool> {
        let mut q = se::Entity::update_many()
            .set(step_model(s, crate::now()))
            .filter(se::Column::Id.eq(s.id))
            .filter(se::Column::Status.eq(expect.status.as_str()))
            .filter(se::Column::Attempt.eq(expect.attempt));
        q = match expect.lease_token {
            Some(t) => q.filter(se::Column::LeaseToken.eq(t)),
            None => q.filter(se::Column::LeaseToken.is_null()),
        };
        let res = q.exec(&self.tx).await.map_err(sql)?;
        Ok(res.rows_affected == 1)
    }

    async fn update_steps(&mut self, steps: &[(StepRecord, Expect)]) -> EngineResult<usize> {
        let mut written = 0;
        // 22 parameters a row: within SQLite's 32,766 and Postgres' 65,535
        for chunk in steps.chunks(500) {
            let stmt = crate::batch::update_steps(self.backend, chunk, crate::now());
            let res = self.tx.execute_raw(stmt).await.map_err(sql)?;
            written += usize::try_from(res.rows_affected()).unwrap_or(usize::MAX);
        }
        Ok(written)
    }

    async fn log(&mut self, e: LogRecord) -> EngineResult<()> {
        self.logs.push(e);
        Ok(())
    }

    async fn version(&mut self, version_id: Uuid) -> EngineResult<Option<VersionRecord>> {
        version_record(&self.tx, version_id).await
    }

    async fn commit(mut self: Box<Self>) -> EngineResult<()> {
        self.flush_logs().await?;
        self.tx.commit().await.map_err(sql)
    }
}

async fn version_record(c: &impl ConnectionTrait, version_id: Uuid) -> EngineResult<Option<VersionRecord>> {
    let Some(v) = versions::Entity::find_by_id(version_id).one(c).await.map_err(sql)? else {
        return Ok(None);
    };
    let wf = workflows::Entity::find_by_id(v.workflow_id)
        .one(c)
        .await
        .map_err(sql)?
        .ok_or(EngineError::NotFound("workflow"))?;
    Ok(Some(VersionRecord {
        id: v.id,
        workflow_id: v.workflow_id,
        workspace_id: wf.workspace_id,
        number: v.number,
        document: v.document,
    }))
}

/// Writes the version's steps in their relational shape (`workflow_steps`,
/// one row per step: sequence, dependencies, parent, branch type and
/// condition), as `orbflow_model::plan::flatten` gives them.
async fn materialize_steps(
    tx: &DatabaseTransaction,
    version_id: Uuid,
    wf: &orbflow_model::Workflow,
) -> EngineResult<()> {
    let rows: Vec<workflow_steps::ActiveModel> = orbflow_model::plan::flatten(&wf.steps)
        .into_iter()
        .map(|r| workflow_steps::ActiveModel {
            id: Set(crate::new_id()),
            version_id: Set(version_id),
            key: Set(r.key),
            step_type: Set(r.step_type.as_str().to_owned()),
            action: Set(r.action),
            config: Set(r.config),
            sequence: Set(i32::try_from(r.sequence).unwrap_or(i32::MAX)),
            position: Set(i32::try_from(r.position).unwrap_or(i32::MAX)),
            dependencies: Set(serde_json::json!(r.dependencies)),
            depends_on: Set(r.depends_on.map(|d| serde_json::json!(d))),
            parent_key: Set(r.parent_key),
            branch_type: Set(r.branch_type.map(|b| b.as_str().to_owned())),
            branch_condition: Set(r.branch_condition),
            branch_index: Set(r.branch_index.and_then(|i| i32::try_from(i).ok())),
            name: Set(r.name),
            description: Set(r.description),
            retry: Set(r.retry.and_then(|p| serde_json::to_value(p).ok())),
            timeout_ms: Set(r.timeout.and_then(|t| i64::try_from(t.as_millis()).ok())),
            on_error: Set(r.on_error.map(|o| {
                if o == orbflow_model::OnError::Continue {
                    "continue"
                } else {
                    "fail"
                }
                .to_owned()
            })),
        })
        .collect();
    for chunk in rows.chunks(200) {
        workflow_steps::Entity::insert_many(chunk.to_vec())
            .exec_without_returning(tx)
            .await
            .map_err(sql)?;
    }
    Ok(())
}

/// Replaces the workflow's schedules with the schedule triggers of
/// `version_id`'s document, each with its first tick after `now`.
async fn sync_schedules(
    tx: &DatabaseTransaction,
    workflow_id: Uuid,
    version_id: Uuid,
    wf: &orbflow_model::Workflow,
    now: DateTime<Utc>,
) -> EngineResult<()> {
    schedules::Entity::delete_many()
        .filter(schedules::Column::WorkflowId.eq(workflow_id))
        .exec(tx)
        .await
        .map_err(sql)?;
    for (i, t) in wf.triggers.iter().enumerate() {
        let orbflow_model::Trigger::Schedule {
            cron,
            timezone,
            input,
            catch_up,
        } = t
        else {
            continue;
        };
        let next = orbflow_model::cron::Schedule::parse(cron, timezone.as_deref())
            .ok()
            .and_then(|s| s.next_after(now))
            .map(|t| crate::truncate_to_micros(t.with_timezone(&Utc)));
        let catch_up = catch_up.unwrap_or(orbflow_model::CatchUp::Skip).as_str();
        schedules::Entity::insert(schedules::ActiveModel {
            id: Set(crate::new_id()),
            workflow_id: Set(workflow_id),
            version_id: Set(version_id),
            trigger_index: Set(i32::try_from(i).unwrap_or(i32::MAX)),
            cron: Set(cron.clone()),
            timezone: Set(timezone.clone().unwrap_or_else(|| "UTC".into())),
            input: Set(input.clone()),
            catch_up: Set(catch_up.into()),
            enabled: Set(true),
            next_fire_at: Set(next),
            last_fired_at: Set(None),
            created_at: Set(now),
        })
        .exec_without_returning(tx)
        .await
        .map_err(sql)?;
    }
    Ok(())
}

pub(crate) fn sha256_hex(s: &str) -> String {
    use sha2::Digest;
    let d = sha2::Sha256::digest(s.as_bytes());
    d.iter().map(|b| format!("{b:02x}")).collect()
}

#[async_trait::async_trait]
impl Store for SeaStore {
    async fn begin(&self) -> EngineResult<Box<dyn Tx>> {
        let backend = self.db.get_database_backend();
        let options = TransactionOptions {
            sqlite_transaction_mode: (backend == DbBackend::Sqlite).then_some(SqliteTransactionMode::Immediate),
            ..TransactionOptions::default()
        };
        let tx = self.db.begin_with_options(options).await.map_err(sql)?;
        Ok(Box::new(SeaTx {
            tx,
            backend,
            logs: Vec::new(),
        }))
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
