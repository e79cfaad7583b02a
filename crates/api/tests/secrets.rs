//! Workspace secrets through the real HTTP API, on SQLite and Postgres:
//! set, list (never values), delete; sealed at rest; resolved only for the
//! run's own workspace; hidden (`***`) from step outputs, the run's output,
//! errors and the run log.

#[macro_use]
mod common;

use common::{Harness, problem};
use reqwest::Method;
use serde_json::{Value, json};

const VALUE: &str = "s3cr3t-Value-7Q";

async fn put(h: &Harness, token: &str, name: &str, value: &str) -> common::Res {
    h.send(
        h.http
            .request(Method::PUT, format!("{}/v1/secrets/{name}", h.base))
            .bearer_auth(token)
            .json(&json!({ "value": value })),
    )
    .await
}

async fn as_token(h: &Harness, token: &str, method: Method, path: &str) -> common::Res {
    h.send(h.http.request(method, format!("{}{path}", h.base)).bearer_auth(token))
        .await
}

both!(secrets_are_set_listed_and_deleted_per_workspace);
async fn secrets_are_set_listed_and_deleted_per_workspace(h: Harness) {
    let r = put(&h, &h.token, "API_TOKEN", VALUE).await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.body["name"], "API_TOKEN");
    assert!(!r.text.contains(VALUE), "the value never comes back: {}", r.text);
    let r = put(&h, &h.token, "API_TOKEN", "another").await;
    assert_eq!(r.status, 200, "replaced: {}", r.text);
    let list = h.get("/v1/secrets").await;
    assert_eq!(list.status, 200);
    assert_eq!(list.body["items"].as_array().unwrap().len(), 1);
    assert_eq!(list.body["items"][0]["name"], "API_TOKEN");
    assert!(list.body["items"][0].get("value").is_none());
    assert!(!list.text.contains("another"));
    let one = h.get("/v1/secrets/API_TOKEN").await;
    assert_eq!(one.status, 200);
    assert!(one.body["updatedAt"].is_string());
    // sealed at rest: the database holds no value in the clear
    {
        use orbflow_store::entity::workspace_secrets;
        use sea_orm::EntityTrait;
        let rows = workspace_secrets::Entity::find()
            .all(h.store.connection())
            .await
            .unwrap();
        assert_eq!(rows.len(), 1);
        assert!(rows[0].sealed.starts_with("v1."), "{}", rows[0].sealed);
        assert!(!rows[0].sealed.contains("another"));
    }
    // another workspace sees none of it
    let other = h.token_in("globex", &["*"]).await;
    let r = as_token(&h, &other, Method::GET, "/v1/secrets").await;
    assert_eq!(r.body["items"], json!([]));
    problem(
        &as_token(&h, &other, Method::GET, "/v1/secrets/API_TOKEN").await,
        404,
        "not-found",
    );
    problem(
        &as_token(&h, &other, Method::DELETE, "/v1/secrets/API_TOKEN").await,
        404,
        "not-found",
    );
    // permissions, names, sizes
    let reader = h.token_in("acme", &["secrets:read"]).await;
    let r = put(&h, &reader, "X", "v").await;
    problem(&r, 403, "forbidden");
    problem(&put(&h, &h.token, "1BAD", "v").await, 400, "invalid-path");
    problem(&put(&h, &h.token, "NOT-OK", "v").await, 400, "invalid-path");
    problem(
        &put(&h, &h.token, "BIG", &"x".repeat(64 * 1024 + 1)).await,
        422,
        "invalid-secret",
    );
    // delete
    let r = h.send(h.req(Method::DELETE, "/v1/secrets/API_TOKEN")).await;
    assert_eq!(r.status, 204);
    problem(&h.get("/v1/secrets/API_TOKEN").await, 404, "not-found");
}

/// A peer that answers 500 quoting the path it was asked for (as some
/// servers echo the request).
async fn echoing_peer() -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = l.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = l.accept().await {
            tokio::spawn(async move {
                let mut buf = vec![0u8; 8192];
                let n = s.read(&mut buf).await.unwrap_or(0);
                let req = String::from_utf8_lossy(&buf[..n]).into_owned();
                let path = req.split(' ').nth(1).unwrap_or("").to_owned();
                let body = format!("no route for {path}");
                let answer = format!(
                    "HTTP/1.1 500 Internal Server Error\r\ncontent-type: text/plain\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = s.write_all(answer.as_bytes()).await;
            });
        }
    });
    port
}

both!(runs_resolve_their_own_workspaces_secrets_and_never_show_them);
async fn runs_resolve_their_own_workspaces_secrets_and_never_show_them(h: Harness) {
    assert_eq!(put(&h, &h.token, "API_TOKEN", VALUE).await.status, 201);
    let port = echoing_peer().await;
    let yaml = format!(
        r#"schemaVersion: 1
name: uses
steps:
  - key: copy
    action: TRANSFORM
    config: {{ value: {{ token: "{{{{ secrets.API_TOKEN }}}}", note: "prefix {{{{ secrets.API_TOKEN }}}}" }} }}
  - key: say
    action: LOG_EVENT
    config: {{ message: "using {{{{ secrets.API_TOKEN }}}}", data: {{ t: "{{{{ secrets.API_TOKEN }}}}" }} }}
  - key: call
    action: TRIGGER_WEBHOOK
    config: {{ url: "http://127.0.0.1:{port}/x/{{{{ secrets.API_TOKEN }}}}" }}
    onError: continue
output: "{{ 'copied': steps.copy.output }}"
"#
    );
    h.publish("uses", &yaml).await;
    let run = h.run("uses", json!({})).await;
    let run = h.wait_run(run["id"].as_str().unwrap()).await;
    assert_eq!(run["status"], "COMPLETED", "{run}");
    let text = run.to_string();
    assert!(!text.contains(VALUE), "the secret reached the run: {text}");
    let copy = &run["stepExecutions"]["copy"]["output"];
    assert_eq!(copy, &json!({"token": "***", "note": "prefix ***"}));
    assert_eq!(run["output"]["copied"]["token"], "***");
    let call = &run["stepExecutions"]["call"];
    assert_eq!(call["status"], "FAILED");
    let err = call["error"]["message"].as_str().unwrap();
    assert!(err.contains("no route for /x/***"), "the echoed URL is hidden: {err}");
    let logs = h
        .get(&format!("/v1/runs/{}/logs?limit=200", run["id"].as_str().unwrap()))
        .await;
    assert!(!logs.text.contains(VALUE), "{}", logs.text);
    let lines: Vec<&Value> = logs.body["items"].as_array().unwrap().iter().collect();
    assert!(
        lines
            .iter()
            .any(|l| l["message"] == "using ***" && l["data"]["t"] == "***"),
        "{}",
        logs.text
    );
    // the same workflow in another workspace: acme's secret does not count
    // at publish (a 422 naming each place that reads it) ...
    let other = h.token_in("globex", &["*"]).await;
    let create = h
        .send(
            h.http
                .post(format!("{}/v1/workflows?slug=uses", h.base))
                .bearer_auth(&other)
                .header("content-type", "application/yaml")
                .body(yaml.clone()),
        )
        .await;
    assert_eq!(create.status, 201, "{}", create.text);
    let publish = as_token(&h, &other, Method::POST, "/v1/workflows/uses/versions").await;
    problem(&publish, 422, "invalid-workflow");
    let errors = publish.body["errors"].as_array().expect("errors");
    let places: Vec<(&str, &str, u64)> = errors
        .iter()
        .map(|e| {
            (
                e["code"].as_str().unwrap(),
                e["path"].as_str().unwrap(),
                e["line"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        places,
        [
            ("unknown-secret", "steps[0].config.value.token", 6),
            ("unknown-secret", "steps[0].config.value.note", 6),
            ("unknown-secret", "steps[1].config.message", 9),
            ("unknown-secret", "steps[1].config.data.t", 9),
            ("unknown-secret", "steps[2].config.url", 12),
        ],
        "{}",
        publish.text
    );
    assert!(
        errors[0]["message"]
            .as_str()
            .unwrap()
            .contains("secret `API_TOKEN` is not set"),
        "{}",
        publish.text
    );
    // ... nor when a run renders: globex's own value is used, and once
    // globex deletes it the step fails though acme still has one
    let sized = "schemaVersion: 1\nname: sized\nsteps:\n  - { key: n, action: TRANSFORM, config: { value: \"{{ size(secrets.API_TOKEN) }}\" } }\n";
    assert_eq!(put(&h, &other, "API_TOKEN", "globex").await.status, 201);
    let create = h
        .send(
            h.http
                .post(format!("{}/v1/workflows?slug=sized", h.base))
                .bearer_auth(&other)
                .header("content-type", "application/yaml")
                .body(sized),
        )
        .await;
    assert_eq!(create.status, 201, "{}", create.text);
    let publish = as_token(&h, &other, Method::POST, "/v1/workflows/sized/versions").await;
    assert_eq!(publish.status, 201, "{}", publish.text);
    let run_sized = || async {
        let started = h
            .send(
                h.http
                    .post(format!("{}/v1/workflows/sized/runs", h.base))
                    .bearer_auth(&other)
                    .json(&json!({})),
            )
            .await;
        let id = started.body["id"].as_str().unwrap().to_owned();
        let mut run = Value::Null;
        for _ in 0..300 {
            run = as_token(&h, &other, Method::GET, &format!("/v1/runs/{id}")).await.body;
            if run["status"] != "PENDING" && run["status"] != "RUNNING" {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        run
    };
    let run = run_sized().await;
    assert_eq!(run["status"], "COMPLETED", "{run}");
    assert_eq!(run["output"]["n"], 6, "globex's own value: {run}");
    let gone = as_token(&h, &other, Method::DELETE, "/v1/secrets/API_TOKEN").await;
    assert_eq!(gone.status, 204);
    let run = run_sized().await;
    assert_eq!(run["status"], "FAILED", "{run}");
    let message = run["stepExecutions"]["n"]["error"]["message"].as_str().unwrap_or("");
    assert!(message.contains("secret `API_TOKEN` is not set"), "{run}");
    assert!(!run.to_string().contains(VALUE));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_key_secrets_cannot_be_set() {
    let h = Harness::start(
        common::TestDb::sqlite(),
        common::Setup {
            no_secrets_key: true,
            ..Default::default()
        },
    )
    .await;
    let r = put(&h, &h.token, "API_TOKEN", VALUE).await;
    problem(&r, 409, "invalid-state");
    assert!(r.text.contains("ORBFLOW_SECRETS_KEY"), "{}", r.text);
    assert_eq!(h.get("/v1/secrets").await.body["items"], json!([]));
}

/// GitHub's signature of `body` under `key`: `sha256=` and the hex HMAC.
fn github_signature(key: &str, body: &str) -> String {
    use hmac::{KeyInit as _, Mac as _};
    let mut m = hmac::Hmac::<sha2::Sha256>::new_from_slice(key.as_bytes()).unwrap();
    m.update(body.as_bytes());
    let hex: String = m.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256={hex}")
}

both!(webhook_signatures_check_against_the_workspaces_own_secret);
async fn webhook_signatures_check_against_the_workspaces_own_secret(h: Harness) {
    let yaml = "schemaVersion: 1\nname: inbound\ntriggers:\n  - { type: webhook, key: gh, verify: { scheme: github, secret: HOOK_KEY } }\nsteps:\n  - { key: a, action: TRANSFORM, config: { value: 1 } }\n";
    h.publish("inbound", yaml).await;
    let deliver = |workspace: &'static str, signature: String| {
        h.send(
            h.http
                .post(format!("{}/hooks/{workspace}/inbound/gh", h.base))
                .header("content-type", "application/json")
                .header("X-Hub-Signature-256", signature)
                .header("X-GitHub-Delivery", uuid::Uuid::now_v7().to_string())
                .body("{}"),
        )
    };
    // no secret anywhere: 503, the name not shown
    let r = deliver("acme", github_signature("acme-hook-key", "{}")).await;
    problem(&r, 503, "unavailable");
    assert!(!r.text.contains("HOOK_KEY"), "{}", r.text);
    assert_eq!(put(&h, &h.token, "HOOK_KEY", "acme-hook-key").await.status, 201);
    let r = deliver("acme", github_signature("acme-hook-key", "{}")).await;
    assert_eq!(r.status, 202, "{}", r.text);
    // another workspace's webhook of the same secret name checks its own value
    let other = h.token_in("globex", &["*"]).await;
    let create = h
        .send(
            h.http
                .post(format!("{}/v1/workflows?slug=inbound", h.base))
                .bearer_auth(&other)
                .header("content-type", "application/yaml")
                .body(yaml),
        )
        .await;
    assert_eq!(create.status, 201, "{}", create.text);
    assert_eq!(put(&h, &other, "HOOK_KEY", "globex-hook-key").await.status, 201);
    let publish = as_token(&h, &other, Method::POST, "/v1/workflows/inbound/versions").await;
    assert_eq!(publish.status, 201, "{}", publish.text);
    problem(
        &deliver("globex", github_signature("acme-hook-key", "{}")).await,
        401,
        "signature-invalid",
    );
    let r = deliver("globex", github_signature("globex-hook-key", "{}")).await;
    assert_eq!(r.status, 202, "{}", r.text);
}
