//! The engine: starting runs, claiming and rendering step attempts, timers,
//! cancellation. Recording outcomes (and running pure steps ahead) is in
//! `record`, propagation (readiness, joins, blocks, loops) in `advance` (both
//! private).

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use orbflow_actions::ActionError;
use orbflow_model::expr::EvalContext;
use orbflow_model::expr::template::render_value_with;
use orbflow_model::{LogLevel, RunStatus, StepStatus, TriggerType, Workflow};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::advance::Advance;
use crate::plan::Plan;
use crate::race::retry_races;
use crate::step_error::StepError;
use crate::store::{Expect, LogRecord, RunLock, RunRecord, StepRecord, Store, Tx, VersionRecord};
use crate::{Error, Result};

pub use crate::config::{EngineConfig, Stats};

/// Whether any string of a config (keys included) names `secrets`.
fn mentions_secrets(config: &Value) -> bool {
    match config {
        Value::String(s) => s.contains("secrets"),
        Value::Array(a) => a.iter().any(mentions_secrets),
        Value::Object(o) => o.iter().any(|(k, v)| k.contains("secrets") || mentions_secrets(v)),
        _ => false,
    }
}

/// The first (by name) `secrets.NAME` a config's templates read that `secrets` lacks.
fn missing_secret(config: &Value, secrets: &HashMap<String, String>) -> Option<String> {
    orbflow_model::secrets::names_in(config)
        .into_iter()
        .find(|n| !secrets.contains_key(n))
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
    pub finished: Vec<FinishedRun>,
}

/// A run that reached a terminal state in a committed engine call: what
/// its end announces and what its span reports.
#[derive(Debug, Clone, PartialEq)]
pub struct FinishedRun {
    /// The run.
    pub id: Uuid,
    /// COMPLETED, FAILED or CANCELLED.
    pub status: RunStatus,
    /// Its workflow.
    pub workflow_id: Uuid,
    /// The pinned version's number.
    pub version_number: i32,
    /// What started it.
    pub trigger_type: TriggerType,
    /// When it was created (its span's start).
    pub created_at: DateTime<Utc>,
    /// When it ended (its span's end).
    pub ended_at: DateTime<Utc>,
    /// Its error's message, when it failed or was cancelled.
    pub error: Option<String>,
    /// Its trace.
    pub trace: Option<crate::trace::RunTrace>,
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
    /// The run's trace (the attempt's span goes under the run's span).
    pub trace: Option<crate::trace::RunTrace>,
    /// The run's workflow.
    pub workflow_id: Uuid,
    /// The number of the version the run is pinned to.
    pub version_number: i32,
    /// The run's workspace (whose secrets its templates read).
    pub workspace_id: Uuid,
}

/// A rendered config, and the secret values it was given: what the
/// attempt's output, error and log lines are cleaned of (longest first;
/// empty when the config names no secret).
#[derive(Debug)]
pub struct Rendered {
    /// The config with every template resolved.
    pub config: Value,
    /// The values of the secrets the templates could read.
    pub secrets: Vec<String>,
}

impl Claimed {
    /// The step's config as written in its version (templates unrendered).
    pub fn raw_config(&self) -> Option<&Value> {
        self.template.config.as_ref()
    }

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
    /// What started it.
    pub trigger_type: TriggerType,
    /// What the trigger carried.
    pub trigger_data: Option<Value>,
    /// At most one run per key and workflow.
    pub idempotency_key: Option<String>,
    /// The span the run starts under (an API request, a webhook delivery);
    /// `None` starts a new trace.
    pub trace_parent: Option<crate::trace::TraceContext>,
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

/// The engine. Cheap to share (`Arc`).
pub struct Engine {
    pub(crate) store: Arc<dyn Store>,
    pub(crate) config: EngineConfig,
    pub(crate) stats: Stats,
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
            stats: Stats::default(),
            plans: Mutex::new(HashMap::new()),
        }
    }

    /// What this engine counted since it was built.
    pub fn stats(&self) -> &Stats {
        &self.stats
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
            trace: Some(crate::trace::RunTrace::start(req.trace_parent)),
        };
        tx.insert_run(&run, req.idempotency_key.as_deref()).await?;
        tx.log(LogRecord {
            run_id: run.id,
            step_path: None,
            attempt: None,
            level: LogLevel::Info,
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
            self.stats.stale_deliveries.fetch_add(1, Ordering::Relaxed);
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
    pub(crate) async fn claim_in(
        &self,
        tx: &mut dyn Tx,
        run: &RunRecord,
        plan: &Plan,
        mut step: StepRecord,
        worker: &str,
    ) -> Result<Option<Claimed>> {
        let ix = plan.ix(&step.step_key)?;
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
            level: LogLevel::Info,
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
            trace: run.trace,
            workflow_id: run.workflow_id,
            version_number: run.version_number,
            workspace_id: run.workspace_id,
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

    /// `text` with every secret's value replaced by `***` (for log lines;
    /// see [`EngineConfig::redact`]).
    pub fn redact(&self, text: &str) -> String {
        self.config.redact(text)
    }

    /// Renders a claimed attempt's config: its `{{ }}` templates evaluated
    /// with the run's secrets, under the expression budget (its time limit
    /// capped by the step's `timeout`), with no database lock held: inline
    /// when every expression is cheap, otherwise on a blocking thread. A
    /// template that cannot be rendered is a fatal error of the attempt.
    pub async fn render(&self, claimed: &Claimed) -> std::result::Result<Value, ActionError> {
        self.render_with_secrets(claimed).await.map(|r| r.config)
    }

    /// [`render`](Self::render), and the secret values the templates could
    /// read. `secrets.NAME` is the run's workspace's secret (the store's,
    /// sealed), else the operator-wide `ORBFLOW_SECRET_NAME` fallback;
    /// another workspace's secret is never visible.
    pub async fn render_with_secrets(&self, claimed: &Claimed) -> std::result::Result<Rendered, ActionError> {
        let cfg = claimed.template.config.clone().unwrap_or_else(|| json!({}));
        if !claimed.template.templates.any {
            return Ok(Rendered {
                config: cfg,
                secrets: Vec::new(),
            });
        }
        let mut ctx = claimed.template.ctx.clone();
        let names_secrets = mentions_secrets(&cfg);
        let mut secrets = self.config.secrets.clone();
        if names_secrets {
            match self.store.workspace_secrets(claimed.workspace_id).await {
                Ok(own) => secrets.extend(own),
                Err(e) => {
                    return Err(ActionError::retryable(format!(
                        "reading the workspace's secrets failed: {e}"
                    )));
                }
            }
        }
        ctx.set("secrets", json!(secrets));
        let limits = self.config.expressions.capped(claimed.timeout);
        let rendered = match off_runtime(claimed.template.templates.cheap, move || {
            render_value_with(&cfg, &ctx, &limits)
        })
        .await
        {
            Some(Ok(v)) => v,
            Some(Err(e)) => {
                // a secret that is not set is the usual cause: say how to set it
                if let Some(cfg) = &claimed.template.config
                    && let Some(name) = missing_secret(cfg, &secrets)
                {
                    return Err(ActionError::fatal(format!(
                        "template failed: secret `{name}` is not set: set it for the workspace (`orbflow secrets set {name}`, PUT /v1/secrets/{name}), or ORBFLOW_SECRET_{name} in the environment of the processes that run steps"
                    )));
                }
                return Err(ActionError::fatal(format!("template failed: {e}")));
            }
            None => return Err(ActionError::fatal("template failed: its evaluation crashed")),
        };
        let mut values: Vec<String> = if names_secrets {
            secrets.into_values().filter(|v| !v.is_empty()).collect()
        } else {
            Vec::new()
        };
        values.sort_by_key(|v| std::cmp::Reverse(v.len()));
        Ok(Rendered {
            config: rendered,
            secrets: values,
        })
    }

    /// How long a claim holds its step before it must be renewed.
    pub fn lease(&self) -> chrono::Duration {
        self.config.lease
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
        self.end_run_in(tx, run, RunStatus::Cancelled, StepError::new("cancelled"))
            .await
    }

    /// Ends `run`, locked in `tx`, as `status` with `error`: its unfinished
    /// steps CANCELLED, running actions told to stop; commits.
    pub(crate) async fn end_run_in(
        &self,
        mut tx: Box<dyn Tx>,
        run: RunRecord,
        status: RunStatus,
        error: StepError,
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

/// A record of a step for the `stepExecutions` view.
pub fn step_view(s: &StepRecord) -> Value {
    json!({
        "status": s.status.as_str(),
        "attempts": s.attempt,
        "output": s.output.clone().unwrap_or(Value::Null),
        "error": s.error.clone().unwrap_or(Value::Null),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_secret_a_config_names_and_lacks() {
        let set = HashMap::from([("SET".to_owned(), "v".to_owned())]);
        let cfg = json!({
            "url": "https://x.example/{{ secrets.SET }}",
            "headers": {"authorization": "Bearer {{ secrets.CRM_API_TOKEN }}"},
        });
        assert_eq!(missing_secret(&cfg, &set).as_deref(), Some("CRM_API_TOKEN"));
        assert_eq!(missing_secret(&json!(["{{ secrets.SET }}", 1, null]), &set), None);
        assert_eq!(
            missing_secret(&json!({"{{ secrets.K }}": 1}), &set).as_deref(),
            Some("K")
        );
        assert_eq!(missing_secret(&json!("secrets. alone"), &set), None);
    }

    #[test]
    fn redaction_hides_every_secret_longest_first() {
        let config = EngineConfig {
            secrets: HashMap::from([
                ("SHORT".to_owned(), "abc".to_owned()),
                ("LONG".to_owned(), "abcdef".to_owned()),
                ("EMPTY".to_owned(), String::new()),
            ]),
            ..EngineConfig::default()
        };
        assert_eq!(config.redact("x abcdef y abc z"), "x *** y *** z");
        assert_eq!(config.redact("nothing here"), "nothing here");
        assert_eq!(EngineConfig::default().redact("abc"), "abc");
    }
}
