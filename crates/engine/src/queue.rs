//! The step-job queue the engine's runners use. It only delivers: the
//! database is the source of truth, and a job lost by the queue (a crash
//! between pop and claim, a flushed Redis) is found again by the reconciler.

use std::sync::Arc;

use crate::{Effects, Job};

/// Delivers step jobs to workers.
#[async_trait::async_trait]
pub trait Queue: Send + Sync + 'static {
    /// Adds a job.
    async fn push(&self, job: Job);
    /// Takes the next job, waiting until one arrives.
    async fn pop(&self) -> Job;
    /// Asks every process that runs one of `jobs` to stop it (best effort: a
    /// process that misses it is stopped by the fence on its write-back).
    /// Default: nothing, for an in-process queue whose worker cancels directly.
    async fn broadcast_cancel(&self, _jobs: &[Job]) {}
    /// Waits for the next cancellation any process broadcast. Default: never.
    async fn next_cancel(&self) -> Vec<Job> {
        std::future::pending().await
    }
}

/// Where the effects of a committed engine call go: jobs to a queue, timers
/// and cancellations to whoever runs them. The in-process worker's handle
/// is one (`orbflow_worker::Handle`); [`QueueDispatch`] is the fleet's.
#[async_trait::async_trait]
pub trait Dispatch: Send + Sync + 'static {
    /// Hands on what a committed engine call asks for.
    async fn apply(&self, effects: Effects);
}

/// Dispatch for a process that runs no worker (the API, the scheduler):
/// ready steps go to the queue and cancellations are broadcast; timers are
/// found in the database by the workers' reconciler.
pub struct QueueDispatch(pub Arc<dyn Queue>);

#[async_trait::async_trait]
impl Dispatch for QueueDispatch {
    async fn apply(&self, effects: Effects) {
        for job in effects.jobs {
            self.0.push(job).await;
        }
        if !effects.cancel.is_empty() {
            self.0.broadcast_cancel(&effects.cancel).await;
        }
    }
}
