//! One workload on the fleet: a fresh Postgres schema and Redis key prefix,
//! N release-built `orbflow worker --concurrency 8` processes, the runs
//! started through the engine and the Redis queue (as the API does), 32 at
//! a time.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use orbflow_engine::queue::QueueDispatch;
use orbflow_engine::store::Store;
use orbflow_engine::{Engine, EngineConfig};
use orbflow_testkit::TestDb;

use crate::support::inproc;
use crate::support::stats::{Figures, Outcome, peak_rss_kib};
use crate::support::workloads::Workload;

/// What to run on the fleet.
#[derive(Debug, Clone)]
pub(crate) struct FleetCase<'a> {
    /// The workload.
    pub(crate) workload: &'a Workload,
    /// `orbflow worker` processes.
    pub(crate) workers: usize,
    /// Redis URL (the database comes from `ORBFLOW_TEST_DATABASE_URL`).
    pub(crate) redis: &'a str,
    /// Give up after this long.
    pub(crate) timeout: Duration,
}

/// The worker processes; killed when dropped.
struct Workers(Vec<Child>);

/// What a worker prints on stderr once it claims jobs.
const READY: &str = "attempts at once";

impl Workers {
    /// Starts `case.workers` workers on `db_url` and `prefix`, and waits
    /// until each says it is running.
    fn start(case: &FleetCase<'_>, db_url: &str, prefix: &str) -> Result<Self, String> {
        let mut workers = Self(Vec::new());
        let (tx, rx) = mpsc::channel();
        for _ in 0..case.workers {
            let mut child = Command::new(env!("CARGO_BIN_EXE_orbflow"))
                .args(["worker", "--concurrency", "8"])
                .env("ORBFLOW_DATABASE_URL", db_url)
                .env("ORBFLOW_REDIS_URL", case.redis)
                .env("ORBFLOW_REDIS_PREFIX", prefix)
                .env("ORBFLOW_HTTP_ALLOW_PRIVATE", "true")
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .map_err(|e| format!("spawn orbflow worker: {e}"))?;
            let stderr = child.stderr.take().ok_or("no stderr")?;
            workers.0.push(child);
            let tx = tx.clone();
            std::thread::spawn(move || watch(stderr, &tx));
        }
        for _ in 0..case.workers {
            match rx.recv_timeout(Duration::from_secs(30)) {
                Ok(Ok(())) => {}
                Ok(Err(last)) => return Err(format!("a worker exited: {last}")),
                Err(_) => return Err("a worker did not start within 30 s".into()),
            }
        }
        Ok(workers)
    }

    /// The largest peak RSS of the workers.
    fn peak_rss_kib(&self) -> Option<u64> {
        self.0.iter().filter_map(|c| peak_rss_kib(c.id())).max()
    }
}

impl Drop for Workers {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Reads a worker's stderr to its end: reports `Ok` once it is running, or
/// its last lines if it ends before.
fn watch(stderr: std::process::ChildStderr, tx: &mpsc::Sender<Result<(), String>>) {
    let mut last: Vec<String> = Vec::new();
    let mut ready = false;
    for line in BufReader::new(stderr).lines().map_while(Result::ok) {
        if !ready && line.contains(READY) {
            ready = true;
            let _ = tx.send(Ok(()));
        }
        if !ready {
            last.push(line);
            if last.len() > 5 {
                last.remove(0);
            }
        }
    }
    if !ready {
        let _ = tx.send(Err(last.join(" | ")));
    }
}

/// Runs `case`; every run started at once, timed from the first start to
/// the last run's `ended_at`.
pub(crate) async fn run(case: &FleetCase<'_>) -> Outcome {
    match try_run(case).await {
        Ok(outcome) => outcome,
        Err(e) => Outcome::Failed(e),
    }
}

async fn try_run(case: &FleetCase<'_>) -> Result<Outcome, String> {
    let db = TestDb::postgres().await.ok_or("ORBFLOW_TEST_DATABASE_URL is not set")?;
    let prefix = format!("orbflow-bench-{}:", uuid::Uuid::now_v7().simple());
    let conn = orbflow_store::connect(&db.url)
        .await
        .map_err(|e| format!("connect: {e}"))?;
    let store = orbflow_store::SeaStore::new(conn);
    let workers = Workers::start(case, &db.url, &prefix)?;
    let version = inproc::version(&store, case.workload).await?;
    let engine = std::sync::Arc::new(Engine::new(store.clone(), EngineConfig::default()));
    let queue = orbflow_queue::RedisQueue::connect(case.redis, &prefix)
        .await
        .map_err(|e| format!("redis: {e}"))?;
    let t = Instant::now();
    let started = chrono::Utc::now();
    let dispatch = std::sync::Arc::new(QueueDispatch(std::sync::Arc::new(queue)));
    let ids = inproc::start_all(&engine, &version, case.workload.runs, dispatch).await?;
    eprintln!(
        "  {} x{}: {} runs started in {:.3} s",
        case.workload.name,
        case.workers,
        ids.len(),
        t.elapsed().as_secs_f64()
    );
    loop {
        let left = store.unfinished_runs().await.map_err(|e| format!("poll: {e}"))?;
        if left.is_empty() {
            break;
        }
        if t.elapsed() > case.timeout {
            return Ok(Outcome::Timeout);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let polled = t.elapsed().as_secs_f64();
    let rss_kib = workers.peak_rss_kib();
    drop(workers);
    let (figures, last) = inproc::collect(&store, case.workload, &ids).await?;
    let secs = last
        .and_then(|end| (end - started).num_microseconds())
        .map_or(polled, |us| us as f64 / 1e6);
    Ok(Outcome::Done(Figures {
        secs,
        rss_kib,
        ..figures
    }))
}
