//! The HTTP API on the fleet, with real clients: `orbflow token create`
//! bootstraps a token in Postgres, `orbflow api` and `orbflow worker` run as
//! child processes on 127.0.0.1 over Postgres and Redis, and the CLI's
//! `workflows`/`runs` commands talk HTTP to the API. Skipped (with a
//! message) without ORBFLOW_TEST_DATABASE_URL / ORBFLOW_TEST_REDIS_URL;
//! under CI=true they must run.

use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use orbflow_testkit::TestDb;
use orbflow_testkit::daemon::{self, free_port, redis_url};
use serde_json::Value;

struct Daemons {
    db: TestDb,
    redis: String,
    prefix: String,
    children: Vec<Child>,
    api: String,
    token: String,
    dir: std::path::PathBuf,
}

impl Drop for Daemons {
    fn drop(&mut self) {
        daemon::stop_all(&mut self.children);
        let _ = std::fs::remove_dir_all(&self.dir);
        daemon::clear_redis_prefix(&self.redis, &self.prefix);
    }
}

impl Daemons {
    fn orbflow(&self) -> Command {
        let mut c = daemon::orbflow();
        c.env("ORBFLOW_DATABASE_URL", &self.db.url)
            .env("ORBFLOW_REDIS_URL", &self.redis)
            .env("ORBFLOW_REDIS_PREFIX", &self.prefix)
            .env("ORBFLOW_API_URL", &self.api)
            .env("ORBFLOW_TOKEN", &self.token)
            .env("ORBFLOW_HTTP_ALLOW_PRIVATE", "true")
            .stdin(Stdio::null());
        c
    }

    fn run(&self, args: &[&str]) -> (i32, Value, String) {
        let out: Output = self.orbflow().args(args).output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        let json = serde_json::from_str(&stdout).unwrap_or(Value::String(stdout));
        (out.status.code().unwrap_or(-1), json, stderr)
    }

    async fn start() -> Option<Self> {
        Self::start_with(4).await
    }

    async fn start_with(concurrency: u32) -> Option<Self> {
        let redis = redis_url()?;
        let db = TestDb::postgres().await?;
        let id = uuid::Uuid::now_v7().simple().to_string();
        let dir = std::env::temp_dir().join(format!("orbflow-api-{id}"));
        std::fs::create_dir_all(&dir).unwrap();
        let port = free_port();
        let mut d = Self {
            db,
            redis,
            prefix: format!("orbflow-test-{id}:"),
            children: Vec::new(),
            api: format!("http://127.0.0.1:{port}"),
            token: String::new(),
            dir,
        };
        assert!(
            d.orbflow()
                .arg("migrate")
                .stderr(Stdio::null())
                .status()
                .unwrap()
                .success()
        );
        // the first token, straight in the database
        let out = d
            .orbflow()
            .args([
                "token",
                "create",
                "--workspace",
                "acme",
                "--permissions",
                "*",
                "--name",
                "ci",
            ])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        d.token = String::from_utf8_lossy(&out.stdout).trim().to_owned();
        assert!(d.token.starts_with("orb_"), "{}", d.token);
        let api = d
            .orbflow()
            .args(["api", "--listen", &format!("127.0.0.1:{port}")])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        d.children.push(api);
        let worker = d
            .orbflow()
            .args(["worker", "--concurrency", &concurrency.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        d.children.push(worker);
        for _ in 0..200 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Some(d);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("orbflow api did not listen on {port}");
    }

    fn file(&self, name: &str, text: &str) -> String {
        let p = self.dir.join(name);
        std::fs::write(&p, text).unwrap();
        p.to_string_lossy().into_owned()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_clients_drive_the_fleet_through_the_api() {
    let Some(d) = Daemons::start().await else { return };
    let hello = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/hello.yaml");
    // push (create), publish
    let (code, wf, err) = d.run(&["workflows", "push", hello]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(wf["slug"], "hello");
    assert!(err.contains("created hello"), "{err}");
    let (code, v, err) = d.run(&["workflows", "publish", "hello"]);
    assert_eq!((code, v["number"].as_i64()), (0, Some(1)), "{err}");
    // push again (draft update with If-Match), publishing unchanged: still 1
    let (code, wf, err) = d.run(&["workflows", "push", hello]);
    assert_eq!((code, wf["draftRevision"].as_i64()), (0, Some(2)), "{err}");
    let (_, v, _) = d.run(&["workflows", "publish", "hello"]);
    assert_eq!(v["number"], 1);
    // the slug comes from the workflow's name, as the API derives it, not
    // from the file's: what push created, publish finds
    let odd = d.file(
        "some-file.yaml",
        "schemaVersion: 1\nname: Order Intake\nsteps:\n  - {key: a, action: TRANSFORM, config: {value: 1}}\n",
    );
    let (code, wf, err) = d.run(&["workflows", "push", &odd]);
    assert_eq!((code, wf["slug"].as_str()), (0, Some("order-intake")), "{err}");
    let (code, v, err) = d.run(&["workflows", "publish", "order-intake"]);
    assert_eq!((code, v["number"].as_i64()), (0, Some(1)), "{err}");
    // an invalid file is reported where it is, before any call
    let bad = d.file("bad.yaml", "schemaVersion: 1\nname: [x\n");
    let (code, _, err) = d.run(&["workflows", "push", &bad]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("bad.yaml:"), "{err}");
    // start and wait: the worker process runs it
    let (code, run, err) = d.run(&["runs", "start", "hello", "--input", r#"{"name": "Ada"}"#, "--wait"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(run["status"], "COMPLETED");
    assert_eq!(run["output"]["greeting"], "Hello, Ada!");
    let id = run["id"].as_str().unwrap().to_owned();
    let (code, got, _) = d.run(&["runs", "get", &id, "--output", "json"]);
    assert_eq!(code, 0);
    assert_eq!(got["stepExecutions"]["greeting"]["status"], "COMPLETED");
    let (code, logs, _) = d.run(&["runs", "logs", &id]);
    assert_eq!(code, 0);
    let logs = logs.as_str().unwrap_or_default().to_owned();
    assert!(logs.contains("run started") && logs.contains("run completed"), "{logs}");
    // idempotency key through the CLI
    let (_, a, _) = d.run(&["runs", "start", "hello", "--idempotency-key", "k1"]);
    let (_, b, _) = d.run(&["runs", "start", "hello", "--idempotency-key", "k1"]);
    assert_eq!(a["id"], b["id"]);
    // a long run, cancelled across the fleet
    let slow = d.file(
        "slow.yaml",
        "schemaVersion: 1\nname: slow\nsteps:\n  - { key: wait, action: DELAY, config: { duration: \"10m\" } }\n  - { key: after, action: TRANSFORM, config: { value: 1 } }\n",
    );
    assert_eq!(d.run(&["workflows", "push", &slow]).0, 0);
    assert_eq!(d.run(&["workflows", "publish", "slow"]).0, 0);
    let (code, started, _) = d.run(&["runs", "start", "slow"]);
    assert_eq!(code, 0);
    let sid = started["id"].as_str().unwrap().to_owned();
    let (code, cancelled, err) = d.run(&["runs", "cancel", &sid]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(cancelled["status"], "CANCELLED");
    assert_eq!(cancelled["stepExecutions"]["after"]["status"], "CANCELLED");
    // an invalid draft: publish exits 2 and prints every problem with its location
    let bad = d.file(
        "bad.yaml",
        "schemaVersion: 1\nname: bad\nsteps:\n  - key: a\n    action: NOPE\n",
    );
    assert_eq!(d.run(&["workflows", "push", &bad]).0, 0);
    let (code, _, err) = d.run(&["workflows", "publish", "bad"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("bad:5:13: steps[0].action:"), "{err}");
    // a wrong token: exit 1, the problem on stderr
    let out = d
        .orbflow()
        .env("ORBFLOW_TOKEN", "orb_wrong")
        .args(["runs", "get", &id, "--output", "json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("HTTP 401 unauthorized"));
    // SIGTERM stops the API and the worker gracefully: both exit 0
    let mut d = d;
    let stopped = daemon::stop_all(&mut d.children);
    assert_eq!(stopped.len(), 2);
    for (name, s) in ["api", "worker"].iter().zip(&stopped) {
        assert!(s.is_some_and(|s| s.success()), "orbflow {name}: {s:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelling_through_the_api_stops_the_action_on_the_worker() {
    // one attempt at a time: the next run can only start if the hung one is stopped
    let Some(d) = Daemons::start_with(1).await else { return };
    // a peer that reads the request and never answers; it counts the
    // connections whose client hung up
    let peer = orbflow_testkit::peer::hanging_peer();
    let (port, closed) = (peer.port, peer.closed.clone());
    let hang = d.file(
        "hang.yaml",
        &format!("schemaVersion: 1\nname: hang\nsteps:\n  - {{ key: call, action: TRIGGER_WEBHOOK, config: {{ url: \"http://127.0.0.1:{port}/x\", method: POST, timeout: 10m }} }}\n"),
    );
    let quick = d.file(
        "quick.yaml",
        "schemaVersion: 1\nname: quick\nsteps:\n  - { key: q, action: TRANSFORM, config: { value: 1 } }\n",
    );
    for (f, slug) in [(&hang, "hang"), (&quick, "quick")] {
        assert_eq!(d.run(&["workflows", "push", f]).0, 0);
        assert_eq!(d.run(&["workflows", "publish", slug]).0, 0);
    }
    let (_, started, _) = d.run(&["runs", "start", "hang"]);
    let id = started["id"].as_str().unwrap().to_owned();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let (_, run, _) = d.run(&["runs", "get", &id, "--output", "json"]);
        if run["stepExecutions"]["call"]["status"] == "RUNNING" {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "the call never started: {run}");
        std::thread::sleep(Duration::from_millis(50));
    }
    let (code, cancelled, err) = d.run(&["runs", "cancel", &id]);
    assert_eq!((code, cancelled["status"].as_str()), (0, Some("CANCELLED")), "{err}");
    // the worker dropped the request: the peer sees its client hang up
    while closed.load(std::sync::atomic::Ordering::SeqCst) == 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "the worker kept the hung request open"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    // and its only slot is free again: another run completes
    let (_, q, _) = d.run(&["runs", "start", "quick"]);
    let qid = q["id"].as_str().unwrap().to_owned();
    loop {
        let (_, run, _) = d.run(&["runs", "get", &qid, "--output", "json"]);
        if run["status"] == "COMPLETED" {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the worker's slot stayed taken: {run}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn token_create_refuses_a_bad_workspace() {
    let out = daemon::orbflow()
        .args([
            "token",
            "create",
            "--workspace",
            "Not OK",
            "--permissions",
            "*",
            "--db",
            "/nonexistent/x.db",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--workspace must match"));
}
