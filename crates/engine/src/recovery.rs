//! Lost work: the reconciler (runs past their deadline, steps QUEUED too
//! long, leases expired, timers due), start-up recovery of the embedded
//! default, lost attempts counted against the attempt budget, and lease
//! renewal for the attempts a worker runs.

use std::collections::HashSet;

use orbflow_model::{LogLevel, RunStatus, StepStatus, StepType};
use uuid::Uuid;

use crate::advance::Advance;
use crate::engine::now;
use crate::step_error::StepError;
use crate::store::{DueReason, Expect, LeaseRef, LogRecord, RunLock};
use crate::{Effects, Engine, Job, Result, Wake};

impl Engine {
    /// Fails a run past its deadline (the workflow's `timeout`): no further
    /// step starts and running steps are told to stop.
    pub async fn time_out(&self, run_id: Uuid) -> Result<Effects> {
        crate::race::retry_races(|| self.time_out_once(run_id)).await
    }

    async fn time_out_once(&self, run_id: Uuid) -> Result<Effects> {
        let mut tx = self.begin().await?;
        let Some(run) = tx.lock_run(run_id, RunLock::Exclusive).await? else {
            return Ok(Effects::default());
        };
        let overdue = run.deadline_at.is_some_and(|d| d <= now());
        if run.status.is_terminal() || !overdue {
            return Ok(Effects::default());
        }
        let plan = self.plan(tx.as_mut(), run.version_id).await?;
        let limit = plan.workflow.timeout.map_or_else(String::new, |d| format!(" of {d}"));
        let message = format!("the run exceeded its timeout{limit}");
        self.end_run_in(
            tx,
            run,
            RunStatus::Failed,
            StepError {
                timed_out: Some(true),
                ..StepError::new(message)
            },
        )
        .await
    }

    /// The reconciler: fails runs past their deadline, re-enqueues steps QUEUED too long, RUNNING with an
    /// expired lease, WAITING past their timer.
    pub async fn reconcile(&self, queued_grace: chrono::Duration, limit: u64) -> Result<Effects> {
        let mut effects = Effects::default();
        for run_id in self.store.overdue_runs(now(), limit).await? {
            effects.merge(self.time_out(run_id).await?);
        }
        for due in self.store.due_steps(now(), queued_grace, limit).await? {
            let job = Job {
                run_id: due.run_id,
                path: due.path.clone(),
            };
            match due.reason {
                DueReason::Queued => effects.jobs.push(job),
                DueReason::TimerDue => effects.merge(self.fire_timer(&job).await?),
                DueReason::LeaseExpired => effects.merge(self.requeue_running(&job, Requeue::LeaseExpired).await?),
            }
        }
        Ok(effects)
    }

    /// Start-up recovery when this process is the only one working on the
    /// database (the embedded default): steps left RUNNING by a process that
    /// died are re-queued at once (their attempt counts), QUEUED steps are
    /// enqueued again and WAITING steps get their timers back. On the fleet
    /// the reconciler does this after leases expire instead.
    pub async fn recover_exclusive(&self) -> Result<Effects> {
        let mut effects = Effects::default();
        for s in self.store.active_steps(1_000_000).await? {
            if orbflow_model::path::StepPath::new(&s.path).is_iteration() {
                continue;
            }
            let job = Job {
                run_id: s.run_id,
                path: s.path.clone(),
            };
            match s.status {
                StepStatus::Queued => effects.jobs.push(job),
                StepStatus::Waiting => effects.wakes.push(Wake {
                    job,
                    at: s.next_attempt_at.unwrap_or_else(now),
                }),
                // RUNNING (`active_steps` gives only these three; a row
                // that moved on meanwhile is left alone by the re-queue)
                _ => effects.merge(self.requeue_running(&job, Requeue::Recovered).await?),
            }
        }
        Ok(effects)
    }

    /// RUNNING → QUEUED for a step whose worker is gone: after its lease
    /// expired (the reconciler), or at once at start-up of the process that
    /// owns the database. The attempt counts; the old holder's write-back is
    /// rejected (the step is no longer RUNNING with its attempt and token).
    async fn requeue_running(&self, job: &Job, why: Requeue) -> Result<Effects> {
        crate::race::retry_races(|| self.requeue_running_once(job, why)).await
    }

    async fn requeue_running_once(&self, job: &Job, why: Requeue) -> Result<Effects> {
        let mut tx = self.begin().await?;
        let Some(run) = tx.lock_run(job.run_id, RunLock::Shared).await? else {
            return Ok(Effects::default());
        };
        let Some(mut step) = tx.step(job.run_id, &job.path).await? else {
            return Ok(Effects::default());
        };
        let t = now();
        let lease_live = why == Requeue::LeaseExpired && step.lease_expires_at.is_some_and(|e| e > t);
        if run.status.is_terminal() || step.status != StepStatus::Running || lease_live {
            return Ok(Effects::default());
        }
        // a RUNNING block waits for its children: no process runs it, so
        // none can have lost it (re-queued, it would be evaluated again)
        let plan = self.plan(tx.as_mut(), run.version_id).await?;
        if plan
            .by_key
            .get(&step.step_key)
            .is_some_and(|&ix| plan.rows[ix].step_type != StepType::Action)
        {
            return Ok(Effects::default());
        }
        let expect = Expect::of(&step);
        let lost = match why {
            Requeue::LeaseExpired => format!(
                "attempt {} was lost: its lease expired (the worker died or stalled)",
                step.attempt
            ),
            Requeue::Recovered => format!(
                "attempt {} was lost: the process restarted (recovered after a restart)",
                step.attempt
            ),
        };
        // A lost attempt counts: past the budget the step fails (River's rescuer).
        let budget = step.max_attempts.max(self.config.min_deliveries);
        if step.attempt >= budget {
            let attempts = step.attempt;
            let message = format!("{lost}, and no attempts are left ({attempts} of {budget} used)");
            let mut adv = Advance::new(self, tx, plan, run);
            adv.fail(
                step,
                &expect,
                StepError {
                    lost: Some(true),
                    ..StepError::after_attempts(message, attempts).retryable(false)
                },
            )
            .await?;
            let (tx, effects, _) = adv.finish().await?;
            tx.commit().await?;
            self.stats.lost(why, false);
            return Ok(effects);
        }
        step.status = step.status.transition(StepStatus::Queued)?;
        // the token stays: the next claim takes the one after it
        step.lease_owner = None;
        step.lease_expires_at = None;
        step.queued_at = Some(t);
        if !tx.update_step(&step, &expect).await? {
            return Ok(Effects::default());
        }
        tx.log(LogRecord {
            run_id: run.id,
            step_path: Some(job.path.clone()),
            attempt: Some(step.attempt),
            level: LogLevel::Warn,
            message: format!("{lost}; re-delivered"),
            data: None,
            created_at: t,
        })
        .await?;
        tx.commit().await?;
        self.stats.lost(why, true);
        Ok(Effects {
            jobs: vec![job.clone()],
            ..Effects::default()
        })
    }

    /// Renews the leases of attempts running here; returns those that were
    /// lost (the step moved on: re-delivered, cancelled, finished), whose
    /// local attempt must stop at once.
    pub async fn renew_leases(&self, leases: &[LeaseRef]) -> Result<Vec<LeaseRef>> {
        if leases.is_empty() {
            return Ok(Vec::new());
        }
        let renewed = self.store.renew_leases(leases, now() + self.config.lease).await?;
        let held: HashSet<&LeaseRef> = renewed.iter().collect();
        Ok(leases.iter().filter(|l| !held.contains(l)).cloned().collect())
    }
}

/// Why a RUNNING step is put back in the queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Requeue {
    /// Its lease expired (the reconciler).
    LeaseExpired,
    /// Start-up recovery of the process that owns the database.
    Recovered,
}
