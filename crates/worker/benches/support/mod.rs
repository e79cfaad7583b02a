//! Code the benches share: this crate's `embedded` bench includes it as a
//! module, and `crates/cli/benches/fleet.rs` includes the same files by path.
//!
//! - [`workloads`]: the workflows (YAML) and which of them to run
//!   (`orbflow_testkit::workload`);
//! - [`stats`]: per-workload figures, from the stored step rows;
//! - [`inproc`]: one workload on an engine and worker in this process.
//!
//! The HTTP peer TRIGGER_WEBHOOK steps call is
//! `orbflow_testkit::peer::keep_alive_peer`.

pub(crate) mod inproc;
pub(crate) mod stats;
pub(crate) use orbflow_testkit::workload as workloads;
