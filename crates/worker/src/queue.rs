//! The step-job queue. The database is the source of truth; the queue only
//! delivers (a lost job is found again by the reconciler).

use std::collections::VecDeque;
use std::sync::Mutex;

use orbflow_engine::Job;
pub use orbflow_engine::queue::Queue;
use tokio::sync::Notify;

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
}
