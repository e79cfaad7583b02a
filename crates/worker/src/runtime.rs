//! The worker's fetch side on apalis 1.0 (issue 10, item 8): an apalis
//! [`Worker`](apalis::prelude::Worker) whose backend is orbflow's own
//! [`Queue`] and whose service is one attempt slot
//! ([`Worker::attempt`](crate::worker::Worker): claim, execute, record,
//! eager dispatch).
//!
//! apalis brings the loop that asks the backend for a job only when its
//! concurrency layer has a free slot (a busy worker takes nothing it cannot
//! start, so other workers get it), and the graceful stop: once `stop`
//! fires it takes no more jobs and waits for every slot to record. The
//! database stays the store of truth and the engine owns retries, so none of
//! apalis' storage, retry or acknowledgement layers is used (see
//! docs/ARCHITECTURE.md, "apalis").

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};

use apalis::prelude::{Backend, RandomId, Task, WorkerBuilder, WorkerBuilderExt, WorkerContext};
use apalis_core::backend::BackendConfig;
use apalis_core::backend::finalize::Ephemeral;
use apalis_core::layers::Identity;
use orbflow_engine::Job;
use tokio_util::sync::CancellationToken;

use crate::queue::Queue;
use crate::worker::Worker;

/// A pop in flight.
type Pop = Pin<Box<dyn Future<Output = Vec<Job>> + Send>>;

/// An apalis backend over orbflow's queue. When a slot is free and nothing
/// popped is waiting, it takes as many jobs as there are free slots in one
/// pop; apalis then starts them one by one as its concurrency layer lets
/// it, which is at once, since the slots are free.
pub(crate) struct JobBackend {
    queue: Arc<dyn Queue>,
    /// The worker's slots.
    slots: usize,
    /// Jobs handed out and not yet finished (the slot service decrements it
    /// before it frees its slot).
    busy: Arc<AtomicUsize>,
    /// Jobs popped and not yet handed out.
    popped: VecDeque<Job>,
    /// The pop in flight.
    pop: Option<Pop>,
    /// Jobs going back to the queue on close.
    returning: Option<Pin<Box<dyn Future<Output = ()> + Send>>>,
}

impl JobBackend {
    pub(crate) fn new(queue: Arc<dyn Queue>, slots: usize, busy: Arc<AtomicUsize>) -> Self {
        Self {
            queue,
            slots: slots.max(1),
            busy,
            popped: VecDeque::new(),
            pop: None,
            returning: None,
        }
    }
}

/// The backend's error type. Taking a job cannot fail: the queues retry
/// their own errors and wait.
#[derive(Debug)]
pub(crate) enum Never {}

impl std::fmt::Display for Never {
    fn fmt(&self, _: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match *self {}
    }
}

impl std::error::Error for Never {}

impl Backend for JobBackend {
    type Task = Task<Job>;
    type Error = Never;

    fn poll_ready(&mut self, _: &mut Context<'_>, _: &WorkerContext) -> Poll<Result<(), Never>> {
        Poll::Ready(Ok(()))
    }

    /// Asked only when a slot is free: hands out a job popped earlier, or
    /// pops as many as there are free slots (waiting while the queue is
    /// empty).
    fn poll_next(&mut self, cx: &mut Context<'_>, _: &WorkerContext) -> Poll<Option<Result<Task<Job>, Never>>> {
        loop {
            if let Some(job) = self.popped.pop_front() {
                self.busy.fetch_add(1, Ordering::SeqCst);
                return Poll::Ready(Some(Ok(Task::new(job))));
            }
            let free = self.slots.saturating_sub(self.busy.load(Ordering::SeqCst)).max(1);
            let queue = self.queue.clone();
            let pop = self
                .pop
                .get_or_insert_with(|| Box::pin(async move { queue.pop_many(free).await }));
            match pop.as_mut().poll(cx) {
                Poll::Ready(jobs) => {
                    self.pop = None;
                    self.popped.extend(jobs);
                }
                Poll::Pending => return Poll::Pending,
            }
        }
    }

    /// Jobs popped but never started go back for the other workers; a pop
    /// still waiting is dropped (the queue has not handed it a job).
    fn poll_close(&mut self, cx: &mut Context<'_>, _: &WorkerContext) -> Poll<Result<(), Never>> {
        self.pop = None;
        if !self.popped.is_empty() {
            let jobs: Vec<Job> = self.popped.drain(..).collect();
            let queue = self.queue.clone();
            self.returning = Some(Box::pin(async move { queue.push_many(jobs).await }));
        }
        match self.returning.as_mut().map(|back| back.as_mut().poll(cx)) {
            Some(Poll::Pending) => Poll::Pending,
            _ => {
                self.returning = None;
                Poll::Ready(Ok(()))
            }
        }
    }
}

impl BackendConfig for JobBackend {
    type Args = Job;
    type Id = RandomId;
    type Kind = Ephemeral;
    type Config = ();
    type Layer = Identity;

    fn config(&self) -> &() {
        &()
    }

    fn middleware(&mut self, _: &mut WorkerContext) -> Identity {
        Identity::new()
    }
}

/// Runs `worker`'s attempt slots as an apalis worker until `stop` fires,
/// then waits for the slots' attempts to record.
pub(crate) async fn fetch_loop(worker: Arc<Worker>, stop: CancellationToken) {
    let slots = worker.config.concurrency.max(1);
    let busy = Arc::new(AtomicUsize::new(0));
    let backend = JobBackend::new(worker.queue.clone(), slots, busy.clone());
    let w = worker.clone();
    let s = stop.clone();
    let slot = move |job: Job| {
        let w = w.clone();
        let s = s.clone();
        let busy = busy.clone();
        async move {
            // each attempt on a task of its own: apalis polls every slot's
            // future from one stream, which would keep them on one thread
            if let Err(e) = tokio::spawn(async move { w.attempt(job, &s).await }).await {
                tracing::error!(error = %e, "an attempt slot panicked; its lease will expire and the step re-run");
            }
            busy.fetch_sub(1, Ordering::SeqCst);
        }
    };
    let runtime = WorkerBuilder::new(worker.config.name.clone())
        .backend(backend)
        .concurrency(slots)
        .build(slot);
    let signal = async move {
        stop.cancelled().await;
        Ok::<(), std::io::Error>(())
    };
    if let Err(e) = runtime.run_until(signal).await {
        tracing::error!(error = %e, "the worker runtime stopped");
    }
}

#[cfg(test)]
mod tests {
    use std::future::poll_fn;

    use super::*;
    use crate::queue::LocalQueue;
    use crate::queue::tests::jobs;

    async fn next(b: &mut JobBackend, ctx: &WorkerContext) -> Job {
        match poll_fn(|cx| b.poll_next(cx, ctx)).await {
            Some(Ok(task)) => task.args,
            other => panic!("no job: {}", other.is_none()),
        }
    }

    fn backend(queue: &Arc<LocalQueue>, slots: usize, busy: usize) -> (JobBackend, Arc<AtomicUsize>) {
        let busy = Arc::new(AtomicUsize::new(busy));
        let q: Arc<dyn Queue> = queue.clone();
        (JobBackend::new(q, slots, busy.clone()), busy)
    }

    #[tokio::test]
    async fn takes_as_many_jobs_as_there_are_free_slots_in_one_pop() {
        let queue = Arc::new(LocalQueue::new());
        queue.push_many(jobs(5)).await;
        // 3 slots, 1 busy: two free
        let (mut b, busy) = backend(&queue, 3, 1);
        let ctx = WorkerContext::from("test");
        assert!(poll_fn(|cx| b.poll_ready(cx, &ctx)).await.is_ok());
        assert_eq!(next(&mut b, &ctx).await.path, "s0");
        // both free slots' jobs left the queue in that one pop
        assert_eq!(queue.len(), 3);
        assert_eq!(next(&mut b, &ctx).await.path, "s1");
        assert_eq!(queue.len(), 3);
        assert_eq!(busy.load(Ordering::SeqCst), 3);
        // a busy worker whose slot frees takes one job
        busy.fetch_sub(1, Ordering::SeqCst);
        assert_eq!(next(&mut b, &ctx).await.path, "s2");
        assert_eq!(queue.len(), 2);
    }

    #[tokio::test]
    async fn waits_for_a_push_while_the_queue_is_empty() {
        let queue = Arc::new(LocalQueue::new());
        let (mut b, _) = backend(&queue, 1, 0);
        let ctx = WorkerContext::from("test");
        let pusher = {
            let queue = queue.clone();
            tokio::spawn(async move {
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                queue.push_many(jobs(1)).await;
            })
        };
        assert_eq!(next(&mut b, &ctx).await.path, "s0");
        pusher.await.unwrap();
    }

    #[tokio::test]
    async fn jobs_taken_but_not_started_go_back_on_close() {
        let queue = Arc::new(LocalQueue::new());
        queue.push_many(jobs(3)).await;
        let (mut b, _) = backend(&queue, 8, 0);
        let ctx = WorkerContext::from("test");
        assert_eq!(next(&mut b, &ctx).await.path, "s0");
        // all three were taken for the free slots; the worker stops before
        // starting the other two
        assert_eq!(queue.len(), 0);
        assert!(poll_fn(|cx| b.poll_close(cx, &ctx)).await.is_ok());
        let back: Vec<String> = queue.pop_many(10).await.into_iter().map(|j| j.path).collect();
        assert_eq!(back, ["s1", "s2"]);
        // closing again has nothing left to return
        assert!(poll_fn(|cx| b.poll_close(cx, &ctx)).await.is_ok());
        assert!(queue.is_empty());
    }
}
