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
    /// Asks every process that runs one of `jobs` to stop it (best effort: a
    /// process that misses it is stopped by the fence on its write-back).
    /// Default: nothing, for an in-process queue whose worker cancels directly.
    async fn broadcast_cancel(&self, _jobs: &[Job]) {}
    /// Waits for the next cancellation any process broadcast. Default: never.
    async fn next_cancel(&self) -> Vec<Job> {
        std::future::pending().await
    }
}
