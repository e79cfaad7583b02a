//! The engine's transaction ([`Tx`]) on a SeaORM transaction: the run and
//! step rows locked as the module above says, log lines written in one
//! insert at commit.

use chrono::{DateTime, Utc};
use orbflow_engine::store::{Expect, LogRecord, RunLock, RunRecord, StepOutput, StepRecord, Tx, VersionRecord};
use orbflow_engine::{Error as EngineError, Result as EngineResult};
use orbflow_model::RunStatus;
use sea_orm::sea_query::{Expr, ExprTrait, LockBehavior, LockType};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseTransaction, DbBackend, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect,
};
use uuid::Uuid;

use super::{run_from, sql, step_from, step_model};
use crate::entity::{
    step_executions as se, workflow_run_logs as logs, workflow_runs as runs, workflow_versions as versions, workflows,
};

pub(super) struct SeaTx {
    tx: DatabaseTransaction,
    backend: DbBackend,
    /// Log lines, written with one multi-row insert at commit.
    logs: Vec<LogRecord>,
}

impl SeaTx {
    pub(super) fn new(tx: DatabaseTransaction, backend: DbBackend) -> Self {
        Self {
            tx,
            backend,
            logs: Vec::new(),
        }
    }

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

pub(super) async fn version_record(c: &impl ConnectionTrait, version_id: Uuid) -> EngineResult<Option<VersionRecord>> {
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
