//! Retries against a real HTTP peer, the fencing of stale write-backs,
//! many concurrent runs with joins, and large loops.

use crate::common;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{Harness, TestDb, engine_only, register, slow_server, start_manual, status};
use orbflow_actions::{ActionError, Outcome, Registry};
use orbflow_engine::store::Store;
use orbflow_engine::{EngineConfig, Job};
use orbflow_model::dsl::{self, Format};
use serde_json::json;

/// An HTTP server on 127.0.0.1 that answers each Idempotency-Key's first
/// `fail` requests with 503 (Retry-After: 0), then 200 with the attempt count.
fn flaky_server(fail: u32) -> (u16, Arc<Mutex<HashMap<String, u32>>>) {
    let peer = orbflow_testkit::peer::idempotency_peer(fail, Duration::ZERO);
    (peer.port, peer.hits)
}

both!(retryable_errors_are_retried_with_backoff_until_success);
async fn retryable_errors_are_retried_with_backoff_until_success(h: Harness) {
    let (port, hits) = flaky_server(2);
    let yaml = format!(
        "schemaVersion: 1\nname: r\nsteps:\n  - key: call\n    action: TRIGGER_WEBHOOK\n    config: {{url: 'http://127.0.0.1:{port}/x'}}\n    retry: {{maxAttempts: 3, backoff: fixed, initialInterval: 50ms, jitter: false}}\n"
    );
    let r = h.run(&yaml, json!({})).await;
    assert_eq!(r["status"], "COMPLETED", "{r:#}");
    assert_eq!(r["steps"]["call"]["attempts"], 3);
    assert_eq!(r["steps"]["call"]["output"]["status"], 200);
    assert_eq!(r["steps"]["call"]["output"]["body"], json!({"attempt": 3}));
    let hits = hits.lock().unwrap();
    assert_eq!(hits.len(), 1, "the same idempotency key on every attempt: {hits:?}");
    assert_eq!(hits.values().copied().collect::<Vec<_>>(), [3]);
}

both!(exhausted_retries_fail_the_step_with_the_last_error);
async fn exhausted_retries_fail_the_step_with_the_last_error(h: Harness) {
    let (port, _) = flaky_server(10);
    let yaml = format!(
        "schemaVersion: 1\nname: r\nsteps:\n  - key: call\n    action: TRIGGER_WEBHOOK\n    config: {{url: 'http://127.0.0.1:{port}/x'}}\n    retry: {{maxAttempts: 2, initialInterval: 10ms}}\n"
    );
    let r = h.run(&yaml, json!({})).await;
    assert_eq!(r["status"], "FAILED");
    assert_eq!(r["steps"]["call"]["attempts"], 2);
    assert!(
        r["steps"]["call"]["error"]["message"].as_str().unwrap().contains("503"),
        "{r:#}"
    );
}

both!(two_hundred_concurrent_fan_out_fan_in_runs_join_once);
async fn two_hundred_concurrent_fan_out_fan_in_runs_join_once(h: Harness) {
    let yaml = "schemaVersion: 1\nname: fan\nsteps:\n  - {key: root, action: TRANSFORM, config: {value: 1}}\n  - {key: a, dependsOn: [root], action: TRANSFORM, config: {value: 1}}\n  - {key: b, dependsOn: [root], action: TRANSFORM, config: {value: 2}}\n  - {key: c, dependsOn: [root], action: TRANSFORM, config: {value: 3}}\n  - {key: join, dependsOn: [a, b, c], action: TRANSFORM, config: {value: '{{ steps.a.output + steps.b.output + steps.c.output }}'}}\n";
    let mut ids = Vec::new();
    for _ in 0..200 {
        ids.push(h.start(yaml, json!({})).await);
    }
    for id in ids {
        let r = h.wait(id).await;
        assert_eq!(r["status"], "COMPLETED", "{r:#}");
        assert_eq!(r["steps"]["join"]["output"], 6);
        assert_eq!(r["steps"]["join"]["attempts"], 1, "the join started exactly once");
        let logs = h.store.logs(id).await.unwrap();
        let started = logs
            .iter()
            .filter(|l| l.step_path.as_deref() == Some("join") && l.message.starts_with("step started"))
            .count();
        assert_eq!(started, 1);
    }
}

both!(a_thousand_item_loop_completes_in_order);
async fn a_thousand_item_loop_completes_in_order(h: Harness) {
    let yaml = "schemaVersion: 1\nname: big\nsteps:\n  - key: each\n    type: loop\n    forEach: 'lists.range(1000)'\n    maxConcurrency: 20\n    steps:\n      - {key: sq, action: TRANSFORM, config: {value: '{{ item * item }}'}}\n";
    let r = h.run(yaml, json!({})).await;
    assert_eq!(r["status"], "COMPLETED");
    let out = r["output"]["each"].as_array().unwrap().clone();
    assert_eq!(out.len(), 1000);
    assert!(out.iter().enumerate().all(|(i, v)| v.as_u64() == Some((i * i) as u64)));
    assert_eq!(status(&r, "each[999].sq"), "COMPLETED");
}

async fn stale_write_backs_are_fenced(db: TestDb) {
    let (engine, store) = engine_only(
        &db,
        EngineConfig {
            lease: chrono::Duration::milliseconds(1),
            ..EngineConfig::default()
        },
    )
    .await;
    let reg = Registry::specs_only().unwrap();
    let wf = dsl::load(
        "schemaVersion: 1\nname: s\nsteps:\n  - {key: a, action: TRANSFORM, config: {value: 1}}\n",
        Format::Yaml,
        &reg,
    )
    .unwrap()
    .workflow;
    let version = store
        .ensure_version("default", "s", "s", &serde_json::to_string(&wf).unwrap())
        .await
        .unwrap();
    let (id, effects) = start_manual(&engine, version, json!({})).await;
    let job = Job {
        run_id: id,
        path: "a".into(),
    };
    assert_eq!(effects.jobs, vec![job.clone()]);
    let (first, _) = engine.claim(&job, "worker-1").await.unwrap();
    let first = first.expect("first claim");
    // a duplicate delivery while it runs is ignored
    assert!(engine.claim(&job, "worker-2").await.unwrap().0.is_none());
    tokio::time::sleep(Duration::from_millis(20)).await;
    // the lease expired: the reconciler re-delivers, another worker claims
    let e = engine.reconcile(chrono::Duration::seconds(60), 100).await.unwrap();
    assert_eq!(e.jobs, vec![job.clone()]);
    let (second, _) = engine.claim(&job, "worker-2").await.unwrap();
    let second = second.expect("second claim");
    assert_eq!(second.attempt, 2);
    assert!(second.lease_token > first.lease_token, "fencing tokens increase");
    // the first worker wakes up and writes back late: rejected
    let e = engine
        .record(&first, Ok(Outcome::Completed(json!("stale"))))
        .await
        .unwrap();
    assert!(e.jobs.is_empty() && e.finished.is_empty());
    let (_, steps) = store.run_view(id).await.unwrap().unwrap();
    assert_eq!(steps[0].status.as_str(), "RUNNING");
    // the current holder's write-back lands; a replay of it changes nothing
    let e = engine
        .record(&second, Ok(Outcome::Completed(json!("fresh"))))
        .await
        .unwrap();
    assert_eq!(e.finished.len(), 1);
    let e = engine
        .record(&second, Err(ActionError::fatal("replayed")))
        .await
        .unwrap();
    assert!(e.finished.is_empty());
    let (run, steps) = store.run_view(id).await.unwrap().unwrap();
    assert_eq!(run.status.as_str(), "COMPLETED");
    assert_eq!(steps[0].output, Some(json!("fresh")));
    let logs = store.logs(id).await.unwrap();
    assert!(
        logs.iter().any(|l| l.message.contains("stale write-back rejected")),
        "the stale write is logged"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stale_write_backs_are_fenced_sqlite() {
    stale_write_backs_are_fenced(TestDb::sqlite()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stale_write_backs_are_fenced_postgres() {
    if let Some(db) = TestDb::postgres().await {
        stale_write_backs_are_fenced(db).await;
    }
}

both!(a_step_timeout_is_a_retryable_failure);
async fn a_step_timeout_is_a_retryable_failure(h: Harness) {
    let (port, _) = slow_server(Duration::from_secs(5));
    let yaml = format!(
        "schemaVersion: 1\nname: t\nsteps:\n  - key: slow\n    action: TRIGGER_WEBHOOK\n    config: {{url: 'http://127.0.0.1:{port}/'}}\n    timeout: 100ms\n    retry: {{maxAttempts: 2, backoff: fixed, initialInterval: 10ms}}\n"
    );
    let r = h.run(&yaml, json!({})).await;
    assert_eq!(r["status"], "FAILED", "{r:#}");
    assert_eq!(r["steps"]["slow"]["attempts"], 2);
    assert!(
        r["steps"]["slow"]["error"]["message"]
            .as_str()
            .unwrap()
            .contains("timed out after 100ms"),
        "{r:#}"
    );
}

both!(cancelling_stops_a_running_action);
async fn cancelling_stops_a_running_action(h: Harness) {
    let (port, _) = slow_server(Duration::from_secs(10));
    let yaml = format!(
        "schemaVersion: 1\nname: c\nsteps:\n  - {{key: slow, action: TRIGGER_WEBHOOK, config: {{url: 'http://127.0.0.1:{port}/'}}}}\n  - {{key: next, action: TRANSFORM, config: {{value: 1}}}}\n"
    );
    let id = h.start(&yaml, json!({})).await;
    // wait until the call is in flight
    for _ in 0..200 {
        let (_, steps) = h.store.run_view(id).await.unwrap().unwrap();
        if steps.iter().any(|s| s.path == "slow" && s.status.as_str() == "RUNNING") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let e = h.engine.cancel(id).await.unwrap();
    assert_eq!(e.cancel.len(), 1, "the running step is told to stop");
    h.handle.apply(e).await;
    let r = h.wait(id).await;
    assert_eq!(r["status"], "CANCELLED");
    assert_eq!(status(&r, "slow"), "CANCELLED");
    assert_eq!(status(&r, "next"), "CANCELLED");
    let logs = h.store.logs(id).await.unwrap();
    assert!(
        !logs
            .iter()
            .any(|l| l.step_path.as_deref() == Some("next") && l.message.starts_with("step started"))
    );
}

both!(loops_honour_max_concurrency);
async fn loops_honour_max_concurrency(h: Harness) {
    let (port, _) = slow_server(Duration::from_millis(100));
    let yaml = format!(
        "schemaVersion: 1\nname: mc\nsteps:\n  - key: each\n    type: loop\n    forEach: 'lists.range(6)'\n    maxConcurrency: 2\n    steps:\n      - {{key: call, action: TRIGGER_WEBHOOK, config: {{url: 'http://127.0.0.1:{port}/'}}}}\n"
    );
    let id = h.start(&yaml, json!({})).await;
    let r = h.wait(id).await;
    assert_eq!(r["status"], "COMPLETED", "{r:#}");
    let (_, steps) = h.store.run_view(id).await.unwrap().unwrap();
    let spans: Vec<_> = steps
        .iter()
        .filter(|s| s.step_key == "call")
        .map(|s| (s.started_at.unwrap(), s.ended_at.unwrap()))
        .collect();
    assert_eq!(spans.len(), 6);
    // at no instant did more than two body steps run
    for &(start, _) in &spans {
        let overlapping = spans.iter().filter(|&&(s, e)| s <= start && start < e).count();
        assert!(overlapping <= 2, "{overlapping} iterations ran at once");
    }
    let max_seen = spans
        .iter()
        .map(|&(start, _)| spans.iter().filter(|&&(s, e)| s <= start && start < e).count())
        .max();
    assert_eq!(max_seen, Some(2), "two iterations did run at once");
}

both!(retrying_a_failed_run_resumes_inside_a_loop);
async fn retrying_a_failed_run_resumes_inside_a_loop(h: Harness) {
    // every iteration's call fails once (503, no retry policy), then succeeds
    let (port, hits) = flaky_server(1);
    let yaml = format!(
        "schemaVersion: 1\nname: loopretry\nsteps:\n  - key: each\n    type: loop\n    forEach: \"[1, 2]\"\n    steps:\n      - {{key: call, action: TRIGGER_WEBHOOK, config: {{url: 'http://127.0.0.1:{port}/x', method: POST}}}}\n  - {{key: after, action: TRANSFORM, config: {{value: '{{{{ size(steps.call.output) }}}}'}}}}\n"
    );
    let id = h.start(&yaml, json!({})).await;
    let r = h.wait(id).await;
    assert_eq!(r["status"], "FAILED", "{r:#}");
    assert_eq!(status(&r, "each[0].call"), "FAILED");
    assert_eq!(status(&r, "after"), "CANCELLED");
    // first retry: iteration 0 goes on, iteration 1 fails the same way
    let effects = h.engine.retry_run(id).await.unwrap();
    h.handle.apply(effects).await;
    let r = h.wait(id).await;
    assert_eq!(r["status"], "FAILED", "{r:#}");
    assert_eq!(status(&r, "each[0].call"), "COMPLETED");
    assert_eq!(status(&r, "each[1].call"), "FAILED");
    // second retry: the loop completes and the step after it runs once
    let effects = h.engine.retry_run(id).await.unwrap();
    h.handle.apply(effects).await;
    let r = h.wait(id).await;
    assert_eq!(r["status"], "COMPLETED", "{r:#}");
    assert_eq!(r["steps"]["each[0].call"]["attempts"], 2);
    assert_eq!(r["steps"]["each[1].call"]["attempts"], 2);
    assert_eq!(r["steps"]["after"]["output"], 2);
    assert_eq!(r["steps"]["after"]["attempts"], 1);
    let hits = hits.lock().unwrap().clone();
    assert_eq!(hits.len(), 2, "{hits:?}");
    assert!(hits.values().all(|&n| n == 2), "{hits:?}");
    // a COMPLETED run cannot be retried
    assert!(matches!(
        h.engine.retry_run(id).await,
        Err(orbflow_engine::Error::State(_))
    ));
}

/// Jobs that no longer name work (a redelivery after the run ended, a run
/// that is not in the database, a path the run does not have) are dropped:
/// no claim, no effects, nothing written.
async fn stale_jobs_are_dropped(db: TestDb) {
    let (engine, store) = engine_only(&db, EngineConfig::default()).await;
    let version = register(
        &store,
        "default",
        "s",
        "schemaVersion: 1\nname: s\nsteps:\n  - {key: a, action: TRANSFORM, config: {value: 1}}\n",
    )
    .await;
    let (id, effects) = start_manual(&engine, version, json!({})).await;
    let job = effects.jobs[0].clone();
    let unknown_path = Job {
        run_id: id,
        path: "nope".into(),
    };
    let (claimed, e) = engine.claim(&unknown_path, "w").await.unwrap();
    assert!(claimed.is_none() && e.jobs.is_empty() && e.finished.is_empty());
    let (claimed, _) = engine.claim(&job, "w").await.unwrap();
    let claimed = claimed.expect("the job's own claim");
    let e = engine.record(&claimed, Ok(Outcome::Completed(json!(1)))).await.unwrap();
    assert_eq!(e.finished.len(), 1, "the run ended");
    let logs = store.logs(id).await.unwrap().len();
    for stale in [
        job.clone(),
        Job {
            run_id: uuid::Uuid::now_v7(),
            path: "a".into(),
        },
    ] {
        let (claimed, e) = engine.claim(&stale, "w").await.unwrap();
        assert!(claimed.is_none(), "{stale:?}");
        assert!(
            e.jobs.is_empty() && e.finished.is_empty() && e.cancel.is_empty(),
            "{stale:?}"
        );
    }
    let (run, steps) = store.run_view(id).await.unwrap().unwrap();
    assert_eq!(run.status.as_str(), "COMPLETED");
    assert_eq!((steps[0].attempt, steps[0].output.clone()), (1, Some(json!(1))));
    assert_eq!(store.logs(id).await.unwrap().len(), logs, "nothing written");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stale_jobs_are_dropped_sqlite() {
    stale_jobs_are_dropped(TestDb::sqlite()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stale_jobs_are_dropped_postgres() {
    if let Some(db) = TestDb::postgres().await {
        stale_jobs_are_dropped(db).await;
    }
}

/// Start-up recovery of a process that owns its database (`orbflow run`,
/// `orbflow dev` after a crash): steps left QUEUED are enqueued again,
/// WAITING steps get their timers back at their time, a step left RUNNING by
/// the dead process is re-queued with its attempt counted, and loop
/// iteration rows (which no worker runs) are left alone. A timeout check on
/// a run without a deadline, or on no run, changes nothing.
async fn recovery_hands_back_every_unfinished_step(db: TestDb) {
    let (engine, store) = engine_only(&db, EngineConfig::default()).await;
    let version = register(
        &store,
        "default",
        "r",
        "schemaVersion: 1\nname: r\nsteps:\n  - {key: wait, dependsOn: [], action: DELAY, config: {duration: 1h}}\n  - {key: busy, dependsOn: [], action: TRANSFORM, config: {value: 1}}\n  - {key: each, dependsOn: [], type: loop, forEach: '[1, 2]', steps: [{key: body, action: TRANSFORM, config: {value: 2}}]}\n",
    )
    .await;
    let (id, started) = start_manual(&engine, version, json!({})).await;
    let job = |path: &str| Job {
        run_id: id,
        path: path.into(),
    };
    let (wait, _) = engine.claim(&job("wait"), "dead").await.unwrap();
    let until = chrono::Utc::now() + chrono::Duration::hours(1);
    engine
        .record(
            &wait.unwrap(),
            Ok(Outcome::WaitUntil {
                until,
                output: json!({"waited": true}),
            }),
        )
        .await
        .unwrap();
    let (busy, _) = engine.claim(&job("busy"), "dead").await.unwrap();
    assert_eq!(busy.unwrap().attempt, 1);
    let mut queued: Vec<String> = started.jobs.iter().map(|j| j.path.clone()).collect();
    queued.retain(|p| p != "wait" && p != "busy");
    queued.sort();
    // a loop runs its iterations one at a time: the first one's body
    assert_eq!(queued, ["each[0].body"], "{:?}", started.jobs);

    // the process died here; the next one recovers
    let e = engine.recover_exclusive().await.unwrap();
    let mut jobs: Vec<String> = e.jobs.iter().map(|j| j.path.clone()).collect();
    jobs.sort();
    assert_eq!(jobs, ["busy", "each[0].body"], "no iteration row");
    assert_eq!(e.wakes.len(), 1, "{:?}", e.wakes);
    assert_eq!(e.wakes[0].job, job("wait"));
    assert!((e.wakes[0].at - until).num_milliseconds().abs() < 5, "its own time");
    let (_, steps) = store.run_view(id).await.unwrap().unwrap();
    let busy = steps.iter().find(|s| s.path == "busy").unwrap();
    assert_eq!(
        (busy.status.as_str(), busy.attempt),
        ("QUEUED", 1),
        "the attempt counts"
    );
    let (again, _) = engine.claim(&job("busy"), "next").await.unwrap();
    assert_eq!(again.unwrap().attempt, 2);
    // the loop block waits for its children, untouched; its body goes on
    let each = steps.iter().find(|s| s.path == "each").unwrap();
    assert_eq!((each.status.as_str(), each.attempt), ("RUNNING", 0), "{each:?}");
    let (body, _) = engine.claim(&job("each[0].body"), "next").await.unwrap();
    let e = engine
        .record(&body.unwrap(), Ok(Outcome::Completed(json!(2))))
        .await
        .unwrap();
    let next: Vec<&str> = e.jobs.iter().map(|j| j.path.as_str()).collect();
    assert_eq!(next, ["each[1].body"], "the second iteration starts");

    // no deadline, no run: nothing to time out
    for run in [id, uuid::Uuid::now_v7()] {
        let e = engine.time_out(run).await.unwrap();
        assert!(e.jobs.is_empty() && e.finished.is_empty() && e.cancel.is_empty());
    }
    let (run, _) = store.run_view(id).await.unwrap().unwrap();
    assert_eq!(run.status.as_str(), "RUNNING");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recovery_hands_back_every_unfinished_step_sqlite() {
    recovery_hands_back_every_unfinished_step(TestDb::sqlite()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recovery_hands_back_every_unfinished_step_postgres() {
    if let Some(db) = TestDb::postgres().await {
        recovery_hands_back_every_unfinished_step(db).await;
    }
}
