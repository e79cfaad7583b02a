//! Workflows, drafts and versions through the real HTTP API, on SQLite and
//! Postgres: create by Content-Type, list with a cursor, optimistic
//! concurrency, strict publish, permissions, diff, export, rollback, and a
//! run that stays on the version it started on.

#[macro_use]
mod common;

use common::{HELLO, Harness, problem};
use reqwest::Method;
use serde_json::{Value, json};

both!(create_get_list_and_archive);
async fn create_get_list_and_archive(h: Harness) {
    // YAML by Content-Type, slug from the name
    let r = h.post_yaml("/v1/workflows", HELLO).await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.body["slug"], "hello");
    assert_eq!(r.body["status"], "DRAFT");
    assert_eq!(r.header("etag"), Some("\"1\""));
    assert_eq!(r.header("location"), Some("/v1/workflows/hello"));
    // JSON by Content-Type
    let doc = json!({"schemaVersion": 1, "name": "Second One", "steps": [{"key": "a", "action": "TRANSFORM", "config": {"value": 1}}]});
    let r = h.post_json("/v1/workflows", doc).await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.body["slug"], "second-one");
    assert_eq!(r.body["draftFormat"], "json");
    // the same slug again is a conflict
    problem(&h.post_yaml("/v1/workflows", HELLO).await, 409, "already-exists");
    // a body that is not a workflow: 422 with paths, lines and columns
    let r = h
        .post_yaml("/v1/workflows?slug=bad", "schemaVersion: 1\nname: x\nstepz: []\n")
        .await;
    problem(&r, 422, "invalid-workflow");
    let errors = r.body["errors"].as_array().unwrap();
    assert!(
        errors.iter().any(|e| e["path"] == "stepz" && e["line"] == 3),
        "{errors:?}"
    );
    // an unknown Content-Type
    let r = h
        .send(
            h.req(Method::POST, "/v1/workflows")
                .header("content-type", "text/plain")
                .body(HELLO),
        )
        .await;
    problem(&r, 415, "unsupported-media-type");
    // get by slug and by id
    let by_slug = h.get("/v1/workflows/hello").await;
    assert_eq!(by_slug.status, 200);
    let id = by_slug.body["id"].as_str().unwrap().to_owned();
    assert_eq!(h.get(&format!("/v1/workflows/{id}")).await.body["slug"], "hello");
    problem(&h.get("/v1/workflows/nope").await, 404, "not-found");
    // three more, then pages of two, newest first, cursor to the end
    for i in 0..3 {
        let r = h.post_yaml(&format!("/v1/workflows?slug=w{i}"), HELLO).await;
        assert_eq!(r.status, 201);
    }
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..10 {
        let path = match &cursor {
            Some(c) => format!("/v1/workflows?limit=2&cursor={c}"),
            None => "/v1/workflows?limit=2".to_owned(),
        };
        let r = h.get(&path).await;
        assert_eq!(r.status, 200, "{}", r.text);
        let items = r.body["items"].as_array().unwrap();
        assert!(items.len() <= 2);
        seen.extend(items.iter().map(|w| w["slug"].as_str().unwrap().to_owned()));
        match r.body["nextCursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    assert_eq!(seen, ["w2", "w1", "w0", "second-one", "hello"]);
    problem(&h.get("/v1/workflows?cursor=garbage").await, 400, "invalid-cursor");
    problem(&h.get("/v1/workflows?status=NOPE").await, 400, "invalid-query");
    // archive: the status filter sees it
    let r = h.post_json("/v1/workflows/w0/archive", Value::Null).await;
    assert_eq!(r.body["status"], "ARCHIVED", "{}", r.text);
    let r = h.get("/v1/workflows?status=ARCHIVED").await;
    let slugs: Vec<&str> = r.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["slug"].as_str().unwrap())
        .collect();
    assert_eq!(slugs, ["w0"]);
}

both!(drafts_use_optimistic_concurrency);
async fn drafts_use_optimistic_concurrency(h: Harness) {
    assert_eq!(h.post_yaml("/v1/workflows", HELLO).await.status, 201);
    let r = h.get("/v1/workflows/hello/draft").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.text, HELLO, "the draft is kept as written, comments and all");
    assert_eq!(r.header("content-type"), Some("application/yaml"));
    let etag = r.header("etag").unwrap().to_owned();
    let edited = HELLO.replace("Hello", "Hi");
    let put = |etag: Option<String>, body: String| {
        let mut req = h
            .req(Method::PUT, "/v1/workflows/hello/draft")
            .header("content-type", "application/yaml")
            .body(body);
        if let Some(e) = etag {
            req = req.header("if-match", e);
        }
        req
    };
    // no If-Match: 428, nothing written
    problem(&h.send(put(None, edited.clone())).await, 428, "if-match-required");
    // the current ETag: saved, revision 2
    let r = h.send(put(Some(etag.clone()), edited.clone())).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["draftRevision"], 2);
    assert_eq!(r.header("etag"), Some("\"2\""));
    // the stale ETag: 412, the draft keeps the first writer's text
    let r = h.send(put(Some(etag), HELLO.replace("Hello", "Yo"))).await;
    problem(&r, 412, "stale-revision");
    assert_eq!(h.get("/v1/workflows/hello/draft").await.text, edited);
    // validate without saving: valid, and an invalid one with every problem
    let r = h.post_yaml("/v1/workflows/validate", HELLO).await;
    assert_eq!(r.body, json!({"valid": true, "errors": []}));
    let bad = "schemaVersion: 1\nname: x\nsteps:\n  - key: a\n    action: NOPE\n  - key: b\n    action: TRANSFORM\n    dependsOn: [zzz]\n    config: { value: 1 }\n";
    let r = h.post_yaml("/v1/workflows/validate", bad).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["valid"], false);
    let paths: Vec<&str> = r.body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["path"].as_str().unwrap())
        .collect();
    assert!(paths.contains(&"steps[0].action"), "{paths:?}");
    assert!(paths.iter().any(|p| p.starts_with("steps[1].dependsOn")), "{paths:?}");
}

both!(publish_is_strict_and_checks_action_permissions);
async fn publish_is_strict_and_checks_action_permissions(h: Harness) {
    // an invalid draft is saved but cannot be published: 422 with paths
    let bad = "schemaVersion: 1\nname: bad\nsteps:\n  - key: a\n    action: TRANSFORM\n    config: { value: \"{{ nope( }}\" }\n";
    assert_eq!(h.post_yaml("/v1/workflows", bad).await.status, 201);
    let r = h.post_json("/v1/workflows/bad/versions", Value::Null).await;
    problem(&r, 422, "invalid-workflow");
    assert_eq!(r.body["errors"][0]["path"], "steps[0].config.value", "{}", r.text);
    assert!(r.body["errors"][0]["line"].is_number());
    // a workflow posting to Slack needs notify:slack besides workflows:publish
    let slack = r#"
schemaVersion: 1
name: notify
steps:
  - key: tell
    action: SEND_SLACK_MESSAGE
    config: { webhookUrl: "https://hooks.example.invalid/x", text: "hi" }
"#;
    assert_eq!(h.post_yaml("/v1/workflows", slack).await.status, 201);
    let limited = h.token_in("acme", &["workflows:*"]).await;
    let r = h
        .send(
            h.http
                .post(format!("{}/v1/workflows/notify/versions", h.base))
                .bearer_auth(&limited),
        )
        .await;
    problem(&r, 403, "forbidden");
    assert_eq!(r.body["missingPermissions"], json!(["notify:slack"]));
    // a token without workflows:publish is told that
    let reader = h.token_in("acme", &["workflows:read"]).await;
    let r = h
        .send(
            h.http
                .post(format!("{}/v1/workflows/notify/versions", h.base))
                .bearer_auth(&reader),
        )
        .await;
    assert_eq!(r.body["missingPermissions"], json!(["workflows:publish"]));
    // with the permission it publishes version 1; an unchanged draft stays 1
    let allowed = h.token_in("acme", &["workflows:*", "notify:slack"]).await;
    let r = h
        .send(
            h.http
                .post(format!("{}/v1/workflows/notify/versions", h.base))
                .bearer_auth(&allowed),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.body["number"], 1);
    assert!(r.body["publishedBy"].as_str().unwrap().starts_with("token:orb_"));
    let again = h.post_json("/v1/workflows/notify/versions", Value::Null).await;
    assert_eq!(again.status, 200);
    assert_eq!(again.body["number"], 1);
    let wf = h.get("/v1/workflows/notify").await;
    assert_eq!(wf.body["status"], "ACTIVE");
    assert_eq!(wf.body["activeVersion"], 1);
}

both!(versions_diff_export_and_rollback_walk);
async fn versions_diff_export_and_rollback_walk(h: Harness) {
    // v1: a quick step; v2: a DELAY first so its run is still in flight later
    let v1 = r#"
schemaVersion: 1
name: walk
steps:
  - key: say
    action: TRANSFORM
    config: { value: "one" }
"#;
    let v2 = r#"
schemaVersion: 1
name: walk
steps:
  - key: pause
    action: DELAY
    config: { duration: "3s" }
  - key: say
    action: TRANSFORM
    config: { value: "two" }
"#;
    assert_eq!(h.publish("walk", v1).await, 1);
    // edit the draft, publish v2
    let etag = h
        .get("/v1/workflows/walk/draft")
        .await
        .header("etag")
        .unwrap()
        .to_owned();
    let r = h
        .send(
            h.req(Method::PUT, "/v1/workflows/walk/draft")
                .header("content-type", "application/yaml")
                .header("if-match", etag)
                .body(v2),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = h.post_json("/v1/workflows/walk/versions", Value::Null).await;
    assert_eq!((r.status, r.body["number"].as_i64()), (201, Some(2)), "{}", r.text);
    // a run on v2, in flight (waiting on its DELAY)
    let started = h.post_json("/v1/workflows/walk/runs", json!({})).await;
    assert_eq!(started.status, 201, "{}", started.text);
    assert_eq!(started.body["version"], 2);
    let in_flight = started.body["id"].as_str().unwrap().to_owned();
    // rollback to v1: version 3 with v1's document
    let r = h.post_json("/v1/workflows/walk/versions/1/rollback", Value::Null).await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.body["number"], 3);
    let v1_doc = h.get("/v1/workflows/walk/versions/1").await.body["document"].clone();
    assert_eq!(r.body["document"], v1_doc);
    assert_eq!(
        r.body["checksum"],
        h.get("/v1/workflows/walk/versions/1").await.body["checksum"]
    );
    // the in-flight run was not finished yet when v3 became active
    let now = h.get(&format!("/v1/runs/{in_flight}")).await;
    assert!(
        !matches!(now.body["status"].as_str(), Some("COMPLETED" | "FAILED")),
        "{}",
        now.text
    );
    // new runs use v3 (= v1's document)
    let fresh = h.run("walk", json!({})).await;
    assert_eq!(fresh["version"], 3);
    assert_eq!(fresh["output"], json!({"say": "one"}));
    // the in-flight run finishes on v2
    let old = h.wait_run(&in_flight).await;
    assert_eq!(old["status"], "COMPLETED", "{old:#}");
    assert_eq!(old["version"], 2);
    assert_eq!(old["output"]["say"], "two");
    assert_eq!(old["stepExecutions"]["pause"]["status"], "COMPLETED");
    // history: 3, 2, 1 — never rewritten
    let r = h.get("/v1/workflows/walk/versions").await;
    let numbers: Vec<i64> = r.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["number"].as_i64().unwrap())
        .collect();
    assert_eq!(numbers, [3, 2, 1]);
    let r = h.get("/v1/workflows/walk/versions?limit=1&cursor=3").await;
    assert_eq!(r.body["items"][0]["number"], 2);
    // diff 1 → 2
    let r = h.get("/v1/workflows/walk/versions/1/diff?to=2").await;
    assert_eq!(r.status, 200, "{}", r.text);
    let changes = r.body["changes"].as_array().unwrap();
    assert!(
        changes
            .iter()
            .any(|c| c["path"] == "steps[0].key" && c["from"] == "say" && c["to"] == "pause"),
        "{changes:?}"
    );
    assert!(changes.iter().any(|c| c["path"] == "steps[1]" && c["op"] == "added"));
    assert!(
        h.get("/v1/workflows/walk/versions/1/diff?to=3").await.body["changes"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    // export as YAML and JSON, both parse back to the same document
    let y = h.get("/v1/workflows/walk/versions/2/export?format=yaml").await;
    assert_eq!(y.header("content-type"), Some("application/yaml"));
    assert!(y.text.contains("pause"), "{}", y.text);
    let j = h.get("/v1/workflows/walk/versions/2/export?format=json").await;
    let parsed: Value = serde_json::from_str(&j.text).unwrap();
    assert_eq!(parsed, h.get("/v1/workflows/walk/versions/2").await.body["document"]);
    problem(
        &h.get("/v1/workflows/walk/versions/2/export?format=xml").await,
        400,
        "invalid-query",
    );
    problem(&h.get("/v1/workflows/walk/versions/9").await, 404, "not-found");
}

both!(two_writers_of_one_revision_one_wins);
async fn two_writers_of_one_revision_one_wins(h: Harness) {
    assert_eq!(h.post_yaml("/v1/workflows", HELLO).await.status, 201);
    let put = |text: String| {
        h.send(
            h.req(Method::PUT, "/v1/workflows/hello/draft")
                .header("content-type", "application/yaml")
                .header("if-match", "\"1\"")
                .body(text),
        )
    };
    let (a, b) = tokio::join!(put(HELLO.replace("Hello", "A")), put(HELLO.replace("Hello", "B")));
    let mut statuses = [a.status, b.status];
    statuses.sort_unstable();
    assert_eq!(statuses, [200, 412], "{} / {}", a.text, b.text);
    let winner = if a.status == 200 { "A" } else { "B" };
    let draft = h.get("/v1/workflows/hello/draft").await;
    assert!(draft.text.contains(&format!("\"{winner}, ")), "{}", draft.text);
    assert_eq!(h.get("/v1/workflows/hello").await.body["draftRevision"], 2);
}
