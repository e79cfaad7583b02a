//! The step-job queue. The database is the source of truth; the queue only
//! delivers (a lost job is found again by the reconciler).

use std::collections::VecDeque;
use std::sync::Mutex;

use orbflow_engine::Job;
use tokio::sync::Notify;

/// Delivers step jobs to workers.
#[async_trait::async_trait]
pub trait Queue: Send + Sync + 'static {
    /// Adds a job.
    async fn push(&self, job: Job);
    /// Takes the next job, waiting until one arrives.
    async fn pop(&self) -> Job;
    /// Jobs waiting.
    fn len(&self) -> usize;
    /// Whether none wait.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The embedded default's queue: in process, woken by a notification
/// rather than by polling.
#[derive(Debug, Default)]
pub struct LocalQueue {
    jobs: Mutex<VecDeque<Job>>,
    notify: Notify,
}

impl LocalQueue {
    /// An empty queue.
    pub fn new() -> Self {
        Self::default()
    }
}

#[async_trait::async_trait]
impl Queue for LocalQueue {
    async fn push(&self, job: Job) {
        if let Ok(mut q) = self.jobs.lock() {
            q.push_back(job);
        }
        self.notify.notify_one();
    }

    async fn pop(&self) -> Job {
        loop {
            let notified = self.notify.notified();
            if let Some(j) = self.jobs.lock().ok().and_then(|mut q| q.pop_front()) {
                return j;
            }
            notified.await;
        }
    }

    fn len(&self) -> usize {
        self.jobs.lock().map(|q| q.len()).unwrap_or(0)
    }
}
