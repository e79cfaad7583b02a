//! The step-job queue the engine's runners use. It only delivers: the
//! database is the source of truth, and a job lost by the queue (a crash
//! between pop and claim, a flushed Redis) is found again by the reconciler.

use crate::Job;

/// Delivers step jobs to workers.
#[async_trait::async_trait]
pub trait Queue: Send + Sync + 'static {
    /// Adds a job.
    async fn push(&self, job: Job);
    /// Takes the next job, waiting until one arrives.
    async fn pop(&self) -> Job;
}
