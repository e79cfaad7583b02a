//! The fleet against the machine's real Postgres and Redis, with the
//! daemons as child processes on 127.0.0.1: several workers, `orbflow run`
//! submitting to them, a worker killed while it holds a step, a paused
//! worker's late write fenced off, and Redis losing its queue.
//! Each test gets its own Postgres schema and Redis key prefix. Without
//! ORBFLOW_TEST_DATABASE_URL / ORBFLOW_TEST_REDIS_URL the tests say they
//! were skipped; under CI=true they must run.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use orbflow_engine::store::Store;
use orbflow_testkit::TestDb;
use orbflow_testkit::daemon::{self, redis_url};
use orbflow_testkit::peer::{counting_slow_server, hanging_server, slow_server};

struct Fleet {
    db: TestDb,
    redis: String,
    prefix: String,
    workers: Vec<Child>,
    dir: PathBuf,
}

impl Fleet {
    async fn new() -> Option<Self> {
        let redis = redis_url()?;
        let db = TestDb::postgres().await?;
        let id = uuid::Uuid::now_v7().simple().to_string();
        let dir = std::env::temp_dir().join(format!("orbflow-fleet-{id}"));
        std::fs::create_dir_all(&dir).unwrap();
        let f = Self {
            db,
            redis,
            prefix: format!("orbflow-test-{id}:"),
            workers: Vec::new(),
            dir,
        };
        let st = f.cmd(&["migrate"]).stderr(Stdio::null()).status().unwrap();
        assert!(st.success(), "orbflow migrate");
        Some(f)
    }

    /// The daemons' database URL: tagged with an application name so a test
    /// can cut exactly its own connections.
    fn daemon_url(&self) -> String {
        format!("{}&application_name={}", self.db.url, self.app())
    }

    fn app(&self) -> String {
        self.prefix.trim_end_matches(':').replace('-', "_")
    }

    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = daemon::orbflow();
        c.args(args)
            .env("ORBFLOW_DATABASE_URL", self.daemon_url())
            .env("ORBFLOW_REDIS_URL", &self.redis)
            .env("ORBFLOW_REDIS_PREFIX", &self.prefix)
            .env("ORBFLOW_HTTP_ALLOW_PRIVATE", "true")
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        c
    }

    fn worker(&mut self, extra: &[&str]) -> usize {
        let mut args = vec!["worker", "--concurrency", "4"];
        args.extend_from_slice(extra);
        self.workers.push(self.cmd(&args).spawn().unwrap());
        self.workers.len() - 1
    }

    fn write(&self, name: &str, yaml: &str) -> String {
        let p = self.dir.join(name);
        std::fs::write(&p, yaml).unwrap();
        p.to_string_lossy().into_owned()
    }

    async fn store(&self) -> Arc<orbflow_store::SeaStore> {
        orbflow_store::SeaStore::new(orbflow_store::connect(&self.db.url).await.unwrap())
    }
}

impl Drop for Fleet {
    fn drop(&mut self) {
        for w in &mut self.workers {
            let _ = Command::new("kill")
                .args(["-CONT", &w.id().to_string()])
                .stderr(Stdio::null())
                .status();
        }
        daemon::stop_all(&mut self.workers);
        let _ = std::fs::remove_dir_all(&self.dir);
        daemon::clear_redis_prefix(&self.redis, &self.prefix);
    }
}

async fn single_run(store: &orbflow_store::SeaStore) -> Option<uuid::Uuid> {
    use sea_orm::EntityTrait;
    orbflow_store::entity::workflow_runs::Entity::find()
        .one(store.connection())
        .await
        .ok()
        .flatten()
        .map(|r| r.id)
}

async fn wait_step(
    store: &orbflow_store::SeaStore,
    path: &str,
    status: &str,
    limit: Duration,
) -> orbflow_engine::store::StepRecord {
    let start = Instant::now();
    loop {
        if let Some(id) = single_run(store).await
            && let Some((_, steps)) = store.run_view(id).await.unwrap()
            && let Some(s) = steps
                .into_iter()
                .find(|s| s.path == path && s.status.as_str() == status)
        {
            return s;
        }
        assert!(start.elapsed() < limit, "{path} never became {status}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_workers_run_concurrent_fan_out_fan_in_runs() {
    let Some(mut f) = Fleet::new().await else { return };
    f.worker(&[]);
    f.worker(&[]);
    // one worker records every pure step in a transaction of its own
    f.worker(&["--inline-window-ms", "0", "--inline-batch", "1"]);
    let yaml = fan("fan", 18, |i| i.to_string());
    let wf = f.write("fan.yaml", &yaml);
    let runs: Vec<Child> = (0..10)
        .map(|_| {
            f.cmd(&["run", &wf, "--output", "json"])
                .stdout(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for r in runs {
        let out = r.wait_with_output().unwrap();
        assert_eq!(out.status.code(), Some(0));
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(v["status"], "COMPLETED");
        let steps = v["steps"].as_object().unwrap();
        assert_eq!(steps.len(), 20);
        for (k, s) in steps {
            assert_eq!(s["status"], "COMPLETED", "{k}");
            assert_eq!(s["attempts"], 1, "{k} ran once");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_workers_step_is_redelivered_after_its_lease() {
    let Some(mut f) = Fleet::new().await else { return };
    let port = slow_server(Duration::from_millis(1500));
    let wf = f.write("slow.yaml", &format!("schemaVersion: 1\nname: slow\nsteps:\n  - {{key: call, action: TRIGGER_WEBHOOK, config: {{url: 'http://127.0.0.1:{port}/'}}}}\n  - {{key: after, action: TRANSFORM, config: {{value: 1}}}}\n"));
    let a = f.worker(&["--lease-secs", "2"]);
    let run = f
        .cmd(&["run", &wf, "--output", "json"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let store = f.store().await;
    let held = wait_step(&store, "call", "RUNNING", Duration::from_secs(30)).await;
    f.workers[a].kill().unwrap(); // SIGKILL while it holds the step
    f.workers[a].wait().unwrap();
    f.worker(&["--lease-secs", "2"]);
    let out = run.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["status"], "COMPLETED");
    assert_eq!(
        v["steps"]["call"]["attempts"], 2,
        "re-delivered once after the lease expired"
    );
    let id = single_run(&store).await.unwrap();
    let logs = store.logs(id).await.unwrap();
    assert!(logs.iter().any(|l| l.message.contains("lease expired")), "{logs:?}");
    assert!(held.lease_token.is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paused_workers_late_write_is_fenced_off() {
    let Some(mut f) = Fleet::new().await else { return };
    let port = slow_server(Duration::from_millis(800));
    let wf = f.write("slow.yaml", &format!("schemaVersion: 1\nname: slow\nsteps:\n  - {{key: call, action: TRIGGER_WEBHOOK, config: {{url: 'http://127.0.0.1:{port}/'}}}}\n"));
    let a = f.worker(&["--lease-secs", "1"]);
    let run = f
        .cmd(&["run", &wf, "--output", "json"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let store = f.store().await;
    let first = wait_step(&store, "call", "RUNNING", Duration::from_secs(30)).await;
    let pid = f.workers[a].id().to_string();
    assert!(Command::new("kill").args(["-STOP", &pid]).status().unwrap().success());
    // past the lease another worker re-runs the step and finishes the run
    f.worker(&["--lease-secs", "1"]);
    let out = run.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["steps"]["call"]["attempts"], 2);
    // the paused worker wakes up and writes back attempt 1: rejected
    assert!(Command::new("kill").args(["-CONT", &pid]).status().unwrap().success());
    let id = single_run(&store).await.unwrap();
    let start = Instant::now();
    loop {
        let logs = store.logs(id).await.unwrap();
        if logs
            .iter()
            .any(|l| l.message.contains("stale write-back rejected") && l.attempt == Some(first.attempt))
        {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "the late write was not seen: {logs:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (run, steps) = store.run_view(id).await.unwrap().unwrap();
    assert_eq!(run.status.as_str(), "COMPLETED");
    assert_eq!(steps[0].attempt, 2, "the late write changed nothing");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_finish_after_redis_loses_the_queue() {
    let Some(mut f) = Fleet::new().await else { return };
    let mut yaml = String::from("schemaVersion: 1\nname: chain\nsteps:\n");
    for i in 0..5 {
        yaml.push_str(&format!(
            "  - {{key: s{i}, action: TRANSFORM, config: {{value: {i}}}}}\n"
        ));
    }
    let wf = f.write("chain.yaml", &yaml);
    // submit while no worker runs, then drop every key of this deployment
    let runs: Vec<Child> = (0..5)
        .map(|_| {
            f.cmd(&["run", &wf, "--output", "json"])
                .stdout(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let store = f.store().await;
    let start = Instant::now();
    loop {
        use sea_orm::{EntityTrait, PaginatorTrait};
        let n = orbflow_store::entity::workflow_runs::Entity::find()
            .count(store.connection())
            .await
            .unwrap();
        if n == 5 {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(30), "runs were not submitted");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let client = redis::Client::open(f.redis.as_str()).unwrap();
    let mut c = client.get_connection().unwrap();
    let keys: Vec<String> = redis::cmd("KEYS").arg(format!("{}*", f.prefix)).query(&mut c).unwrap();
    assert!(!keys.is_empty(), "the jobs were in Redis");
    let _: i64 = redis::cmd("DEL").arg(keys).query(&mut c).unwrap();
    // the workers' reconciler finds the QUEUED steps in Postgres
    f.worker(&["--queued-grace-secs", "1"]);
    f.worker(&["--queued-grace-secs", "1"]);
    for r in runs {
        let out = r.wait_with_output().unwrap();
        assert_eq!(out.status.code(), Some(0));
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(v["status"], "COMPLETED");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_leader_scheduler_is_replaced_and_no_tick_is_fired_twice_or_lost() {
    let Some(mut f) = Fleet::new().await else { return };
    let store = f.store().await;
    let reg = orbflow_actions::Registry::specs_only().unwrap();
    let wf = orbflow_model::dsl::load(
        "schemaVersion: 1\nname: tick\ntriggers: [{type: schedule, cron: '* * * * * *'}]\nsteps:\n  - {key: a, action: TRANSFORM, config: {value: '{{ trigger.data.firedAt }}'}}\n",
        orbflow_model::dsl::Format::Yaml,
        &reg,
    )
    .unwrap()
    .workflow;
    store
        .ensure_version("default", "tick", "tick", &serde_json::to_string(&wf).unwrap())
        .await
        .unwrap();
    f.worker(&[]);
    let s1 = f.cmd(&["scheduler", "--leader-lease-secs", "2"]).spawn().unwrap();
    let s2 = f.cmd(&["scheduler", "--leader-lease-secs", "2"]).spawn().unwrap();
    f.workers.push(s1);
    f.workers.push(s2);
    tokio::time::sleep(Duration::from_secs(3)).await;
    // find and kill -9 the leader
    let client = redis::Client::open(f.redis.as_str()).unwrap();
    let mut c = client.get_connection().unwrap();
    let holder: String = redis::cmd("GET")
        .arg(format!("{}lease:scheduler-leader", f.prefix))
        .query(&mut c)
        .unwrap();
    let pid: u32 = holder.split('-').nth(1).unwrap().parse().unwrap();
    let idx = f
        .workers
        .iter()
        .position(|w| w.id() == pid)
        .expect("the leader is one of ours");
    f.workers[idx].kill().unwrap();
    f.workers[idx].wait().unwrap();
    tokio::time::sleep(Duration::from_secs(5)).await;
    // stop the survivors, then count runs per tick
    for w in &mut f.workers {
        let _ = Command::new("kill")
            .args(["-TERM", &w.id().to_string()])
            .stderr(Stdio::null())
            .status();
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    use sea_orm::EntityTrait;
    let runs = orbflow_store::entity::workflow_runs::Entity::find()
        .all(store.connection())
        .await
        .unwrap();
    let mut ticks: Vec<chrono::DateTime<chrono::Utc>> = runs
        .iter()
        .map(|r| {
            r.trigger_data.as_ref().unwrap()["firedAt"]
                .as_str()
                .unwrap()
                .parse()
                .unwrap()
        })
        .collect();
    ticks.sort();
    let n = ticks.len();
    ticks.dedup();
    assert_eq!(ticks.len(), n, "a tick was fired twice");
    assert!(n >= 6, "only {n} ticks in ~8s");
    for w in ticks.windows(2) {
        assert_eq!(
            (w[1] - w[0]).num_seconds(),
            1,
            "a tick was lost between {} and {}",
            w[0],
            w[1]
        );
    }
    assert!(runs.iter().all(|r| r.trigger_type == "schedule"));
}

fn http_get(port: u16, path: &str) -> Option<String> {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.write_all(format!("GET {path} HTTP/1.1\r\nhost: x\r\n\r\n").as_bytes())
        .ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    Some(out)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn daemons_serve_health_and_readiness() {
    let Some(mut f) = Fleet::new().await else { return };
    let free = daemon::free_port;
    let (wp, sp) = (free(), free());
    f.worker(&["--health-listen", &format!("127.0.0.1:{wp}")]);
    f.workers.push(
        f.cmd(&["scheduler", "--health-listen", &format!("127.0.0.1:{sp}")])
            .spawn()
            .unwrap(),
    );
    for port in [wp, sp] {
        let start = Instant::now();
        let health = loop {
            if let Some(r) = http_get(port, "/healthz") {
                break r;
            }
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "no health endpoint on {port}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        assert!(health.starts_with("HTTP/1.1 200"), "{health}");
        let ready = http_get(port, "/readyz").unwrap();
        assert!(ready.starts_with("HTTP/1.1 200") && ready.ends_with("ready"), "{ready}");
        assert!(http_get(port, "/nope").unwrap().starts_with("HTTP/1.1 404"));
    }
    // the worker serves its step metrics as Prometheus text, the scheduler its own
    let m = http_get(wp, "/metrics").unwrap();
    assert!(m.starts_with("HTTP/1.1 200"), "{m}");
    assert!(m.contains("content-type: text/plain; version=0.0.4"), "{m}");
    assert!(m.contains("\n# TYPE orbflow_step_attempts_total counter\n"), "{m}");
    assert!(m.contains("\norbflow_step_attempts_running 0"), "{m}");
    assert!(m.contains("\n# TYPE orbflow_lease_expiries_total counter\n"), "{m}");
    // the scheduler: the engine's counters, and the backlog once it has read it
    let start = Instant::now();
    let m = loop {
        let m = http_get(sp, "/metrics").unwrap();
        assert!(m.starts_with("HTTP/1.1 200"), "{m}");
        if m.contains("\norbflow_steps_queued ") || start.elapsed() > Duration::from_secs(20) {
            break m;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(m.contains("\norbflow_steps_queued 0\n"), "{m}");
    assert!(m.contains("\norbflow_runs_active{status=\"RUNNING\"} 0\n"), "{m}");
    assert!(m.contains("\norbflow_redeliveries_total 0\n"), "{m}");
    assert!(!m.contains("orbflow_step_attempts_total"), "no step metrics: {m}");
    // SIGTERM stops the worker and the scheduler gracefully: both exit 0
    let stopped = daemon::stop_all(&mut f.workers);
    assert_eq!(stopped.len(), 2);
    for (name, s) in ["worker", "scheduler"].iter().zip(&stopped) {
        assert!(s.is_some_and(|s| s.success()), "orbflow {name}: {s:?}");
    }
}

/// Starts `n` runs of `yaml` through the engine and the Redis queue, as an
/// API would.
async fn submit(f: &Fleet, yaml: &str, n: usize) -> Vec<uuid::Uuid> {
    use orbflow_engine::queue::Queue;
    let store = f.store().await;
    let reg = orbflow_actions::Registry::specs_only().unwrap();
    let wf = orbflow_model::dsl::load(yaml, orbflow_model::dsl::Format::Yaml, &reg)
        .unwrap()
        .workflow;
    let version = store
        .ensure_version("default", &wf.name, &wf.name, &serde_json::to_string(&wf).unwrap())
        .await
        .unwrap();
    let engine = orbflow_engine::Engine::new(store, orbflow_engine::EngineConfig::default());
    let queue = orbflow_queue::RedisQueue::connect(&f.redis, &f.prefix).await.unwrap();
    let mut ids = Vec::new();
    for _ in 0..n {
        let (id, effects) = engine
            .start_run(orbflow_engine::StartRun {
                version: version.clone(),
                input: serde_json::json!({}),
                trigger_type: orbflow_model::TriggerType::Manual,
                trigger_data: None,
                idempotency_key: None,
                trace_parent: None,
            })
            .await
            .unwrap();
        for j in effects.jobs {
            queue.push(j).await;
        }
        ids.push(id);
    }
    ids
}

async fn wait_all(
    store: &orbflow_store::SeaStore,
    ids: &[uuid::Uuid],
    limit: Duration,
) -> Vec<(orbflow_engine::store::RunRecord, Vec<orbflow_engine::store::StepRecord>)> {
    let start = Instant::now();
    let mut out = Vec::new();
    for id in ids {
        loop {
            let (run, steps) = store.run_view(*id).await.unwrap().unwrap();
            if run.status.is_terminal() {
                out.push((run, steps));
                break;
            }
            if start.elapsed() >= limit {
                let stuck: Vec<String> = steps
                    .iter()
                    .filter(|s| !s.status.is_terminal())
                    .map(|s| {
                        format!(
                            "{} {} attempt {} pending {}",
                            s.path, s.status, s.attempt, s.pending_deps
                        )
                    })
                    .collect();
                panic!(
                    "run {id} did not finish ({} of {} runs did): {} {}/{}, unfinished steps {stuck:?}",
                    out.len(),
                    ids.len(),
                    run.status,
                    run.finished_steps,
                    run.total_steps
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    out
}

/// A root, `n` TRANSFORM steps after it (step i's config value is
/// `value(i)`, YAML), and a join after all of them.
fn fan(name: &str, n: usize, value: impl Fn(usize) -> String) -> String {
    let mut yaml =
        format!("schemaVersion: 1\nname: {name}\nsteps:\n  - {{key: root, action: TRANSFORM, config: {{value: 0}}}}\n");
    for i in 0..n {
        yaml.push_str(&format!(
            "  - {{key: f{i}, dependsOn: [root], action: TRANSFORM, config: {{value: {}}}}}\n",
            value(i)
        ));
    }
    let deps: Vec<String> = (0..n).map(|i| format!("f{i}")).collect();
    yaml.push_str(&format!(
        "  - {{key: join, dependsOn: [{}], action: TRANSFORM, config: {{value: done}}}}\n",
        deps.join(", ")
    ));
    yaml
}

fn fan_out_20() -> String {
    fan("fan20", 18, |i| i.to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_workers_and_two_schedulers_run_100_concurrent_20_step_runs() {
    let Some(mut f) = Fleet::new().await else { return };
    for _ in 0..3 {
        f.worker(&[]);
    }
    for _ in 0..2 {
        f.workers.push(f.cmd(&["scheduler"]).spawn().unwrap());
    }
    let ids = submit(&f, &fan_out_20(), 100).await;
    let store = f.store().await;
    for (run, steps) in wait_all(&store, &ids, Duration::from_secs(240)).await {
        assert_eq!(run.status.as_str(), "COMPLETED", "{:?}", run.error);
        assert_eq!(steps.len(), 20);
        for s in &steps {
            assert_eq!(s.status.as_str(), "COMPLETED");
            assert_eq!(s.attempt, 1, "{} ran more than once", s.path);
        }
        let logs = store.logs(run.id).await.unwrap();
        let joins = logs
            .iter()
            .filter(|l| l.step_path.as_deref() == Some("join") && l.message.starts_with("step started"))
            .count();
        assert_eq!(joins, 1, "the join started exactly once");
    }
}

/// The hot path holds no run-wide lock: siblings of one run commit in
/// parallel on four workers of 32 slots each, and every join still starts
/// exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_workers_of_32_run_200_concurrent_fan_in_runs_with_every_join_once() {
    let Some(mut f) = Fleet::new().await else { return };
    for _ in 0..4 {
        let w = f.cmd(&["worker", "--concurrency", "32"]).spawn().unwrap();
        f.workers.push(w);
    }
    let ids = submit(&f, &fan_out_20(), 200).await;
    let store = f.store().await;
    let done = wait_all(&store, &ids, Duration::from_secs(300)).await;
    assert_eq!(done.len(), 200);
    for (run, steps) in done {
        assert_eq!(run.status.as_str(), "COMPLETED", "{:?}", run.error);
        assert_eq!(run.finished_steps, 20, "every top-level step counted once");
        assert_eq!(steps.len(), 20);
        let logs = store.logs(run.id).await.unwrap();
        assert!(
            !logs.iter().any(|l| l.message.contains("was lost")),
            "no lease was lost, so nothing may run twice"
        );
        for s in &steps {
            assert_eq!(s.status.as_str(), "COMPLETED");
            assert_eq!(s.attempt, 1, "{} ran more than once", s.path);
            let starts = logs
                .iter()
                .filter(|l| l.step_path.as_deref() == Some(s.path.as_str()) && l.message.starts_with("step started"))
                .count();
            assert_eq!(starts, 1, "{} started {starts} times", s.path);
        }
        let join = steps.iter().find(|s| s.path == "join").unwrap();
        let last_sibling = steps
            .iter()
            .filter(|s| s.path.starts_with('f'))
            .filter_map(|s| s.ended_at)
            .max()
            .unwrap();
        assert!(
            join.started_at.unwrap() >= last_sibling,
            "the join started after its last dependency finished"
        );
    }
}

/// kill -9 while a worker records batches of inline steps: what it committed
/// stays as it was, and every step whose outcome it had not committed runs
/// again on the next worker, exactly once more.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_killed_mid_batch_loses_no_committed_outcome() {
    let Some(mut f) = Fleet::new().await else { return };
    let yaml = fan("wide", 60, |i| format!("'{{{{ steps.root.output + {i} }}}}'"));
    let a = f.worker(&["--lease-secs", "2"]);
    let ids = submit(&f, &yaml, 40).await;
    let store = f.store().await;
    // kill it once a good part of the work is committed
    let total = 40 * 62;
    let start = Instant::now();
    loop {
        let mut completed = 0;
        for id in &ids {
            let (_, steps) = store.run_view(*id).await.unwrap().unwrap();
            completed += steps.iter().filter(|s| s.status.as_str() == "COMPLETED").count();
        }
        if completed >= total / 3 {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "the worker made no progress"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    f.workers[a].kill().unwrap(); // SIGKILL, most likely mid-batch
    f.workers[a].wait().unwrap();
    let mut committed = std::collections::HashMap::new();
    for id in &ids {
        let (_, steps) = store.run_view(*id).await.unwrap().unwrap();
        for s in steps.into_iter().filter(|s| s.status.as_str() == "COMPLETED") {
            committed.insert((*id, s.path.clone()), s);
        }
    }
    assert!(committed.len() < total, "killed before the end");
    f.worker(&["--lease-secs", "2"]);
    let mut reran = 0;
    for (run, steps) in wait_all(&store, &ids, Duration::from_secs(240)).await {
        assert_eq!(run.status.as_str(), "COMPLETED", "{:?}", run.error);
        let logs = store.logs(run.id).await.unwrap();
        for s in &steps {
            assert_eq!(s.status.as_str(), "COMPLETED", "{}", s.path);
            let completions = logs
                .iter()
                .filter(|l| l.step_path.as_deref() == Some(s.path.as_str()) && l.message == "step completed")
                .count();
            assert_eq!(completions, 1, "{} completed {completions} times", s.path);
            if let Some(before) = committed.get(&(run.id, s.path.clone())) {
                assert_eq!(before, s, "a committed outcome is never redone");
            } else if s.attempt > 1 {
                reran += 1;
                assert!(
                    logs.iter()
                        .any(|l| l.step_path.as_deref() == Some(s.path.as_str()) && l.message.contains("was lost")),
                    "{} ran again only after its lease was lost",
                    s.path
                );
            }
        }
        let f7 = steps.iter().find(|s| s.path == "f7").unwrap();
        assert_eq!(f7.output, Some(serde_json::json!(7)));
    }
    println!("{reran} steps ran again after the kill");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_survive_postgres_dropping_every_connection() {
    let Some(mut f) = Fleet::new().await else { return };
    let port = slow_server(Duration::from_millis(100));
    let mut yaml = String::from("schemaVersion: 1\nname: pgcut\nsteps:\n");
    for i in 0..5 {
        yaml.push_str(&format!(
            "  - {{key: s{i}, action: TRIGGER_WEBHOOK, config: {{url: 'http://127.0.0.1:{port}/'}}}}\n"
        ));
    }
    for _ in 0..2 {
        f.worker(&["--lease-secs", "2", "--queued-grace-secs", "1"]);
    }
    let ids = submit(&f, &yaml, 10).await;
    let store = f.store().await;
    // cut every connection of this test's daemons, three times
    let admin = orbflow_store::connect(&f.db.url).await.unwrap();
    let mut cut = 0i64;
    for _ in 0..3 {
        tokio::time::sleep(Duration::from_millis(400)).await;
        use sea_orm::{ConnectionTrait, Statement};
        let row = admin
            .query_one_raw(Statement::from_string(
                sea_orm::DbBackend::Postgres,
                format!(
                    "SELECT count(pg_terminate_backend(pid)) AS n FROM pg_stat_activity WHERE application_name = '{}'",
                    f.app()
                ),
            ))
            .await
            .unwrap()
            .unwrap();
        cut += row.try_get::<i64>("", "n").unwrap();
    }
    assert!(cut >= 2, "the daemons' connections were cut ({cut})");
    for (run, steps) in wait_all(&store, &ids, Duration::from_secs(120)).await {
        assert_eq!(run.status.as_str(), "COMPLETED", "{:?}", run.error);
        assert!(steps.iter().all(|s| s.status.as_str() == "COMPLETED"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_cancelled_across_the_fleet_starts_no_further_step() {
    let Some(mut f) = Fleet::new().await else { return };
    let port = slow_server(Duration::from_millis(1500));
    let yaml = format!(
        "schemaVersion: 1\nname: cancel\nsteps:\n  - {{key: slow, action: TRIGGER_WEBHOOK, config: {{url: 'http://127.0.0.1:{port}/'}}}}\n  - {{key: next, action: TRANSFORM, config: {{value: 1}}}}\n"
    );
    f.worker(&[]);
    let ids = submit(&f, &yaml, 1).await;
    let store = f.store().await;
    wait_step(&store, "slow", "RUNNING", Duration::from_secs(30)).await;
    let engine = orbflow_engine::Engine::new(store.clone(), orbflow_engine::EngineConfig::default());
    engine.cancel(ids[0]).await.unwrap();
    // the worker's late write-back of `slow` must not start `next`
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let (run, steps) = store.run_view(ids[0]).await.unwrap().unwrap();
    assert_eq!(run.status.as_str(), "CANCELLED");
    for s in &steps {
        assert_eq!(s.status.as_str(), "CANCELLED", "{}", s.path);
    }
    let logs = store.logs(ids[0]).await.unwrap();
    assert!(
        !logs
            .iter()
            .any(|l| l.step_path.as_deref() == Some("next") && l.message.starts_with("step started"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_drains_the_in_flight_step_before_the_worker_exits() {
    let Some(mut f) = Fleet::new().await else { return };
    let port = slow_server(Duration::from_millis(1500));
    let yaml = format!(
        "schemaVersion: 1\nname: drain\nsteps:\n  - {{key: slow, action: TRIGGER_WEBHOOK, config: {{url: 'http://127.0.0.1:{port}/'}}}}\n  - {{key: next, action: TRANSFORM, config: {{value: 1}}}}\n"
    );
    let w = f.worker(&[]);
    let ids = submit(&f, &yaml, 1).await;
    let store = f.store().await;
    let running = wait_step(&store, "slow", "RUNNING", Duration::from_secs(30)).await;
    let pid = f.workers[w].id().to_string();
    assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    let status = f.workers[w].wait().unwrap();
    assert!(status.success(), "the worker exits 0 after draining: {status:?}");
    // the in-flight attempt finished and was recorded before the exit; nothing was re-run
    let (_, steps) = store.run_view(ids[0]).await.unwrap().unwrap();
    let slow = steps.iter().find(|s| s.path == "slow").unwrap();
    assert_eq!(slow.status.as_str(), "COMPLETED");
    assert_eq!(slow.attempt, running.attempt);
    let next = steps.iter().find(|s| s.path == "next").unwrap();
    assert_eq!(
        next.status.as_str(),
        "QUEUED",
        "a draining worker claims nothing more; the step waits for another worker"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_step_longer_than_its_lease_runs_exactly_once() {
    let Some(mut f) = Fleet::new().await else { return };
    // 8 s of work under a 3 s lease: the worker renews it while the call runs
    let (port, hits) = counting_slow_server(Duration::from_secs(8));
    let wf = f.write("long.yaml", &format!("schemaVersion: 1\nname: long\nsteps:\n  - {{key: call, action: TRIGGER_WEBHOOK, timeout: 20s, config: {{url: 'http://127.0.0.1:{port}/'}}}}\n"));
    f.worker(&["--lease-secs", "3"]);
    f.worker(&["--lease-secs", "3"]);
    let out = f
        .cmd(&["run", &wf, "--output", "json"])
        .stdout(Stdio::piped())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["status"], "COMPLETED");
    assert_eq!(v["steps"]["call"]["attempts"], 1, "{v:#}");
    assert_eq!(hits.load(Ordering::SeqCst), 1, "the peer was called once");
    let store = f.store().await;
    let id = single_run(&store).await.unwrap();
    let logs = store.logs(id).await.unwrap();
    assert!(!logs.iter().any(|l| l.message.contains("lease expired")), "{logs:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_step_whose_worker_is_killed_three_times_fails_after_its_budget() {
    let Some(mut f) = Fleet::new().await else { return };
    let port = slow_server(Duration::from_secs(60));
    let wf = f.write("doomed.yaml", &format!("schemaVersion: 1\nname: doomed\nsteps:\n  - {{key: call, action: TRIGGER_WEBHOOK, timeout: 120s, retry: {{maxAttempts: 3}}, config: {{url: 'http://127.0.0.1:{port}/'}}}}\n  - {{key: after, action: TRANSFORM, config: {{value: 1}}}}\n"));
    let mut w = f.worker(&["--lease-secs", "1"]);
    let run = f
        .cmd(&["run", &wf, "--output", "json"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let store = f.store().await;
    for attempt in 1..=3 {
        let start = Instant::now();
        loop {
            if let Some(id) = single_run(&store).await
                && let Some((_, steps)) = store.run_view(id).await.unwrap()
                && steps
                    .iter()
                    .any(|s| s.path == "call" && s.status.as_str() == "RUNNING" && s.attempt == attempt)
            {
                break;
            }
            assert!(start.elapsed() < Duration::from_secs(60), "attempt {attempt} never ran");
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        f.workers[w].kill().unwrap(); // SIGKILL while it holds the step
        f.workers[w].wait().unwrap();
        w = f.worker(&["--lease-secs", "1"]);
    }
    let out = run.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(1), "the run failed");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["status"], "FAILED", "{v:#}");
    assert_eq!(v["steps"]["call"]["status"], "FAILED");
    assert_eq!(v["steps"]["call"]["attempts"], 3);
    let msg = v["steps"]["call"]["error"]["message"].as_str().unwrap();
    assert!(
        msg.contains("attempt 3 was lost") && msg.contains("no attempts are left"),
        "{msg}"
    );
    assert_eq!(v["steps"]["after"]["status"], "CANCELLED");
}

/// Waits for a child with a limit; kills it and fails if it does not exit.
fn wait_with_limit(mut child: Child, limit: Duration) -> std::process::Output {
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > limit {
            let _ = child.kill();
            panic!("the process did not exit within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    child.wait_with_output().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigint_on_a_fleet_run_cancels_it_on_the_workers() {
    let Some(mut f) = Fleet::new().await else { return };
    let (port, conns) = hanging_server();
    let wf = f.write(
        "hang.yaml",
        &format!("schemaVersion: 1\nname: hang\nsteps:\n  - {{key: call, action: TRIGGER_WEBHOOK, config: {{url: 'http://127.0.0.1:{port}/', timeout: 10m}}}}\n  - {{key: after, action: TRANSFORM, config: {{value: 1}}}}\n"),
    );
    // a long lease: its renewal, every 40 s, would also stop the attempt
    // (the step is no longer RUNNING), so only the broadcast cancellation
    // can close the connection within the 15 s below
    f.worker(&["--lease-secs", "120"]);
    let run = f
        .cmd(&["run", &wf, "--output", "json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let store = f.store().await;
    wait_step(&store, "call", "RUNNING", Duration::from_secs(30)).await;
    assert_eq!(
        conns.recv_timeout(Duration::from_secs(30)),
        Ok(true),
        "the worker's request reached the stub"
    );
    let pid = run.id().to_string();
    assert!(Command::new("kill").args(["-INT", &pid]).status().unwrap().success());
    let out = tokio::task::spawn_blocking(move || wait_with_limit(run, Duration::from_secs(30)))
        .await
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "CANCELLED exits 1: {err}");
    assert!(err.contains("interrupted: cancelling run"), "{err}");
    assert!(err.contains("CANCELLED"), "{err}");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["status"], "CANCELLED");
    assert_eq!(v["steps"]["call"]["status"], "CANCELLED");
    assert_eq!(v["steps"]["after"]["status"], "CANCELLED");
    // the worker was told: it dropped the request long before its 10m timeout
    assert_eq!(
        conns.recv_timeout(Duration::from_secs(15)),
        Ok(false),
        "the worker's attempt was cancelled and its connection closed"
    );
    let id = single_run(&store).await.unwrap();
    let (run, steps) = store.run_view(id).await.unwrap().unwrap();
    assert_eq!(run.status.as_str(), "CANCELLED");
    assert!(steps.iter().all(|s| s.status.as_str() == "CANCELLED"), "{steps:?}");
}

/// `orbflow run --database-url … --redis-url …` (the flags, not the
/// environment) hands the cancellation a SIGTERM makes to the fleet's
/// workers: the worker drops its call to a peer that never answers at once
/// (the step's timeout is 10 minutes), the step and the run end CANCELLED.
/// A dispatch that drops the cancellations leaves the call hanging until
/// the worker next renews its lease (a third of the lease) and finds the
/// step no longer RUNNING.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_on_a_fleet_run_given_by_flags_stops_the_in_flight_call() {
    let Some(mut f) = Fleet::new().await else { return };
    let (port, conns) = hanging_server();
    let wf = f.write(
        "hang.yaml",
        &format!("schemaVersion: 1\nname: hang\nsteps:\n  - {{key: call, action: TRIGGER_WEBHOOK, timeout: 10m, config: {{url: 'http://127.0.0.1:{port}/slow', timeout: 10m}}}}\n"),
    );
    // a long lease: its renewal (every 40 s) would also stop the attempt, so
    // only the cancellation the run hands on can close the call in time
    f.worker(&["--lease-secs", "120"]);
    let (db, redis) = (f.daemon_url(), f.redis.clone());
    let mut cmd = f.cmd(&[
        "run",
        &wf,
        "--output",
        "json",
        "--database-url",
        &db,
        "--redis-url",
        &redis,
    ]);
    cmd.env_remove("ORBFLOW_DATABASE_URL")
        .env_remove("ORBFLOW_REDIS_URL")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let run = cmd.spawn().unwrap();
    let store = f.store().await;
    wait_step(&store, "call", "RUNNING", Duration::from_secs(30)).await;
    assert_eq!(
        conns.recv_timeout(Duration::from_secs(30)),
        Ok(true),
        "the worker's request reached the peer"
    );
    let pid = run.id().to_string();
    let signalled = Instant::now();
    assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    // the peer sees its connection dropped within seconds, not at the next
    // lease renewal (40 s) nor at the 10m timeout
    let dropped = tokio::task::spawn_blocking(move || conns.recv_timeout(Duration::from_secs(10)))
        .await
        .unwrap();
    assert_eq!(
        dropped,
        Ok(false),
        "the worker's call was cancelled and its connection closed"
    );
    assert!(
        signalled.elapsed() < Duration::from_secs(10),
        "{:?}",
        signalled.elapsed()
    );
    let out = tokio::task::spawn_blocking(move || wait_with_limit(run, Duration::from_secs(30)))
        .await
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "CANCELLED exits 1: {err}");
    assert!(err.contains("terminated: cancelling run"), "{err}");
    assert!(err.contains("on the fleet"), "{err}");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["status"], "CANCELLED", "{v:#}");
    assert_eq!(v["steps"]["call"]["status"], "CANCELLED", "{v:#}");
    // the worker recorded nothing over the cancellation: the step stays CANCELLED
    tokio::time::sleep(Duration::from_millis(500)).await;
    let id = single_run(&store).await.unwrap();
    let (run, steps) = store.run_view(id).await.unwrap().unwrap();
    assert_eq!(run.status.as_str(), "CANCELLED");
    assert!(steps.iter().all(|s| s.status.as_str() == "CANCELLED"), "{steps:?}");
}
