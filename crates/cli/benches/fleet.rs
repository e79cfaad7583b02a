//! `cargo bench -p orbflow-cli --bench fleet` (part of `just bench`): the
//! fleet on the machine's Postgres and Redis (ORBFLOW_TEST_DATABASE_URL,
//! ORBFLOW_TEST_REDIS_URL; a fresh schema and key prefix), with 1, 2 and 4
//! `orbflow worker` processes: steps/s for a 1,000-step chain and a 1,000-step
//! fan-out + join, ready-to-start latency (queued_at → started_at) p50/p99,
//! and the workers' peak RSS. Also the machine's own limits, measured in the
//! same run: pgbench single-row commits/s and redis-benchmark SET/LPUSH/s.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use orbflow_engine::queue::Queue;
use orbflow_engine::store::Store;
use orbflow_store::testing::TestDb;

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

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .map(|l| l.split_whitespace().nth(1).unwrap_or("0").parse().unwrap_or(0))
        })
        .unwrap_or(0)
}

async fn one(workers: usize, name: &str, yaml: &str, redis: &str) -> Option<String> {
    let db = TestDb::postgres().await?;
    let prefix = format!("orbflow-bench-{}:", uuid::Uuid::now_v7().simple());
    let store = orbflow_store::SeaStore::new(orbflow_store::connect(&db.url).await.ok()?);
    let mut procs: Vec<Child> = (0..workers)
        .map(|_| {
            Command::new(env!("CARGO_BIN_EXE_orbflow"))
                .args(["worker", "--concurrency", "8"])
                .env("ORBFLOW_DATABASE_URL", &db.url)
                .env("ORBFLOW_REDIS_URL", redis)
                .env("ORBFLOW_REDIS_PREFIX", &prefix)
                .stderr(Stdio::null())
                .spawn()
                .expect("worker")
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let reg = orbflow_actions::Registry::specs_only().ok()?;
    let wf = orbflow_model::dsl::load(yaml, orbflow_model::dsl::Format::Yaml, &reg)
        .ok()?
        .workflow;
    let version = store
        .ensure_version("bench", name, name, &serde_json::to_string(&wf).ok()?)
        .await
        .ok()?;
    let engine = orbflow_engine::Engine::new(store.clone(), orbflow_engine::EngineConfig::default());
    let queue = orbflow_queue::RedisQueue::connect(redis, &prefix).await.ok()?;
    let t = Instant::now();
    let (id, effects) = engine
        .start_run(orbflow_engine::StartRun {
            version,
            input: serde_json::json!({}),
            trigger_type: "manual".into(),
            trigger_data: None,
            idempotency_key: None,
        })
        .await
        .ok()?;
    for j in effects.jobs {
        queue.push(j).await;
    }
    let (run, steps) = loop {
        let (run, steps) = store.run_view(id).await.ok()??;
        if run.status.is_terminal() {
            break (run, steps);
        }
        assert!(t.elapsed() < Duration::from_secs(600), "{name} did not finish");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let secs = t.elapsed().as_secs_f64();
    assert_eq!(run.status.as_str(), "COMPLETED");
    let rss: Vec<u64> = procs.iter().map(|p| rss_kib(p.id())).collect();
    for p in &mut procs {
        let _ = p.kill();
        let _ = p.wait();
    }
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
    let n = steps.len();
    Some(format!(
        "{name:<18} {workers:>7} {n:>6} {secs:>8.3} {:>8.0} {:>9.3} {:>9.3} {:>9}",
        n as f64 / secs,
        pct(0.5),
        pct(0.99),
        rss.iter().max().copied().unwrap_or(0) / 1024
    ))
}

fn machine_limits(db_url: &str) {
    // pgbench: single-row INSERT commits per second, 2 clients, 10 s
    let script = std::env::temp_dir().join("orbflow-pgbench.sql");
    let _ = std::fs::write(&script, "INSERT INTO orbflow_bench_t (v) VALUES (1);\n");
    let psql = |sql: &str| {
        Command::new("psql")
            .args([db_url, "-qc", sql])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
    };
    let _ = psql("CREATE TABLE IF NOT EXISTS orbflow_bench_t (id bigserial primary key, v int)");
    if let Ok(out) = Command::new("pgbench")
        .args(["-n", "-c", "2", "-j", "2", "-T", "10", "-f"])
        .arg(&script)
        .arg(db_url)
        .output()
    {
        let text = String::from_utf8_lossy(&out.stdout);
        if let Some(l) = text.lines().find(|l| l.starts_with("tps")) {
            println!("pgbench single-row commits (2 clients, 10 s): {l}");
        }
    }
    let _ = psql("DROP TABLE IF EXISTS orbflow_bench_t");
    if let Ok(out) = Command::new("redis-benchmark")
        .args(["-h", "127.0.0.1", "-p", "6379", "-n", "200000", "-q", "-t", "set,lpush"])
        .output()
    {
        for l in String::from_utf8_lossy(&out.stdout)
            .split('\r')
            .flat_map(|s| s.lines())
            .filter(|l| l.contains("requests per second"))
        {
            println!("redis-benchmark {}", l.trim());
        }
    }
}

fn main() {
    let (Ok(db), Ok(redis)) = (
        std::env::var("ORBFLOW_TEST_DATABASE_URL"),
        std::env::var("ORBFLOW_TEST_REDIS_URL"),
    ) else {
        println!("skipped: the fleet bench needs ORBFLOW_TEST_DATABASE_URL and ORBFLOW_TEST_REDIS_URL");
        return;
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    println!(
        "{:<18} {:>7} {:>6} {:>8} {:>8} {:>9} {:>9} {:>9}",
        "workload", "workers", "steps", "seconds", "steps/s", "p50 ms", "p99 ms", "RSS MiB"
    );
    for workers in [1, 2, 4] {
        for (name, yaml) in [("chain-1000", chain(1000)), ("fan-out-1000+join", fan(1000))] {
            if let Some(line) = rt.block_on(one(workers, name, &yaml, &redis)) {
                println!("{line}");
            }
        }
    }
    machine_limits(&db);
}
