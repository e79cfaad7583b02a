//! Durability against real processes: `kill -9` in the middle of a run and
//! during a DELAY, then a restart of `orbflow dev` on the same database.
//! The actions call a real HTTP server on 127.0.0.1 that counts attempts by
//! their Idempotency-Key.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use orbflow_engine::store::Store;
use orbflow_testkit::peer::idempotency_peer;

fn tmp_dir() -> PathBuf {
    let d = std::env::temp_dir().join(format!("orbflow-dur-{}", uuid::Uuid::now_v7().simple()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn orbflow(args: &[&str]) -> Command {
    let mut c = orbflow_testkit::daemon::orbflow();
    c.args(args)
        .env("ORBFLOW_HTTP_ALLOW_PRIVATE", "true")
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    c
}

fn wait_until(what: &str, limit: Duration, mut f: impl FnMut() -> bool) {
    let start = Instant::now();
    while !f() {
        assert!(start.elapsed() < limit, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn terminate(mut child: Child) -> std::process::ExitStatus {
    let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
    let start = Instant::now();
    loop {
        if let Some(s) = child.try_wait().unwrap() {
            return s;
        }
        if start.elapsed() > Duration::from_secs(20) {
            let _ = child.kill();
            panic!("orbflow dev did not stop on SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

async fn open(db: &Path) -> Arc<orbflow_store::SeaStore> {
    let url = format!("sqlite://{}?mode=rwc", db.display());
    orbflow_store::SeaStore::new(orbflow_store::connect(&url).await.unwrap())
}

/// The single run in the database, once it exists.
async fn the_run(store: &orbflow_store::SeaStore) -> Option<uuid::Uuid> {
    use sea_orm::EntityTrait;
    orbflow_store::entity::workflow_runs::Entity::find()
        .one(store.connection())
        .await
        .ok()
        .flatten()
        .map(|r| r.id)
}

/// Starts `orbflow dev` on `db` after a kill, waits (bounded) for the single
/// run to end, stops dev with SIGTERM (it must exit 0): (run id, run, steps).
async fn restart_until_done(
    db: &Path,
) -> (
    uuid::Uuid,
    orbflow_engine::store::RunRecord,
    Vec<orbflow_engine::store::StepRecord>,
) {
    let dbs = db.to_string_lossy().into_owned();
    let dev = orbflow(&["dev", "--db", &dbs, "--listen", "127.0.0.1:0"])
        .spawn()
        .unwrap();
    let store = open(db).await;
    let id = the_run(&store).await.expect("the run was committed before the kill");
    let start = Instant::now();
    let (run, steps) = loop {
        let (run, steps) = store.run_view(id).await.unwrap().unwrap();
        if run.status.is_terminal() {
            break (run, steps);
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "run did not finish after restart"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let status = terminate(dev);
    assert!(status.success(), "orbflow dev exits 0 on SIGTERM: {status:?}");
    (id, run, steps)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_in_the_middle_of_a_50_step_run_then_restart_completes_it() {
    let stub = idempotency_peer(0, Duration::from_millis(40));
    let dir = tmp_dir();
    let wf = dir.join("chain.yaml");
    let mut yaml = String::from("schemaVersion: 1\nname: chain\nsteps:\n");
    for i in 0..50 {
        yaml.push_str(&format!(
            "  - {{key: s{i}, action: TRIGGER_WEBHOOK, config: {{url: 'http://127.0.0.1:{}/s', body: {{i: {i}}}}}}}\n",
            stub.port
        ));
    }
    std::fs::write(&wf, yaml).unwrap();
    let db = dir.join("o.db");
    let dbs = db.to_string_lossy().into_owned();
    let mut run = orbflow(&["run", &wf.to_string_lossy(), "--db", &dbs]).spawn().unwrap();
    wait_until("10 steps to run", Duration::from_secs(30), || stub.total() >= 10);
    run.kill().unwrap(); // SIGKILL
    run.wait().unwrap();
    let before = stub.total();
    assert!(before < 50, "the run finished before the kill ({before} calls)");

    let (id, run, steps) = restart_until_done(&db).await;
    assert_eq!(run.status.as_str(), "COMPLETED", "{:?}", run.error);
    assert_eq!(steps.len(), 50, "one row per step");
    for s in &steps {
        assert_eq!(s.status.as_str(), "COMPLETED", "{}", s.path);
        assert!(s.attempt <= 2, "{} ran {} attempts", s.path, s.attempt);
    }
    let hits = stub.hits.lock().unwrap().clone();
    assert_eq!(hits.len(), 50, "every step's action ran: {hits:?}");
    for (key, n) in &hits {
        assert!(
            key.starts_with(&id.to_string()),
            "idempotency key is run_id:step_path: {key}"
        );
        assert!(*n <= 2, "{key} attempted {n} times");
    }
    let _ = std::fs::remove_dir_all(dir);
}

/// The same drill inside a loop: `kill -9` while a 30-iteration loop runs
/// (the loop block RUNNING, waiting for its iterations), then `orbflow dev`
/// on the same database finishes every iteration: the loop is not taken
/// for a lost attempt, re-run or ended early.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_in_the_middle_of_a_loop_then_restart_runs_every_iteration() {
    let stub = idempotency_peer(0, Duration::from_millis(40));
    let dir = tmp_dir();
    let wf = dir.join("loop.yaml");
    let yaml = format!(
        "schemaVersion: 1\nname: each\nsteps:\n  - key: each\n    type: loop\n    forEach: '[{}]'\n    steps:\n      - {{key: call, action: TRIGGER_WEBHOOK, config: {{url: 'http://127.0.0.1:{}/s', body: {{i: '{{{{ item }}}}'}}}}}}\n  - {{key: after, action: TRANSFORM, config: {{value: '{{{{ size(steps.each.output) }}}}'}}}}\n",
        (0..30).map(|i| i.to_string()).collect::<Vec<_>>().join(", "),
        stub.port
    );
    std::fs::write(&wf, yaml).unwrap();
    let db = dir.join("o.db");
    let dbs = db.to_string_lossy().into_owned();
    let mut run = orbflow(&["run", &wf.to_string_lossy(), "--db", &dbs]).spawn().unwrap();
    wait_until("8 iterations to run", Duration::from_secs(30), || stub.total() >= 8);
    run.kill().unwrap(); // SIGKILL
    run.wait().unwrap();
    let before = stub.total();
    assert!(before < 30, "the loop finished before the kill ({before} calls)");
    let (_, run, steps) = restart_until_done(&db).await;
    assert_eq!(run.status.as_str(), "COMPLETED", "{:?}", run.error);
    for s in &steps {
        assert_eq!(s.status.as_str(), "COMPLETED", "{}", s.path);
    }
    let calls: Vec<_> = steps.iter().filter(|s| s.path.ends_with(".call")).collect();
    assert_eq!(calls.len(), 30, "one row per iteration's call");
    let after = steps.iter().find(|s| s.path == "after").unwrap();
    assert_eq!(
        after.output,
        Some(serde_json::json!(30)),
        "the loop's output has every iteration"
    );
    let hits = stub.hits.lock().unwrap().clone();
    assert_eq!(hits.len(), 30, "every iteration's action ran: {hits:?}");
    assert!(hits.values().all(|n| *n <= 2), "{hits:?}");
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_during_a_delay_keeps_the_original_wake_time() {
    let dir = tmp_dir();
    let wf = dir.join("delay.yaml");
    std::fs::write(
        &wf,
        "schemaVersion: 1\nname: delay\nsteps:\n  - {key: a, action: TRANSFORM, config: {value: 1}}\n  - {key: wait, action: DELAY, config: {duration: 3s}}\n  - {key: b, action: TRANSFORM, config: {value: 2}}\n",
    )
    .unwrap();
    let db = dir.join("o.db");
    let dbs = db.to_string_lossy().into_owned();
    let mut run = orbflow(&["run", &wf.to_string_lossy(), "--db", &dbs]).spawn().unwrap();
    let store = open(&db).await;
    // wait until the DELAY is WAITING with its wake time in the database
    let mut wake = None;
    let start = Instant::now();
    while wake.is_none() {
        if let Some(id) = the_run(&store).await
            && let Some((_, steps)) = store.run_view(id).await.unwrap()
        {
            wake = steps
                .iter()
                .find(|s| s.path == "wait" && s.status.as_str() == "WAITING")
                .and_then(|s| s.next_attempt_at);
        }
        assert!(start.elapsed() < Duration::from_secs(20), "the DELAY never started");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let wake = wake.unwrap();
    run.kill().unwrap();
    run.wait().unwrap();
    // stay down for a while: a restarted timer would end 3s after the restart
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let restarted = chrono::Utc::now();
    let dev = orbflow(&["dev", "--db", &dbs, "--listen", "127.0.0.1:0"])
        .spawn()
        .unwrap();
    let id = the_run(&store).await.unwrap();
    let (run, steps) = loop {
        let (run, steps) = store.run_view(id).await.unwrap().unwrap();
        if run.status.is_terminal() {
            break (run, steps);
        }
        assert!(Instant::now() - start < Duration::from_secs(60), "run did not finish");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(terminate(dev).success());
    assert_eq!(run.status.as_str(), "COMPLETED");
    let ended = steps.iter().find(|s| s.path == "wait").unwrap().ended_at.unwrap();
    assert!(ended >= wake, "the delay ended before its wake time");
    assert!(
        ended < restarted + chrono::Duration::milliseconds(2500),
        "the delay restarted from zero: woke {ended}, original wake {wake}, restarted {restarted}"
    );
    let _ = std::fs::remove_dir_all(dir);
}

/// SCHEDULE_POST on X, which schedules nothing itself: the step snoozes on
/// a durable timer until `publishAt`, survives `kill -9`, and posts once,
/// at the time, after a restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_while_a_post_waits_for_its_time_then_restart_posts_it_once() {
    let (port, seen) = orbflow_testkit::peer::scripted_server(vec![(
        201,
        "Content-Type: application/json\r\n",
        r#"{"data": {"id": "1445880548472328192", "text": "Launch day"}}"#,
    )]);
    let connection = format!(r#"{{"apiUrl": "http://127.0.0.1:{port}", "accessToken": "x-user-token"}}"#);
    let dir = tmp_dir();
    let wf = dir.join("launch.yaml");
    let at = (chrono::Utc::now() + chrono::Duration::seconds(4)).to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    std::fs::write(
        &wf,
        format!("schemaVersion: 1\nname: launch\nsteps:\n  - {{key: post, action: SCHEDULE_POST, config: {{platform: x, accountId: brand-x, content: Launch day, publishAt: '{at}'}}}}\n"),
    )
    .unwrap();
    let db = dir.join("o.db");
    let dbs = db.to_string_lossy().into_owned();
    let mut run = orbflow(&["run", &wf.to_string_lossy(), "--db", &dbs])
        .env("ORBFLOW_CONNECTION_X__BRAND_X", &connection)
        .spawn()
        .unwrap();
    let store = open(&db).await;
    let start = Instant::now();
    let wake = loop {
        if let Some(id) = the_run(&store).await
            && let Some((_, steps)) = store.run_view(id).await.unwrap()
            && let Some(s) = steps
                .iter()
                .find(|s| s.path == "post" && s.status.as_str() == "WAITING")
        {
            break s.next_attempt_at.unwrap();
        }
        assert!(start.elapsed() < Duration::from_secs(20), "the post never waited");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(
        wake.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        at,
        "it waits for publishAt"
    );
    run.kill().unwrap();
    run.wait().unwrap();
    assert!(seen.try_recv().is_err(), "nothing was posted before the time");
    let dev = orbflow(&["dev", "--db", &dbs, "--listen", "127.0.0.1:0"])
        .env("ORBFLOW_CONNECTION_X__BRAND_X", &connection)
        .spawn()
        .unwrap();
    let id = the_run(&store).await.unwrap();
    let (run, steps) = loop {
        let (run, steps) = store.run_view(id).await.unwrap().unwrap();
        if run.status.is_terminal() {
            break (run, steps);
        }
        assert!(start.elapsed() < Duration::from_secs(60), "run did not finish");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(terminate(dev).success());
    assert_eq!(run.status.as_str(), "COMPLETED", "{:?}", steps[0].error);
    let post = &steps[0];
    assert_eq!(post.attempt, 1, "the snooze did not count as an attempt");
    assert!(post.ended_at.unwrap() >= wake, "posted at the time, not before");
    let out = post.output.clone().unwrap();
    assert_eq!(out["scheduling"], "timer");
    assert_eq!(out["postId"], "1445880548472328192");
    let got = seen.recv_timeout(Duration::from_secs(5)).expect("X got the post");
    assert_eq!(got.request_line, "POST /2/tweets HTTP/1.1");
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&got.body).unwrap(),
        serde_json::json!({"text": "Launch day"})
    );
    assert!(seen.try_recv().is_err(), "posted once");
    let logs = store.logs(id).await.unwrap();
    assert!(logs.iter().any(|l| l.message.contains("snoozed until")), "{logs:?}");
    let _ = std::fs::remove_dir_all(dir);
}
