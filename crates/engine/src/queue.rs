//! The step-job queue the engine's runners use. It only delivers: the
//! database is the source of truth, and a job lost by the queue (a crash
//! between pop and claim, a flushed Redis) is found again by the reconciler.
//!
//! Jobs move in batches where the backend allows it: [`Queue::push_many`]
//! hands every job of one engine call over at once, and [`Queue::pop_many`]
//! lets a worker take as many jobs as it has free slots in one round trip.
//! Both default to the one-job methods, so a backend only needs `push` and
//! `pop`.

use std::sync::Arc;

use crate::{Effects, Job};

/// Delivers step jobs to workers. Jobs are delivered oldest first where the
/// backend can (both shipped backends do); delivery is at least once.
#[async_trait::async_trait]
pub trait Queue: Send + Sync + 'static {
    /// Adds a job.
    async fn push(&self, job: Job);
    /// Takes the next job, waiting until one arrives.
    async fn pop(&self) -> Job;
    /// Adds `jobs`, in order (the first is delivered first). A backend
    /// should make this one operation (one lock, one round trip). Default:
    /// [`push`](Self::push) each job.
    async fn push_many(&self, jobs: Vec<Job>) {
        for job in jobs {
            self.push(job).await;
        }
    }
    /// Takes up to `max` jobs (at least one; a `max` of 0 counts as 1),
    /// oldest first, waiting until at least one is available; it never
    /// returns an empty batch. Dropping the future before it completes
    /// must lose no job. Default: one [`pop`](Self::pop).
    async fn pop_many(&self, max: usize) -> Vec<Job> {
        let _ = max;
        vec![self.pop().await]
    }
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
/// ready steps go to the queue in one batch and cancellations are
/// broadcast; timers are found in the database by the workers' reconciler.
pub struct QueueDispatch(pub Arc<dyn Queue>);

#[async_trait::async_trait]
impl Dispatch for QueueDispatch {
    async fn apply(&self, effects: Effects) {
        if !effects.jobs.is_empty() {
            self.0.push_many(effects.jobs).await;
        }
        if !effects.cancel.is_empty() {
            self.0.broadcast_cancel(&effects.cancel).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use uuid::Uuid;

    use super::*;

    /// Records the calls it gets, and keeps the jobs.
    #[derive(Default)]
    struct Calls(Mutex<Vec<String>>, Mutex<std::collections::VecDeque<Job>>);

    #[async_trait::async_trait]
    impl Queue for Calls {
        async fn push(&self, job: Job) {
            self.0.lock().unwrap().push(format!("push {}", job.path));
            self.1.lock().unwrap().push_back(job);
        }
        async fn pop(&self) -> Job {
            self.1.lock().unwrap().pop_front().expect("a job waits")
        }
        async fn push_many(&self, jobs: Vec<Job>) {
            let paths: Vec<&str> = jobs.iter().map(|j| j.path.as_str()).collect();
            self.0.lock().unwrap().push(format!("push_many {}", paths.join(",")));
            self.1.lock().unwrap().extend(jobs);
        }
        async fn broadcast_cancel(&self, jobs: &[Job]) {
            self.0.lock().unwrap().push(format!("cancel {}", jobs.len()));
        }
    }

    fn job(path: &str) -> Job {
        Job {
            run_id: Uuid::nil(),
            path: path.into(),
        }
    }

    #[tokio::test]
    async fn dispatch_pushes_the_jobs_of_one_call_as_one_batch() {
        let calls = Arc::new(Calls::default());
        let dispatch = QueueDispatch(calls.clone());
        dispatch
            .apply(Effects {
                jobs: vec![job("a"), job("b"), job("c")],
                cancel: vec![job("x")],
                ..Effects::default()
            })
            .await;
        dispatch.apply(Effects::default()).await;
        assert_eq!(*calls.0.lock().unwrap(), ["push_many a,b,c", "cancel 1"]);
        // in the order the engine gave them
        assert_eq!(calls.pop_many(5).await, [job("a")]);
        assert_eq!((calls.pop().await, calls.pop().await), (job("b"), job("c")));
    }

    /// Only `push` and `pop`: the batch methods fall back to them.
    struct OneAtATime(Mutex<std::collections::VecDeque<Job>>);

    #[async_trait::async_trait]
    impl Queue for OneAtATime {
        async fn push(&self, job: Job) {
            self.0.lock().unwrap().push_back(job);
        }
        async fn pop(&self) -> Job {
            self.0.lock().unwrap().pop_front().expect("a job waits")
        }
    }

    #[tokio::test]
    async fn the_batch_methods_default_to_push_and_pop() {
        let q = OneAtATime(Mutex::new(std::collections::VecDeque::new()));
        q.push_many(vec![job("a"), job("b")]).await;
        assert_eq!(q.pop_many(5).await, [job("a")]);
        assert_eq!(q.pop_many(5).await, [job("b")]);
    }
}
