//! Retrying a FAILED run from the step that failed it, in the same run.
//!
//! When a step fails a run, the engine cancels every unfinished step and
//! leaves the counters as they were (the failed step is never counted as
//! finished by its dependents, its block or the run). A retry therefore only
//! has to put statuses back: the failed step gets a new attempt and every
//! step the failure cancelled returns to where it stood. Readiness, joins and
//! blocks then proceed as if the failure had been a retryable error.

use chrono::{DateTime, Utc};
use orbflow_model::{LogLevel, OnError, RunStatus, StepStatus, StepType};
use serde_json::json;
use uuid::Uuid;

use crate::engine::now;
use crate::store::{Expect, LogRecord, RunLock, RunRecord, StepRecord};
use crate::{Effects, Engine, Error, Job, Result, Wake};

impl Engine {
    /// Retries a FAILED run from its failed step(s): FAILED → RUNNING, the
    /// failed steps get a new attempt with a fresh retry budget, and the
    /// steps the failure cancelled are restored. [`Error::State`] if the run
    /// is not FAILED.
    pub async fn retry_run(&self, run_id: Uuid) -> Result<Effects> {
        crate::race::retry_races(|| self.retry_run_once(run_id)).await
    }

    async fn retry_run_once(&self, run_id: Uuid) -> Result<Effects> {
        let mut tx = self.begin().await?;
        let Some(mut run) = tx.lock_run(run_id, RunLock::Exclusive).await? else {
            return Err(Error::NotFound("run"));
        };
        if run.status != RunStatus::Failed {
            return Err(Error::State(format!(
                "only a FAILED run can be retried; this one is {}",
                run.status
            )));
        }
        let plan = self.plan(tx.as_mut(), run.version_id).await?;
        let rows = tx.steps_with_prefix(run_id, "").await?;
        let t = now();
        let mut effects = Effects::default();
        let mut retried = Vec::new();
        let mut writes = Vec::new();
        for mut r in rows {
            let iteration = orbflow_model::path::StepPath::new(&r.path).is_iteration();
            let row = plan.by_key.get(&r.step_key).map(|&ix| &plan.rows[ix]);
            let is_action = !iteration && row.is_some_and(|x| x.step_type == StepType::Action);
            let expect = Expect::of(&r);
            let job = Job {
                run_id,
                path: r.path.clone(),
            };
            match r.status {
                StepStatus::Failed if !iteration => {
                    // a step that failed with `onError: continue` did not fail the run
                    if row.is_some_and(|x| x.on_error == Some(OnError::Continue)) {
                        continue;
                    }
                    if !is_action {
                        // a block fails only when its own expression fails,
                        // which would fail again on the same data
                        return Err(Error::State(format!(
                            "block `{}` failed evaluating its expression; a retry would fail the same way",
                            r.path
                        )));
                    }
                    let budget = row
                        .and_then(|x| x.retry.as_ref())
                        .map_or(1, |p| i32::try_from(p.max_attempts).unwrap_or(1));
                    requeue_failed(&mut r, budget, t)?;
                    retried.push(r.path.clone());
                    effects.jobs.push(job);
                }
                StepStatus::Cancelled => match restore_cancelled(&mut r, is_action, t)? {
                    Restored::Queued => effects.jobs.push(job),
                    Restored::Waiting(at) => effects.wakes.push(Wake { job, at }),
                    Restored::Idle => {}
                },
                _ => continue,
            }
            writes.push((r, expect));
        }
        // the run is held exclusively: no other transaction moves its steps
        let written = tx.update_steps(&writes).await?;
        crate::cache::all_written(written, writes.len(), "restored steps")?;
        if retried.is_empty() && !timed_out(&run) {
            return Err(Error::State(
                "the run has no failed step to retry (its input or output expression failed)".into(),
            ));
        }
        run.status = run.status.transition(RunStatus::Running)?;
        run.error = None;
        run.output = None;
        run.ended_at = None;
        // a fresh deadline: the retry gets the workflow's whole timeout
        run.deadline_at = plan.workflow.timeout.map(|d| crate::engine::now() + d.to_chrono());
        tx.update_run(&run).await?;
        tx.log(retry_log(run_id, retried, t)).await?;
        tx.commit().await?;
        Ok(effects)
    }
}

/// A failed action step gets a new attempt with `budget` more attempts.
fn requeue_failed(r: &mut StepRecord, budget: i32, t: DateTime<Utc>) -> Result<()> {
    r.status = r.status.transition(StepStatus::Queued)?;
    r.max_attempts = r.attempt.saturating_add(budget);
    r.error = None;
    r.ended_at = None;
    r.next_attempt_at = None;
    r.queued_at = Some(t);
    r.lease_owner = None;
    r.lease_expires_at = None;
    Ok(())
}

/// Where a step the failure cancelled goes back to.
enum Restored {
    /// Queued again: it needs a job.
    Queued,
    /// Waiting for its retry time: it needs a wake-up.
    Waiting(DateTime<Utc>),
    /// Pending or running (a block): nothing to enqueue.
    Idle,
}

/// Puts a step the failure cancelled back where it stood: a block RUNNING
/// (if it had started) or PENDING; an action PENDING (dependencies not
/// met), WAITING (a retry was scheduled) or QUEUED.
fn restore_cancelled(r: &mut StepRecord, is_action: bool, t: DateTime<Utc>) -> Result<Restored> {
    let (to, restored) = if !is_action {
        let to = if r.started_at.is_some() {
            StepStatus::Running
        } else {
            StepStatus::Pending
        };
        (to, Restored::Idle)
    } else if r.pending_deps > 0 {
        (StepStatus::Pending, Restored::Idle)
    } else if let Some(at) = r.next_attempt_at {
        (StepStatus::Waiting, Restored::Waiting(at))
    } else {
        r.queued_at = Some(t);
        (StepStatus::Queued, Restored::Queued)
    };
    r.status = r.status.transition(to)?;
    r.ended_at = None;
    r.lease_owner = None;
    r.lease_expires_at = None;
    Ok(restored)
}

/// Whether the run failed by its `timeout` (it then has no failed step: its
/// cancelled steps are what the retry restores).
fn timed_out(run: &RunRecord) -> bool {
    run.error
        .as_ref()
        .and_then(|e| e.get("timedOut"))
        .and_then(serde_json::Value::as_bool)
        == Some(true)
}

/// The run log's line for a retry.
fn retry_log(run_id: Uuid, retried: Vec<String>, t: DateTime<Utc>) -> LogRecord {
    LogRecord {
        run_id,
        step_path: None,
        attempt: None,
        level: LogLevel::Info,
        message: if retried.is_empty() {
            "run retried after its timeout".to_owned()
        } else {
            format!("run retried from {}", retried.join(", "))
        },
        data: Some(json!({ "steps": retried })),
        created_at: t,
    }
}
