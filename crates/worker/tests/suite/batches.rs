//! The worker consumes in batches: one fetch loop takes as many jobs as it
//! has free slots in one `pop_many` and starts each at once; a busy worker
//! takes nothing it cannot start; on shutdown it stops taking jobs, lets the
//! attempts it started record, and puts back the jobs it took but did not
//! start. Each scenario runs on SQLite and on Postgres.

use crate::common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{TestDb, engine_only, register};
use orbflow_actions::{CatalogConfig, Registry, net::HttpPolicy};
use orbflow_engine::store::Store;
use orbflow_engine::{Engine, EngineConfig, Job};
use orbflow_worker::{LocalQueue, Queue, Worker, WorkerConfig};
use serde_json::json;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

/// A [`LocalQueue`] that records how it is used, and can fire a shutdown
/// token the moment a `pop_many` hands jobs over.
#[derive(Default)]
struct Recording {
    inner: LocalQueue,
    /// `(max, jobs returned)` of every completed `pop_many`.
    pops: Mutex<Vec<(usize, usize)>>,
    /// The `max` of every `pop_many` begun.
    asked: Mutex<Vec<usize>>,
    /// The path of every job popped, in order.
    popped: Mutex<Vec<String>>,
    /// Single-job pushes.
    pushes: AtomicUsize,
    /// Batches pushed (`push_many` calls).
    batches: AtomicUsize,
    /// Cancelled as soon as a `pop_many` returns jobs, if set.
    stop_on_pop: Option<CancellationToken>,
}

#[async_trait::async_trait]
impl Queue for Recording {
    async fn push(&self, job: Job) {
        self.pushes.fetch_add(1, Ordering::SeqCst);
        self.inner.push(job).await;
    }

    async fn pop(&self) -> Job {
        let mut one = self.pop_many(1).await;
        one.remove(0)
    }

    async fn push_many(&self, jobs: Vec<Job>) {
        self.batches.fetch_add(1, Ordering::SeqCst);
        self.inner.push_many(jobs).await;
    }

    async fn pop_many(&self, max: usize) -> Vec<Job> {
        self.asked.lock().unwrap().push(max);
        let jobs = self.inner.pop_many(max).await;
        self.pops.lock().unwrap().push((max, jobs.len()));
        self.popped.lock().unwrap().extend(jobs.iter().map(|j| j.path.clone()));
        if let Some(stop) = &self.stop_on_pop {
            // the shutdown arrives between the pop and the start
            stop.cancel();
        }
        jobs
    }
}

/// An HTTP server on 127.0.0.1 that answers every request after `delay`,
/// counting the requests it received and the most it held at once.
struct Peer {
    port: u16,
    hits: Arc<AtomicUsize>,
    in_flight: Arc<AtomicUsize>,
    peak: Arc<AtomicUsize>,
}

fn peer(delay: Duration) -> Peer {
    let in_flight = Arc::new(AtomicUsize::new(0));
    let peak = Arc::new(AtomicUsize::new(0));
    let (f, p) = (in_flight.clone(), peak.clone());
    let server = orbflow_testkit::peer::Peer::start(move |_| {
        let now = f.fetch_add(1, Ordering::SeqCst) + 1;
        p.fetch_max(now, Ordering::SeqCst);
        std::thread::sleep(delay);
        f.fetch_sub(1, Ordering::SeqCst);
        orbflow_testkit::peer::Reply::new(200, "", "ok")
    });
    Peer {
        port: server.port,
        hits: server.requests,
        in_flight,
        peak,
    }
}

/// `n` independent steps calling the peer, then a join after all of them.
fn fan_out(n: usize, port: u16) -> String {
    let mut yaml = String::from("schemaVersion: 1\nname: fan\nsteps:\n");
    for i in 0..n {
        yaml.push_str(&format!(
            "  - {{key: s{i}, dependsOn: [], action: TRIGGER_WEBHOOK, timeout: 30s, config: {{url: 'http://127.0.0.1:{port}/'}}}}\n"
        ));
    }
    let all: Vec<String> = (0..n).map(|i| format!("s{i}")).collect();
    yaml.push_str(&format!(
        "  - {{key: done, dependsOn: [{}], action: TRANSFORM, config: {{value: 1}}}}\n",
        all.join(", ")
    ));
    yaml
}

/// A worker of `concurrency` slots over `queue`, running until `shutdown`.
fn worker(engine: Arc<Engine>, queue: Arc<Recording>, concurrency: usize) -> Arc<Worker> {
    let registry = Arc::new(
        Registry::builtin(&CatalogConfig {
            http: HttpPolicy { allow_private: true },
        })
        .unwrap(),
    );
    Worker::new(
        engine,
        registry,
        queue,
        WorkerConfig {
            concurrency,
            // nothing is re-enqueued behind the test's back
            queued_grace: Duration::from_secs(3600),
            ..WorkerConfig::default()
        },
    )
}

async fn start(engine: &Engine, store: &orbflow_store::SeaStore, yaml: &str) -> (Uuid, Vec<Job>) {
    let version = register(store, "default", "fan", yaml).await;
    let (id, effects) = common::start_manual(engine, version, json!({})).await;
    (id, effects.jobs)
}

/// Step statuses of run `id`, by path.
async fn statuses(store: &orbflow_store::SeaStore, id: Uuid) -> Vec<(String, String)> {
    let (_, steps) = store.run_view(id).await.unwrap().unwrap();
    let mut s: Vec<_> = steps
        .iter()
        .map(|s| (s.path.clone(), s.status.as_str().to_owned()))
        .collect();
    s.sort();
    s
}

async fn until(what: &str, timeout: Duration, mut ok: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !ok() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

on_both!(an_idle_worker_takes_its_free_slots_in_one_pop_and_a_busy_one_nothing);
async fn an_idle_worker_takes_its_free_slots_in_one_pop_and_a_busy_one_nothing(db: TestDb) {
    let (engine, store) = engine_only(&db, EngineConfig::default()).await;
    let server = peer(Duration::from_millis(1500));
    let queue = Arc::new(Recording::default());
    let w = worker(engine.clone(), queue.clone(), 8);
    let handle = w.handle();
    let shutdown = CancellationToken::new();
    let running = tokio::spawn(w.run(shutdown.clone()));
    // the idle worker waits with all eight slots free
    until("the worker waits for 8 jobs", Duration::from_secs(10), || {
        queue.asked.lock().unwrap().first() == Some(&8)
    })
    .await;

    let (id, jobs) = start(&engine, &store, &fan_out(20, server.port)).await;
    assert_eq!(jobs.len(), 20, "a fan-out of twenty roots");
    handle
        .apply(orbflow_engine::Effects {
            jobs,
            ..Default::default()
        })
        .await;
    assert_eq!(queue.pushes.load(Ordering::SeqCst), 0, "the jobs went as one batch");
    assert_eq!(queue.batches.load(Ordering::SeqCst), 1);

    // eight calls in flight: the worker took no job it cannot start
    until("eight calls are in flight", Duration::from_secs(10), || {
        server.in_flight.load(Ordering::SeqCst) == 8
    })
    .await;
    assert_eq!(
        queue.inner.len(),
        12,
        "the twelve it cannot start yet wait in the queue for any worker"
    );
    assert_eq!(
        queue.pops.lock().unwrap().first(),
        Some(&(8, 8)),
        "eight jobs in the first pop"
    );

    let deadline = Instant::now() + Duration::from_secs(60);
    while statuses(&store, id).await.iter().any(|(_, s)| s != "COMPLETED") {
        assert!(
            Instant::now() < deadline,
            "the run did not finish: {:?}",
            statuses(&store, id).await
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (run, _) = store.run_view(id).await.unwrap().unwrap();
    assert_eq!(run.status.as_str(), "COMPLETED");
    assert_eq!(server.hits.load(Ordering::SeqCst), 20, "each call once");
    assert_eq!(
        server.peak.load(Ordering::SeqCst),
        8,
        "never more than the slots at once"
    );
    let pops = queue.pops.lock().unwrap().clone();
    for &(max, got) in &pops {
        assert!((1..=8).contains(&max), "asked for {max} with 8 slots: {pops:?}");
        assert!(got >= 1 && got <= max, "{got} jobs for max {max}: {pops:?}");
    }
    let popped = queue.popped.lock().unwrap().clone();
    for i in 0..20 {
        let n = popped.iter().filter(|p| **p == format!("s{i}")).count();
        assert_eq!(n, 1, "s{i} popped {n} times: {popped:?}");
    }
    assert!(pops.len() < 20, "batches, not one pop per job: {pops:?}");
    assert_eq!(queue.pushes.load(Ordering::SeqCst), 0, "no job pushed one at a time");

    shutdown.cancel();
    tokio::time::timeout(Duration::from_secs(10), running)
        .await
        .expect("an idle worker stops at once")
        .unwrap();
}

on_both!(jobs_taken_but_not_started_at_shutdown_go_back);
async fn jobs_taken_but_not_started_at_shutdown_go_back(db: TestDb) {
    let (engine, store) = engine_only(&db, EngineConfig::default()).await;
    let shutdown = CancellationToken::new();
    let queue = Arc::new(Recording {
        stop_on_pop: Some(shutdown.clone()),
        ..Recording::default()
    });
    let (id, jobs) = start(&engine, &store, &fan_out(5, 9)).await;
    assert_eq!(jobs.len(), 5);
    queue.inner.push_many(jobs.clone()).await;

    let w = worker(engine.clone(), queue.clone(), 8);
    tokio::time::timeout(Duration::from_secs(20), w.run(shutdown))
        .await
        .expect("the worker stops");

    assert_eq!(
        queue.pops.lock().unwrap().first(),
        Some(&(8, 5)),
        "the worker took the five jobs, then the shutdown came"
    );
    assert_eq!(queue.inner.len(), 5, "the five jobs are back in the queue");
    let mut back = tokio::time::timeout(Duration::from_secs(2), queue.inner.pop_many(100))
        .await
        .expect("jobs wait");
    back.sort_by(|a, b| a.path.cmp(&b.path));
    let mut expected = jobs;
    expected.sort_by(|a, b| a.path.cmp(&b.path));
    assert_eq!(
        back, expected,
        "every job taken but not started is back in the queue, once"
    );
    assert!(queue.inner.is_empty());
    for (path, status) in statuses(&store, id).await {
        if path != "done" {
            assert_eq!(status, "QUEUED", "{path} was never claimed");
        }
    }
}

on_both!(draining_records_what_runs_and_takes_nothing_more);
async fn draining_records_what_runs_and_takes_nothing_more(db: TestDb) {
    let (engine, store) = engine_only(&db, EngineConfig::default()).await;
    let server = peer(Duration::from_millis(1000));
    let queue = Arc::new(Recording::default());
    let (id, jobs) = start(&engine, &store, &fan_out(12, server.port)).await;
    queue.inner.push_many(jobs).await;
    let w = worker(engine.clone(), queue.clone(), 4);
    let shutdown = CancellationToken::new();
    let running = tokio::spawn(w.run(shutdown.clone()));
    until("four calls are in flight", Duration::from_secs(10), || {
        server.in_flight.load(Ordering::SeqCst) == 4
    })
    .await;
    shutdown.cancel();
    tokio::time::timeout(Duration::from_secs(20), running)
        .await
        .expect("the worker drains and stops")
        .unwrap();

    assert_eq!(
        server.hits.load(Ordering::SeqCst),
        4,
        "nothing started after the shutdown"
    );
    let s = statuses(&store, id).await;
    let count = |st: &str| s.iter().filter(|(p, x)| p != "done" && x == st).count();
    assert_eq!(count("COMPLETED"), 4, "the in-flight attempts recorded: {s:?}");
    assert_eq!(count("QUEUED"), 8, "the rest wait for another worker: {s:?}");
    assert_eq!(queue.inner.len(), 8, "and stay in the queue");
}
