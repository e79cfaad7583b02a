//! `cargo bench -p orbflow-worker --bench embedded` (or `just bench`):
//! steps per second on the embedded default (SQLite file, WAL,
//! synchronous=NORMAL, in-process worker) for a sequential chain at three
//! sizes and a fan-out + join, and the ready-to-start latency (a step's
//! `queued_at` to its `started_at`), median and p99.

use std::sync::Arc;
use std::time::{Duration, Instant};

use orbflow_actions::{CatalogConfig, Registry};
use orbflow_engine::store::Store;
use orbflow_engine::{Engine, EngineConfig, StartRun};
use orbflow_model::dsl::{self, Format};
use orbflow_store::testing::TestDb;
use orbflow_worker::{LocalQueue, Worker, WorkerConfig};
use serde_json::json;
use tokio_util::sync::CancellationToken;

struct Result {
    name: String,
    steps: usize,
    secs: f64,
    p50_ms: f64,
    p99_ms: f64,
}

async fn run_one(name: &str, yaml: &str, concurrency: usize) -> Result {
    let db = TestDb::sqlite();
    let store = orbflow_store::SeaStore::new(orbflow_store::connect(&db.url).await.expect("db"));
    let engine = Arc::new(Engine::new(store.clone(), EngineConfig::default()));
    let registry = Arc::new(Registry::builtin(&CatalogConfig::default()).expect("registry"));
    let worker = Worker::new(
        engine.clone(),
        registry,
        Arc::new(LocalQueue::new()),
        WorkerConfig {
            concurrency,
            ..WorkerConfig::default()
        },
    );
    let handle = worker.handle();
    let mut finished = handle.subscribe();
    let shutdown = CancellationToken::new();
    let task = tokio::spawn(worker.run(shutdown.clone()));
    let reg = Registry::specs_only().expect("catalog");
    let wf = dsl::load(yaml, Format::Yaml, &reg)
        .expect("valid bench workflow")
        .workflow;
    let version = store
        .ensure_version("bench", name, name, &serde_json::to_string(&wf).expect("json"))
        .await
        .expect("version");
    let t = Instant::now();
    let (id, effects) = engine
        .start_run(StartRun {
            version,
            input: json!({}),
            trigger_type: "manual".into(),
            trigger_data: None,
            idempotency_key: None,
        })
        .await
        .expect("start");
    handle.apply(effects).await;
    loop {
        match tokio::time::timeout(Duration::from_secs(600), finished.recv()).await {
            Ok(Ok((rid, _))) if rid == id => break,
            Ok(_) => {}
            Err(_) => panic!("{name} did not finish in 600s"),
        }
    }
    let secs = t.elapsed().as_secs_f64();
    shutdown.cancel();
    let _ = task.await;
    let (run, steps) = store.run_view(id).await.expect("view").expect("run");
    assert_eq!(run.status.as_str(), "COMPLETED", "{name}: {:?}", run.error);
    let mut lat: Vec<f64> = steps
        .iter()
        .filter_map(|s| Some((s.started_at? - s.queued_at?).num_microseconds()? as f64 / 1000.0))
        .collect();
    lat.sort_by(|a, b| a.total_cmp(b));
    let pct = |p: f64| {
        lat.get(((lat.len() as f64 - 1.0) * p).round() as usize)
            .copied()
            .unwrap_or(0.0)
    };
    let actions = steps.iter().filter(|s| s.queued_at.is_some()).count();
    Result {
        name: name.to_owned(),
        steps: actions,
        secs,
        p50_ms: pct(0.5),
        p99_ms: pct(0.99),
    }
}

fn chain(n: usize) -> String {
    let mut y = String::from("schemaVersion: 1\nname: chain\nsteps:\n");
    for i in 0..n {
        y.push_str(&format!(
            "  - {{key: s{i}, action: TRANSFORM, config: {{value: {i}}}}}\n"
        ));
    }
    y
}

fn fan(n: usize) -> String {
    let mut y =
        String::from("schemaVersion: 1\nname: fan\nsteps:\n  - {key: root, action: TRANSFORM, config: {value: 0}}\n");
    for i in 0..n {
        y.push_str(&format!(
            "  - {{key: f{i}, dependsOn: [root], action: TRANSFORM, config: {{value: {i}}}}}\n"
        ));
    }
    let deps: Vec<String> = (0..n).map(|i| format!("f{i}")).collect();
    y.push_str(&format!(
        "  - {{key: join, dependsOn: [{}], action: TRANSFORM, config: {{value: done}}}}\n",
        deps.join(", ")
    ));
    y
}

fn looped(n: usize) -> String {
    format!(
        "schemaVersion: 1\nname: loop\nsteps:\n  - key: each\n    type: loop\n    forEach: 'lists.range({n})'\n    maxConcurrency: 8\n    steps:\n      - {{key: body, action: TRANSFORM, config: {{value: '{{{{ item }}}}'}}}}\n"
    )
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let mut cases: Vec<(String, String, usize)> = vec![
        ("chain-100".into(), chain(100), 1),
        ("chain-1000".into(), chain(1000), 1),
        ("fan-out-1000+join".into(), fan(1000), 8),
        ("loop-1000".into(), looped(1000), 8),
    ];
    if !quick {
        cases.push(("loop-10000".into(), looped(10_000), 8));
    }
    println!(
        "{:<20} {:>7} {:>9} {:>10} {:>9} {:>9}",
        "workload", "steps", "seconds", "steps/s", "p50 ms", "p99 ms"
    );
    for (name, yaml, conc) in cases {
        let r = rt.block_on(run_one(&name, &yaml, conc));
        println!(
            "{:<20} {:>7} {:>9.3} {:>10.0} {:>9.3} {:>9.3}",
            r.name,
            r.steps,
            r.secs,
            r.steps as f64 / r.secs,
            r.p50_ms,
            r.p99_ms
        );
    }
}
