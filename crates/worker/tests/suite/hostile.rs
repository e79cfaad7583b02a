//! Long and hostile work: leases renewed while an action runs, lost attempts
//! counted against the attempt budget, a workflow-level timeout, and
//! expressions that exceed their budget failing only their own step.

use crate::common;

use std::sync::atomic::Ordering;
use std::time::Duration;

use common::{Harness, TestDb, engine_only, register, slow_server, start_manual, status};
use orbflow_engine::store::{LeaseRef, Store};
use orbflow_engine::{EngineConfig, Job};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::json;

fn short_lease() -> EngineConfig {
    EngineConfig {
        lease: chrono::Duration::seconds(1),
        ..EngineConfig::default()
    }
}

both_with!(a_step_longer_than_its_lease_runs_once, super::short_lease());
async fn a_step_longer_than_its_lease_runs_once(h: Harness) {
    // the action takes three leases; the worker's reconciler runs every second
    let (port, hits) = slow_server(Duration::from_secs(3));
    let yaml = format!(
        "schemaVersion: 1\nname: long\nsteps:\n  - {{key: call, action: TRIGGER_WEBHOOK, timeout: 20s, config: {{url: 'http://127.0.0.1:{port}/'}}}}\n"
    );
    let r = h.run(&yaml, json!({})).await;
    assert_eq!(r["status"], "COMPLETED", "{r:#}");
    assert_eq!(r["steps"]["call"]["attempts"], 1, "{r:#}");
    assert_eq!(hits.load(Ordering::SeqCst), 1, "the peer was called once");
}

const CHAT_ANSWER: &str = r#"{"model": "m", "choices": [{"message": {"role": "assistant", "content": "a long answer"}, "finish_reason": "stop"}], "usage": {"prompt_tokens": 3, "completion_tokens": 3}}"#;

/// A GENERATE_CONTENT call that outlasts three leases: the worker renews
/// the lease meanwhile, so the model is called once.
async fn a_generation_longer_than_its_lease_runs_once(db: TestDb) {
    let (port, calls) = common::slow_server_answering(Duration::from_secs(3), "application/json", CHAT_ANSWER);
    let config = EngineConfig {
        connections: [(
            "llm".to_owned(),
            json!({"baseUrl": format!("http://127.0.0.1:{port}/v1"), "apiKey": "sk-test", "model": "m"}),
        )]
        .into(),
        ..short_lease()
    };
    let h = common::harness_with(db, config).await;
    let yaml = "schemaVersion: 1\nname: long-llm\nsteps:\n  - {key: draft, action: GENERATE_CONTENT, timeout: 20s, config: {prompt: 'write at length'}}\n";
    let r = h.run(yaml, json!({})).await;
    assert_eq!(r["status"], "COMPLETED", "{r:#}");
    assert_eq!(r["steps"]["draft"]["attempts"], 1, "{r:#}");
    assert_eq!(r["steps"]["draft"]["output"]["text"], "a long answer");
    assert_eq!(calls.load(Ordering::SeqCst), 1, "the model was called once");
}

const SCORE_ANSWER: &str = r#"{"model": "m", "choices": [{"message": {"role": "assistant", "content": "{\"score\": 0.6}"}, "finish_reason": "stop"}]}"#;

/// ANALYZE_SENTIMENT with `provider: llm` in a run: the worker resolves the
/// `llm` connection for it (the offline steps around it need none) and the
/// step leaves the inline path.
async fn a_model_backed_sentiment_step_runs_in_a_workflow(db: TestDb) {
    let (port, calls) = common::slow_server_answering(Duration::ZERO, "application/json", SCORE_ANSWER);
    let config = EngineConfig {
        connections: [(
            "llm".to_owned(),
            json!({"baseUrl": format!("http://127.0.0.1:{port}/v1"), "model": "m"}),
        )]
        .into(),
        ..EngineConfig::default()
    };
    let h = common::harness_with(db, config).await;
    let yaml = "schemaVersion: 1\nname: mood\nsteps:\n  - {key: quick, action: ANALYZE_SENTIMENT, config: {text: 'I love it'}}\n  - {key: deep, action: ANALYZE_SENTIMENT, config: {text: 'I love it', provider: llm}}\n";
    let r = h.run(yaml, json!({})).await;
    assert_eq!(r["status"], "COMPLETED", "{r:#}");
    assert_eq!(r["steps"]["deep"]["output"]["provider"], "llm");
    assert_eq!(r["steps"]["deep"]["output"]["score"], 0.6);
    assert_eq!(r["steps"]["quick"]["output"]["label"], "positive");
    assert!(r["steps"]["quick"]["output"].get("provider").is_none());
    assert_eq!(calls.load(Ordering::SeqCst), 1, "only the llm step called the model");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_model_backed_sentiment_step_runs_in_a_workflow_sqlite() {
    a_model_backed_sentiment_step_runs_in_a_workflow(TestDb::sqlite()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_model_backed_sentiment_step_runs_in_a_workflow_postgres() {
    if let Some(db) = TestDb::postgres().await {
        a_model_backed_sentiment_step_runs_in_a_workflow(db).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_generation_longer_than_its_lease_runs_once_sqlite() {
    a_generation_longer_than_its_lease_runs_once(TestDb::sqlite()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_generation_longer_than_its_lease_runs_once_postgres() {
    if let Some(db) = TestDb::postgres().await {
        a_generation_longer_than_its_lease_runs_once(db).await;
    }
}

async fn renewal_reports_leases_that_moved_on(db: TestDb) {
    let (engine, store) = engine_only(&db, EngineConfig::default()).await;
    let version = register(
        &store,
        "default",
        "r",
        "schemaVersion: 1\nname: r\nsteps:\n  - {key: a, action: TRANSFORM, config: {value: 1}}\n",
    )
    .await;
    let (id, _) = start_manual(&engine, version, json!({})).await;
    let job = Job {
        run_id: id,
        path: "a".into(),
    };
    let claimed = engine.claim(&job, "w").await.unwrap().0.unwrap();
    let held = claimed.lease();
    assert_eq!((held.run_id, held.path.as_str()), (id, "a"));
    let before = store.run_view(id).await.unwrap().unwrap().1[0]
        .lease_expires_at
        .unwrap();
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert!(
        engine
            .renew_leases(std::slice::from_ref(&held))
            .await
            .unwrap()
            .is_empty()
    );
    let after = store.run_view(id).await.unwrap().unwrap().1[0]
        .lease_expires_at
        .unwrap();
    assert!(after > before, "the lease was extended: {before} → {after}");
    // another token, another attempt: not ours
    let stale = [
        LeaseRef {
            lease_token: held.lease_token + 1000,
            ..held.clone()
        },
        LeaseRef {
            attempt: held.attempt + 1,
            ..held.clone()
        },
    ];
    assert_eq!(engine.renew_leases(&stale).await.unwrap(), stale.to_vec());
    // once the run is cancelled the step is no longer ours either
    engine.cancel(id).await.unwrap();
    assert_eq!(
        engine.renew_leases(std::slice::from_ref(&held)).await.unwrap(),
        vec![held]
    );
    assert!(engine.renew_leases(&[]).await.unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn renewal_reports_leases_that_moved_on_sqlite() {
    renewal_reports_leases_that_moved_on(TestDb::sqlite()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn renewal_reports_leases_that_moved_on_postgres() {
    if let Some(db) = TestDb::postgres().await {
        renewal_reports_leases_that_moved_on(db).await;
    }
}

/// Claims `job` and "dies" `times` times: each claim is left to expire.
async fn lose_attempts(db: TestDb, retry: &str, times: i32) -> (serde_json::Value, Vec<String>) {
    let config = EngineConfig {
        lease: chrono::Duration::milliseconds(1),
        ..EngineConfig::default()
    };
    let (engine, store) = engine_only(&db, config).await;
    let yaml = format!(
        "schemaVersion: 1\nname: lost\nsteps:\n  - {{key: a, action: TRANSFORM, {retry} config: {{value: 1}}}}\n  - {{key: b, action: TRANSFORM, config: {{value: 2}}}}\n"
    );
    let version = register(&store, "default", "lost", &yaml).await;
    let (id, _) = start_manual(&engine, version, json!({})).await;
    let job = Job {
        run_id: id,
        path: "a".into(),
    };
    for n in 1..=times {
        let claimed = engine.claim(&job, "doomed").await.unwrap().0;
        assert_eq!(claimed.map(|c| c.attempt), Some(n), "delivery {n}");
        tokio::time::sleep(Duration::from_millis(10)).await;
        let e = engine.reconcile(chrono::Duration::seconds(60), 100).await.unwrap();
        let redelivered = e.jobs.contains(&job);
        let (run, _) = store.run_view(id).await.unwrap().unwrap();
        if run.status.is_terminal() {
            assert!(!redelivered);
            break;
        }
        assert!(redelivered, "attempt {n} lost: re-delivered");
    }
    let (run, steps) = store.run_view(id).await.unwrap().unwrap();
    let mut map = serde_json::Map::new();
    for s in &steps {
        map.insert(s.path.clone(), orbflow_engine::engine::step_view(s));
    }
    let logs = store.logs(id).await.unwrap().into_iter().map(|l| l.message).collect();
    (
        json!({"status": run.status.as_str(), "error": run.error, "steps": map}),
        logs,
    )
}

async fn lost_attempts_exhaust_the_budget(db: TestDb) {
    let (r, logs) = lose_attempts(db, "retry: {maxAttempts: 3},", 3).await;
    assert_eq!(r["status"], "FAILED", "{r:#}");
    assert_eq!(status(&r, "a"), "FAILED");
    assert_eq!(status(&r, "b"), "CANCELLED");
    assert_eq!(r["steps"]["a"]["attempts"], 3);
    let msg = r["steps"]["a"]["error"]["message"].as_str().unwrap();
    assert!(
        msg.contains("attempt 3 was lost") && msg.contains("no attempts are left (3 of 3 used)"),
        "{msg}"
    );
    assert_eq!(r["steps"]["a"]["error"]["lost"], true);
    assert_eq!(
        logs.iter().filter(|l| l.contains("re-delivered")).count(),
        2,
        "{logs:?}"
    );
}

async fn a_step_without_retries_survives_one_lost_attempt_not_two(db: TestDb) {
    let (r, _) = lose_attempts(db, "", 2).await;
    assert_eq!(r["status"], "FAILED", "{r:#}");
    assert_eq!(r["steps"]["a"]["attempts"], 2, "one re-delivery (min_deliveries)");
    let msg = r["steps"]["a"]["error"]["message"].as_str().unwrap();
    assert!(msg.contains("(2 of 2 used)"), "{msg}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lost_attempts_exhaust_the_budget_sqlite() {
    lost_attempts_exhaust_the_budget(TestDb::sqlite()).await;
    a_step_without_retries_survives_one_lost_attempt_not_two(TestDb::sqlite()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lost_attempts_exhaust_the_budget_postgres() {
    if let Some(db) = TestDb::postgres().await {
        lost_attempts_exhaust_the_budget(db).await;
    }
    if let Some(db) = TestDb::postgres().await {
        a_step_without_retries_survives_one_lost_attempt_not_two(db).await;
    }
}

both_with!(a_worker_stops_an_attempt_whose_lease_moved_on, super::short_lease());
async fn a_worker_stops_an_attempt_whose_lease_moved_on(h: Harness) {
    use orbflow_store::entity::step_executions as se;
    // the peer would answer after a minute: only a cancellation ends the call early
    let (port, _) = slow_server(Duration::from_secs(60));
    let yaml = format!(
        "schemaVersion: 1\nname: stolen\nsteps:\n  - {{key: call, action: TRIGGER_WEBHOOK, timeout: 120s, config: {{url: 'http://127.0.0.1:{port}/'}}}}\n"
    );
    let id = h.start(&yaml, json!({})).await;
    let first = loop {
        let (_, steps) = h.store.run_view(id).await.unwrap().unwrap();
        if steps[0].status.as_str() == "RUNNING" {
            break steps[0].clone();
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    // Another process takes the step over: its lease token changes under
    // the worker (as a re-delivery to another worker would).
    se::Entity::update_many()
        .col_expr(
            se::Column::LeaseToken,
            Expr::value(first.lease_token.unwrap() + 1_000_000),
        )
        .filter(se::Column::Id.eq(first.id))
        .exec(h.store.connection())
        .await
        .unwrap();
    // the next heartbeat finds the lease lost and stops the attempt; its
    // write-back is then refused by the fence
    let start = std::time::Instant::now();
    loop {
        let logs = h.store.logs(id).await.unwrap();
        if logs
            .iter()
            .any(|l| l.message.contains("stale write-back rejected") && l.attempt == Some(1))
        {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "the attempt was not stopped: {logs:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (_, steps) = h.store.run_view(id).await.unwrap().unwrap();
    assert_eq!(
        steps[0].status.as_str(),
        "RUNNING",
        "the fence kept the stale write out"
    );
    h.engine.cancel(id).await.unwrap();
}

both!(a_run_past_its_timeout_fails_and_stops_its_steps);
async fn a_run_past_its_timeout_fails_and_stops_its_steps(h: Harness) {
    let (port, _) = slow_server(Duration::from_secs(60));
    let yaml = format!(
        "schemaVersion: 1\nname: bounded\ntimeout: 1500ms\nsteps:\n  - {{key: call, action: TRIGGER_WEBHOOK, timeout: 120s, config: {{url: 'http://127.0.0.1:{port}/'}}}}\n  - {{key: wait, action: DELAY, dependsOn: [], config: {{duration: 1h}}}}\n  - {{key: after, action: TRANSFORM, dependsOn: [call, wait], config: {{value: 1}}}}\n"
    );
    let id = h.start(&yaml, json!({})).await;
    let r = h.wait(id).await;
    assert_eq!(r["status"], "FAILED", "{r:#}");
    assert_eq!(r["error"]["timedOut"], true);
    let msg = r["error"]["message"].as_str().unwrap();
    assert!(msg.contains("exceeded its timeout of 1500ms"), "{msg}");
    for s in ["call", "wait", "after"] {
        assert_eq!(status(&r, s), "CANCELLED", "{s}: {r:#}");
    }
    // a retry gets the whole timeout again, from the retry
    let (before, _) = h.store.run_view(id).await.unwrap().unwrap();
    let effects = h.engine.retry_run(id).await.unwrap();
    h.handle.apply(effects).await;
    let (after, _) = h.store.run_view(id).await.unwrap().unwrap();
    assert_eq!(after.status.as_str(), "RUNNING");
    let now = chrono::Utc::now();
    assert!(before.deadline_at.unwrap() < now);
    assert!(after.deadline_at.unwrap() > now, "{:?}", after.deadline_at);
    let r = h.wait(id).await;
    assert_eq!(r["error"]["timedOut"], true, "and it times out again: {r:#}");
}

both!(a_hostile_template_fails_its_own_step_while_other_tenants_run);
async fn a_hostile_template_fails_its_own_step_while_other_tenants_run(h: Harness) {
    let hostile = "schemaVersion: 1\nname: hostile\nsteps:\n  - {key: t, action: TRANSFORM, config: {value: '{{ input.l.exists(x, input.l.exists(y, x + y == -1)) }}'}}\n";
    let bad = h.start_in("evil", hostile, json!({ "l": vec![0; 6000] })).await;
    // wait until the hostile step is being rendered
    loop {
        let (_, steps) = h.store.run_view(bad).await.unwrap().unwrap();
        if steps[0].status.as_str() != "QUEUED" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let trivial = "schemaVersion: 1\nname: trivial\nsteps:\n  - {key: a, action: TRANSFORM, config: {value: '{{ input.n + 1 }}'}}\n";
    let good = h.start_in("good", trivial, json!({ "n": 1 })).await;
    let r = h.wait(good).await;
    assert_eq!(r["status"], "COMPLETED", "{r:#}");
    assert_eq!(r["steps"]["a"]["output"], 2);
    let r = h.wait(bad).await;
    assert_eq!(r["status"], "FAILED", "{r:#}");
    let msg = r["steps"]["t"]["error"]["message"].as_str().unwrap();
    assert!(msg.contains("template failed") && msg.contains("exceeded its"), "{msg}");
    // the trivial run, started while the hostile step rendered, finished first
    let (good_run, _) = h.store.run_view(good).await.unwrap().unwrap();
    let (bad_run, _) = h.store.run_view(bad).await.unwrap().unwrap();
    assert!(good_run.ended_at < bad_run.ended_at, "{good_run:?} / {bad_run:?}");
}

both!(the_step_timeout_covers_rendering);
async fn the_step_timeout_covers_rendering(h: Harness) {
    let yaml = "schemaVersion: 1\nname: slow-render\nsteps:\n  - {key: t, action: TRANSFORM, timeout: 200ms, config: {value: '{{ input.l.exists(x, input.l.exists(y, x + y == -1)) }}'}}\n";
    let r = h.run(yaml, json!({ "l": vec![0; 6000] })).await;
    assert_eq!(r["status"], "FAILED", "{r:#}");
    let msg = r["steps"]["t"]["error"]["message"].as_str().unwrap();
    assert!(msg.contains("200ms"), "{msg}");
}

both!(hostile_block_and_output_expressions_fail_within_their_budget);
async fn hostile_block_and_output_expressions_fail_within_their_budget(h: Harness) {
    let nested = "input.l.exists(x, input.l.exists(y, x + y == -1))";
    let input = json!({ "l": vec![0; 6000] });
    let condition = format!(
        "schemaVersion: 1\nname: c\nsteps:\n  - key: gate\n    type: condition\n    if: \"{nested}\"\n    then:\n      - {{key: yes, action: TRANSFORM, config: {{value: 1}}}}\n"
    );
    let r = h.run(&condition, input.clone()).await;
    assert_eq!(r["status"], "FAILED", "{r:#}");
    assert_eq!(status(&r, "gate"), "FAILED");
    let msg = r["steps"]["gate"]["error"]["message"].as_str().unwrap();
    assert!(msg.contains("exceeded its"), "{msg}");
    let looped = "schemaVersion: 1\nname: l\nsteps:\n  - key: each\n    type: loop\n    forEach: \"input.l.map(x, input.l.filter(y, y == x).size())\"\n    steps:\n      - {key: one, action: TRANSFORM, config: {value: 1}}\n";
    let r = h.run(looped, input.clone()).await;
    assert_eq!(r["status"], "FAILED", "{r:#}");
    assert!(
        r["steps"]["each"]["error"]["message"]
            .as_str()
            .unwrap()
            .contains("exceeded its")
    );
    let output = format!(
        "schemaVersion: 1\nname: o\nsteps:\n  - {{key: a, action: TRANSFORM, config: {{value: 1}}}}\noutput: \"{nested}\"\n"
    );
    let r = h.run(&output, input).await;
    assert_eq!(r["status"], "FAILED", "{r:#}");
    assert_eq!(status(&r, "a"), "COMPLETED");
    assert!(
        r["error"]["cause"]["message"]
            .as_str()
            .unwrap()
            .contains("exceeded its"),
        "{r:#}"
    );
}

both_with!(
    outputs_past_the_limit_fail_with_a_clear_error,
    orbflow_engine::EngineConfig {
        max_output_bytes: 1000,
        ..orbflow_engine::EngineConfig::default()
    }
);
async fn outputs_past_the_limit_fail_with_a_clear_error(h: Harness) {
    let big = "schemaVersion: 1\nname: big\nsteps:\n  - {key: a, action: TRANSFORM, config: {value: '{{ input.s + input.s }}'}}\n";
    let r = h.run(big, json!({ "s": "x".repeat(600) })).await;
    assert_eq!(r["status"], "FAILED", "{r:#}");
    let msg = r["steps"]["a"]["error"]["message"].as_str().unwrap();
    assert!(msg.contains("1202 bytes, more than the 1000-byte limit"), "{msg}");
    // each step fits, together they do not: the run output is refused
    let two = "schemaVersion: 1\nname: two\nsteps:\n  - {key: a, action: TRANSFORM, config: {value: '{{ input.s }}'}}\n  - {key: b, action: TRANSFORM, config: {value: '{{ input.s }}'}}\n";
    let r = h.run(two, json!({ "s": "x".repeat(600) })).await;
    assert_eq!(r["status"], "FAILED", "{r:#}");
    assert_eq!(status(&r, "a"), "COMPLETED");
    assert_eq!(status(&r, "b"), "COMPLETED");
    let msg = r["error"]["message"].as_str().unwrap();
    assert!(
        msg.contains("the run output is") && msg.contains("`output` expression"),
        "{msg}"
    );
    // with an output expression that keeps less, the same run completes
    let picked = format!("{two}output: \"size(steps.a.output)\"\n");
    let r = h.run(&picked, json!({ "s": "x".repeat(600) })).await;
    assert_eq!(r["status"], "COMPLETED", "{r:#}");
    assert_eq!(r["output"], 600);
}
