//! The step-job queue. The database is the source of truth; the queue only
//! delivers (a lost job is found again by the reconciler).

use std::collections::VecDeque;
use std::sync::Mutex;

use orbflow_engine::Job;
pub use orbflow_engine::queue::Queue;
use tokio::sync::Notify;

/// The embedded default's queue: in process, first in first out, woken by a
/// notification rather than by polling. A batch is pushed or taken under
/// one lock.
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

    /// Jobs waiting.
    pub fn len(&self) -> usize {
        self.jobs.lock().map(|q| q.len()).unwrap_or(0)
    }

    /// Whether no job is waiting.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Takes up to `max` jobs (at least one) if any wait, without waiting.
    fn take(&self, max: usize) -> Vec<Job> {
        let Ok(mut q) = self.jobs.lock() else { return Vec::new() };
        let n = max.max(1).min(q.len());
        let batch: Vec<Job> = q.drain(..n).collect();
        if !batch.is_empty() && !q.is_empty() {
            // more are waiting: pass the wake-up on to another consumer
            self.notify.notify_one();
        }
        batch
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
            if let Some(j) = self.pop_many(1).await.pop() {
                return j;
            }
        }
    }

    async fn push_many(&self, jobs: Vec<Job>) {
        if jobs.is_empty() {
            return;
        }
        if let Ok(mut q) = self.jobs.lock() {
            q.extend(jobs);
        }
        // every consumer registered before the lock was taken sees the batch
        self.notify.notify_waiters();
        // and one that is about to register finds a stored permit
        self.notify.notify_one();
    }

    async fn pop_many(&self, max: usize) -> Vec<Job> {
        loop {
            // registered before looking, so a push in between is not missed
            let notified = self.notify.notified();
            let batch = self.take(max);
            if !batch.is_empty() {
                return batch;
            }
            notified.await;
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use uuid::Uuid;

    use super::*;

    /// `n` jobs of one run, `s0`, `s1`, …
    pub(crate) fn jobs(n: usize) -> Vec<Job> {
        let run_id = Uuid::now_v7();
        (0..n)
            .map(|i| Job {
                run_id,
                path: format!("s{i}"),
            })
            .collect()
    }

    #[tokio::test]
    async fn batches_come_out_once_each_in_fifo_order_and_never_above_max() {
        let q = LocalQueue::new();
        let all = jobs(2_500);
        q.push_many(all[..1_000].to_vec()).await;
        q.push(all[1_000].clone()).await;
        q.push_many(all[1_001..].to_vec()).await;
        assert_eq!(q.len(), 2_500);
        let mut out = Vec::new();
        let mut sizes = Vec::new();
        for max in [1, 7, 64, 300, 1_000].into_iter().cycle() {
            if out.len() == all.len() {
                break;
            }
            let batch = tokio::time::timeout(Duration::from_secs(5), q.pop_many(max))
                .await
                .expect("jobs are waiting");
            assert!(
                !batch.is_empty() && batch.len() <= max,
                "{} jobs for max {max}",
                batch.len()
            );
            sizes.push(batch.len());
            out.extend(batch);
        }
        assert_eq!(out, all, "every job once, oldest first");
        assert!(sizes.contains(&1_000), "a full batch when enough wait: {sizes:?}");
        assert!(q.is_empty());
    }

    #[tokio::test]
    async fn pop_many_of_zero_takes_one() {
        let q = LocalQueue::new();
        q.push_many(jobs(3)).await;
        assert_eq!(q.pop_many(0).await.len(), 1);
        assert_eq!(q.len(), 2);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn pop_many_waits_for_a_later_push_and_takes_the_batch() {
        let q = Arc::new(LocalQueue::new());
        let batch = jobs(5);
        let pusher = {
            let q = q.clone();
            let batch = batch.clone();
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(200)).await;
                q.push_many(batch).await;
            })
        };
        let started = std::time::Instant::now();
        let got = tokio::time::timeout(Duration::from_secs(5), q.pop_many(8))
            .await
            .expect("woken by the push");
        assert!(
            started.elapsed() >= Duration::from_millis(150),
            "it waited for the push"
        );
        assert_eq!(got, batch, "the whole batch in one pop, in order");
        pusher.await.unwrap();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn every_waiting_consumer_is_woken_by_a_batch() {
        let q = Arc::new(LocalQueue::new());
        let consumers: Vec<_> = (0..3)
            .map(|_| {
                let q = q.clone();
                tokio::spawn(async move { q.pop_many(2).await })
            })
            .collect();
        tokio::time::sleep(Duration::from_millis(100)).await;
        let all = jobs(6);
        q.push_many(all.clone()).await;
        let mut got = Vec::new();
        for c in consumers {
            let batch = tokio::time::timeout(Duration::from_secs(5), c)
                .await
                .expect("every consumer gets a share")
                .unwrap();
            assert!(batch.len() <= 2);
            got.extend(batch);
        }
        got.sort_by(|a, b| a.path.cmp(&b.path));
        assert_eq!(got, all);
    }

    #[tokio::test]
    async fn a_dropped_pop_many_loses_nothing() {
        let q = LocalQueue::new();
        assert!(
            tokio::time::timeout(Duration::from_millis(50), q.pop_many(4))
                .await
                .is_err(),
            "nothing to take"
        );
        q.push_many(jobs(2)).await;
        assert_eq!(q.pop_many(4).await.len(), 2);
    }
}
