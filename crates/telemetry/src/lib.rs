//! orbflow's traces: one trace per run, across every process that touches
//! it, exported over OTLP when the standard `OTEL_*` variables ask for it
//! and free when they do not.
//!
//! The ids are orbflow's own (see `orbflow_engine::trace`): a run's span
//! ids are chosen when it starts and stored on the run, so the process that
//! starts a run, the workers that run its attempts and the process that
//! ends it emit spans that fit together without talking to each other.
//!
//! - [`export`]: [`init`] reads the `OTEL_*` variables and installs the
//!   OTLP exporter (http/protobuf or gRPC); the [`Guard`] flushes at exit;
//!   [`enabled`] tells whether spans go anywhere.
//! - [`spans`]: the spans orbflow emits: a run's (reported when it ends),
//!   an attempt's ([`Attempt`]) and an API request's ([`ServerSpan`]).
//! - [`metrics`]: the process's own metrics (runs ended, API requests,
//!   schedule lag, the engine's lease and write-back counters, the backlog)
//!   in the Prometheus text format.
//! - [`dispatch`]: [`Traced`], a `Dispatch` that reports the spans of the
//!   runs its effects finished.

pub mod dispatch;
pub mod export;
pub mod metrics;
pub mod spans;

mod error;

pub use dispatch::Traced;
pub use error::{Error, Result};
pub use export::{Guard, enabled, init};
pub use spans::{Attempt, ServerSpan, run_ended};
