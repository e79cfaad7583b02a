//! The storage the engine needs, as traits. `orbflow-store` implements them
//! on SQLite and Postgres (SeaORM); the engine never names SeaORM types.
//!
//! Every engine operation runs in one [`Tx`]. A transaction holds its run
//! in one of two modes ([`RunLock`]): step transitions hold it *shared*, so
//! the steps of one run commit in parallel, each a compare-and-set on its
//! own row, with the rows it reads to change them (a dependent's counters,
//! a block's or loop's pending children) locked with [`Tx::lock_step`];
//! run-level transitions (finish, fail, cancel, time out, retry) hold it
//! *exclusive*, so no step transition of that run interleaves with them. On
//! Postgres the modes are `FOR KEY SHARE` and `FOR UPDATE` on the run row;
//! SQLite has one writer, which serializes everything.

use chrono::{DateTime, Utc};
use orbflow_model::{CatchUp, LogLevel, RunStatus, StepStatus, TriggerType};
use serde_json::Value;
use uuid::Uuid;

use crate::Result;

/// A run as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct RunRecord {
    /// Run id.
    pub id: Uuid,
    /// Workspace.
    pub workspace_id: Uuid,
    /// Workflow.
    pub workflow_id: Uuid,
    /// Pinned version.
    pub version_id: Uuid,
    /// Its number.
    pub version_number: i32,
    /// Status.
    pub status: RunStatus,
    /// What started it.
    pub trigger_type: TriggerType,
    /// What the trigger carried.
    pub trigger_data: Option<Value>,
    /// Validated input.
    pub input: Value,
    /// Result of the `output` expression.
    pub output: Option<Value>,
    /// Why it failed.
    pub error: Option<Value>,
    /// Top-level steps in all.
    pub total_steps: i32,
    /// Top-level steps finished.
    pub finished_steps: i32,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// First step started.
    pub started_at: Option<DateTime<Utc>>,
    /// Finished.
    pub ended_at: Option<DateTime<Utc>>,
    /// Must have finished by then (the workflow's `timeout`), if ever.
    pub deadline_at: Option<DateTime<Utc>>,
    /// The run's trace (`None` for runs from before traces).
    pub trace: Option<crate::trace::RunTrace>,
}

/// What waits: queued steps and unfinished runs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Backlog {
    /// Steps QUEUED (ready, waiting for a worker).
    pub queued_steps: u64,
    /// When the oldest of them was queued.
    pub oldest_queued_at: Option<DateTime<Utc>>,
    /// Runs PENDING (no step started yet).
    pub pending_runs: u64,
    /// Runs RUNNING.
    pub running_runs: u64,
}

/// One step execution as stored (one row per step path per run).
#[derive(Debug, Clone, PartialEq)]
pub struct StepRecord {
    /// Row id.
    pub id: Uuid,
    /// Run.
    pub run_id: Uuid,
    /// Path: `key`, or `loop[3].key` inside loop iterations; a loop
    /// iteration itself is `loop[3]`.
    pub path: String,
    /// Step key (for an iteration row: the loop's key).
    pub step_key: String,
    /// Path of the enclosing block execution (or iteration).
    pub parent_path: Option<String>,
    /// Iteration index, for iteration rows and their body steps.
    pub loop_index: Option<i32>,
    /// Status.
    pub status: StepStatus,
    /// Current (or last) attempt, from 1; 0 before the first claim.
    pub attempt: i32,
    /// Attempts allowed.
    pub max_attempts: i32,
    /// Dependencies not yet terminal.
    pub pending_deps: i32,
    /// Children (or iterations) not yet terminal, for blocks.
    pub pending_children: i32,
    /// Dependencies that completed (or failed with onError: continue).
    pub satisfied_deps: i32,
    /// Dependencies that were skipped.
    pub skipped_deps: i32,
    /// Output once COMPLETED.
    pub output: Option<Value>,
    /// Error once FAILED (or the last attempt's error while WAITING).
    pub error: Option<Value>,
    /// Output a durable timer records when it fires.
    pub wait_output: Option<Value>,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Last handed to the queue.
    pub queued_at: Option<DateTime<Utc>>,
    /// Last attempt started.
    pub started_at: Option<DateTime<Utc>>,
    /// Finished.
    pub ended_at: Option<DateTime<Utc>>,
    /// Timer: next attempt (backoff) or wake time (DELAY).
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// Worker holding the lease.
    pub lease_owner: Option<String>,
    /// Fencing token of the lease.
    pub lease_token: Option<i64>,
    /// Lease expiry.
    pub lease_expires_at: Option<DateTime<Utc>>,
}

impl StepRecord {
    /// A fresh PENDING row.
    pub fn new(run_id: Uuid, path: String, step_key: String, now: DateTime<Utc>) -> Self {
        Self {
            id: Uuid::now_v7(),
            run_id,
            path,
            step_key,
            parent_path: None,
            loop_index: None,
            status: StepStatus::Pending,
            attempt: 0,
            max_attempts: 1,
            pending_deps: 0,
            pending_children: 0,
            satisfied_deps: 0,
            skipped_deps: 0,
            output: None,
            error: None,
            wait_output: None,
            created_at: now,
            queued_at: None,
            started_at: None,
            ended_at: None,
            next_attempt_at: None,
            lease_owner: None,
            lease_token: None,
            lease_expires_at: None,
        }
    }
}

/// A pinned workflow version: its canonical document.
#[derive(Debug, Clone, PartialEq)]
pub struct VersionRecord {
    /// Version id.
    pub id: Uuid,
    /// Workflow.
    pub workflow_id: Uuid,
    /// Workspace of the workflow.
    pub workspace_id: Uuid,
    /// Number.
    pub number: i32,
    /// Canonical JSON of the workflow.
    pub document: String,
}

/// A cron schedule of an active version.
#[derive(Debug, Clone, PartialEq)]
pub struct ScheduleRecord {
    /// Schedule id.
    pub id: Uuid,
    /// Workflow.
    pub workflow_id: Uuid,
    /// Version whose trigger it is.
    pub version_id: Uuid,
    /// Cron expression.
    pub cron: String,
    /// IANA zone.
    pub timezone: String,
    /// Input of the runs it starts.
    pub input: Option<Value>,
    /// The missed-tick policy.
    pub catch_up: CatchUp,
    /// Next tick not yet handled.
    pub next_fire_at: Option<DateTime<Utc>>,
}

/// One execution's output, as [`Tx::outputs_of_key`] reads it.
#[derive(Debug, Clone, PartialEq)]
pub struct StepOutput {
    /// Path.
    pub path: String,
    /// Iteration index, for iteration rows and their body steps.
    pub loop_index: Option<i32>,
    /// Output once COMPLETED.
    pub output: Option<Value>,
}

/// A run log line.
#[derive(Debug, Clone, PartialEq)]
pub struct LogRecord {
    /// Run.
    pub run_id: Uuid,
    /// Step, if any.
    pub step_path: Option<String>,
    /// Attempt, if any.
    pub attempt: Option<i32>,
    /// Level.
    pub level: LogLevel,
    /// The line.
    pub message: String,
    /// Structured data.
    pub data: Option<Value>,
    /// When.
    pub created_at: DateTime<Utc>,
}

/// How a transaction holds its run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunLock {
    /// Step transitions: any number of transactions of the run at once
    /// (Postgres `FOR KEY SHARE`).
    Shared,
    /// Run-level transitions: alone, after every shared holder has
    /// committed (Postgres `FOR UPDATE`). Taking it while holding the run
    /// shared upgrades the lock.
    Exclusive,
}

/// A transaction. Dropping it without [`Tx::commit`] rolls back.
#[async_trait::async_trait]
pub trait Tx: Send {
    /// The run, locked for this transaction in `mode`.
    async fn lock_run(&mut self, run_id: Uuid, mode: RunLock) -> Result<Option<RunRecord>>;
    /// Inserts a run.
    async fn insert_run(&mut self, run: &RunRecord, idempotency_key: Option<&str>) -> Result<()>;
    /// Writes a run's mutable fields (status, output, error, counters,
    /// times). Only under [`RunLock::Exclusive`].
    async fn update_run(&mut self, run: &RunRecord) -> Result<()>;
    /// PENDING → RUNNING with `started_at = at`, if the run is still
    /// PENDING (a compare-and-set; safe under [`RunLock::Shared`]).
    async fn mark_run_running(&mut self, run_id: Uuid, at: DateTime<Utc>) -> Result<()>;
    /// Adds `n` to the run's finished top-level steps, atomically; returns
    /// `(finished, total)` after the addition. Exactly one transaction sees
    /// `finished` reach `total`.
    async fn add_finished(&mut self, run_id: Uuid, n: i32) -> Result<(i32, i32)>;
    /// One step execution.
    async fn step(&mut self, run_id: Uuid, path: &str) -> Result<Option<StepRecord>>;
    /// One step execution, locked until the end of the transaction (to read
    /// and then change its counters without losing a concurrent update).
    async fn lock_step(&mut self, run_id: Uuid, path: &str) -> Result<Option<StepRecord>>;
    /// Several step executions by path, locked, in path order (missing ones
    /// are left out): one statement for a whole fan-out's dependents.
    async fn lock_steps(&mut self, run_id: Uuid, paths: &[String]) -> Result<Vec<StepRecord>>;
    /// Those of the step executions at `paths` that no other transaction
    /// holds, locked, in path order, without waiting for the others
    /// (Postgres `FOR UPDATE SKIP LOCKED`; SQLite, one writer: all of them).
    /// For reading ahead rows a transaction will probably change.
    async fn try_lock_steps(&mut self, run_id: Uuid, paths: &[String]) -> Result<Vec<StepRecord>>;
    /// The executions of step `key` under `prefix`, locked, in path order.
    async fn lock_steps_of_key(&mut self, run_id: Uuid, prefix: &str, key: &str) -> Result<Vec<StepRecord>>;
    /// Several step executions by path (missing ones are left out).
    async fn steps(&mut self, run_id: Uuid, paths: &[String]) -> Result<Vec<StepRecord>>;
    /// Every execution of a run whose path starts with `prefix` (empty: all).
    async fn steps_with_prefix(&mut self, run_id: Uuid, prefix: &str) -> Result<Vec<StepRecord>>;
    /// The outputs of the executions of step `key` under `prefix`, in path
    /// order, without the rest of their rows: what a loop's result is made
    /// of (a 10,000-item loop reads 10,000 small tuples, not 20,000 rows).
    async fn outputs_of_key(&mut self, run_id: Uuid, prefix: &str, key: &str) -> Result<Vec<StepOutput>>;
    /// Inserts step executions.
    async fn insert_steps(&mut self, steps: &[StepRecord]) -> Result<()>;
    /// Writes a step's mutable fields, only if its status, attempt and lease
    /// token are still `expect` (compare-and-set). Returns whether it wrote.
    async fn update_step(&mut self, step: &StepRecord, expect: &Expect) -> Result<bool>;
    /// Writes several steps' mutable fields, each a compare-and-set against
    /// its own `Expect` (as [`Tx::update_step`]), in as few statements as the
    /// backend allows; returns how many were written.
    async fn update_steps(&mut self, steps: &[(StepRecord, Expect)]) -> Result<usize>;
    /// Appends to the run log (written at the latest at commit, in order;
    /// an implementation may buffer the lines and insert them at once).
    async fn log(&mut self, entry: LogRecord) -> Result<()>;
    /// The version a run is pinned to.
    async fn version(&mut self, version_id: Uuid) -> Result<Option<VersionRecord>>;
    /// Commits.
    async fn commit(self: Box<Self>) -> Result<()>;
}

/// What a compare-and-set expects to find.
#[derive(Debug, Clone, PartialEq)]
pub struct Expect {
    /// Status before.
    pub status: StepStatus,
    /// Attempt before.
    pub attempt: i32,
    /// Lease token before.
    pub lease_token: Option<i64>,
}

impl Expect {
    /// What `step` holds now.
    pub fn of(step: &StepRecord) -> Self {
        Self {
            status: step.status,
            attempt: step.attempt,
            lease_token: step.lease_token,
        }
    }
}

/// A lease a worker holds on a RUNNING step: what it renews, and what a
/// renewal compares (the attempt and the fencing token).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct LeaseRef {
    /// Run.
    pub run_id: Uuid,
    /// Step path.
    pub path: String,
    /// Attempt the lease was taken for.
    pub attempt: i32,
    /// Its fencing token.
    pub lease_token: i64,
}

/// A due piece of work the reconciler found.
#[derive(Debug, Clone, PartialEq)]
pub struct DueStep {
    /// Run.
    pub run_id: Uuid,
    /// Step path.
    pub path: String,
    /// Why it is due.
    pub reason: DueReason,
}

/// Why the reconciler picked a step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DueReason {
    /// QUEUED for longer than the grace period (enqueue lost).
    Queued,
    /// RUNNING with an expired lease (worker died).
    LeaseExpired,
    /// WAITING past its timer.
    TimerDue,
}

/// The store: transactions plus the reconciler's and the API's queries.
#[async_trait::async_trait]
pub trait Store: Send + Sync + 'static {
    /// Begins a transaction.
    async fn begin(&self) -> Result<Box<dyn Tx>>;
    /// Steps the reconciler must look at (bounded by `limit`).
    async fn due_steps(&self, now: DateTime<Utc>, queued_grace: chrono::Duration, limit: u64) -> Result<Vec<DueStep>>;
    /// Extends to `expires_at` every lease of `leases` that is still held
    /// (step RUNNING with that attempt and token), in one statement per
    /// chunk; returns the ones renewed.
    async fn renew_leases(&self, leases: &[LeaseRef], expires_at: DateTime<Utc>) -> Result<Vec<LeaseRef>>;
    /// Runs not yet finished past their deadline (the workflow's `timeout`).
    async fn overdue_runs(&self, now: DateTime<Utc>, limit: u64) -> Result<Vec<Uuid>>;
    /// Runs not yet finished (to resume after a restart).
    async fn unfinished_runs(&self) -> Result<Vec<Uuid>>;
    /// What waits, for metrics (two indexed aggregates; read every few
    /// seconds, not per step).
    async fn backlog(&self) -> Result<Backlog>;
    /// The workspace's secrets, opened (name → value); empty when the store
    /// has no secrets key.
    async fn workspace_secrets(&self, workspace_id: Uuid) -> Result<std::collections::HashMap<String, String>>;
    /// The workspace's email template named `name`.
    async fn email_template(&self, workspace_id: Uuid, name: &str)
    -> Result<Option<crate::admin::EmailTemplateRecord>>;
    /// Writes to the workspace's data store in one transaction (once per
    /// `dedup_key`); returns `{affected, records: [{id, data}]}`, the
    /// records as written (or as they were, for a delete).
    /// [`Error::InvalidInput`](crate::Error::InvalidInput) for data that is
    /// not an object, over the size limit, or past the record limit.
    async fn write_records(&self, workspace_id: Uuid, w: &crate::admin::RecordWrite) -> Result<serde_json::Value>;
    /// Creates a notification in the workspace's inbox, once per
    /// `dedup_key`: returns its id and whether this call created it.
    async fn create_notification(&self, workspace_id: Uuid, n: &crate::admin::NewNotification) -> Result<(Uuid, bool)>;
    /// The workspace's connection of `kind` named `name`, or its default
    /// one of `kind` when `name` is `None`.
    async fn connection(
        &self,
        workspace_id: Uuid,
        kind: &str,
        name: Option<&str>,
    ) -> Result<Option<crate::admin::ConnectionRecord>>;
    /// Every QUEUED, RUNNING or WAITING step execution (bounded by `limit`),
    /// for recovery at start-up.
    async fn active_steps(&self, limit: u64) -> Result<Vec<StepRecord>>;
    /// A run and every step execution (read only).
    async fn run_view(&self, run_id: Uuid) -> Result<Option<(RunRecord, Vec<StepRecord>)>>;
    /// The run's log, in order.
    async fn logs(&self, run_id: Uuid) -> Result<Vec<LogRecord>>;
    /// Enabled schedules whose next tick is due at `now`.
    async fn due_schedules(&self, now: DateTime<Utc>, limit: u64) -> Result<Vec<ScheduleRecord>>;
    /// Moves a schedule on: its next tick, and the last tick handled.
    async fn advance_schedule(&self, id: Uuid, next: Option<DateTime<Utc>>, fired: DateTime<Utc>) -> Result<()>;
    /// The run of `workflow_id` started with `idempotency_key`, if any.
    async fn run_by_key(&self, workflow_id: Uuid, idempotency_key: &str) -> Result<Option<Uuid>>;
    /// The version `id` (with its workspace).
    async fn version_record(&self, id: Uuid) -> Result<Option<VersionRecord>>;
    /// Finds or creates the workspace `slug`, the workflow `slug` in it and a
    /// version with this canonical document; returns the version. A new
    /// version becomes the active one and its schedules replace the
    /// workflow's previous ones.
    async fn ensure_version(
        &self,
        workspace: &str,
        workflow: &str,
        name: &str,
        document: &str,
    ) -> Result<VersionRecord>;
}
