//! orbflow's scheduler: thin, it never executes actions.
//!
//! - [`ticks`]: which ticks of a schedule to fire now, under the missed-tick
//!   policy (`catchUp`: skip, latest, all).
//! - [`service`]: the [`Scheduler`] service: leader lease in Redis, due
//!   schedules from the database, one run per (schedule, tick), the
//!   reconciler.
//!
//! Exactly once per tick across any number of replicas: the leader lease
//! keeps replicas from racing, and the run's idempotency key
//! `schedule:{id}:{tick}` is unique per workflow in the database, so even
//! two leaders (a lease handover under a pause) cannot start a tick twice.

pub mod service;
pub mod ticks;

pub use service::{Scheduler, SchedulerConfig};
