//! The workspace data store through the real HTTP API, on SQLite and
//! Postgres: UPDATE_DATABASE steps insert, upsert, update and delete
//! records that later steps read from their output; the records API lists,
//! inserts, reads, replaces and deletes; another workspace's record is a
//! 404; one write per run step however often it is applied.

#[macro_use]
mod common;

use common::{Harness, problem};
use orbflow_engine::admin::{Admin, RecordOp, RecordWrite};
use orbflow_engine::store::Store;
use reqwest::Method;
use serde_json::{Value, json};

const CRM: &str = r#"schemaVersion: 1
name: crm
steps:
  - key: add
    action: UPDATE_DATABASE
    config: { table: leads, operation: insert, data: { email: "{{ input.email }}", stage: new, score: 1 } }
  - key: again
    action: UPDATE_DATABASE
    config: { table: leads, operation: upsert, where: { email: "{{ input.email }}" }, data: { score: 2 } }
  - key: other
    action: UPDATE_DATABASE
    config: { table: leads, operation: upsert, where: { email: "second@example.org" }, data: { stage: cold } }
  - key: promote
    action: UPDATE_DATABASE
    config: { table: leads, operation: update, where: { stage: new }, data: { stage: qualified } }
  - key: remember
    action: TRANSFORM
    config: { value: { id: "{{ steps.add.output.records[0].id }}", stage: "{{ steps.promote.output.records[0].data.stage }}" } }
  - key: drop_cold
    action: UPDATE_DATABASE
    config: { table: leads, operation: delete, where: { stage: cold } }
"#;

both!(steps_write_records_that_later_steps_and_the_api_read);
async fn steps_write_records_that_later_steps_and_the_api_read(h: Harness) {
    h.publish("crm", CRM).await;
    let run = h.run("crm", json!({"email": "ann@example.org"})).await;
    assert_eq!(run["status"], "COMPLETED", "{run}");
    let out = &run["output"];
    assert_eq!(out["add"]["affected"], 1);
    assert_eq!(out["again"]["affected"], 1, "upsert found the record: {out}");
    assert_eq!(out["again"]["records"][0]["data"]["score"], 2);
    assert_eq!(
        out["other"]["records"][0]["data"],
        json!({"email": "second@example.org", "stage": "cold"})
    );
    assert_eq!(out["promote"]["affected"], 1);
    let id = out["add"]["records"][0]["id"].as_str().unwrap();
    assert_eq!(out["remember"], json!({"id": id, "stage": "qualified"}));
    assert_eq!(out["drop_cold"]["affected"], 1);

    let list = h.get("/v1/collections/leads/records").await;
    assert_eq!(list.status, 200, "{}", list.text);
    let items = list.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{}", list.text);
    assert_eq!(items[0]["id"], id);
    assert_eq!(
        items[0]["data"],
        json!({"email": "ann@example.org", "stage": "qualified", "score": 2})
    );
    // another collection is empty; another workspace sees nothing
    assert_eq!(h.get("/v1/collections/orders/records").await.body["items"], json!([]));
    let other = h.token_in("globex", &["*"]).await;
    let r = h
        .send(
            h.http
                .get(format!("{}/v1/collections/leads/records/{id}", h.base))
                .bearer_auth(&other),
        )
        .await;
    problem(&r, 404, "not-found");
}

both!(records_are_inserted_read_replaced_and_deleted_through_the_api);
async fn records_are_inserted_read_replaced_and_deleted_through_the_api(h: Harness) {
    let post = |data: Value| h.post_json("/v1/collections/notes/records", json!({ "data": data }));
    let mut ids = Vec::new();
    for i in 0..3 {
        let r = post(json!({"n": i})).await;
        assert_eq!(r.status, 201, "{}", r.text);
        assert_eq!(r.body["collection"], "notes");
        assert_eq!(
            r.header("location"),
            Some(format!("/v1/collections/notes/records/{}", r.body["id"].as_str().unwrap()).as_str())
        );
        ids.push(r.body["id"].as_str().unwrap().to_owned());
    }
    // paged, oldest first
    let first = h.get("/v1/collections/notes/records?limit=2").await;
    let got: Vec<&str> = first.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert_eq!(got, [ids[0].as_str(), ids[1].as_str()]);
    let cursor = first.body["nextCursor"].as_str().unwrap();
    let rest = h
        .get(&format!("/v1/collections/notes/records?limit=2&cursor={cursor}"))
        .await;
    assert_eq!(rest.body["items"][0]["id"], ids[2].as_str());
    assert_eq!(rest.body["nextCursor"], Value::Null);
    // replace, read, delete
    let path = format!("/v1/collections/notes/records/{}", ids[1]);
    let put = h
        .send(
            h.req(Method::PUT, &path)
                .json(&json!({"data": {"n": 10, "done": true}})),
        )
        .await;
    assert_eq!(put.status, 200, "{}", put.text);
    assert_eq!(h.get(&path).await.body["data"], json!({"n": 10, "done": true}));
    assert_eq!(h.send(h.req(Method::DELETE, &path)).await.status, 204);
    problem(&h.get(&path).await, 404, "not-found");
    problem(&h.send(h.req(Method::DELETE, &path)).await, 404, "not-found");
    // the record's collection is part of its address
    problem(
        &h.get(&format!("/v1/collections/other/records/{}", ids[0])).await,
        404,
        "not-found",
    );
    // bad input: clear errors
    problem(&post(json!([1, 2])).await, 422, "invalid-input");
    let big = "x".repeat(64 * 1024);
    let r = post(json!({ "big": big })).await;
    problem(&r, 422, "invalid-input");
    assert!(r.body["detail"].as_str().unwrap().contains("65536 bytes"), "{}", r.text);
    problem(
        &h.post_json("/v1/collections/Bad-Name/records", json!({"data": {}}))
            .await,
        400,
        "invalid-path",
    );
    // permissions
    let reader = h.token_in("acme", &["data:read"]).await;
    let r = h
        .send(
            h.http
                .post(format!("{}/v1/collections/notes/records", h.base))
                .bearer_auth(&reader)
                .json(&json!({"data": {}})),
        )
        .await;
    problem(&r, 403, "forbidden");
}

both!(one_write_per_run_step_however_often_it_is_applied);
async fn one_write_per_run_step_however_often_it_is_applied(h: Harness) {
    let ws = h.store.workspace_by_slug("acme").await.unwrap().unwrap().id;
    let write = RecordWrite {
        collection: "events".into(),
        op: RecordOp::Insert,
        data: Some(json!({"kind": "signup"})),
        filter: None,
        dedup_key: Some("run-1:save".into()),
    };
    let first = h.store.write_records(ws, &write).await.unwrap();
    let second = h.store.write_records(ws, &write).await.unwrap();
    assert_eq!(first, second, "the retry gets the first result");
    let list = h.get("/v1/collections/events/records").await;
    assert_eq!(list.body["items"].as_array().unwrap().len(), 1, "{}", list.text);
    // another key writes again
    let other = RecordWrite {
        dedup_key: Some("run-2:save".into()),
        ..write
    };
    assert_ne!(h.store.write_records(ws, &other).await.unwrap(), first);
    let list = h.get("/v1/collections/events/records").await;
    assert_eq!(list.body["items"].as_array().unwrap().len(), 2);
}

both!(concurrent_writes_all_land);
async fn concurrent_writes_all_land(h: Harness) {
    // writers at once: each write transaction reads (the record count) and
    // then writes; on SQLite a deferred transaction would fail to upgrade
    let posts = (0..24).map(|i| h.post_json("/v1/collections/burst/records", json!({ "data": { "i": i } })));
    let answers = futures_util::future::join_all(posts).await;
    for a in &answers {
        assert_eq!(a.status, 201, "{}", a.text);
    }
    let list = h.get("/v1/collections/burst/records?limit=100").await;
    assert_eq!(list.body["items"].as_array().unwrap().len(), 24);
}
