//! The worker service. An apalis runtime (module `runtime`) feeds a pool
//! of `concurrency` slots: it takes a job from the [`Queue`] whenever a slot
//! is free and starts it in that slot, where the job is claimed, executed
//! and recorded, followed by the steps the record claimed at once (eager
//! dispatch). The reconciler, lease renewal and the cancellation listener
//! run beside it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::redact::RedactedLogger;
use orbflow_actions::{ActionContext, ActionError, Registry};
use orbflow_engine::store::LeaseRef;
use orbflow_engine::trace::{RunTrace, TraceIdOf};
use orbflow_engine::{Claimed, Done, Effects, Engine, Job, NextClaims, RunInline};
use orbflow_model::RunStatus;
use tokio::sync::broadcast;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;
use uuid::Uuid;

use crate::metrics::{Metrics, outcome_label};
use crate::queue::Queue;

/// Worker settings.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// Unique name (host + pid + random by default).
    pub name: String,
    /// Attempts executed at once.
    pub concurrency: usize,
    /// How often the reconciler looks for lost work.
    pub reconcile_every: Duration,
    /// How long a QUEUED step may wait before the reconciler re-enqueues it.
    pub queued_grace: Duration,
    /// Most pure steps one attempt slot claims and runs inline after an
    /// outcome, recorded together in one transaction (default 1,024: a
    /// fan-out of pure steps runs in one slot, in three transactions).
    pub inline_batch: usize,
    /// How long one record transaction may keep running further rounds of
    /// the pure steps its outcomes make ready before it commits, counted
    /// from the first round, which always runs (group commit: a chain of
    /// TRANSFORM steps commits once per window, not once per step; a crash
    /// runs the uncommitted ones again). Zero: every pure step is recorded
    /// in a transaction of its own batch.
    pub inline_window: Duration,
}

impl Default for WorkerConfig {
    fn default() -> Self {
        let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "local".into());
        Self {
            name: format!(
                "{host}-{}-{}",
                std::process::id(),
                &Uuid::now_v7().simple().to_string()[24..]
            ),
            concurrency: 8,
            reconcile_every: Duration::from_secs(1),
            queued_grace: Duration::from_secs(10),
            inline_batch: 1024,
            inline_window: Duration::from_millis(10),
        }
    }
}

/// An attempt running here: how to stop it, and the lease it holds.
#[derive(Debug, Clone)]
struct Running {
    cancel: CancellationToken,
    lease: LeaseRef,
    /// The run's trace (for the lines about this attempt logged outside it).
    trace: Option<RunTrace>,
}

/// The worker.
pub struct Worker {
    engine: Arc<Engine>,
    registry: Arc<Registry>,
    pub(crate) queue: Arc<dyn Queue>,
    pub(crate) config: WorkerConfig,
    running: Mutex<HashMap<(Uuid, String), Running>>,
    finished: broadcast::Sender<(Uuid, RunStatus)>,
    metrics: Arc<Metrics>,
}

impl std::fmt::Debug for Worker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Worker")
            .field("name", &self.config.name)
            .finish_non_exhaustive()
    }
}

/// A cheap handle to a running worker.
#[derive(Debug, Clone)]
pub struct Handle {
    worker: Arc<Worker>,
}

impl Handle {
    /// Hands the effects of an engine call to the worker (jobs, timers,
    /// cancellations).
    pub async fn apply(&self, effects: Effects) {
        self.worker.apply(effects).await;
    }

    /// Notifies on every finished run.
    pub fn subscribe(&self) -> broadcast::Receiver<(Uuid, RunStatus)> {
        self.worker.finished.subscribe()
    }

    /// The worker's step metrics.
    pub fn metrics(&self) -> Arc<Metrics> {
        self.worker.metrics()
    }
}

#[async_trait::async_trait]
impl orbflow_engine::queue::Dispatch for Handle {
    async fn apply(&self, effects: Effects) {
        self.worker.apply(effects).await;
    }
}

impl Worker {
    /// A worker over `engine`, executing with `registry`, fed by `queue`.
    pub fn new(engine: Arc<Engine>, registry: Arc<Registry>, queue: Arc<dyn Queue>, config: WorkerConfig) -> Arc<Self> {
        let (finished, _) = broadcast::channel(1024);
        Arc::new(Self {
            engine,
            registry,
            queue,
            config,
            running: Mutex::new(HashMap::new()),
            finished,
            metrics: Arc::new(Metrics::default()),
        })
    }

    /// The worker's step metrics.
    pub fn metrics(&self) -> Arc<Metrics> {
        self.metrics.clone()
    }

    /// A handle.
    pub fn handle(self: &Arc<Self>) -> Handle {
        Handle { worker: self.clone() }
    }

    /// Runs until `shutdown` fires; then stops claiming, lets in-flight
    /// attempts finish and record, puts back the jobs it took but did not
    /// start, and returns.
    ///
    /// An apalis runtime (module `runtime`) feeds a pool of
    /// `concurrency` attempt slots, taking a job from the queue only when a
    /// slot is free: a busy worker takes nothing it cannot start, so jobs it
    /// could not run stay in the queue for other workers.
    pub async fn run(self: Arc<Self>, shutdown: CancellationToken) {
        let mut tasks = JoinSet::new();
        let w = self.clone();
        let stop = shutdown.clone();
        tasks.spawn(crate::runtime::fetch_loop(w, stop));
        let w = self.clone();
        let stop = shutdown.clone();
        tasks.spawn(async move { w.reconcile_loop(stop).await });
        let w = self.clone();
        let stop = shutdown.clone();
        tasks.spawn(async move { w.cancel_loop(stop).await });
        // renews leases until every attempt has recorded, draining included
        let w = self.clone();
        let heartbeat_stop = CancellationToken::new();
        let hb = heartbeat_stop.clone();
        let heartbeat = tokio::spawn(async move { w.heartbeat_loop(hb).await });
        while tasks.join_next().await.is_some() {}
        heartbeat_stop.cancel();
        let _ = heartbeat.await;
    }

    /// Stops the attempts other processes ask to stop (a run cancelled
    /// through the API, or failed by a step on another worker).
    async fn cancel_loop(self: Arc<Self>, stop: CancellationToken) {
        loop {
            let jobs = tokio::select! {
                () = stop.cancelled() => return,
                j = self.queue.next_cancel() => j,
            };
            self.cancel_local(&jobs);
        }
    }

    /// Fires the cancellation token of every attempt of `jobs` running here.
    fn cancel_local(&self, jobs: &[Job]) {
        if let Ok(r) = self.running.lock() {
            for j in jobs {
                if let Some(a) = r.get(&(j.run_id, j.path.clone())) {
                    tracing::info!(run = %j.run_id, path = %j.path, trace_id = %TraceIdOf(a.trace), "cancelling the running attempt");
                    a.cancel.cancel();
                }
            }
        }
    }

    /// Renews the lease of every attempt running here, every third of the
    /// lease, in one statement; an attempt whose lease moved on (another
    /// worker got the step, the run ended) is stopped at once.
    async fn heartbeat_loop(self: Arc<Self>, stop: CancellationToken) {
        let every = (self.engine.lease() / 3)
            .to_std()
            .unwrap_or(Duration::from_secs(10))
            .max(Duration::from_millis(100));
        loop {
            tokio::select! {
                () = stop.cancelled() => return,
                () = tokio::time::sleep(every) => {}
            }
            let held: Vec<LeaseRef> = match self.running.lock() {
                Ok(r) => r.values().map(|a| a.lease.clone()).collect(),
                Err(_) => continue,
            };
            match self.engine.renew_leases(&held).await {
                Ok(lost) => {
                    if let Ok(r) = self.running.lock() {
                        for l in &lost {
                            if let Some(a) = r.get(&(l.run_id, l.path.clone()))
                                && a.lease == *l
                            {
                                tracing::warn!(run = %l.run_id, path = %l.path, attempt = l.attempt, trace_id = %TraceIdOf(a.trace), "lease lost: stopping the attempt");
                                a.cancel.cancel();
                            }
                        }
                    }
                }
                Err(e) => tracing::warn!(error = %e, "lease renewal failed; retrying"),
            }
        }
    }

    async fn reconcile_loop(self: Arc<Self>, stop: CancellationToken) {
        let grace = chrono::Duration::from_std(self.config.queued_grace).unwrap_or(chrono::Duration::seconds(10));
        loop {
            match self.engine.reconcile(grace, 500).await {
                Ok(effects) => self.apply(effects).await,
                Err(e) => tracing::warn!(error = %e, "reconcile failed"),
            }
            tokio::select! {
                () = stop.cancelled() => return,
                () = tokio::time::sleep(self.config.reconcile_every) => {}
            }
        }
    }

    /// Runs `job` in one slot, then the steps its outcomes make ready that
    /// the record transaction claimed (eager dispatch). A job whose turn
    /// comes after `stop` goes back to the queue unclaimed.
    pub(crate) async fn attempt(&self, job: Job, stop: &CancellationToken) {
        let mut next = Some(job);
        while let Some(job) = next.take() {
            if stop.is_cancelled() {
                self.queue.push(job).await;
                return;
            }
            next = self.process(job, stop).await;
        }
    }

    /// Claims, executes and records one job, then keeps running the steps
    /// of the same run that each outcome makes ready and that the record
    /// transaction could claim at once (eager dispatch): the first of any
    /// action, and every other pure one (TRANSFORM, LOG_EVENT, …), which run
    /// inline, one after the other, and are recorded together in the next
    /// batch (one transaction). The rest go to the queue. Once `stop` fires
    /// it records what is in flight and claims nothing more. Returns a job to
    /// run next on this task, if any.
    async fn process(&self, job: Job, stop: &CancellationToken) -> Option<Job> {
        let (claimed, effects) = match self.engine.claim(&job, &self.config.name).await {
            Ok(x) => x,
            Err(e) => {
                tracing::warn!(error = %e, run = %job.run_id, path = %job.path, "claim failed; the reconciler will retry");
                return None;
            }
        };
        let (next, effects) = take_one(effects);
        self.apply(effects).await;
        let Some(first) = claimed else { return next };
        let registry = self.registry.clone();
        let inline = move |action: &str, config: Option<&serde_json::Value>| registry.is_pure_step(action, config);
        let mut batch = vec![first];
        loop {
            let mut done = Vec::with_capacity(batch.len());
            for c in batch {
                done.push(self.execute(c).await);
            }
            let draining = stop.is_cancelled();
            let runner = InlineRunner { worker: self };
            let claims = NextClaims {
                worker: &self.config.name,
                // draining: record, but claim nothing more
                max: if draining { 0 } else { self.config.inline_batch.max(1) },
                inline: &inline,
                run: (!self.config.inline_window.is_zero()).then_some(&runner as &dyn RunInline),
                window: self.config.inline_window,
            };
            match self.engine.record_batch(&done, &claims).await {
                Ok((effects, following)) if !following.is_empty() => {
                    self.apply(effects).await;
                    batch = following;
                }
                Ok((effects, _)) if draining => {
                    self.apply(effects).await;
                    return None;
                }
                Ok((effects, _)) => {
                    let (more, effects) = take_one(effects);
                    self.apply(effects).await;
                    return more;
                }
                Err(e) => {
                    tracing::warn!(error = %e, n = done.len(), "record failed; the leases will expire and the steps re-run");
                    return None;
                }
            }
        }
    }

    async fn execute(&self, c: Claimed) -> Done {
        let token = CancellationToken::new();
        let key = (c.job.run_id, c.job.path.clone());
        if let Ok(mut r) = self.running.lock() {
            r.insert(
                key.clone(),
                Running {
                    cancel: token.clone(),
                    lease: c.lease(),
                    trace: c.trace,
                },
            );
        }
        let done = self.execute_with(c, token).await;
        if let Ok(mut r) = self.running.lock() {
            r.remove(&key);
        }
        done
    }

    /// Renders the attempt's config and runs its action, both within the
    /// step's timeout; `token` stops the action.
    ///
    /// Runs inside an `attempt` span (run id, step path, attempt, action), so
    /// every line logged meanwhile, the action's included, carries them; the
    /// action's lines go through [`RedactedLogger`].
    async fn execute_with(&self, c: Claimed, token: CancellationToken) -> Done {
        // at the highest level, so that whatever level a line passes the
        // filter at, its attempt's fields come with it
        let trace = orbflow_telemetry::Attempt::start(&c);
        let span = tracing::error_span!(
            "attempt",
            run_id = %c.job.run_id,
            step = %c.job.path,
            attempt = c.attempt,
            action = %c.action,
            trace_id = tracing::field::Empty,
        );
        if let Some(t) = trace.context() {
            span.record("trace_id", tracing::field::display(t.trace_id_hex()));
        }
        let in_flight = self.metrics.started();
        let began = std::time::Instant::now();
        let logger = Arc::new(RedactedLogger::new(self.engine.clone()));
        let fut = async {
            let rendered = self.engine.render_with_secrets(&c).await?;
            logger.hide(rendered.secrets);
            let usage = self.registry.spec(&c.action).and_then(|s| s.connection);
            let connection = match usage.and_then(|u| Some((u, u.kind_for(Some(&rendered.config))?))) {
                Some((usage, kind)) => {
                    let name = usage.name_in(Some(&rendered.config)).and_then(|v| v.as_str());
                    self.engine.connection_for(&c, kind, name).await?.map(|r| {
                        logger.hide(r.secrets);
                        r.settings
                    })
                }
                None => None,
            };
            // pure steps (run inline, the hot path) touch nothing outside the run
            let workspace = (!self.registry.is_pure_step(&c.action, c.raw_config())).then(|| {
                Arc::new(crate::inbox::RunWorkspace {
                    engine: self.engine.clone(),
                    workspace_id: c.workspace_id,
                    run_id: c.job.run_id,
                    step_path: c.job.path.clone(),
                })
            });
            let ctx = ActionContext {
                config: rendered.config,
                idempotency_key: c.idempotency_key.clone(),
                attempt: u32::try_from(c.attempt).unwrap_or(1),
                cancel: token.clone(),
                logger: logger.clone(),
                now: chrono::Utc::now(),
                calls: trace.calls(),
                connection,
                inbox: workspace.clone().map(|w| w as _),
                records: workspace.clone().map(|w| w as _),
                email_templates: workspace.map(|w| w as _),
            };
            self.registry.execute(&c.action, ctx).await
        };
        let result = match c.timeout {
            Some(t) => match tokio::time::timeout(t, fut).instrument(span).await {
                Ok(r) => r,
                Err(_) => {
                    token.cancel();
                    Err(ActionError::retryable(format!("timed out after {}ms", t.as_millis())))
                }
            },
            None => fut.instrument(span).await,
        };
        // what the action returns cannot carry a secret it was given
        let result = logger.scrub_result(result);
        let outcome = outcome_label(&result);
        self.metrics.finished(&c.action, outcome, began.elapsed().as_secs_f64());
        drop(in_flight);
        let logs = logger.take_lines();
        let error = result.as_ref().err().map(ToString::to_string);
        trace.end(outcome, error.as_deref(), &logs);
        Done {
            claimed: c,
            result,
            logs,
        }
    }

    /// Enqueues jobs (one batch), arms timers, cancels running actions, announces
    /// finished runs.
    async fn apply(&self, effects: Effects) {
        if !effects.jobs.is_empty() {
            self.queue.push_many(effects.jobs).await;
        }
        for w in effects.wakes {
            let engine = self.engine.clone();
            let queue = self.queue.clone();
            let delay = (w.at - chrono::Utc::now()).to_std().unwrap_or(Duration::ZERO);
            tokio::spawn(async move {
                tokio::time::sleep(delay).await;
                match engine.fire_timer(&w.job).await {
                    Ok(e) => {
                        if !e.jobs.is_empty() {
                            queue.push_many(e.jobs).await;
                        }
                    }
                    Err(e) => tracing::warn!(error = %e, "timer failed; the reconciler will fire it"),
                }
            });
        }
        if !effects.cancel.is_empty() {
            self.cancel_local(&effects.cancel);
            // attempts of the run on other workers
            self.queue.broadcast_cancel(&effects.cancel).await;
        }
        for finished in effects.finished {
            orbflow_telemetry::run_ended(&finished);
            let _ = self.finished.send((finished.id, finished.status));
        }
    }
}

/// Runs pure steps inside the record transaction that claimed them. They
/// are not in `running`: their lease is not committed (nothing to renew),
/// and a run cancelled meanwhile waits for that transaction to end.
struct InlineRunner<'a> {
    worker: &'a Worker,
}

#[async_trait::async_trait]
impl RunInline for InlineRunner<'_> {
    async fn run(&self, claimed: Claimed) -> Done {
        self.worker.execute_with(claimed, CancellationToken::new()).await
    }
}

/// Takes the first job out of `effects` (for eager dispatch).
fn take_one(mut effects: Effects) -> (Option<Job>, Effects) {
    let first = if effects.jobs.is_empty() {
        None
    } else {
        Some(effects.jobs.remove(0))
    };
    (first, effects)
}
