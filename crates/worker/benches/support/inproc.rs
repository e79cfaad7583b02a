//! One workload on an engine and worker in this process (the embedded
//! default on SQLite, or the same over Postgres to count SQL statements),
//! and the helpers the fleet bench shares: the version, the start request,
//! the figures read back from the store.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use orbflow_actions::net::HttpPolicy;
use orbflow_actions::{CatalogConfig, Registry};
use orbflow_engine::queue::Dispatch;
use orbflow_engine::store::{Store, VersionRecord};
use orbflow_engine::{Engine, StartRun};
use orbflow_model::RunStatus;
use orbflow_model::dsl::{self, Format};
use orbflow_store::SeaStore;
use orbflow_worker::Embedded;
use tokio::sync::broadcast::{self, error::RecvError};
use uuid::Uuid;

use super::stats::{Figures, Outcome, Pct, latencies};
use super::workloads::Workload;

/// SQL statements seen by a connection's metric callback, by kind, between
/// [`SqlCounter::reset`] and [`SqlCounter::stop`]. (SeaORM reports every
/// statement it sends, not BEGIN and COMMIT.)
#[derive(Debug, Default)]
pub(crate) struct SqlCounter {
    active: AtomicBool,
    select: AtomicU64,
    insert: AtomicU64,
    update: AtomicU64,
    delete: AtomicU64,
    other: AtomicU64,
    locking_reads: AtomicU64,
}

/// A snapshot of a [`SqlCounter`].
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct SqlCounts {
    pub(crate) select: u64,
    pub(crate) insert: u64,
    pub(crate) update: u64,
    pub(crate) delete: u64,
    pub(crate) other: u64,
    /// Reads that lock rows (`… FOR UPDATE`, of runs or of steps).
    pub(crate) locking_reads: u64,
}

impl SqlCounts {
    /// Every statement.
    pub(crate) fn total(&self) -> u64 {
        self.select + self.insert + self.update + self.delete + self.other
    }
}

impl SqlCounter {
    fn record(&self, sql: &str) {
        if !self.active.load(Ordering::Relaxed) {
            return;
        }
        let head = sql.trim_start().get(..6).unwrap_or("").to_ascii_uppercase();
        let kind = match head.as_str() {
            "SELECT" => &self.select,
            "INSERT" => &self.insert,
            "UPDATE" => &self.update,
            "DELETE" => &self.delete,
            _ => &self.other,
        };
        kind.fetch_add(1, Ordering::Relaxed);
        if sql.contains("FOR UPDATE") {
            self.locking_reads.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Starts counting again from zero.
    pub(crate) fn reset(&self) {
        for c in [
            &self.select,
            &self.insert,
            &self.update,
            &self.delete,
            &self.other,
            &self.locking_reads,
        ] {
            c.store(0, Ordering::Relaxed);
        }
        self.active.store(true, Ordering::Relaxed);
    }

    /// Stops counting.
    pub(crate) fn stop(&self) {
        self.active.store(false, Ordering::Relaxed);
    }

    /// The counts so far.
    pub(crate) fn snapshot(&self) -> SqlCounts {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        SqlCounts {
            select: get(&self.select),
            insert: get(&self.insert),
            update: get(&self.update),
            delete: get(&self.delete),
            other: get(&self.other),
            locking_reads: get(&self.locking_reads),
        }
    }
}

/// Where and how to run a workload in this process.
#[derive(Debug, Clone)]
pub(crate) struct InProc<'a> {
    /// Database URL (SQLite file or Postgres schema; migrated on connect).
    pub(crate) url: &'a str,
    /// Worker tasks.
    pub(crate) concurrency: usize,
    /// Give up (and report a timeout) after this long.
    pub(crate) timeout: Duration,
    /// Count the statements of the runs (from their start) here.
    pub(crate) sql: Option<Arc<SqlCounter>>,
}

/// Stores `workload`'s workflow as a version.
pub(crate) async fn version(store: &SeaStore, workload: &Workload) -> Result<VersionRecord, String> {
    let catalog = Registry::specs_only().map_err(|e| format!("catalog: {e}"))?;
    let wf = dsl::load(&workload.yaml, Format::Yaml, &catalog)
        .map_err(|e| format!("{}: invalid workflow: {e:?}", workload.name))?
        .workflow;
    let doc = serde_json::to_string(&wf).map_err(|e| e.to_string())?;
    store
        .ensure_version("bench", &workload.name, &workload.name, &doc)
        .await
        .map_err(|e| format!("version: {e}"))
}

/// A manual start of `version` with an empty input.
pub(crate) fn start(version: &VersionRecord) -> StartRun {
    StartRun {
        version: version.clone(),
        input: serde_json::json!({}),
        trigger_type: orbflow_model::TriggerType::Manual,
        trigger_data: None,
        idempotency_key: None,
        trace_parent: None,
    }
}

/// Reads the finished runs `ids` back: figures (without `secs`) and the
/// last `ended_at`; an error unless every run COMPLETED.
pub(crate) async fn collect(
    store: &SeaStore,
    workload: &Workload,
    ids: &[Uuid],
) -> Result<(Figures, Option<DateTime<Utc>>), String> {
    let (mut ready, mut step_to_step, mut steps, mut last) = (Vec::new(), Vec::new(), 0, None);
    for id in ids {
        let (run, rows) = store
            .run_view(*id)
            .await
            .map_err(|e| format!("run view: {e}"))?
            .ok_or("run vanished")?;
        if run.status != RunStatus::Completed {
            return Err(format!("run {}: {:?}", run.status.as_str(), run.error));
        }
        last = last.max(run.ended_at);
        steps += rows.iter().filter(|s| s.queued_at.is_some()).count();
        let (r, s) = latencies(workload.shape, &rows);
        ready.extend(r);
        step_to_step.extend(s);
    }
    let figures = Figures {
        runs: ids.len(),
        steps,
        ready: Pct::of(ready),
        step_to_step: Pct::of(step_to_step),
        ..Figures::default()
    };
    Ok((figures, last))
}

/// Runs `workload` in this process; every run started at once.
pub(crate) async fn run(workload: &Workload, setup: &InProc<'_>) -> Outcome {
    match try_run(workload, setup).await {
        Ok(outcome) => outcome,
        Err(e) => Outcome::Failed(e),
    }
}

async fn try_run(workload: &Workload, setup: &InProc<'_>) -> Result<Outcome, String> {
    let mut conn = orbflow_store::connect(setup.url)
        .await
        .map_err(|e| format!("connect: {e}"))?;
    if let Some(counter) = setup.sql.clone() {
        conn.set_metric_callback(move |info| counter.record(&info.statement.sql));
    }
    let embedded = Embedded::builder()
        .connection(conn)
        .catalog(CatalogConfig {
            http: HttpPolicy { allow_private: true },
        })
        .concurrency(setup.concurrency)
        .build()
        .await
        .map_err(|e| format!("embedded: {e}"))?;
    let (store, engine) = (embedded.store(), embedded.engine());
    let mut finished = embedded.worker().subscribe();
    let version = version(store, workload).await?;
    if let Some(counter) = &setup.sql {
        counter.reset();
    }
    let t = Instant::now();
    let ids = start_all(engine, &version, workload.runs, embedded.dispatch()).await?;
    let done = wait_all(&mut finished, &ids, t + setup.timeout, store).await;
    let secs = t.elapsed().as_secs_f64();
    if let Some(counter) = &setup.sql {
        counter.stop();
    }
    let _ = tokio::time::timeout(Duration::from_secs(10), embedded.shutdown()).await;
    if !done {
        return Ok(Outcome::Timeout);
    }
    let (figures, _) = collect(store, workload, &ids).await?;
    Ok(Outcome::Done(Figures { secs, ..figures }))
}

/// Runs started at once by [`start_all`], as concurrent API requests or
/// trigger firings would start them.
pub(crate) const STARTS_AT_ONCE: usize = 32;

/// Starts `runs` runs of `version`, [`STARTS_AT_ONCE`] at a time, handing
/// each start's jobs to `dispatch` as soon as it commits; the run ids in
/// start order.
pub(crate) async fn start_all(
    engine: &Arc<Engine>,
    version: &VersionRecord,
    runs: usize,
    dispatch: Arc<dyn Dispatch>,
) -> Result<Vec<Uuid>, String> {
    let gate = Arc::new(tokio::sync::Semaphore::new(STARTS_AT_ONCE));
    let mut starts = tokio::task::JoinSet::new();
    for i in 0..runs {
        let (engine, dispatch, req) = (engine.clone(), dispatch.clone(), start(version));
        let permit = gate.clone().acquire_owned().await.map_err(|e| e.to_string())?;
        starts.spawn(async move {
            let (id, effects) = engine.start_run(req).await.map_err(|e| format!("start: {e}"))?;
            drop(permit);
            dispatch.apply(effects).await;
            Ok::<_, String>((i, id))
        });
    }
    let mut ids = vec![Uuid::nil(); runs];
    while let Some(r) = starts.join_next().await {
        let (i, id) = r.map_err(|e| format!("start: {e}"))??;
        ids[i] = id;
    }
    Ok(ids)
}

/// Waits until every run of `ids` has finished (true) or `deadline` passed.
async fn wait_all(
    finished: &mut broadcast::Receiver<(Uuid, RunStatus)>,
    ids: &[Uuid],
    deadline: Instant,
    store: &SeaStore,
) -> bool {
    let mut left: HashSet<Uuid> = ids.iter().copied().collect();
    while !left.is_empty() {
        match tokio::time::timeout_at(deadline.into(), finished.recv()).await {
            Err(_) | Ok(Err(RecvError::Closed)) => return false,
            Ok(Ok((id, _))) => {
                left.remove(&id);
            }
            Ok(Err(RecvError::Lagged(_))) => {
                // notifications were dropped: ask the store which are left
                let Ok(unfinished) = store.unfinished_runs().await else {
                    continue;
                };
                let unfinished: HashSet<Uuid> = unfinished.into_iter().collect();
                left.retain(|id| unfinished.contains(id));
            }
        }
    }
    true
}
