//! The parts of the acceptance bench (`fleet.rs`) beyond the shared support:
//!
//! - [`fleet_run`]: a workload on `orbflow worker` processes (Postgres + Redis);
//! - [`bullmq`]: the same workload on BullMQ, on a Redis of its own;
//! - [`sql_count`]: SQL statements per step, from SeaORM's metric callback;
//! - [`limits`]: the machine's own limits (pgbench, redis-benchmark);
//! - [`report`]: the final markdown tables.

pub(crate) mod bullmq;
pub(crate) mod fleet_run;
pub(crate) mod limits;
pub(crate) mod report;
pub(crate) mod sql_count;
