//! Stored email templates through the real HTTP API, on SQLite and
//! Postgres: set (a part whose `{{ }}` does not parse, or no body, is a
//! 422), list, read, replace, delete; another workspace's template is a 404.

#[macro_use]
mod common;

use common::{Harness, problem};
use reqwest::Method;
use serde_json::json;

both!(email_templates_are_set_checked_listed_and_deleted_per_workspace);
async fn email_templates_are_set_checked_listed_and_deleted_per_workspace(h: Harness) {
    let put = |token: &str, name: &str, body: serde_json::Value| {
        h.send(
            h.http
                .put(format!("{}/v1/email-templates/{name}", h.base))
                .bearer_auth(token)
                .json(&body),
        )
    };
    let welcome = json!({"subject": "Welcome, {{ data.name }}", "text": "Hi {{ data.name }}", "html": "<p>Hi</p>"});
    let r = put(&h.token, "welcome", welcome.clone()).await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.body["subject"], "Welcome, {{ data.name }}");
    assert_eq!(put(&h.token, "welcome", welcome).await.status, 200);
    assert_eq!(
        put(&h.token, "digest", json!({"subject": "Digest", "text": "t"}))
            .await
            .status,
        201
    );
    let list = h.get("/v1/email-templates").await;
    let names: Vec<&str> = list.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["digest", "welcome"]);
    assert_eq!(h.get("/v1/email-templates/digest").await.body["text"], "t");

    // checked
    let r = put(&h.token, "bad", json!({"subject": "Hi {{ data.name", "text": "t"})).await;
    problem(&r, 422, "invalid-template");
    assert!(r.body["detail"].as_str().unwrap().starts_with("subject:"), "{}", r.text);
    let r = put(&h.token, "bad", json!({"subject": "s", "html": "{{ 1 + }}"})).await;
    problem(&r, 422, "invalid-template");
    problem(
        &put(&h.token, "bad", json!({"subject": "s"})).await,
        422,
        "invalid-template",
    );
    problem(
        &put(&h.token, "Bad Name", json!({"subject": "s", "text": "t"})).await,
        400,
        "invalid-path",
    );

    // another workspace sees none of it
    let other = h.token_in("globex", &["*"]).await;
    let r = h
        .send(
            h.http
                .get(format!("{}/v1/email-templates/welcome", h.base))
                .bearer_auth(&other),
        )
        .await;
    problem(&r, 404, "not-found");
    let reader = h.token_in("acme", &["templates:read"]).await;
    problem(
        &put(&reader, "x", json!({"subject": "s", "text": "t"})).await,
        403,
        "forbidden",
    );
    // delete
    assert_eq!(
        h.send(h.req(Method::DELETE, "/v1/email-templates/digest")).await.status,
        204
    );
    problem(&h.get("/v1/email-templates/digest").await, 404, "not-found");
}
