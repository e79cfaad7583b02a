//! The data-model fields of DESIGN.md §4 through the real HTTP API, on
//! SQLite and Postgres: a workflow's `createdBy` / `updatedBy` (the token
//! that wrote it) and `description` (from the draft document), and the
//! runs listing filtered by `triggerType`, paginated.

#[macro_use]
mod common;

use common::{Harness, problem};
use reqwest::Method;
use serde_json::{Value, json};

fn doc(description: Option<&str>) -> String {
    let description = description.map(|d| format!("description: {d}\n")).unwrap_or_default();
    format!(
        "schemaVersion: 1\nname: triage\n{description}steps:\n  - {{ key: a, action: TRANSFORM, config: {{ value: 1 }} }}\n"
    )
}

/// A token with every permission in the harness's workspace: its id and secret.
async fn token(h: &Harness, name: &str) -> (String, String) {
    let (rec, secret) = orbflow_api::auth::issue_token(h.store.as_ref(), h.workspace, name, &["*".to_owned()])
        .await
        .unwrap();
    (rec.id.to_string(), secret)
}

/// `PUT /v1/workflows/triage/draft` as `secret` over revision `revision`.
async fn save(h: &Harness, secret: &str, revision: &str, yaml: String) -> common::Res {
    h.send(
        h.http
            .request(Method::PUT, format!("{}/v1/workflows/triage/draft", h.base))
            .bearer_auth(secret)
            .header("content-type", "application/yaml")
            .header("if-match", format!("\"{revision}\""))
            .body(yaml),
    )
    .await
}

both!(workflows_record_who_wrote_them_and_their_description);
async fn workflows_record_who_wrote_them_and_their_description(h: Harness) {
    let (alice, alice_secret) = token(&h, "alice").await;
    let (bob, bob_secret) = token(&h, "bob").await;
    assert_ne!(alice, bob);

    // created by alice: both fields are hers, the description the document's
    let r = h
        .send(
            h.http
                .post(format!("{}/v1/workflows", h.base))
                .bearer_auth(&alice_secret)
                .header("content-type", "application/yaml")
                .body(doc(Some("Route mentions"))),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.body["createdBy"], alice.as_str());
    assert_eq!(r.body["updatedBy"], alice.as_str());
    assert_eq!(r.body["description"], "Route mentions");
    for w in [
        h.get("/v1/workflows/triage").await.body,
        h.get("/v1/workflows").await.body["items"][0].clone(),
    ] {
        assert_eq!(w["createdBy"], alice.as_str(), "{w}");
        assert_eq!(w["updatedBy"], alice.as_str(), "{w}");
        assert_eq!(w["description"], "Route mentions", "{w}");
    }

    // saved by bob: he updated it, alice still created it; the description follows
    let r = save(&h, &bob_secret, "1", doc(Some("Route mentions by sentiment"))).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["createdBy"], alice.as_str());
    assert_eq!(r.body["updatedBy"], bob.as_str());
    assert_eq!(r.body["description"], "Route mentions by sentiment");
    let got = h.get("/v1/workflows/triage").await.body;
    assert_eq!(
        (&got["createdBy"], &got["updatedBy"], &got["description"]),
        (&json!(alice), &json!(bob), &json!("Route mentions by sentiment"))
    );

    // a stale save by alice is refused and changes nobody
    let r = save(&h, &alice_secret, "1", doc(Some("stale"))).await;
    problem(&r, 412, "stale-revision");
    let got = h.get("/v1/workflows/triage").await.body;
    assert_eq!(got["updatedBy"], bob.as_str());
    assert_eq!(got["description"], "Route mentions by sentiment");

    // saved by alice without a description: it is gone, she updated it last
    let r = save(&h, &alice_secret, "2", doc(None)).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["description"], Value::Null);
    assert_eq!(r.body["updatedBy"], alice.as_str());
    assert_eq!(r.body["createdBy"], alice.as_str());

    // published by bob: he updated it last, and the version names his token
    let r = h
        .send(
            h.http
                .post(format!("{}/v1/workflows/triage/versions", h.base))
                .bearer_auth(&bob_secret),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert!(r.body["publishedBy"].as_str().unwrap().contains("(bob)"), "{}", r.text);
    let got = h.get("/v1/workflows/triage").await.body;
    assert_eq!((&got["status"], &got["updatedBy"]), (&json!("ACTIVE"), &json!(bob)));
    assert_eq!(got["createdBy"], alice.as_str());
    // archived by alice: hers again
    let r = h
        .send(
            h.http
                .post(format!("{}/v1/workflows/triage/archive", h.base))
                .bearer_auth(&alice_secret),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        (&r.body["status"], &r.body["updatedBy"]),
        (&json!("ARCHIVED"), &json!(alice))
    );

    // a JSON document's description, by the harness's own token
    let r = h
        .post_json(
            "/v1/workflows",
            json!({"schemaVersion": 1, "name": "second", "description": "From JSON",
                   "steps": [{"key": "a", "action": "TRANSFORM", "config": {"value": 1}}]}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.body["description"], "From JSON");
    let harness_token = r.body["createdBy"].as_str().unwrap().to_owned();
    assert!(harness_token != alice && harness_token != bob, "{}", r.text);
    // the token listing knows it by that id
    let tokens = h.get("/v1/tokens").await;
    assert_eq!(tokens.status, 200, "{}", tokens.text);
    assert!(
        tokens.text.contains(&harness_token),
        "{harness_token} not in {}",
        tokens.text
    );
}

const HOOKED: &str = "schemaVersion: 1\nname: hooked\ntriggers:\n  - { type: manual }\n  - { type: webhook, key: in, verify: { scheme: none } }\nsteps:\n  - { key: a, action: TRANSFORM, config: { value: 1 } }\n";

/// Ids of every run the listing `query` returns, following the cursor in
/// pages of `limit`; also the number of pages.
async fn all_pages(h: &Harness, query: &str, limit: u32) -> (Vec<String>, usize) {
    let mut ids = Vec::new();
    let mut cursor = String::new();
    for pages in 1..=50 {
        let r = h.get(&format!("/v1/runs?{query}&limit={limit}{cursor}")).await;
        assert_eq!(r.status, 200, "{}", r.text);
        let items = r.body["items"].as_array().unwrap();
        assert!(items.len() <= limit as usize);
        ids.extend(items.iter().map(|x| x["id"].as_str().unwrap().to_owned()));
        match r.body["nextCursor"].as_str() {
            Some(c) => cursor = format!("&cursor={c}"),
            None => return (ids, pages),
        }
    }
    panic!("more than 50 pages for {query}");
}

both!(runs_filter_by_trigger_type_in_pages);
async fn runs_filter_by_trigger_type_in_pages(h: Harness) {
    h.publish("hooked", HOOKED).await;
    let (mut hooks, mut manual) = (Vec::new(), Vec::new());
    for n in 0..5 {
        let r = h
            .send(
                h.http
                    .post(format!("{}/hooks/acme/hooked/in", h.base))
                    .header("content-type", "application/json")
                    .body(format!("{{\"n\": {n}}}")),
            )
            .await;
        assert_eq!(r.status, 202, "{}", r.text);
        hooks.push(r.body["runId"].as_str().unwrap().to_owned());
        if n % 2 == 0 {
            let r = h.post_json("/v1/workflows/hooked/runs", json!({})).await;
            assert_eq!(r.status, 201, "{}", r.text);
            manual.push(r.body["id"].as_str().unwrap().to_owned());
        }
    }
    hooks.reverse();
    manual.reverse();

    // only the webhook runs, newest first, in pages of two (3 pages, no gap, no repeat)
    let (got, pages) = all_pages(&h, "triggerType=webhook", 2).await;
    assert_eq!(got, hooks);
    assert_eq!(pages, 3);
    let r = h.get("/v1/runs?triggerType=webhook&limit=200").await;
    let items = r.body["items"].as_array().unwrap();
    assert!(items.iter().all(|x| x["triggerType"] == "webhook"), "{}", r.text);
    // the other kinds, and with the other filters
    assert_eq!(all_pages(&h, "triggerType=manual", 2).await.0, manual);
    assert_eq!(all_pages(&h, "triggerType=webhook&workflow=hooked", 4).await.0, hooks);
    assert!(all_pages(&h, "triggerType=schedule", 2).await.0.is_empty());
    assert!(all_pages(&h, "triggerType=event", 2).await.0.is_empty());
    assert!(
        all_pages(&h, "triggerType=webhook&until=2000-01-01T00:00:00Z", 2)
            .await
            .0
            .is_empty()
    );
    // no filter: all eight
    assert_eq!(all_pages(&h, "", 3).await.0.len(), hooks.len() + manual.len());

    // an unknown trigger type is a 400 naming the allowed ones
    for bad in ["cron", "Webhook", ""] {
        let r = h.get(&format!("/v1/runs?triggerType={bad}")).await;
        problem(&r, 400, "invalid-query");
        let detail = r.body["detail"].as_str().unwrap();
        for allowed in ["manual", "schedule", "webhook", "event"] {
            assert!(detail.contains(allowed), "{bad}: {detail}");
        }
    }
}
