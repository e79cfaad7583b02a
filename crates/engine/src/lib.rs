//! orbflow's engine: the semantics of a run, shared by the scheduler, the
//! workers and the embedded runner.
//!
//! - [`admin`]: what the HTTP API needs from the store (workspaces, tokens,
//!   drafts, versions, triggers, paginated listings).
//! - [`store`]: the storage traits the engine needs (implemented by
//!   `orbflow-store` on SQLite and Postgres).
//! - [`plan`]: a workflow version prepared for execution.
//! - `config` (private): [`EngineConfig`] and [`Stats`], re-exported by
//!   [`engine`].
//! - [`engine`]: start a run, claim and render attempts, timers, cancel;
//!   `record` (private): recording outcomes in batches, and the run-ahead of
//!   pure steps inside the recording transaction; `recovery` (private): the
//!   reconciler, start-up recovery, lost attempts, run timeouts, lease
//!   renewal; `retry`: retrying a failed run;
//!   `race` (private): transactions that lost a race run again; `cache`
//!   (private): the rows a transaction holds, read and written once.
//! - `advance` (private): readiness counters, joins, skips, the run end;
//!   `advance::blocks`: conditions, switches, loops.
//! - [`connections`]: the workspace connection an attempt uses, its
//!   credentials resolved.
//! - [`context`]: the expression context of a step, read from the store.
//! - [`step_error`]: the error recorded on a failed step or run.
//! - [`trace`]: a run's W3C trace context (ids chosen at start, stored on
//!   the run, read by every attempt).
//! - [`queue`]: the [`Queue`](queue::Queue) trait step jobs travel through, and
//!   [`Dispatch`](queue::Dispatch), where the effects of an engine call go.

pub mod admin;
pub mod connections;
pub mod context;
pub mod engine;
pub mod plan;
pub mod queue;
pub mod step_error;
pub mod store;
pub mod trace;

mod advance;
mod cache;
mod config;
mod error;
mod race;
mod record;
mod recovery;
mod retry;

pub use engine::{Claimed, Effects, Engine, EngineConfig, FinishedRun, Job, Rendered, StartRun, Stats, Wake};
pub use error::{Error, Result};
pub use record::{Done, NextClaims, RunInline};
pub use step_error::StepError;
