//! The engine: starting runs, claiming and recording step attempts, timers,
//! cancellation. Propagation (readiness, joins, blocks, loops) is in
//! [`crate::advance`].

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use orbflow_actions::{ActionError, Outcome};
use orbflow_model::expr::EvalContext;
use orbflow_model::expr::budget::Limits;
use orbflow_model::expr::template::{is_cheap, render_value_with, template_strings};
use orbflow_model::{RunStatus, StepStatus, Workflow};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::advance::Advance;
use crate::plan::Plan;
use crate::store::{Expect, LeaseRef, LogRecord, RunRecord, StepRecord, Store, Tx, VersionRecord};
use crate::{Error, Result};

/// Engine settings.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// How long a claim holds a step before the reconciler may re-deliver it.
    pub lease: chrono::Duration,
    /// Most items a loop may iterate over.
    pub max_loop_items: usize,
    /// Secrets visible to action configs as `secrets.NAME`.
    pub secrets: HashMap<String, String>,
    /// Cost budget and time limit of every expression evaluation (a
    /// template render shares one; the step's `timeout` caps its time).
    pub expressions: Limits,
    /// Deliveries a step gets whatever its retry policy: a lost attempt
    /// (the worker died or stalled past its lease) counts as an attempt, and
    /// a step with fewer `maxAttempts` than this is still re-delivered up to
    /// this many times before it fails.
    pub min_deliveries: i32,
    /// Largest output of one step, and largest run output, as JSON bytes:
    /// past it the step (or the run) fails with an error saying so.
    pub max_output_bytes: usize,
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self {
            lease: chrono::Duration::seconds(30),
            max_loop_items: 10_000,
            secrets: HashMap::new(),
            expressions: Limits::default(),
            min_deliveries: 2,
            max_output_bytes: 16 * 1024 * 1024,
        }
    }
}

impl EngineConfig {
    /// Secrets from `ORBFLOW_SECRET_<NAME>` environment variables.
    pub fn secrets_from_env() -> HashMap<String, String> {
        std::env::vars()
            .filter_map(|(k, v)| k.strip_prefix("ORBFLOW_SECRET_").map(|n| (n.to_owned(), v)))
            .collect()
    }
}

/// A step execution to hand to the queue.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Job {
    /// Run.
    pub run_id: Uuid,
    /// Step path.
    pub path: String,
}

/// A timer the runner should fire (the database keeps it too).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wake {
    /// The step.
    pub job: Job,
    /// When.
    pub at: DateTime<Utc>,
}

/// What an engine call asks the runner to do next.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Effects {
    /// Steps that became QUEUED: enqueue them (after the commit, which has happened).
    pub jobs: Vec<Job>,
    /// Timers to fire.
    pub wakes: Vec<Wake>,
    /// Running steps whose action must be told to stop.
    pub cancel: Vec<Job>,
    /// Runs that finished.
    pub finished: Vec<(Uuid, RunStatus)>,
}

impl Effects {
    fn merge(&mut self, other: Effects) {
        self.jobs.extend(other.jobs);
        self.wakes.extend(other.wakes);
        self.cancel.extend(other.cancel);
        self.finished.extend(other.finished);
    }
}

/// A claimed attempt, ready to execute: render its config with
/// [`Engine::render`] (outside any transaction), then run the action.
#[derive(Debug, Clone)]
pub struct Claimed {
    /// The job.
    pub job: Job,
    /// Action name.
    pub action: String,
    /// The config as written, and what its templates read.
    pub(crate) template: Arc<ConfigTemplate>,
    /// Attempt number.
    pub attempt: i32,
    /// Fencing token of the lease.
    pub lease_token: i64,
    /// Per-attempt time limit.
    pub timeout: Option<std::time::Duration>,
    /// `run_id:step_path`.
    pub idempotency_key: String,
}

/// How a run is started.
#[derive(Debug, Clone)]
pub struct StartRun {
    /// The pinned version.
    pub version: VersionRecord,
    /// Run input.
    pub input: Value,
    /// manual | schedule | webhook | event.
    pub trigger_type: String,
    /// What the trigger carried.
    pub trigger_data: Option<Value>,
    /// At most one run per key and workflow.
    pub idempotency_key: Option<String>,
}

/// A step's config before its templates are rendered, with the context they
/// read (without secrets, which are added when rendering).
pub(crate) struct ConfigTemplate {
    config: Option<Value>,
    ctx: EvalContext,
}

impl std::fmt::Debug for ConfigTemplate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConfigTemplate").finish_non_exhaustive()
    }
}

/// A recorded outcome whose transaction is still open.
struct Recorded {
    tx: Box<dyn Tx>,
    effects: Effects,
    run: RunRecord,
    plan: Arc<Plan>,
}

/// The engine. Cheap to share (`Arc`).
pub struct Engine {
    pub(crate) store: Arc<dyn Store>,
    pub(crate) config: EngineConfig,
    plans: Mutex<HashMap<Uuid, Arc<Plan>>>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine").finish_non_exhaustive()
    }
}

pub(crate) fn now() -> DateTime<Utc> {
    Utc::now()
}

impl Engine {
    /// An engine over `store`.
    pub fn new(store: Arc<dyn Store>, config: EngineConfig) -> Self {
        Self {
            store,
            config,
            plans: Mutex::new(HashMap::new()),
        }
    }

    /// The store.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// The prepared plan of a version (cached).
    pub(crate) async fn plan(&self, tx: &mut dyn Tx, version_id: Uuid) -> Result<Arc<Plan>> {
        if let Some(p) = self.plans.lock().map_err(|_| Error::Poisoned)?.get(&version_id) {
            return Ok(p.clone());
        }
        let v = tx.version(version_id).await?.ok_or(Error::NotFound("version"))?;
        let wf: Workflow =
            serde_json::from_str(&v.document).map_err(|e| Error::Corrupt(format!("version document: {e}")))?;
        let plan = Arc::new(Plan::new(wf));
        self.plans
            .lock()
            .map_err(|_| Error::Poisoned)?
            .insert(version_id, plan.clone());
        Ok(plan)
    }

    /// Validates `input` against the version's `inputs` schema; the error
    /// lists every problem with its path.
    pub fn check_input(workflow: &Workflow, input: &Value) -> Result<()> {
        let Some(schema) = &workflow.inputs else { return Ok(()) };
        let validator = jsonschema::validator_for(schema).map_err(|e| Error::InvalidInput(e.to_string()))?;
        let errors: Vec<String> = validator
            .iter_errors(input)
            .map(|e| {
                let p = e.instance_path().to_string();
                if p.is_empty() {
                    e.to_string()
                } else {
                    format!("{p}: {e}")
                }
            })
            .collect();
        if errors.is_empty() {
            Ok(())
        } else {
            Err(Error::InvalidInput(errors.join("; ")))
        }
    }

    /// Starts a run: input validated, version pinned, top-level steps created
    /// and the roots made ready, in one transaction.
    pub async fn start_run(&self, req: StartRun) -> Result<(Uuid, Effects)> {
        let mut tx = self.store.begin().await?;
        // the version's prepared plan (parsed once per version, then cached)
        let plan = self.plan(tx.as_mut(), req.version.id).await?;
        Self::check_input(&plan.workflow, &req.input)?;
        let t = now();
        let run = RunRecord {
            id: Uuid::now_v7(),
            workspace_id: req.version.workspace_id,
            workflow_id: req.version.workflow_id,
            version_id: req.version.id,
            version_number: req.version.number,
            status: RunStatus::Pending,
            trigger_type: req.trigger_type,
            trigger_data: req.trigger_data,
            input: req.input,
            output: None,
            error: None,
            total_steps: i32::try_from(plan.top.len()).unwrap_or(i32::MAX),
            finished_steps: 0,
            created_at: t,
            started_at: None,
            ended_at: None,
            deadline_at: plan.workflow.timeout.map(|d| t + d.to_chrono()),
        };
        tx.insert_run(&run, req.idempotency_key.as_deref()).await?;
        tx.log(LogRecord {
            run_id: run.id,
            step_path: None,
            attempt: None,
            level: "info".into(),
            message: format!(
                "run started (version {}, trigger {})",
                run.version_number, run.trigger_type
            ),
            data: None,
            created_at: t,
        })
        .await?;
        let run_id = run.id;
        let mut adv = Advance::new(self, tx, plan.clone(), run);
        let top = plan.top.clone();
        adv.create_children(&top, "", None).await?;
        let (tx, effects, _) = adv.finish().await?;
        tx.commit().await?;
        Ok((run_id, effects))
    }

    /// Starts a run unless its idempotency key started one already (here
    /// or in a concurrent call that won the insert): the run id, whether it
    /// existed, and the effects of a new start.
    pub async fn start_run_once(&self, req: StartRun) -> Result<(Uuid, bool, Effects)> {
        let key = req.idempotency_key.clone();
        let workflow = req.version.workflow_id;
        if let Some(k) = &key
            && let Some(id) = self.store.run_by_key(workflow, k).await?
        {
            return Ok((id, true, Effects::default()));
        }
        match self.start_run(req).await {
            Ok((id, effects)) => Ok((id, false, effects)),
            Err(e) => match &key {
                // the unique key refused a second insert: someone else started it
                Some(k) => match self.store.run_by_key(workflow, k).await? {
                    Some(id) => Ok((id, true, Effects::default())),
                    None => Err(e),
                },
                None => Err(e),
            },
        }
    }

    /// Claims a QUEUED step for one attempt. `None` when the job is stale (a
    /// duplicate delivery, a cancelled run): nothing changes then.
    pub async fn claim(&self, job: &Job, worker: &str) -> Result<(Option<Claimed>, Effects)> {
        let mut tx = self.store.begin().await?;
        let Some(mut run) = tx.lock_run(job.run_id).await? else {
            return Ok((None, Effects::default()));
        };
        if run.status.is_terminal() {
            return Ok((None, Effects::default()));
        }
        let Some(mut step) = tx.step(job.run_id, &job.path).await? else {
            return Ok((None, Effects::default()));
        };
        if step.status != StepStatus::Queued {
            tracing::debug!(run = %job.run_id, path = %job.path, status = %step.status, "stale delivery ignored");
            return Ok((None, Effects::default()));
        }
        let plan = self.plan(tx.as_mut(), run.version_id).await?;
        let t = now();
        if run.status == RunStatus::Pending {
            run.status = run.status.transition(RunStatus::Running)?;
            run.started_at = Some(t);
            tx.update_run(&run).await?;
        }
        // A durable timer that fired: the step completes with what it recorded.
        if let Some(out) = step.wait_output.take() {
            let expect = Expect {
                status: StepStatus::Queued,
                attempt: step.attempt,
                lease_token: step.lease_token,
            };
            step.status = step.status.transition(StepStatus::Running)?;
            step.next_attempt_at = None;
            let mut adv = Advance::new(self, tx, plan, run);
            adv.complete(step, &expect, out).await?;
            let (tx, effects, _) = adv.finish().await?;
            tx.commit().await?;
            return Ok((None, effects));
        }
        match self.claim_in(tx.as_mut(), &run, &plan, step, worker).await? {
            Some(c) => {
                tx.commit().await?;
                Ok((Some(c), Effects::default()))
            }
            None => Ok((None, Effects::default())),
        }
    }

    /// Claims a QUEUED `step` inside `tx`: RUNNING, next attempt, a new
    /// lease and fencing token, and the outputs its config's templates read
    /// (they are rendered later, by [`Engine::render`], with no lock held).
    /// `None` when someone else moved the step meanwhile.
    async fn claim_in(
        &self,
        tx: &mut dyn Tx,
        run: &RunRecord,
        plan: &Plan,
        mut step: StepRecord,
        worker: &str,
    ) -> Result<Option<Claimed>> {
        let Some(&ix) = plan.by_key.get(&step.step_key) else {
            return Err(Error::Corrupt(format!(
                "step `{}` is not in its version",
                step.step_key
            )));
        };
        let t = now();
        let expect = Expect::of(&step);
        step.status = step.status.transition(StepStatus::Running)?;
        step.started_at = Some(t);
        step.attempt += 1;
        let token = tx.next_lease_token().await?;
        step.lease_owner = Some(worker.to_owned());
        step.lease_token = Some(token);
        step.lease_expires_at = Some(t + self.config.lease);
        let row = &plan.rows[ix];
        let action = row.action.clone();
        // Read the outputs the templates need now; render them later.
        let ctx = match &row.config {
            Some(cfg) if !template_strings(cfg).is_empty() => {
                let keys = referenced_keys(cfg);
                crate::context::for_path(tx, plan, run, ix, &step.path, &keys).await?
            }
            _ => EvalContext::new(),
        };
        let attempt = step.attempt;
        tx.log(LogRecord {
            run_id: run.id,
            step_path: Some(step.path.clone()),
            attempt: Some(attempt),
            level: "info".into(),
            message: format!("step started ({action}, attempt {attempt})"),
            data: None,
            created_at: t,
        })
        .await?;
        if !tx.update_step(&step, &expect).await? {
            return Ok(None);
        }
        Ok(Some(Claimed {
            idempotency_key: format!("{}:{}", run.id, step.path),
            job: Job {
                run_id: run.id,
                path: step.path.clone(),
            },
            action,
            template: Arc::new(ConfigTemplate {
                config: row.config.clone(),
                ctx,
            }),
            attempt,
            lease_token: token,
            timeout: row.timeout.map(|d| d.to_std()),
        }))
    }

    /// Renders a claimed attempt's config: its `{{ }}` templates evaluated
    /// with the run's secrets, under the expression budget (its time limit
    /// capped by the step's `timeout`), on a blocking thread and with no
    /// database lock held. A template that cannot be rendered is a fatal
    /// error of the attempt.
    pub async fn render(&self, claimed: &Claimed) -> std::result::Result<Value, ActionError> {
        let Some(cfg) = claimed.template.config.clone() else {
            return Ok(json!({}));
        };
        if template_strings(&cfg).is_empty() {
            return Ok(cfg);
        }
        let mut ctx = claimed.template.ctx.clone();
        ctx.set("secrets", json!(self.config.secrets));
        let limits = self.config.expressions.capped(claimed.timeout);
        // cheap templates (no comprehension, no list builder) inline; the
        // rest on a blocking thread, never on the runtime's workers
        let rendered = if is_cheap(&cfg) {
            Ok(render_value_with(&cfg, &ctx, &limits))
        } else {
            tokio::task::spawn_blocking(move || render_value_with(&cfg, &ctx, &limits)).await
        };
        match rendered {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => Err(ActionError::fatal(format!("template failed: {e}"))),
            Err(_) => Err(ActionError::fatal("template failed: its evaluation crashed")),
        }
    }

    /// How long a claim holds its step before it must be renewed.
    pub fn lease(&self) -> chrono::Duration {
        self.config.lease
    }

    /// Records the outcome of a claimed attempt (compare-and-set on the step,
    /// attempt and lease token; a stale write changes nothing).
    pub async fn record(
        &self,
        claimed: &Claimed,
        result: std::result::Result<Outcome, ActionError>,
    ) -> Result<Effects> {
        let Some(recorded) = self.record_outcome(claimed, result).await? else {
            return Ok(Effects::default());
        };
        recorded.tx.commit().await?;
        Ok(recorded.effects)
    }

    /// [`Engine::record`], then — in the same transaction — claims one step
    /// of the same run that the outcome made ready, for the caller to run
    /// next (eager dispatch without a second transaction or a queue hop).
    pub async fn record_and_claim(
        &self,
        claimed: &Claimed,
        result: std::result::Result<Outcome, ActionError>,
        worker: &str,
    ) -> Result<(Effects, Option<Claimed>)> {
        let Some(Recorded {
            mut tx,
            mut effects,
            run,
            plan,
        }) = self.record_outcome(claimed, result).await?
        else {
            return Ok((Effects::default(), None));
        };
        let mut next = None;
        if !run.status.is_terminal()
            && let Some(pos) = effects.jobs.iter().position(|j| j.run_id == run.id)
        {
            let candidate = effects.jobs[pos].clone();
            if let Some(step) = tx.step(run.id, &candidate.path).await?
                && step.status == StepStatus::Queued
                && step.wait_output.is_none()
                && let Some(c) = self.claim_in(tx.as_mut(), &run, &plan, step, worker).await?
            {
                effects.jobs.remove(pos);
                next = Some(c);
            }
        }
        tx.commit().await?;
        Ok((effects, next))
    }

    /// The write-back of an attempt, not yet committed: a compare-and-set on
    /// (status RUNNING, attempt, lease token), then propagation. `None` when
    /// the write is stale (rejected, logged and committed) or the step is gone.
    async fn record_outcome(
        &self,
        claimed: &Claimed,
        result: std::result::Result<Outcome, ActionError>,
    ) -> Result<Option<Recorded>> {
        let job = &claimed.job;
        let mut tx = self.store.begin().await?;
        let Some(run) = tx.lock_run(job.run_id).await? else {
            return Ok(None);
        };
        let Some(step) = tx.step(job.run_id, &job.path).await? else {
            return Ok(None);
        };
        let expect = Expect {
            status: StepStatus::Running,
            attempt: claimed.attempt,
            lease_token: Some(claimed.lease_token),
        };
        if Expect::of(&step) != expect {
            self.reject_stale(tx, &run, claimed).await?;
            return Ok(None);
        }
        let plan = self.plan(tx.as_mut(), run.version_id).await?;
        let mut adv = Advance::new(self, tx, plan.clone(), run);
        adv.outcome(step, &expect, result).await?;
        let (tx, effects, run) = adv.finish().await?;
        Ok(Some(Recorded { tx, effects, run, plan }))
    }

    async fn reject_stale(&self, mut tx: Box<dyn Tx>, run: &RunRecord, claimed: &Claimed) -> Result<()> {
        tracing::warn!(run = %claimed.job.run_id, path = %claimed.job.path, attempt = claimed.attempt, "stale write-back rejected (lease lost or step moved on)");
        tx.log(LogRecord {
            run_id: run.id,
            step_path: Some(claimed.job.path.clone()),
            attempt: Some(claimed.attempt),
            level: "warn".into(),
            message: "stale write-back rejected: the lease was lost".into(),
            data: None,
            created_at: now(),
        })
        .await?;
        tx.commit().await
    }

    /// A timer is due: WAITING → QUEUED.
    pub async fn fire_timer(&self, job: &Job) -> Result<Effects> {
        let mut tx = self.store.begin().await?;
        let Some(run) = tx.lock_run(job.run_id).await? else {
            return Ok(Effects::default());
        };
        if run.status.is_terminal() {
            return Ok(Effects::default());
        }
        let Some(mut step) = tx.step(job.run_id, &job.path).await? else {
            return Ok(Effects::default());
        };
        let t = now();
        if step.status != StepStatus::Waiting || step.next_attempt_at.is_some_and(|at| at > t) {
            return Ok(Effects::default());
        }
        let expect = Expect::of(&step);
        step.status = step.status.transition(StepStatus::Queued)?;
        step.queued_at = Some(t);
        if step.wait_output.is_none() {
            step.next_attempt_at = None;
        }
        if !tx.update_step(&step, &expect).await? {
            return Ok(Effects::default());
        }
        tx.commit().await?;
        Ok(Effects {
            jobs: vec![job.clone()],
            ..Effects::default()
        })
    }

    /// Cancels a run: no further step starts; running steps are told to stop.
    pub async fn cancel(&self, run_id: Uuid) -> Result<Effects> {
        let mut tx = self.store.begin().await?;
        let Some(run) = tx.lock_run(run_id).await? else {
            return Err(Error::NotFound("run"));
        };
        if run.status.is_terminal() {
            return Ok(Effects::default());
        }
        let plan = self.plan(tx.as_mut(), run.version_id).await?;
        let mut adv = Advance::new(self, tx, plan, run);
        adv.end_run(RunStatus::Cancelled, Some(json!({ "message": "cancelled" })))
            .await?;
        let (tx, effects, _) = adv.finish().await?;
        tx.commit().await?;
        Ok(effects)
    }

    /// Fails a run past its deadline (the workflow's `timeout`): no further
    /// step starts and running steps are told to stop.
    pub async fn time_out(&self, run_id: Uuid) -> Result<Effects> {
        let mut tx = self.store.begin().await?;
        let Some(run) = tx.lock_run(run_id).await? else {
            return Ok(Effects::default());
        };
        let overdue = run.deadline_at.is_some_and(|d| d <= now());
        if run.status.is_terminal() || !overdue {
            return Ok(Effects::default());
        }
        let plan = self.plan(tx.as_mut(), run.version_id).await?;
        let limit = plan.workflow.timeout.map_or_else(String::new, |d| format!(" of {d}"));
        let message = format!("the run exceeded its timeout{limit}");
        tx.log(LogRecord {
            run_id,
            step_path: None,
            attempt: None,
            level: "error".into(),
            message: message.clone(),
            data: None,
            created_at: now(),
        })
        .await?;
        let mut adv = Advance::new(self, tx, plan, run);
        adv.end_run(RunStatus::Failed, Some(json!({ "message": message, "timedOut": true })))
            .await?;
        let (tx, effects, _) = adv.finish().await?;
        tx.commit().await?;
        Ok(effects)
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
                crate::store::DueReason::Queued => effects.jobs.push(job),
                crate::store::DueReason::TimerDue => effects.merge(self.fire_timer(&job).await?),
                crate::store::DueReason::LeaseExpired => {
                    effects.merge(self.requeue_running(&job, Requeue::LeaseExpired).await?)
                }
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
            if s.path.ends_with(']') {
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
                StepStatus::Running => effects.merge(self.requeue_running(&job, Requeue::Recovered).await?),
                _ => {}
            }
        }
        Ok(effects)
    }

    /// RUNNING → QUEUED for a step whose worker is gone: after its lease
    /// expired (the reconciler), or at once at start-up of the process that
    /// owns the database. The attempt counts; the fencing token is dropped so
    /// the old holder's write-back is rejected.
    async fn requeue_running(&self, job: &Job, why: Requeue) -> Result<Effects> {
        let mut tx = self.store.begin().await?;
        let Some(run) = tx.lock_run(job.run_id).await? else {
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
        let expect = Expect::of(&step);
        let lost = match why {
            Requeue::LeaseExpired => format!(
                "attempt {} was lost: its lease expired (the worker died or stalled)",
                step.attempt
            ),
            Requeue::Recovered => format!("attempt {} was lost: the process restarted", step.attempt),
        };
        // A lost attempt counts: past the budget the step fails (River's rescuer).
        let budget = step.max_attempts.max(self.config.min_deliveries);
        if step.attempt >= budget {
            let plan = self.plan(tx.as_mut(), run.version_id).await?;
            let attempts = step.attempt;
            let message = format!("{lost}, and no attempts are left ({attempts} of {budget} used)");
            let mut adv = Advance::new(self, tx, plan, run);
            adv.fail(
                step,
                &expect,
                json!({ "message": message, "attempts": attempts, "retryable": false, "lost": true }),
            )
            .await?;
            let (tx, effects, _) = adv.finish().await?;
            tx.commit().await?;
            return Ok(effects);
        }
        step.status = step.status.transition(StepStatus::Queued)?;
        step.lease_owner = None;
        step.lease_token = None;
        step.lease_expires_at = None;
        step.queued_at = Some(t);
        if !tx.update_step(&step, &expect).await? {
            return Ok(Effects::default());
        }
        let message = match why {
            Requeue::LeaseExpired => format!("lease expired on attempt {}: re-delivered", step.attempt),
            Requeue::Recovered => format!("recovered after a restart: attempt {} is re-run", step.attempt),
        };
        tx.log(LogRecord {
            run_id: run.id,
            step_path: Some(job.path.clone()),
            attempt: Some(step.attempt),
            level: "warn".into(),
            message,
            data: None,
            created_at: t,
        })
        .await?;
        tx.commit().await?;
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
        let held: std::collections::HashSet<&LeaseRef> = renewed.iter().collect();
        Ok(leases.iter().filter(|l| !held.contains(l)).cloned().collect())
    }
}

/// Why a RUNNING step is put back in the queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Requeue {
    /// Its lease expired (the reconciler).
    LeaseExpired,
    /// Start-up recovery of the process that owns the database.
    Recovered,
}

/// Step keys a config's templates read.
pub(crate) fn referenced_keys(cfg: &Value) -> Vec<String> {
    let mut keys = Vec::new();
    for (_, s) in orbflow_model::expr::template::template_strings(cfg) {
        if let Ok(t) = orbflow_model::expr::template::Template::parse(s) {
            for c in t.expressions() {
                keys.extend(c.references().step_keys);
            }
        }
    }
    keys.sort();
    keys.dedup();
    keys
}

/// Size of `v` as JSON, without building the text.
pub(crate) fn json_len(v: &Value) -> usize {
    struct Count(usize);
    impl std::io::Write for Count {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 += buf.len();
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut c = Count(0);
    // writing to a counter cannot fail
    let _ = serde_json::to_writer(&mut c, v);
    c.0
}

/// A record of a step for the `stepExecutions` view.
pub fn step_view(s: &StepRecord) -> Value {
    json!({
        "status": s.status.as_str(),
        "attempts": s.attempt,
        "output": s.output.clone().unwrap_or(Value::Null),
        "error": s.error.clone().unwrap_or(Value::Null),
    })
}
