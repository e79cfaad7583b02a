//! Propagation inside one transaction: terminal steps decrement their
//! dependents' counters (readiness in O(1) per finished step), joins start
//! exactly once, skips propagate, blocks evaluate and create their
//! children, loops start iterations, and the run finishes.
//!
//! The transaction holds its run shared ([`RunLock::Shared`]): other steps
//! of the run commit at the same time. Every row read in order to change it
//! (a dependent's counters, a block's or loop's pending children, a
//! dependency whose status a new row counts) is locked first
//! ([`Tx::lock_step`]), so exactly one transaction takes a counter to zero
//! and readies the row. The run's finished count is an atomic addition.
//! Ending the run (complete, fail, cancel) upgrades to
//! [`RunLock::Exclusive`], which waits for every other transaction of the run.
//!
//! Terminal events are queued and handled in order; a row that became
//! terminal but whose event is still queued counts as *pending* when a new
//! row is created, so no dependency is counted twice.

use std::collections::{HashMap, HashSet, VecDeque};

mod blocks;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use orbflow_actions::{ActionError, Outcome};
use orbflow_model::{LogLevel, OnError, RunStatus, StepStatus, StepType};
use rand::Rng;
use serde_json::Value;

use crate::context;
use crate::engine::{Effects, Engine, Job, Wake, now};
use crate::step_error::StepError;
use orbflow_model::path::{StepPath, truncate_prefix};

use crate::plan::{Ix, Plan};
use crate::store::{Expect, LogRecord, RunLock, RunRecord, StepRecord, Tx};
use crate::{Error, Result};

type BoxFut<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

pub(crate) struct Advance<'e> {
    engine: &'e Engine,
    tx: Box<dyn Tx>,
    plan: Arc<Plan>,
    run: RunRecord,
    run_dirty: bool,
    /// Whether the transaction holds the run exclusively.
    exclusive: bool,
    effects: Effects,
    /// Terminal rows whose consequences are not yet applied: (row, counted in its parent).
    queue: VecDeque<(StepRecord, bool)>,
    queued_paths: HashSet<String>,
    /// Rows this transaction made QUEUED, as written (a claim in the same
    /// transaction need not read them again).
    readied: HashMap<String, StepRecord>,
}

fn is_iteration(path: &str) -> bool {
    StepPath::new(path).is_iteration()
}

/// JSON equality where numbers compare by value (`1 == 1.0`).
fn json_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(a, b)| json_eq(a, b)),
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| json_eq(v, w)))
        }
        _ => a == b,
    }
}

impl<'e> Advance<'e> {
    pub(crate) fn new(engine: &'e Engine, tx: Box<dyn Tx>, plan: Arc<Plan>, run: RunRecord) -> Self {
        Self {
            engine,
            tx,
            plan,
            run,
            run_dirty: false,
            exclusive: false,
            effects: Effects::default(),
            queue: VecDeque::new(),
            queued_paths: HashSet::new(),
            readied: HashMap::new(),
        }
    }

    /// For a transaction that already holds the run exclusively.
    pub(crate) fn exclusive(mut self) -> Self {
        self.exclusive = true;
        self
    }

    /// Takes the run exclusively (waiting for every other transaction of
    /// the run) and reads it afresh; `false` if it has ended meanwhile.
    async fn upgrade(&mut self) -> Result<bool> {
        if !self.exclusive {
            let run = self
                .tx
                .lock_run(self.run.id, RunLock::Exclusive)
                .await?
                .ok_or(Error::NotFound("run"))?;
            self.run = run;
            self.exclusive = true;
        }
        Ok(!self.run.status.is_terminal())
    }

    /// Applies every queued consequence and hands back the transaction.
    pub(crate) async fn finish(self) -> Result<(Box<dyn Tx>, Effects, RunRecord)> {
        let (tx, effects, run, _) = self.finish_readied().await?;
        Ok((tx, effects, run))
    }

    /// [`Advance::finish`], with the rows made QUEUED as written, by path.
    pub(crate) async fn finish_readied(
        mut self,
    ) -> Result<(Box<dyn Tx>, Effects, RunRecord, HashMap<String, StepRecord>)> {
        while let Some((s, counted)) = self.queue.pop_front() {
            self.queued_paths.remove(&s.path);
            if self.run.status.is_terminal() {
                break;
            }
            self.on_terminal(s, counted).await?;
        }
        if self.run_dirty {
            self.tx.update_run(&self.run).await?;
        }
        Ok((self.tx, self.effects, self.run, self.readied))
    }

    /// The transaction.
    pub(crate) fn tx(&mut self) -> &mut dyn Tx {
        self.tx.as_mut()
    }

    /// Appends `(level, message)` to the run log.
    pub(crate) async fn log(
        &mut self,
        path: Option<&str>,
        attempt: Option<i32>,
        (level, message): (LogLevel, String),
        data: Option<Value>,
    ) -> Result<()> {
        self.tx
            .log(LogRecord {
                run_id: self.run.id,
                step_path: path.map(str::to_owned),
                attempt,
                level,
                message,
                data,
                created_at: now(),
            })
            .await
    }

    async fn start_run_clock(&mut self) -> Result<()> {
        if self.run.status == RunStatus::Pending {
            let t = now();
            self.tx.mark_run_running(self.run.id, t).await?;
            self.run.status = self.run.status.transition(RunStatus::Running)?;
            self.run.started_at = Some(t);
        }
        Ok(())
    }

    /// Writes `step` (compare-and-set against `expect`) and, if it is
    /// terminal, queues its consequences.
    async fn write(&mut self, step: StepRecord, expect: &Expect, counted: bool) -> Result<()> {
        if !self.tx.update_step(&step, expect).await? {
            return Err(Error::Conflict(step.path));
        }
        if step.status.is_terminal() {
            self.queued_paths.insert(step.path.clone());
            self.queue.push_back((step, counted));
        }
        Ok(())
    }

    fn to_terminal(step: &mut StepRecord, status: StepStatus) -> Result<()> {
        step.status = step.status.transition(status)?;
        step.ended_at = Some(now());
        step.lease_owner = None;
        step.lease_expires_at = None;
        Ok(())
    }

    // ---- outcomes of attempts -------------------------------------------------

    pub(crate) async fn outcome(
        &mut self,
        mut step: StepRecord,
        expect: &Expect,
        result: std::result::Result<Outcome, ActionError>,
    ) -> Result<()> {
        let t = now();
        match result {
            Ok(Outcome::Completed(v)) => {
                let (size, max) = (orbflow_model::compact_json_len(&v), self.engine.config.max_output_bytes);
                if size > max {
                    let attempts = step.attempt;
                    let message = format!("the step's output is {size} bytes, more than the {max}-byte limit");
                    return self
                        .fail(
                            step,
                            expect,
                            StepError::after_attempts(message, attempts).retryable(false),
                        )
                        .await;
                }
                self.complete(step, expect, v).await
            }
            Ok(Outcome::WaitUntil { until, output }) if until <= t => self.complete(step, expect, output).await,
            Ok(Outcome::WaitUntil { until, output }) => {
                step.wait_output = Some(output);
                let msg = format!("waiting until {}", until.to_rfc3339());
                self.wait(step, expect, until, (LogLevel::Info, msg)).await
            }
            Ok(Outcome::Snooze { until, reason }) => {
                // the attempt does not count: the next claim numbers the
                // same attempt again
                step.attempt = step.attempt.saturating_sub(1);
                step.error = None;
                let msg = format!("snoozed until {}: {reason}", until.max(t).to_rfc3339());
                self.wait(step, expect, until.max(t), (LogLevel::Info, msg)).await
            }
            Err(ActionError::Retryable { message, retry_after }) if step.attempt < step.max_attempts => {
                let wait = self.backoff(&step, retry_after)?;
                let at = t + chrono::Duration::milliseconds(i64::try_from(wait).unwrap_or(i64::MAX / 2));
                step.error = Some(
                    StepError {
                        attempt: Some(step.attempt),
                        ..StepError::new(message.clone())
                    }
                    .retryable(true)
                    .into(),
                );
                let msg = format!("attempt {} failed, retrying in {wait}ms: {message}", step.attempt);
                self.wait(step, expect, at, (LogLevel::Warn, msg)).await
            }
            Err(ActionError::Retryable { message, .. }) => {
                let attempts = step.attempt;
                self.fail(
                    step,
                    expect,
                    StepError::after_attempts(message, attempts).retryable(true),
                )
                .await
            }
            Err(ActionError::Fatal { message }) => {
                let attempts = step.attempt;
                self.fail(
                    step,
                    expect,
                    StepError::after_attempts(message, attempts).retryable(false),
                )
                .await
            }
            Err(ActionError::Cancelled) => {
                let attempts = step.attempt;
                self.fail(
                    step,
                    expect,
                    StepError::after_attempts("the action was cancelled", attempts),
                )
                .await
            }
        }
    }

    /// The wait before the next attempt of `step`, in milliseconds: the
    /// retry policy's backoff (±20 % jitter unless disabled), at least the
    /// server's Retry-After.
    fn backoff(&self, step: &StepRecord, retry_after: Option<std::time::Duration>) -> Result<u64> {
        let ix = self.ix(&step.step_key)?;
        let mut wait = self.plan.rows[ix]
            .retry
            .as_ref()
            .map(|p| {
                let base = p
                    .delay_before(u32::try_from(step.attempt + 1).unwrap_or(u32::MAX))
                    .as_millis();
                if p.jitter.unwrap_or(true) && base > 0 {
                    let spread = base / 5;
                    rand::rng().random_range(base.saturating_sub(spread)..=base + spread)
                } else {
                    base
                }
            })
            .unwrap_or(1000);
        if let Some(ra) = retry_after {
            wait = wait.max(u64::try_from(ra.as_millis()).unwrap_or(u64::MAX));
        }
        Ok(wait)
    }

    /// RUNNING → WAITING until `at` (a retry backoff or a DELAY), with a
    /// log line `(level, message)` and a timer for the runner.
    async fn wait(
        &mut self,
        mut step: StepRecord,
        expect: &Expect,
        at: chrono::DateTime<chrono::Utc>,
        line: (LogLevel, String),
    ) -> Result<()> {
        step.status = step.status.transition(StepStatus::Waiting)?;
        step.next_attempt_at = Some(at);
        step.lease_owner = None;
        step.lease_expires_at = None;
        let (path, attempt) = (step.path.clone(), step.attempt);
        self.write(step, expect, true).await?;
        self.log(Some(&path), Some(attempt), line, None).await?;
        self.effects.wakes.push(Wake {
            job: Job {
                run_id: self.run.id,
                path,
            },
            at,
        });
        Ok(())
    }

    pub(crate) async fn complete(&mut self, mut step: StepRecord, expect: &Expect, output: Value) -> Result<()> {
        Self::to_terminal(&mut step, StepStatus::Completed)?;
        step.output = Some(output);
        step.error = None;
        let (path, attempt) = (step.path.clone(), step.attempt);
        self.write(step, expect, true).await?;
        self.log(
            Some(&path),
            Some(attempt),
            (LogLevel::Info, "step completed".into()),
            None,
        )
        .await
    }

    pub(crate) async fn fail(&mut self, mut step: StepRecord, expect: &Expect, mut error: StepError) -> Result<()> {
        Self::to_terminal(&mut step, StepStatus::Failed)?;
        if error.message.is_empty() {
            error.message = "the action failed and gave no reason".to_owned();
        }
        let msg = error.message.clone();
        step.error = Some(error.into());
        let (path, attempt) = (step.path.clone(), step.attempt);
        self.write(step, expect, true).await?;
        self.log(
            Some(&path),
            Some(attempt),
            (LogLevel::Error, format!("step failed: {msg}")),
            None,
        )
        .await
    }

    fn ix(&self, key: &str) -> Result<Ix> {
        self.plan.ix(key)
    }

    // ---- consequences of a terminal step -----------------------------------

    async fn on_terminal(&mut self, s: StepRecord, counted: bool) -> Result<()> {
        if is_iteration(&s.path) {
            return self.on_iteration_done(s).await;
        }
        let ix = self.ix(&s.step_key)?;
        let cont = self.plan.rows[ix].on_error == Some(OnError::Continue);
        if s.status == StepStatus::Failed && !cont {
            let error = StepError {
                step: Some(s.path.clone()),
                cause: Some(s.error.clone().unwrap_or(Value::Null)),
                ..StepError::new(format!("step `{}` failed", s.path))
            };
            return self.end_run(RunStatus::Failed, Some(error)).await;
        }
        if s.status == StepStatus::Cancelled {
            return Ok(());
        }
        let satisfied = s.status == StepStatus::Completed || s.status == StepStatus::Failed;
        let prefix = StepPath::new(&s.path).prefix().to_owned();
        let dependents = self.plan.dependents[ix].clone();
        // the dependents at this depth, locked in one statement (a fan-out's
        // thousand siblings are one read, not a thousand)
        let same: Vec<String> = dependents
            .iter()
            .filter(|&&d| self.plan.depth(d) == self.plan.depth(ix))
            .map(|&d| format!("{prefix}{}", self.plan.rows[d].key))
            .collect();
        if same.len() > 1 {
            self.tx.lock_steps(self.run.id, &same).await?;
        }
        for d in dependents {
            let rows = if self.plan.depth(d) == self.plan.depth(ix) {
                let path = format!("{prefix}{}", self.plan.rows[d].key);
                self.tx
                    .lock_step(self.run.id, &path)
                    .await?
                    .into_iter()
                    .collect::<Vec<_>>()
            } else {
                let key = self.plan.rows[d].key.clone();
                self.tx.lock_steps_of_key(self.run.id, &prefix, &key).await?
            };
            for mut r in rows {
                if r.status != StepStatus::Pending || r.pending_deps == 0 {
                    continue;
                }
                let expect = Expect::of(&r);
                r.pending_deps -= 1;
                if satisfied {
                    r.satisfied_deps += 1;
                } else {
                    r.skipped_deps += 1;
                }
                if r.pending_deps == 0 {
                    self.ready(r, &expect).await?;
                } else {
                    self.write(r, &expect, true).await?;
                }
            }
        }
        match (&s.parent_path, counted) {
            (Some(pp), true) => self.child_done(pp).await,
            (Some(_), false) => Ok(()),
            (None, _) => {
                let (finished, total) = self.tx.add_finished(self.run.id, 1).await?;
                self.run.finished_steps = finished;
                if finished >= total {
                    self.complete_run().await?;
                }
                Ok(())
            }
        }
    }

    /// A counted child of the block (or iteration) at `pp` finished.
    async fn child_done(&mut self, pp: &str) -> Result<()> {
        let Some(mut p) = self.tx.lock_step(self.run.id, pp).await? else {
            return Err(Error::Corrupt(format!("parent `{pp}` missing")));
        };
        let expect = Expect::of(&p);
        p.pending_children -= 1;
        if p.pending_children <= 0 && p.status == StepStatus::Running {
            Self::to_terminal(&mut p, StepStatus::Completed)?;
        }
        self.write(p, &expect, true).await
    }

    async fn on_iteration_done(&mut self, it: StepRecord) -> Result<()> {
        let Some(lp) = it.parent_path.clone() else {
            return Err(Error::Corrupt(format!("iteration `{}` has no loop", it.path)));
        };
        let Some(mut l) = self.tx.lock_step(self.run.id, &lp).await? else {
            return Err(Error::Corrupt(format!("loop `{lp}` missing")));
        };
        if l.status != StepStatus::Running {
            return Ok(());
        }
        let lix = self.ix(&l.step_key)?;
        let expect = Expect::of(&l);
        l.pending_children -= 1;
        let n = l
            .wait_output
            .as_ref()
            .and_then(|w| w.get("count"))
            .and_then(Value::as_u64)
            .map_or(0, |n| usize::try_from(n).unwrap_or(0));
        let mc = self.max_concurrency(lix);
        let next = usize::try_from(it.loop_index.unwrap_or(0)).unwrap_or(0) + mc;
        let finished = l.pending_children <= 0;
        if finished {
            let outputs = self.loop_outputs(lix, &lp).await?;
            Self::to_terminal(&mut l, StepStatus::Completed)?;
            l.output = Some(Value::Array(outputs));
        }
        self.write(l, &expect, true).await?;
        if !finished && next < n {
            self.start_iteration(lix, &lp, next).await?;
        }
        Ok(())
    }

    fn max_concurrency(&self, lix: Ix) -> usize {
        self.plan.rows[lix]
            .config
            .as_ref()
            .and_then(|c| c.get("maxConcurrency"))
            .and_then(Value::as_u64)
            .map_or(1, |n| usize::try_from(n).unwrap_or(1).max(1))
    }

    /// The loop's output: its last body step's outputs, in item order.
    async fn loop_outputs(&mut self, lix: Ix, lp: &str) -> Result<Vec<Value>> {
        let Some(last) = self.plan.last_body_step(lix) else {
            return Ok(Vec::new());
        };
        let shared = self.plan.loops[lix].len();
        context::outputs_by_item(self.tx.as_mut(), self.run.id, &self.plan, (lp, shared), last).await
    }

    // ---- creating and readying rows ---------------------------------------

    /// Creates PENDING rows for `children` under `prefix`, counting
    /// dependencies that are already terminal, then readies those with none
    /// left. Returns how many rows were created.
    pub(crate) fn create_children<'a>(
        &'a mut self,
        children: &'a [Ix],
        prefix: &'a str,
        parent_path: Option<&'a str>,
    ) -> BoxFut<'a, Result<i32>> {
        Box::pin(async move {
            let t = now();
            let mut rows = Vec::with_capacity(children.len());
            for &c in children {
                let row = &self.plan.rows[c];
                let mut r = StepRecord::new(self.run.id, format!("{prefix}{}", row.key), row.key.clone(), t);
                r.parent_path = parent_path.map(str::to_owned);
                r.loop_index = context::indexes(prefix).last().and_then(|&i| i32::try_from(i).ok());
                r.max_attempts = row
                    .retry
                    .as_ref()
                    .map_or(1, |p| i32::try_from(p.max_attempts).unwrap_or(1));
                for &d in &self.plan.deps[c] {
                    let dpath = format!(
                        "{}{}",
                        truncate_prefix(prefix, self.plan.depth(d)),
                        self.plan.rows[d].key
                    );
                    // locked: a dependency finishing in another transaction
                    // either committed already (counted here) or waits for
                    // this one and then finds the new row
                    let dep = if rows.iter().any(|x: &StepRecord| x.path == dpath) {
                        None
                    } else {
                        self.tx.lock_step(self.run.id, &dpath).await?
                    };
                    match dep {
                        Some(x) if x.status.is_terminal() && !self.queued_paths.contains(&x.path) => {
                            if x.status == StepStatus::Skipped {
                                r.skipped_deps += 1;
                            } else if x.status != StepStatus::Cancelled {
                                r.satisfied_deps += 1;
                            }
                        }
                        _ => r.pending_deps += 1,
                    }
                }
                rows.push(r);
            }
            self.tx.insert_steps(&rows).await?;
            let created = i32::try_from(rows.len()).unwrap_or(i32::MAX);
            for r in rows {
                if r.pending_deps == 0 {
                    let expect = Expect::of(&r);
                    self.ready(r, &expect).await?;
                }
            }
            Ok(created)
        })
    }

    /// A PENDING row with no pending dependency: skip it, queue it, or
    /// evaluate it (blocks).
    fn ready<'a>(&'a mut self, mut r: StepRecord, expect: &'a Expect) -> BoxFut<'a, Result<()>> {
        Box::pin(async move {
            let ix = self.ix(&r.step_key)?;
            if r.skipped_deps > 0 && r.satisfied_deps == 0 {
                Self::to_terminal(&mut r, StepStatus::Skipped)?;
                let path = r.path.clone();
                self.write(r, expect, true).await?;
                if self.plan.rows[ix].step_type != StepType::Action {
                    self.skip_descendants(ix, &path).await?;
                }
                return Ok(());
            }
            let t = now();
            match self.plan.rows[ix].step_type {
                StepType::Action => {
                    r.status = r.status.transition(StepStatus::Queued)?;
                    r.queued_at = Some(t);
                    let path = r.path.clone();
                    self.readied.insert(path.clone(), r.clone());
                    self.write(r, expect, true).await?;
                    self.effects.jobs.push(Job {
                        run_id: self.run.id,
                        path,
                    });
                    Ok(())
                }
                _ => {
                    self.start_run_clock().await?;
                    r.status = r.status.transition(StepStatus::Running)?;
                    r.started_at = Some(t);
                    self.evaluate_block(ix, r, expect).await
                }
            }
        })
    }

    // ---- the run ----------------------------------------------------------

    async fn complete_run(&mut self) -> Result<()> {
        if !self.upgrade().await? {
            return Ok(());
        }
        let output = match self.plan.workflow.output.clone() {
            Some(expr) => {
                let at = self.plan.top.first().copied().unwrap_or(0);
                self.eval_at(at, &expr, "").await?
            }
            None => {
                let paths: Vec<String> = self.plan.top.iter().map(|&i| self.plan.rows[i].key.clone()).collect();
                let mut rows: HashMap<String, StepRecord> = self
                    .tx
                    .steps(self.run.id, &paths)
                    .await?
                    .into_iter()
                    .map(|r| (r.path.clone(), r))
                    .collect();
                // in the workflow's order, whatever order the store returns them in
                Ok(Value::Object(
                    paths
                        .into_iter()
                        .filter_map(|p| rows.remove(&p))
                        .map(|r| (r.path, r.output.unwrap_or(Value::Null)))
                        .collect(),
                ))
            }
        };
        let max = self.engine.config.max_output_bytes;
        if let Ok(v) = &output
            && let size = orbflow_model::compact_json_len(v)
            && size > max
        {
            let message = format!(
                "the run output is {size} bytes, more than the {max}-byte limit: pick what to keep with an `output` expression"
            );
            return self.end_run(RunStatus::Failed, Some(StepError::new(message))).await;
        }
        match output {
            Ok(v) => {
                self.run.output = Some(v);
                self.set_run_status(RunStatus::Completed)?;
                self.log(None, None, (LogLevel::Info, "run completed".into()), None)
                    .await
            }
            Err(e) => {
                self.end_run(
                    RunStatus::Failed,
                    Some(StepError {
                        cause: Some(e.into()),
                        ..StepError::new("the output expression failed")
                    }),
                )
                .await
            }
        }
    }

    fn set_run_status(&mut self, status: RunStatus) -> Result<()> {
        if self.run.status == RunStatus::Pending && status == RunStatus::Completed {
            self.run.status = self.run.status.transition(RunStatus::Running)?;
            self.run.started_at = Some(now());
        }
        self.run.status = self.run.status.transition(status)?;
        let ended_at = now();
        self.run.ended_at = Some(ended_at);
        self.run_dirty = true;
        let run = &self.run;
        self.effects.finished.push(crate::FinishedRun {
            id: run.id,
            status,
            workflow_id: run.workflow_id,
            version_number: run.version_number,
            trigger_type: run.trigger_type,
            created_at: run.created_at,
            ended_at,
            error: run
                .error
                .as_ref()
                .map(|e| StepError::message_of(e).map_or_else(|| e.to_string(), str::to_owned)),
            trace: run.trace,
        });
        Ok(())
    }

    /// Ends the run FAILED or CANCELLED: every unfinished step is CANCELLED
    /// and running actions are told to stop.
    pub(crate) async fn end_run(&mut self, status: RunStatus, error: Option<StepError>) -> Result<()> {
        if self.run.status.is_terminal() || !self.upgrade().await? {
            return Ok(());
        }
        let msg = error.as_ref().map(|e| e.message.clone()).unwrap_or_default();
        let error = error.map(Value::from);
        self.run.error = error.clone();
        self.set_run_status(status)?;
        let rows = self.tx.steps_with_prefix(self.run.id, "").await?;
        let mut writes = Vec::new();
        for mut r in rows {
            if r.status.is_terminal() {
                continue;
            }
            let expect = Expect::of(&r);
            if r.status == StepStatus::Running && !is_iteration(&r.path) {
                self.effects.cancel.push(Job {
                    run_id: self.run.id,
                    path: r.path.clone(),
                });
            }
            Self::to_terminal(&mut r, StepStatus::Cancelled)?;
            writes.push((r, expect));
        }
        // the run is held exclusively: no other transaction moves its steps
        let written = self.tx.update_steps(&writes).await?;
        crate::cache::all_written(written, writes.len(), "cancelled steps")?;
        self.log(
            None,
            None,
            (
                if status == RunStatus::Failed {
                    LogLevel::Error
                } else {
                    LogLevel::Warn
                },
                format!("run {}: {msg}", status.as_str().to_lowercase()),
            ),
            error,
        )
        .await
    }
}
