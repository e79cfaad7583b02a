//! A workflow's webhook URLs through the real HTTP API: the short URL
//! (`/hooks/{workflow}/{key}`) is claimed by the first workspace that
//! publishes the slug and released by a version without the webhook, once
//! under concurrent publishes; an unknown webhook is one uniform 404.

#[macro_use]
mod common;

use common::{CRM, Harness, problem};
use serde_json::Value;

/// Creates `slug` from `yaml` in the workspace of `token` (or makes `yaml`
/// its draft) and publishes it.
async fn publish_as(h: &Harness, token: &str, slug: &str, yaml: &str) -> common::Res {
    let create = h
        .http
        .post(format!("{}/v1/workflows?slug={slug}", h.base))
        .bearer_auth(token)
        .header("content-type", "application/yaml")
        .body(yaml.to_owned());
    let r = h.send(create).await;
    assert!(r.status == 201 || r.status == 409, "{}", r.text);
    if r.status == 409 {
        let draft = format!("{}/v1/workflows/{slug}/draft", h.base);
        let got = h.send(h.http.get(&draft).bearer_auth(token)).await;
        let etag = got.header("etag").unwrap().to_owned();
        let put = h
            .http
            .put(&draft)
            .bearer_auth(token)
            .header("content-type", "application/yaml")
            .header("if-match", etag)
            .body(yaml.to_owned());
        assert_eq!(h.send(put).await.status, 200);
    }
    h.send(
        h.http
            .post(format!("{}/v1/workflows/{slug}/versions", h.base))
            .bearer_auth(token),
    )
    .await
}

both!(the_short_webhook_url_is_claimed_by_the_first_publisher);
async fn the_short_webhook_url_is_claimed_by_the_first_publisher(h: Harness) {
    h.publish("crm", CRM).await;
    // POST /hooks/{workflow}/{key}, as DESIGN.md writes it
    let short = |n: i64| {
        h.http
            .post(format!("{}/hooks/crm/in", h.base))
            .body(format!("{{\"n\": {n}}}"))
    };
    let r = h.send(short(7)).await;
    assert_eq!(r.status, 202, "{}", r.text);
    let run = h.wait_run(r.body["runId"].as_str().unwrap()).await;
    assert_eq!(run["output"]["a"], 7);
    // a second workspace with the same slug and key publishes, but gets the
    // full URL only: the short one stays acme's
    let globex = h.token_in("globex", &["*"]).await;
    let r = publish_as(&h, &globex, "crm", CRM).await;
    assert_eq!(r.status, 201, "{}", r.text);
    let r = h
        .send(
            h.http
                .post(format!("{}/hooks/globex/crm/in", h.base))
                .body("{\"n\": 4}"),
        )
        .await;
    assert_eq!(r.status, 202, "{}", r.text);
    let run = h
        .send(
            h.http
                .get(format!("{}/v1/runs/{}", h.base, r.body["runId"].as_str().unwrap()))
                .bearer_auth(&globex),
        )
        .await;
    assert_eq!(run.status, 200, "globex's own delivery: {}", run.text);
    let r = h.send(short(8)).await;
    assert_eq!(r.status, 202, "{}", r.text);
    let run = h.wait_run(r.body["runId"].as_str().unwrap()).await;
    assert_eq!(
        run["workflowId"],
        h.get("/v1/workflows/crm").await.body["id"],
        "acme's run"
    );
    // acme re-publishing keeps its claim
    let v2 = CRM.replace("value: \"{{ input.n }}\"", "value: \"{{ input.n * 2 }}\"");
    assert_eq!(publish_as(&h, &h.token, "crm", &v2).await.status, 201);
    let r = h.send(short(5)).await;
    assert_eq!(h.wait_run(r.body["runId"].as_str().unwrap()).await["output"]["a"], 10);
    // archiving releases the claim; it does not move to globex by itself ...
    assert_eq!(h.post_json("/v1/workflows/crm/archive", Value::Null).await.status, 200);
    let gone = h.send(short(1)).await;
    problem(&gone, 404, "not-found");
    // ... globex takes it by publishing a new version
    let r = publish_as(&h, &globex, "crm", &CRM.replace("name: crm", "name: crm2")).await;
    assert_eq!(r.status, 201, "{}", r.text);
    let r = h.send(short(3)).await;
    assert_eq!(r.status, 202, "{}", r.text);
    let run = h
        .send(
            h.http
                .get(format!("{}/v1/runs/{}", h.base, r.body["runId"].as_str().unwrap()))
                .bearer_auth(&globex),
        )
        .await;
    assert_eq!(run.status, 200, "the delivery went to globex: {}", run.text);
}

both!(a_version_without_the_webhook_releases_the_short_url);
async fn a_version_without_the_webhook_releases_the_short_url(h: Harness) {
    h.publish("crm", CRM).await;
    let globex = h.token_in("globex", &["*"]).await;
    assert_eq!(publish_as(&h, &globex, "crm", CRM).await.status, 201);
    let owner = |r: &common::Res| r.body["runId"].as_str().map(str::to_owned);
    let short = || h.http.post(format!("{}/hooks/crm/in", h.base)).body("{\"n\": 1}");
    // acme publishes a version whose webhook has another key: `in` is free
    assert_eq!(
        publish_as(&h, &h.token, "crm", &CRM.replace("key: in", "key: other"))
            .await
            .status,
        201
    );
    // nobody holds it now (globex's row claims nothing until it publishes again)
    problem(&h.send(short()).await, 404, "not-found");
    let r = publish_as(&h, &globex, "crm", &CRM.replace("name: crm", "name: crm2")).await;
    assert_eq!(r.status, 201, "{}", r.text);
    let r = h.send(short()).await;
    assert_eq!(r.status, 202, "{}", r.text);
    let id = owner(&r).unwrap();
    let run = h
        .send(h.http.get(format!("{}/v1/runs/{id}", h.base)).bearer_auth(&globex))
        .await;
    assert_eq!(run.status, 200, "globex holds it now: {}", run.text);
    // acme publishing `in` again succeeds but does not take it back
    assert_eq!(publish_as(&h, &h.token, "crm", CRM).await.status, 201);
    let r = h.send(short()).await;
    let id = owner(&r).unwrap();
    let run = h
        .send(h.http.get(format!("{}/v1/runs/{id}", h.base)).bearer_auth(&globex))
        .await;
    assert_eq!(run.status, 200, "still globex's: {}", run.text);
    // acme's own full URL works
    let r = h
        .send(h.http.post(format!("{}/hooks/acme/crm/in", h.base)).body("{}"))
        .await;
    assert_eq!(r.status, 202, "{}", r.text);
}

both!(concurrent_publishes_claim_the_short_url_once);
async fn concurrent_publishes_claim_the_short_url_once(h: Harness) {
    let mut tokens = Vec::new();
    for ws in ["w1", "w2", "w3", "w4"] {
        let t = h.token_in(ws, &["*"]).await;
        let create = h
            .http
            .post(format!("{}/v1/workflows?slug=crm", h.base))
            .bearer_auth(&t)
            .header("content-type", "application/yaml")
            .body(CRM);
        assert_eq!(h.send(create).await.status, 201);
        tokens.push(t);
    }
    let publishes = tokens.iter().map(|t| {
        h.send(
            h.http
                .post(format!("{}/v1/workflows/crm/versions", h.base))
                .bearer_auth(t),
        )
    });
    let results = futures_util::future::join_all(publishes).await;
    for r in &results {
        assert_eq!(r.status, 201, "every publish succeeds: {}", r.text);
    }
    // the short URL delivers to exactly one of them
    let r = h
        .send(h.http.post(format!("{}/hooks/crm/in", h.base)).body("{\"n\": 1}"))
        .await;
    assert_eq!(r.status, 202, "{}", r.text);
    let id = r.body["runId"].as_str().unwrap();
    let mut owners = 0;
    for t in &tokens {
        let run = h
            .send(h.http.get(format!("{}/v1/runs/{id}", h.base)).bearer_auth(t))
            .await;
        owners += usize::from(run.status == 200);
    }
    assert_eq!(owners, 1, "exactly one workspace holds the claim");
}

both!(unknown_webhooks_are_one_uniform_404);
async fn unknown_webhooks_are_one_uniform_404(h: Harness) {
    h.publish("crm", CRM).await;
    let post = |path: &str| h.send(h.http.post(format!("{}{path}", h.base)).body("{}"));
    let mut bodies = Vec::new();
    for path in [
        "/hooks/nobody/crm/in",
        "/hooks/acme/nothing/in",
        "/hooks/acme/crm/nope",
        "/hooks/nothing/in",
        "/hooks/crm/nope",
    ] {
        let r = post(path).await;
        problem(&r, 404, "not-found");
        bodies.push(r.text);
    }
    assert!(bodies.windows(2).all(|w| w[0] == w[1]), "{bodies:?}");
    for word in ["acme", "crm", "nope", "nobody", "workspace", "/hooks"] {
        assert!(!bodies[0].contains(word), "{word} in {}", bodies[0]);
    }
}
