//! The engine: starting runs, claiming and recording step attempts, timers,
//! cancellation. Propagation (readiness, joins, blocks, loops) is in
//! [`crate::advance`].

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use orbflow_actions::{ActionError, Outcome};
use orbflow_model::expr::EvalContext;
use orbflow_model::expr::budget::Limits;
use orbflow_model::expr::template::render_value_with;
use orbflow_model::{RunStatus, StepStatus, Workflow};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::advance::Advance;
use crate::plan::Plan;
use crate::race::retry_races;
use crate::store::{Expect, LogRecord, RunLock, RunRecord, StepRecord, Store, Tx, VersionRecord};
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
    pub(crate) fn merge(&mut self, other: Effects) {
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

impl Claimed {
    /// The lease this attempt holds (what its worker renews).
    pub fn lease(&self) -> crate::store::LeaseRef {
        crate::store::LeaseRef {
            run_id: self.job.run_id,
            path: self.job.path.clone(),
            attempt: self.attempt,
            lease_token: self.lease_token,
        }
    }
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
    /// What the plan knows of its templates.
    templates: crate::plan::Templates,
}

impl std::fmt::Debug for ConfigTemplate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConfigTemplate").finish_non_exhaustive()
    }
}

/// What `Engine::claim_ready` claims from: a run, its plan, and the rows
/// the transaction made QUEUED, as written.
struct Ready<'a> {
    run: &'a RunRecord,
    plan: &'a Plan,
    rows: &'a mut HashMap<String, StepRecord>,
}

/// Most rows a transaction running pure steps ahead locks in advance at once.
const READ_AHEAD: usize = 32;

/// What the rounds of one record transaction gather.
#[derive(Default)]
struct Gathered {
    effects: Effects,
    claims: Vec<Claimed>,
    /// Rows locked ahead, or tried ([`Engine::read_ahead`]).
    read_ahead: std::collections::HashSet<(Uuid, String)>,
}

/// A finished attempt to record ([`Engine::record_batch`]).
#[derive(Debug, Clone)]
pub struct Done {
    /// The attempt.
    pub claimed: Claimed,
    /// What the action returned.
    pub result: std::result::Result<Outcome, ActionError>,
}

/// Which steps [`Engine::record_batch`] may claim for its caller.
pub struct NextClaims<'a> {
    /// The claiming worker.
    pub worker: &'a str,
    /// At most this many per transaction (claimed for the caller, and run
    /// inline by `run`, together).
    pub max: usize,
    /// Beyond the first, only steps whose action this accepts (the pure
    /// actions the caller runs inline).
    pub inline: &'a (dyn Fn(&str) -> bool + Sync),
    /// Runs pure steps inside the recording transaction: while every step
    /// the outcomes readied and the transaction claimed is one `inline`
    /// accepts, and for at most `window` since the transaction began, they
    /// are run by this and recorded in the same transaction (one commit for
    /// the lot; a crash before it runs them again, which is harmless for
    /// pure steps). `None`: the claimed steps go back to the caller.
    pub run: Option<&'a dyn RunInline>,
    /// How long one transaction may keep running pure steps inline.
    pub window: std::time::Duration,
}

impl NextClaims<'_> {
    /// Claim nothing.
    pub fn none() -> NextClaims<'static> {
        NextClaims {
            worker: "",
            max: 0,
            inline: &|_| false,
            run: None,
            window: std::time::Duration::ZERO,
        }
    }
}

impl std::fmt::Debug for NextClaims<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NextClaims")
            .field("worker", &self.worker)
            .field("max", &self.max)
            .field("run", &self.run.is_some())
            .field("window", &self.window)
            .finish_non_exhaustive()
    }
}

/// Runs a claimed attempt of a pure step (TRANSFORM, LOG_EVENT, …) inside
/// the transaction that claimed it ([`NextClaims::run`]): render its
/// config, execute the action, within the step's `timeout`.
#[async_trait::async_trait]
pub trait RunInline: Sync {
    /// The attempt's result.
    async fn run(&self, claimed: &Claimed) -> std::result::Result<Outcome, ActionError>;
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

    /// Begins a transaction, with the rows it holds cached and written at
    /// commit ([`crate::cache`]).
    pub(crate) async fn begin(&self) -> Result<Box<dyn Tx>> {
        Ok(Box::new(crate::cache::CachedTx::new(self.store.begin().await?)))
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
        let mut tx = self.begin().await?;
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
        retry_races(|| self.claim_once(job, worker)).await
    }

    async fn claim_once(&self, job: &Job, worker: &str) -> Result<(Option<Claimed>, Effects)> {
        let mut tx = self.begin().await?;
        let Some(mut run) = tx.lock_run(job.run_id, RunLock::Shared).await? else {
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
            tx.mark_run_running(run.id, t).await?;
            run.status = RunStatus::Running;
            run.started_at = Some(t);
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
        // the fencing token is the row's own: one more than the last lease's
        let token = step.lease_token.unwrap_or(0) + 1;
        step.lease_owner = Some(worker.to_owned());
        step.lease_token = Some(token);
        step.lease_expires_at = Some(t + self.config.lease);
        let row = &plan.rows[ix];
        let action = row.action.clone();
        // Read the outputs the templates need now; render them later.
        let templates = plan.templates[ix].clone();
        let ctx = if templates.any {
            crate::context::for_path(tx, plan, run, ix, &step.path, &templates.keys).await?
        } else {
            EvalContext::new()
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
                templates,
            }),
            attempt,
            lease_token: token,
            timeout: row.timeout.map(|d| d.to_std()),
        }))
    }

    /// Renders a claimed attempt's config: its `{{ }}` templates evaluated
    /// with the run's secrets, under the expression budget (its time limit
    /// capped by the step's `timeout`), with no database lock held: inline
    /// when every expression is cheap, otherwise on a blocking thread. A
    /// template that cannot be rendered is a fatal error of the attempt.
    pub async fn render(&self, claimed: &Claimed) -> std::result::Result<Value, ActionError> {
        let Some(cfg) = claimed.template.config.clone() else {
            return Ok(json!({}));
        };
        if !claimed.template.templates.any {
            return Ok(cfg);
        }
        let mut ctx = claimed.template.ctx.clone();
        ctx.set("secrets", json!(self.config.secrets));
        let limits = self.config.expressions.capped(claimed.timeout);
        match off_runtime(claimed.template.templates.cheap, move || {
            render_value_with(&cfg, &ctx, &limits)
        })
        .await
        {
            Some(Ok(v)) => Ok(v),
            Some(Err(e)) => Err(ActionError::fatal(format!("template failed: {e}"))),
            None => Err(ActionError::fatal("template failed: its evaluation crashed")),
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
        let done = [Done {
            claimed: claimed.clone(),
            result,
        }];
        let (effects, _) = self.record_batch(&done, &NextClaims::none()).await?;
        Ok(effects)
    }

    /// Records the outcomes of several attempts in one transaction (one
    /// commit, whatever their runs) and, in the same transaction, claims up
    /// to `next.max` steps of their runs that the outcomes made ready — the
    /// first of any action, the others only if `next.inline` accepts their
    /// action (pure actions the caller runs at once, with no queue hop). A
    /// stale outcome (lease lost, step moved on) is refused and logged, and
    /// does not hold back the others. If the batch fails for another reason
    /// than a lost race, every outcome is recorded on its own, so one poison
    /// row cannot block the rest.
    ///
    /// Outcomes of effectful steps (an HTTP call, a message sent) are
    /// committed before any pure step runs ahead: the run-ahead's
    /// transaction then starts afresh, so a crash while it runs can only
    /// lose pure work, never the record of a side effect (whose loss would
    /// run it again).
    pub async fn record_batch(&self, done: &[Done], next: &NextClaims<'_>) -> Result<(Effects, Vec<Claimed>)> {
        let Some(runner) = next.run else {
            return self.record_batch_plain(done, next).await;
        };
        if done.iter().all(|d| (next.inline)(&d.claimed.action)) {
            return self.record_batch_plain(done, next).await;
        }
        let plain = NextClaims {
            run: None,
            window: std::time::Duration::ZERO,
            ..*next
        };
        let (mut effects, claims) = self.record_batch_plain(done, &plain).await?;
        if claims.is_empty() || !claims.iter().all(|c| (next.inline)(&c.action)) || next.window.is_zero() {
            return Ok((effects, claims));
        }
        // the claims are committed: run them, then record them running ahead
        let mut round = Vec::with_capacity(claims.len());
        for c in claims {
            let result = runner.run(&c).await;
            round.push(Done { claimed: c, result });
        }
        let rest = NextClaims {
            max: next.max.saturating_sub(round.len()),
            ..*next
        };
        match self.record_batch_plain(&round, &rest).await {
            Ok((more, claims)) => {
                effects.merge(more);
                Ok((effects, claims))
            }
            Err(e) => {
                // what the first transaction readied still goes out; the
                // pure steps' leases expire and they run again
                tracing::warn!(error = %e, n = round.len(), "recording steps run inline failed; their leases will expire");
                Ok((effects, Vec::new()))
            }
        }
    }

    /// [`Engine::record_batch`] in one transaction (running ahead if asked).
    async fn record_batch_plain(&self, done: &[Done], next: &NextClaims<'_>) -> Result<(Effects, Vec<Claimed>)> {
        let first = retry_races(|| self.record_batch_once(done, next)).await;
        let first = match first {
            // a step run inline failed to record: record the outcomes given, without running ahead
            Err(e) if next.run.is_some() && !e.is_race() => {
                tracing::warn!(error = %e, "recording with steps run inline failed; recording without");
                let plain = NextClaims {
                    run: None,
                    window: std::time::Duration::ZERO,
                    ..*next
                };
                retry_races(|| self.record_batch_once(done, &plain)).await
            }
            other => other,
        };
        match first {
            Err(e) if done.len() > 1 && !e.is_race() => {
                tracing::warn!(error = %e, n = done.len(), "recording a batch failed; recording its outcomes one by one");
                let mut effects = Effects::default();
                let (mut recorded, mut first) = (0, None);
                for d in done {
                    let none = NextClaims::none();
                    let one = retry_races(|| self.record_batch_once(std::slice::from_ref(d), &none));
                    match one.await {
                        Ok((e, _)) => {
                            recorded += 1;
                            effects.merge(e);
                        }
                        Err(e) => {
                            tracing::warn!(error = %e, run = %d.claimed.job.run_id, path = %d.claimed.job.path, "record failed; the lease will expire and the step re-run");
                            first.get_or_insert(e);
                        }
                    }
                }
                match first {
                    Some(e) if recorded == 0 => Err(e),
                    _ => Ok((effects, Vec::new())),
                }
            }
            other => other,
        }
    }

    async fn record_batch_once(&self, done: &[Done], next: &NextClaims<'_>) -> Result<(Effects, Vec<Claimed>)> {
        let began = std::time::Instant::now();
        let mut tx = self.begin().await?;
        let mut g = Gathered::default();
        tx = self.record_in(tx, done, next, &mut g).await?;
        // run ahead: pure steps the outcomes readied run here, in this transaction
        let mut ran = 0;
        while let Some(runner) = next.run
            && !g.claims.is_empty()
            && ran + g.claims.len() <= next.max
            && began.elapsed() < next.window
            && g.claims.iter().all(|c| (next.inline)(&c.action))
        {
            let mut round = Vec::with_capacity(g.claims.len());
            for c in std::mem::take(&mut g.claims) {
                let result = runner.run(&c).await;
                round.push(Done { claimed: c, result });
            }
            ran += round.len();
            let rest = NextClaims {
                max: next.max - ran,
                ..*next
            };
            tx = self.record_in(tx, &round, &rest, &mut g).await?;
        }
        tx.commit().await?;
        Ok((g.effects, g.claims))
    }

    /// Locks ahead, without waiting for other holders, the rows the steps
    /// claimed in `g` for `run` will make ready if they complete: up to
    /// [`READ_AHEAD`] of their same-level dependents and theirs, once per
    /// transaction, so that a chain run ahead reads its next rows in one
    /// statement instead of one each.
    async fn read_ahead(&self, tx: &mut dyn Tx, run: &RunRecord, plan: &Plan, g: &mut Gathered) -> Result<()> {
        let mut frontier: Vec<(String, crate::plan::Ix)> = Vec::new();
        for c in g.claims.iter().filter(|c| c.job.run_id == run.id) {
            let prefix = crate::plan::prefix_of(&c.job.path);
            if let Some(&ix) = plan.by_key.get(&c.job.path[prefix.len()..]) {
                frontier.push((prefix.to_owned(), ix));
            }
        }
        let level = |ix: crate::plan::Ix, prefix: &str| -> Vec<(String, crate::plan::Ix)> {
            plan.dependents[ix]
                .iter()
                .filter(|&&d| plan.depth(d) == plan.depth(ix))
                .map(|&d| (format!("{prefix}{}", plan.rows[d].key), d))
                .collect()
        };
        let next: Vec<String> = frontier
            .iter()
            .flat_map(|(prefix, ix)| level(*ix, prefix).into_iter().map(|(p, _)| p))
            .collect();
        if next.iter().all(|p| g.read_ahead.contains(&(run.id, p.clone()))) {
            return Ok(());
        }
        let mut want = Vec::new();
        let mut seen = std::collections::HashSet::new();
        let mut queue: std::collections::VecDeque<_> = frontier.into();
        while let Some((prefix, ix)) = queue.pop_front()
            && want.len() < READ_AHEAD
        {
            for (path, d) in level(ix, &prefix) {
                if seen.insert(path.clone()) {
                    want.push(path);
                    queue.push_back((prefix.clone(), d));
                }
            }
        }
        want.retain(|p| g.read_ahead.insert((run.id, p.clone())));
        if !want.is_empty() {
            tx.try_lock_steps(run.id, &want).await?;
        }
        Ok(())
    }

    /// Records `done` in `tx` and claims what [`Engine::record_batch`]
    /// says into `claims`; hands the transaction back.
    async fn record_in(
        &self,
        mut tx: Box<dyn Tx>,
        done: &[Done],
        next: &NextClaims<'_>,
        g: &mut Gathered,
    ) -> Result<Box<dyn Tx>> {
        let mut runs: Vec<Uuid> = Vec::new();
        for d in done {
            if !runs.contains(&d.claimed.job.run_id) {
                runs.push(d.claimed.job.run_id);
            }
        }
        for run_id in runs {
            let Some(run) = tx.lock_run(run_id, RunLock::Shared).await? else {
                continue;
            };
            let plan = self.plan(tx.as_mut(), run.version_id).await?;
            // the attempts' rows, locked in one statement (held from here on:
            // read from memory, written with the others at commit)
            let paths: Vec<String> = done
                .iter()
                .filter(|d| d.claimed.job.run_id == run_id)
                .map(|d| d.claimed.job.path.clone())
                .collect();
            tx.lock_steps(run_id, &paths).await?;
            let mut adv = Advance::new(self, tx, plan.clone(), run);
            for d in done.iter().filter(|d| d.claimed.job.run_id == run_id) {
                let c = &d.claimed;
                let expect = Expect {
                    status: StepStatus::Running,
                    attempt: c.attempt,
                    lease_token: Some(c.lease_token),
                };
                match adv.tx().step(run_id, &c.job.path).await? {
                    Some(step) if Expect::of(&step) == expect => {
                        adv.outcome(step, &expect, d.result.clone()).await?;
                    }
                    Some(_) => {
                        tracing::warn!(run = %run_id, path = %c.job.path, attempt = c.attempt, "stale write-back rejected (lease lost or step moved on)");
                        let line = ("warn", "stale write-back rejected: the lease was lost".to_owned());
                        adv.log(Some(&c.job.path), Some(c.attempt), line, None).await?;
                    }
                    None => {}
                }
            }
            let (t, mut eff, run, mut readied) = adv.finish_readied().await?;
            tx = t;
            if !run.status.is_terminal() {
                let ready = Ready {
                    run: &run,
                    plan: &plan,
                    rows: &mut readied,
                };
                self.claim_ready(tx.as_mut(), ready, &mut eff, (next, &mut g.claims))
                    .await?;
                // only when the claims will run here (an effectful one ends the run-ahead)
                if next.run.is_some() && g.claims.iter().all(|c| (next.inline)(&c.action)) {
                    self.read_ahead(tx.as_mut(), &run, &plan, g).await?;
                }
            }
            g.effects.merge(eff);
        }
        Ok(tx)
    }

    /// Claims, inside `tx`, steps of `run` that `eff` made ready, as
    /// [`Engine::record_batch`] describes; the claimed ones leave `eff.jobs`.
    async fn claim_ready(
        &self,
        tx: &mut dyn Tx,
        Ready { run, plan, rows }: Ready<'_>,
        eff: &mut Effects,
        (next, claims): (&NextClaims<'_>, &mut Vec<Claimed>),
    ) -> Result<()> {
        let mut i = 0;
        while i < eff.jobs.len() && claims.len() < next.max {
            let job = &eff.jobs[i];
            if job.run_id != run.id {
                i += 1;
                continue;
            }
            // the row as this transaction wrote it, or as stored
            let step = match rows.remove(&job.path) {
                Some(r) => Some(r),
                None => tx.step(run.id, &job.path).await?,
            };
            let Some(step) = step else {
                i += 1;
                continue;
            };
            let accepted = claims.is_empty()
                || plan
                    .by_key
                    .get(&step.step_key)
                    .is_some_and(|&ix| (next.inline)(&plan.rows[ix].action));
            if step.status == StepStatus::Queued
                && step.wait_output.is_none()
                && accepted
                && let Some(c) = self.claim_in(tx, run, plan, step, next.worker).await?
            {
                eff.jobs.remove(i);
                claims.push(c);
            } else {
                i += 1;
            }
        }
        Ok(())
    }

    /// A timer is due: WAITING → QUEUED.
    pub async fn fire_timer(&self, job: &Job) -> Result<Effects> {
        retry_races(|| self.fire_timer_once(job)).await
    }

    async fn fire_timer_once(&self, job: &Job) -> Result<Effects> {
        let mut tx = self.begin().await?;
        let Some(run) = tx.lock_run(job.run_id, RunLock::Shared).await? else {
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
        retry_races(|| self.cancel_once(run_id)).await
    }

    async fn cancel_once(&self, run_id: Uuid) -> Result<Effects> {
        let mut tx = self.begin().await?;
        let Some(run) = tx.lock_run(run_id, RunLock::Exclusive).await? else {
            return Err(Error::NotFound("run"));
        };
        if run.status.is_terminal() {
            return Ok(Effects::default());
        }
        self.end_run_in(tx, run, RunStatus::Cancelled, json!({ "message": "cancelled" }))
            .await
    }

    /// Ends `run`, locked in `tx`, as `status` with `error`: its unfinished
    /// steps CANCELLED, running actions told to stop; commits.
    pub(crate) async fn end_run_in(
        &self,
        mut tx: Box<dyn Tx>,
        run: RunRecord,
        status: RunStatus,
        error: Value,
    ) -> Result<Effects> {
        let plan = self.plan(tx.as_mut(), run.version_id).await?;
        let mut adv = Advance::new(self, tx, plan, run).exclusive();
        adv.end_run(status, Some(error)).await?;
        let (tx, effects, _) = adv.finish().await?;
        tx.commit().await?;
        Ok(effects)
    }
}

/// Runs an expression evaluation: inline when `cheap` (its cost is bounded
/// by its size), otherwise on a blocking thread so that it never holds one of
/// the runtime's workers. `None` if it panicked.
pub(crate) async fn off_runtime<T: Send + 'static>(
    cheap: bool,
    eval: impl FnOnce() -> T + Send + 'static,
) -> Option<T> {
    if cheap {
        Some(eval())
    } else {
        tokio::task::spawn_blocking(eval).await.ok()
    }
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
