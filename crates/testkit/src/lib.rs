//! The harness orbflow's tests and benches share. A dev-dependency only:
//! no crate depends on it for its normal build.
//!
//! - [`db`]: per-test databases on both backends ([`TestDb`], re-exported
//!   from `orbflow_store::testing`, where the store's own tests use it) and
//!   the [`both!`] / [`on_both!`] macros running a scenario on SQLite and on
//!   Postgres, each crate plugging in its own harness;
//! - [`peer`]: HTTP peers on 127.0.0.1 — a responder answering through a
//!   closure (scripted replies, slow answers, per-Idempotency-Key counts,
//!   keep-alive for the benches) that records what it received, and a peer
//!   that never answers and reports connections opening and closing;
//! - [`daemon`]: the `orbflow` binary (located next to the test executable,
//!   built when missing), free ports, the test Redis and a per-test key
//!   prefix, `orbflow dev` started and daemons stopped gracefully;
//! - [`proxy`]: a TCP proxy a test cuts and restores (Postgres or Redis
//!   that stops answering one process);
//! - [`workload`]: the workflows (YAML) the benches and tests generate:
//!   chains, fan-out with a join, loops, the acceptance set.

pub mod daemon;
pub mod db;
pub mod peer;
pub mod proxy;
pub mod workload;

pub use db::TestDb;
