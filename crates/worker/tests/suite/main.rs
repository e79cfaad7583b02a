//! The worker's integration tests, in one binary: one link instead of
//! one per file, and coverage that credits a function with everything the
//! suite runs through it (llvm-cov counts a function's lines in the one
//! test binary that covers most of them, so separate binaries each
//! covering different paths of the same function undercount it).
//!
//! Modules: the run semantics of DESIGN.md (`semantics`, `block_values`),
//! the engine's calls made by the test playing the worker (`engine_calls`,
//! `edges`), hostile input (`hostile`), batched recording and the run-ahead
//! (`batches`, `record_batch`, `run_ahead`), the run log (`logs`) and the
//! metrics (`metrics`); `common` is their harness.

#[macro_use]
mod common;

mod batches;
mod block_values;
mod edges;
mod engine_calls;
mod hostile;
mod logs;
mod metrics;
mod record_batch;
mod run_ahead;
mod semantics;
