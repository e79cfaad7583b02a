//! Code the benches share: this crate's `embedded` bench includes it as a
//! module, and `crates/cli/benches/fleet.rs` includes the same files by path.
//!
//! - [`workloads`]: the workflows (YAML) and which of them to run;
//! - [`stats`]: per-workload figures, from the stored step rows;
//! - [`inproc`]: one workload on an engine and worker in this process;
//! - [`peer`]: the HTTP peer TRIGGER_WEBHOOK steps call, on 127.0.0.1.

pub(crate) mod inproc;
pub(crate) mod peer;
pub(crate) mod stats;
pub(crate) mod workloads;
