//! orbflow's worker: claims step jobs from a queue, executes the action
//! (with its timeout and the run's cancellation), records the outcome
//! through the engine and hands newly ready steps on.
//!
//! - [`queue`]: the [`Queue`](queue::Queue) trait and the in-process
//!   [`LocalQueue`](queue::LocalQueue) of the embedded default.
//! - [`worker`]: the [`Worker`](worker::Worker) service: `Config` →
//!   `run(shutdown)` → [`Handle`](worker::Handle).
//! - [`embedded`]: the embedded wiring, [`Embedded::builder`](embedded::Embedded::builder)
//!   → `build()` → a cheap [`Embedded`](embedded::Embedded) handle: store,
//!   engine, built-in actions, local queue and a worker in one process
//!   (`orbflow dev`, `orbflow run`, the test harnesses, the benches).
//! - [`metrics`]: the worker's step metrics in the Prometheus text format.
//! - `inbox`: the run's workspace inbox (CREATE_NOTIFICATION) and data store
//!   (UPDATE_DATABASE) handed to an attempt.
//! - `redact`: the attempt's logger, and its output and error, with every
//!   secret it was given replaced by `***`.
//! - `runtime`: the fetch side on apalis 1.0, an apalis worker whose
//!   backend is the [`Queue`](queue::Queue) and whose service is one
//!   attempt slot.

pub mod embedded;
mod inbox;
pub mod metrics;
pub mod queue;
mod redact;
mod runtime;
pub mod worker;

pub use embedded::{Embedded, EmbeddedBuilder};

/// The worker crate's error: building the embedded wiring (the worker
/// service itself reports through the engine's errors).
pub use embedded::Error;
/// A result with the worker crate's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;
pub use metrics::Metrics;
pub use queue::{LocalQueue, Queue};
pub use worker::{Handle, Worker, WorkerConfig};
