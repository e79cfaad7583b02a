//! Runs through the real HTTP API, on SQLite and Postgres: start with
//! input validation and idempotency keys, list with filters and a cursor,
//! logs, cancel, and retry from the failed step in the same run.

#[macro_use]
mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use common::{HELLO, Harness, problem};
use reqwest::Method;
use serde_json::{Value, json};

both!(start_validates_input_and_honours_idempotency_keys);
async fn start_validates_input_and_honours_idempotency_keys(h: Harness) {
    // a draft has no active version
    assert_eq!(h.post_yaml("/v1/workflows?slug=draft-only", HELLO).await.status, 201);
    problem(
        &h.post_json("/v1/workflows/draft-only/runs", json!({})).await,
        409,
        "not-active",
    );
    h.publish("hello", HELLO).await;
    // input checked against `inputs`
    let r = h
        .post_json("/v1/workflows/hello/runs", json!({"input": {"name": 5}}))
        .await;
    problem(&r, 422, "invalid-input");
    assert!(r.body["detail"].as_str().unwrap().contains("/name"), "{}", r.text);
    problem(
        &h.post_json("/v1/workflows/hello/runs", json!({"inputs": {}})).await,
        400,
        "invalid-body",
    );
    // the same Idempotency-Key gives the same run
    let start = |key: &str| {
        h.req(Method::POST, "/v1/workflows/hello/runs")
            .header("idempotency-key", key)
            .json(&json!({"input": {"name": "Ada"}}))
    };
    let first = h.send(start("k-1")).await;
    assert_eq!(first.status, 201, "{}", first.text);
    let second = h.send(start("k-1")).await;
    assert_eq!(second.status, 200, "{}", second.text);
    assert_eq!(first.body["id"], second.body["id"]);
    let other = h.send(start("k-2")).await;
    assert_eq!(other.status, 201);
    assert_ne!(other.body["id"], first.body["id"]);
    let too_long = "x".repeat(256);
    problem(&h.send(start(&too_long)).await, 400, "invalid-header");
    // the run record: stepExecutions, trigger type and data
    let run = h.wait_run(first.body["id"].as_str().unwrap()).await;
    assert_eq!(run["status"], "COMPLETED");
    assert_eq!(run["output"], json!({"greet": "Hello, Ada!"}));
    assert_eq!(run["stepExecutions"]["greet"]["attempts"], 1);
    assert_eq!(run["triggerType"], "manual");
    assert_eq!(run["triggerData"]["via"], "api");
    // an empty body is no input, which `inputs` rejects here
    let r = h.send(h.req(Method::POST, "/v1/workflows/hello/runs")).await;
    problem(&r, 422, "invalid-input");
}

both!(a_run_input_is_a_json_object);
async fn a_run_input_is_a_json_object(h: Harness) {
    // no `inputs` schema: before, anything that parsed started a run
    let open = "schemaVersion: 1\nname: open\nsteps:\n  - { key: a, action: TRANSFORM, config: { value: 1 } }\n";
    h.publish("open", open).await;
    let post = |ct: &str, body: &str| {
        h.req(Method::POST, "/v1/workflows/open/runs")
            .header("content-type", ct)
            .body(body.to_owned())
    };
    problem(&h.send(post("application/json", "[]")).await, 400, "invalid-body");
    problem(&h.send(post("application/json", "[{}]")).await, 400, "invalid-body");
    problem(&h.send(post("application/json", "\"x\"")).await, 400, "invalid-body");
    let r = h.send(post("text/plain", "{\"input\": {}}")).await;
    problem(&r, 415, "unsupported-media-type");
    let r = h
        .send(h.req(Method::POST, "/v1/workflows/open/runs").body("{\"input\": {}}"))
        .await;
    problem(&r, 415, "unsupported-media-type");
    for input in [json!([]), json!("text"), json!(5), json!([{"a": 1}])] {
        let r = h.post_json("/v1/workflows/open/runs", json!({ "input": input })).await;
        problem(&r, 422, "invalid-input");
        assert!(r.body["detail"].as_str().unwrap().contains("object"), "{}", r.text);
    }
    assert_eq!(h.get("/v1/runs").await.body["items"], json!([]), "no run started");
    // an object, `null`, an empty body: runs
    for body in [json!({"input": {"a": 1}}), json!({"input": null}), json!({})] {
        assert_eq!(h.post_json("/v1/workflows/open/runs", body).await.status, 201);
    }
    let r = h.send(post("application/vnd.orbflow+json; charset=utf-8", "{}")).await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(h.send(h.req(Method::POST, "/v1/workflows/open/runs")).await.status, 201);
}

both!(list_filters_pages_and_logs);
async fn list_filters_pages_and_logs(h: Harness) {
    h.publish("hello", HELLO).await;
    let fail = "schemaVersion: 1\nname: boom\nsteps:\n  - key: x\n    action: TRANSFORM\n    config: { value: \"{{ input.missing.deep }}\" }\n";
    h.publish("boom", fail).await;
    let mut ids = Vec::new();
    for n in 0..5 {
        let r = h.run("hello", json!({"name": format!("n{n}")})).await;
        ids.push(r["id"].as_str().unwrap().to_owned());
    }
    let failed = h.run("boom", json!({})).await;
    assert_eq!(failed["status"], "FAILED");
    // by workflow, newest first, in pages of 2
    let mut seen = Vec::new();
    let mut cursor = String::new();
    loop {
        let r = h.get(&format!("/v1/runs?workflow=hello&limit=2{cursor}")).await;
        assert_eq!(r.status, 200, "{}", r.text);
        seen.extend(
            r.body["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x["id"].as_str().unwrap().to_owned()),
        );
        match r.body["nextCursor"].as_str() {
            Some(c) => cursor = format!("&cursor={c}"),
            None => break,
        }
    }
    ids.reverse();
    assert_eq!(seen, ids);
    // by status
    let r = h.get("/v1/runs?status=FAILED").await;
    let items = r.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["id"], failed["id"]);
    assert!(items[0].get("stepExecutions").is_none(), "listings leave the steps out");
    problem(&h.get("/v1/runs?status=DONE").await, 400, "invalid-query");
    // by time: nothing before the first, everything after a past instant
    let r = h.get("/v1/runs?until=2000-01-01T00:00:00Z").await;
    assert!(r.body["items"].as_array().unwrap().is_empty());
    let r = h.get("/v1/runs?since=2000-01-01T00:00:00Z&limit=200").await;
    assert_eq!(r.body["items"].as_array().unwrap().len(), 6);
    problem(&h.get("/v1/runs?since=yesterday").await, 400, "invalid-query");
    // logs, paginated with `after`
    let id = &ids[0];
    let all = h.get(&format!("/v1/runs/{id}/logs?limit=200")).await;
    let lines = all.body["items"].as_array().unwrap().clone();
    assert!(lines.len() >= 3, "{lines:?}");
    assert!(
        lines
            .iter()
            .any(|l| l["message"].as_str().unwrap().starts_with("run started"))
    );
    let first = h.get(&format!("/v1/runs/{id}/logs?limit=1")).await;
    assert_eq!(first.body["items"].as_array().unwrap().len(), 1);
    let after = first.body["nextCursor"].as_str().unwrap();
    let rest = h.get(&format!("/v1/runs/{id}/logs?after={after}&limit=200")).await;
    assert_eq!(rest.body["items"].as_array().unwrap().len(), lines.len() - 1);
    assert_eq!(rest.body["items"][0], lines[1]);
    // the run has finished: its last page ends the log (no cursor to poll forever)
    assert_eq!(rest.body["nextCursor"], Value::Null, "{}", rest.text);
    assert_eq!(all.body["nextCursor"], Value::Null, "{}", all.text);
    // a full page of a finished run still has a cursor; the page after it is empty and last
    let n = lines.len();
    let full = h.get(&format!("/v1/runs/{id}/logs?limit={n}")).await;
    let cursor = full.body["nextCursor"].as_str().unwrap().to_owned();
    let end = h.get(&format!("/v1/runs/{id}/logs?after={cursor}&limit={n}")).await;
    assert!(end.body["items"].as_array().unwrap().is_empty());
    assert_eq!(end.body["nextCursor"], Value::Null);
    problem(
        &h.get(&format!("/v1/runs/{}/logs", uuid::Uuid::now_v7())).await,
        404,
        "not-found",
    );
    // a malformed id is a 400 naming the parameter, without the parser's words
    let r = h.get("/v1/runs/not-a-uuid").await;
    problem(&r, 400, "invalid-path");
    assert_eq!(r.body["detail"], "path parameter `id` must be a UUID", "{}", r.text);
    let r = h.get("/v1/workflows/hello/versions/x1").await;
    problem(&r, 400, "invalid-path");
    assert!(
        !r.text.contains("i32") && !r.text.contains("invalid digit"),
        "{}",
        r.text
    );
}

both!(cancel_stops_a_run);
async fn cancel_stops_a_run(h: Harness) {
    let slow = "schemaVersion: 1\nname: slow\nsteps:\n  - key: wait\n    action: DELAY\n    config: { duration: \"1m\" }\n  - key: after\n    action: TRANSFORM\n    config: { value: 1 }\n";
    h.publish("slow", slow).await;
    let r = h.post_json("/v1/workflows/slow/runs", json!({})).await;
    let id = r.body["id"].as_str().unwrap().to_owned();
    // while it runs, a short page keeps its cursor: more lines will come
    let page = h.get(&format!("/v1/runs/{id}/logs?limit=200")).await;
    assert!(page.body["items"].as_array().unwrap().len() < 200);
    let cursor = page.body["nextCursor"].as_str().expect("a cursor to follow").to_owned();
    let r = h.post_json(&format!("/v1/runs/{id}/cancel"), Value::Null).await;
    assert_eq!(r.status, 202, "{}", r.text);
    // following on: the cancellation's lines, and then the end
    let page = h.get(&format!("/v1/runs/{id}/logs?after={cursor}&limit=200")).await;
    let messages: Vec<&str> = page.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|l| l["message"].as_str())
        .collect();
    assert!(messages.iter().any(|m| m.contains("cancel")), "{messages:?}");
    assert_eq!(page.body["nextCursor"], Value::Null, "{}", page.text);
    assert_eq!(r.body["status"], "CANCELLED");
    assert_eq!(r.body["stepExecutions"]["after"]["status"], "CANCELLED");
    problem(
        &h.post_json(&format!("/v1/runs/{id}/cancel"), Value::Null).await,
        409,
        "invalid-state",
    );
    // a cancelled run cannot be retried
    problem(
        &h.post_json(&format!("/v1/runs/{id}/retry"), Value::Null).await,
        409,
        "invalid-state",
    );
}

/// An HTTP peer on 127.0.0.1 that answers 400 to its first request and
/// `{"ok": true}` to every later one.
async fn flaky_peer() -> (String, Arc<AtomicUsize>) {
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = hits.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move || {
            let counter = counter.clone();
            async move {
                if counter.fetch_add(1, Ordering::SeqCst) == 0 {
                    (axum::http::StatusCode::BAD_REQUEST, "not yet").into_response_parts()
                } else {
                    (axum::http::StatusCode::OK, "{\"ok\": true}").into_response_parts()
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, hits)
}

trait Parts {
    fn into_response_parts(self) -> axum::response::Response;
}

impl Parts for (axum::http::StatusCode, &'static str) {
    fn into_response_parts(self) -> axum::response::Response {
        use axum::response::IntoResponse;
        (self.0, [("content-type", "application/json")], self.1).into_response()
    }
}

both!(retry_resumes_from_the_failed_step_in_the_same_run);
async fn retry_resumes_from_the_failed_step_in_the_same_run(h: Harness) {
    let (url, hits) = flaky_peer().await;
    let yaml = format!(
        r#"
schemaVersion: 1
name: flaky
steps:
  - key: first
    action: TRANSFORM
    config: {{ value: "a" }}
  - key: call
    action: TRIGGER_WEBHOOK
    config: {{ url: "{url}", method: POST, body: {{ n: 1 }} }}
  - key: last
    action: TRANSFORM
    config: {{ value: "{{{{ steps.call.output.body.ok }}}}" }}
"#
    );
    h.publish("flaky", &yaml).await;
    let run = h.run("flaky", json!({})).await;
    assert_eq!(run["status"], "FAILED", "{run:#}");
    assert_eq!(run["stepExecutions"]["call"]["status"], "FAILED");
    assert_eq!(run["stepExecutions"]["last"]["status"], "CANCELLED");
    let id = run["id"].as_str().unwrap();
    let r = h.post_json(&format!("/v1/runs/{id}/retry"), Value::Null).await;
    assert_eq!(r.status, 202, "{}", r.text);
    let done = h.wait_run(id).await;
    assert_eq!(done["status"], "COMPLETED", "{done:#}");
    assert_eq!(done["id"], run["id"], "the same run");
    assert_eq!(
        done["stepExecutions"]["call"]["attempts"], 2,
        "a new attempt of the failed step"
    );
    assert_eq!(
        done["stepExecutions"]["first"]["attempts"], 1,
        "completed steps are not re-run"
    );
    assert_eq!(done["stepExecutions"]["last"]["output"], true);
    assert_eq!(hits.load(Ordering::SeqCst), 2);
    // a completed run cannot be retried
    problem(
        &h.post_json(&format!("/v1/runs/{id}/retry"), Value::Null).await,
        409,
        "invalid-state",
    );
    let logs = h.get(&format!("/v1/runs/{id}/logs?limit=200")).await;
    assert!(
        logs.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l["message"] == "run retried from call"),
        "{}",
        logs.text
    );
}

both!(concurrent_starts_with_one_idempotency_key_make_one_run);
async fn concurrent_starts_with_one_idempotency_key_make_one_run(h: Harness) {
    h.publish("hello", HELLO).await;
    let reqs = (0..8).map(|_| {
        h.send(
            h.req(Method::POST, "/v1/workflows/hello/runs")
                .header("idempotency-key", "race")
                .json(&json!({"input": {"name": "R"}})),
        )
    });
    let answers = futures_util::future::join_all(reqs).await;
    let ids: std::collections::BTreeSet<String> = answers
        .iter()
        .map(|r| r.body["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids.len(), 1, "{answers:?}");
    assert_eq!(
        answers.iter().filter(|r| r.status == 201).count(),
        1,
        "exactly one created it"
    );
    assert!(answers.iter().all(|r| r.status == 200 || r.status == 201));
    let all = h.get("/v1/runs?workflow=hello").await;
    assert_eq!(all.body["items"].as_array().unwrap().len(), 1);
}

both!(a_retry_that_would_fail_the_same_way_is_refused);
async fn a_retry_that_would_fail_the_same_way_is_refused(h: Harness) {
    // a block whose own expression failed
    h.publish(
        "block",
        "schemaVersion: 1\nname: block\nsteps:\n  - key: gate\n    type: condition\n    if: \"input.flag > 1\"\n    then:\n      - {key: yes, action: TRANSFORM, config: {value: 1}}\n",
    )
    .await;
    let run = h.run("block", json!({"flag": "high"})).await;
    assert_eq!(run["status"], "FAILED", "{run:#}");
    assert_eq!(run["stepExecutions"]["gate"]["status"], "FAILED", "{run:#}");
    let id = run["id"].as_str().unwrap();
    let r = h.post_json(&format!("/v1/runs/{id}/retry"), Value::Null).await;
    problem(&r, 409, "invalid-state");
    assert!(
        r.body["detail"]
            .as_str()
            .unwrap()
            .contains("block `gate` failed evaluating its expression"),
        "{}",
        r.text
    );
    // the run's output expression failed: no step to retry
    h.publish(
        "out",
        "schemaVersion: 1\nname: out\noutput: \"steps.a.output.nope\"\nsteps:\n  - {key: a, action: TRANSFORM, config: {value: 1}}\n",
    )
    .await;
    let run = h.run("out", json!({})).await;
    assert_eq!(run["status"], "FAILED", "{run:#}");
    assert_eq!(run["stepExecutions"]["a"]["status"], "COMPLETED");
    let id = run["id"].as_str().unwrap();
    let r = h.post_json(&format!("/v1/runs/{id}/retry"), Value::Null).await;
    problem(&r, 409, "invalid-state");
    assert!(
        r.body["detail"].as_str().unwrap().contains("no failed step to retry"),
        "{}",
        r.text
    );
    // a run that does not exist
    let r = h
        .post_json(&format!("/v1/runs/{}/retry", uuid::Uuid::now_v7()), Value::Null)
        .await;
    assert_eq!(r.status, 404, "{}", r.text);
}

both!(a_retry_leaves_steps_that_failed_with_on_error_continue);
async fn a_retry_leaves_steps_that_failed_with_on_error_continue(h: Harness) {
    h.publish(
        "cont",
        "schemaVersion: 1\nname: cont\nsteps:\n  - {key: soft, action: TRANSFORM, onError: continue, config: {value: \"{{ 1 / input.zero }}\"}}\n  - {key: hard, action: TRANSFORM, config: {value: \"{{ 2 / input.zero }}\"}}\n",
    )
    .await;
    let run = h.run("cont", json!({"zero": 0})).await;
    assert_eq!(run["status"], "FAILED", "{run:#}");
    assert_eq!(run["stepExecutions"]["soft"]["status"], "FAILED", "{run:#}");
    assert_eq!(run["stepExecutions"]["hard"]["status"], "FAILED", "{run:#}");
    let id = run["id"].as_str().unwrap();
    let r = h.post_json(&format!("/v1/runs/{id}/retry"), Value::Null).await;
    assert_eq!(r.status, 202, "{}", r.text);
    let done = h.wait_run(id).await;
    assert_eq!(done["status"], "FAILED", "the same data fails again: {done:#}");
    assert_eq!(done["stepExecutions"]["hard"]["attempts"], 2, "{done:#}");
    assert_eq!(
        done["stepExecutions"]["soft"]["attempts"], 1,
        "a continued step did not fail the run and is not retried: {done:#}"
    );
}
