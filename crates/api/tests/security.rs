//! Authentication, workspace isolation, tokens, and the limits: body sizes
//! (413), the rate limit (429 with Retry-After) and page caps.

#[macro_use]
mod common;

use common::{HELLO, Harness, Setup, TestDb, problem};
use orbflow_api::{Config, RateLimit};
use orbflow_engine::admin::{Admin, NewWorkflow};
use sea_orm::{ConnectionTrait, Statement};
use serde_json::{Value, json};

both!(tokens_authenticate_and_workspaces_are_isolated);
async fn tokens_authenticate_and_workspaces_are_isolated(h: Harness) {
    h.publish("hello", HELLO).await;
    let run = h.run("hello", json!({"name": "A"})).await;
    let run_id = run["id"].as_str().unwrap();
    // no token, a malformed header, an unknown token
    let url = format!("{}/v1/workflows", h.base);
    problem(&h.send(h.http.get(&url)).await, 401, "unauthorized");
    problem(
        &h.send(h.http.get(&url).header("authorization", "Basic abc")).await,
        401,
        "unauthorized",
    );
    problem(
        &h.send(h.http.get(&url).bearer_auth("orb_nope")).await,
        401,
        "unauthorized",
    );
    // another workspace's objects are 404, its listings are empty
    let other = h.token_in("globex", &["*"]).await;
    let get = |path: &str| h.http.get(format!("{}{path}", h.base)).bearer_auth(&other);
    problem(&h.send(get("/v1/workflows/hello")).await, 404, "not-found");
    problem(&h.send(get(&format!("/v1/runs/{run_id}"))).await, 404, "not-found");
    problem(&h.send(get(&format!("/v1/runs/{run_id}/logs"))).await, 404, "not-found");
    problem(&h.send(get("/v1/workflows/hello/versions/1")).await, 404, "not-found");
    let r = h
        .send(
            h.http
                .post(format!("{}/v1/runs/{run_id}/cancel", h.base))
                .bearer_auth(&other),
        )
        .await;
    problem(&r, 404, "not-found");
    assert_eq!(h.send(get("/v1/workflows")).await.body["items"], json!([]));
    assert_eq!(h.send(get("/v1/runs")).await.body["items"], json!([]));
    assert_eq!(h.send(get("/v1/workspace")).await.body["slug"], "globex");
    // the same slug may exist in both workspaces
    let r = h
        .send(
            h.http
                .post(format!("{}/v1/workflows", h.base))
                .bearer_auth(&other)
                .header("content-type", "application/yaml")
                .body(HELLO),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    // a permission missing is a 403 naming it
    let reader = h.token_in("acme", &["runs:read"]).await;
    let r = h.send(h.http.get(&url).bearer_auth(&reader)).await;
    problem(&r, 403, "forbidden");
    assert_eq!(r.body["missingPermissions"], json!(["workflows:read"]));
}

both!(a_token_revokes_only_tokens_whose_permissions_it_holds);
async fn a_token_revokes_only_tokens_whose_permissions_it_holds(h: Harness) {
    let admin_id = h.get("/v1/tokens").await.body["items"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let manager = h.token_in("acme", &["tokens:*", "runs:read"]).await;
    let as_manager =
        |m: reqwest::Method, path: &str| h.http.request(m, format!("{}{path}", h.base)).bearer_auth(&manager);
    // it cannot revoke the `*` token ...
    let r = h
        .send(as_manager(reqwest::Method::DELETE, &format!("/v1/tokens/{admin_id}")))
        .await;
    problem(&r, 403, "forbidden");
    assert_eq!(r.body["missingPermissions"], json!(["*"]), "{}", r.text);
    assert_eq!(h.get("/v1/workspace").await.status, 200, "the `*` token still works");
    // ... nor one holding a permission it lacks, but one within its own
    let writer = h
        .post_json(
            "/v1/tokens",
            json!({"name": "w", "permissions": ["runs:write", "runs:read"]}),
        )
        .await;
    let writer_id = writer.body["token"]["id"].as_str().unwrap();
    let r = h
        .send(as_manager(reqwest::Method::DELETE, &format!("/v1/tokens/{writer_id}")))
        .await;
    problem(&r, 403, "forbidden");
    assert_eq!(r.body["missingPermissions"], json!(["runs:write"]), "{}", r.text);
    let reader = h
        .send(as_manager(reqwest::Method::POST, "/v1/tokens").json(&json!({"name": "r", "permissions": ["runs:read"]})))
        .await;
    assert_eq!(reader.status, 201, "{}", reader.text);
    let reader_id = reader.body["token"]["id"].as_str().unwrap();
    let r = h
        .send(as_manager(reqwest::Method::DELETE, &format!("/v1/tokens/{reader_id}")))
        .await;
    assert_eq!(r.status, 204, "{}", r.text);
    // another workspace's token is not found, whatever the caller holds
    let other = h.token_in("globex", &["*"]).await;
    let r = h
        .send(
            h.http
                .delete(format!("{}/v1/tokens/{admin_id}", h.base))
                .bearer_auth(&other),
        )
        .await;
    problem(&r, 404, "not-found");
}

both!(tokens_are_shown_once_stored_hashed_and_revocable);
async fn tokens_are_shown_once_stored_hashed_and_revocable(h: Harness) {
    let r = h
        .post_json(
            "/v1/tokens",
            json!({"name": "ci", "permissions": ["runs:read", "workflows:read"]}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let secret = r.body["secret"].as_str().unwrap().to_owned();
    let id = r.body["token"]["id"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("orb_") && secret.len() > 40);
    // it works, it is listed without its secret
    let list = h.get("/v1/tokens").await;
    assert_eq!(list.status, 200);
    assert!(!list.text.contains(&secret));
    assert!(
        list.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["id"] == id.as_str())
    );
    let mine = h
        .send(h.http.get(format!("{}/v1/workflows", h.base)).bearer_auth(&secret))
        .await;
    assert_eq!(mine.status, 200);
    // only the hash is in the database
    let rows = h
        .store
        .connection()
        .query_all_raw(Statement::from_string(
            h.store.connection().get_database_backend(),
            "SELECT token_hash, token_prefix FROM api_tokens",
        ))
        .await
        .unwrap();
    for row in &rows {
        let hash: String = row.try_get("", "token_hash").unwrap();
        assert_ne!(hash, secret);
        assert_eq!(hash.len(), 64);
    }
    assert!(
        rows.iter()
            .any(|row| row.try_get::<String>("", "token_hash").unwrap() == orbflow_api::auth::hash_token(&secret))
    );
    // no escalation: a token cannot grant what it lacks
    let r = h
        .send(
            h.http
                .post(format!("{}/v1/tokens", h.base))
                .bearer_auth(h.token_in("acme", &["tokens:write", "runs:read"]).await)
                .json(&json!({"name": "x", "permissions": ["runs:write"]})),
        )
        .await;
    problem(&r, 403, "forbidden");
    assert_eq!(r.body["missingPermissions"], json!(["runs:write"]));
    // permissions are checked against the known areas and actions
    for bad in [
        "NOT A PERM",
        "RUNS:READ",
        "*:*",
        ":",
        "runs:",
        "runs:delete",
        "nope:*",
        "runs",
    ] {
        let r = h
            .post_json("/v1/tokens", json!({"name": "x", "permissions": ["runs:read", bad]}))
            .await;
        problem(&r, 400, "invalid-permission");
        assert!(
            r.body["detail"].as_str().unwrap().contains(&format!("`{bad}`")),
            "{}",
            r.text
        );
    }
    for good in [json!(["runs:*"]), json!(["notify:slack", "social:*"]), json!(["*"])] {
        let r = h
            .post_json("/v1/tokens", json!({"name": "x", "permissions": good}))
            .await;
        assert_eq!(r.status, 201, "{good}: {}", r.text);
    }
    // revoked: it authenticates nothing
    let r = h
        .send(h.req(reqwest::Method::DELETE, &format!("/v1/tokens/{id}")))
        .await;
    assert_eq!(r.status, 204, "{}", r.text);
    let after = h
        .send(h.http.get(format!("{}/v1/workflows", h.base)).bearer_auth(&secret))
        .await;
    problem(&after, 401, "unauthorized");
    problem(
        &h.send(h.req(reqwest::Method::DELETE, &format!("/v1/tokens/{id}")))
            .await,
        404,
        "not-found",
    );
}

fn limited() -> Setup {
    Setup {
        config: Some(Config {
            max_document_bytes: 2048,
            max_input_bytes: 512,
            max_webhook_bytes: 256,
            rate_limit: RateLimit {
                per_minute: 60,
                burst: 1000,
            },
            webhook_rate_limit: RateLimit {
                per_minute: 6,
                burst: 3,
            },
            auth_failure_rate_limit: RateLimit {
                per_minute: 6,
                burst: 3,
            },
        }),
        ..Setup::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bodies_over_their_limit_are_413() {
    let h = Harness::start(TestDb::sqlite(), limited()).await;
    let big_doc = format!("{HELLO}\n# {}\n", "x".repeat(3000));
    let r = h.post_yaml("/v1/workflows", &big_doc).await;
    problem(&r, 413, "payload-too-large");
    assert!(r.body["detail"].as_str().unwrap().contains("2048"));
    assert_eq!(
        h.get("/v1/workflows").await.body["items"],
        json!([]),
        "nothing was saved"
    );
    h.publish("hello", HELLO).await;
    let big_input = json!({"input": {"name": "y".repeat(600)}});
    problem(
        &h.post_json("/v1/workflows/hello/runs", big_input).await,
        413,
        "payload-too-large",
    );
    assert_eq!(h.get("/v1/runs").await.body["items"], json!([]), "no run started");
    let big_event = json!({"type": "t", "data": "z".repeat(600)});
    problem(&h.post_json("/v1/events", big_event).await, 413, "payload-too-large");
    let hook = "schemaVersion: 1\nname: hook\ntriggers:\n  - { type: webhook, key: in, verify: { scheme: none } }\nsteps:\n  - { key: a, action: TRANSFORM, config: { value: 1 } }\n";
    h.publish("hook", hook).await;
    let url = format!("{}/hooks/acme/hook/in", h.base);
    let r = h.send(h.http.post(&url).body("w".repeat(300))).await;
    problem(&r, 413, "payload-too-large");
    // a chunked body without Content-Length is cut off at the limit too
    let status = chunked_post(&h.base, "/hooks/acme/hook/in", &"w".repeat(300)).await;
    assert!(status.starts_with("HTTP/1.1 413"), "{status}");
    assert_eq!(h.send(h.http.post(&url).body("{}")).await.status, 202);
}

/// POSTs `body` with `Transfer-Encoding: chunked` (no Content-Length) over
/// a raw connection; returns the status line.
async fn chunked_post(base: &str, path: &str, body: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = base.trim_start_matches("http://");
    let mut sock = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut req =
        format!("POST {path} HTTP/1.1\r\nHost: {addr}\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n");
    for chunk in body.as_bytes().chunks(64) {
        req.push_str(&format!("{:x}\r\n{}\r\n", chunk.len(), String::from_utf8_lossy(chunk)));
    }
    req.push_str("0\r\n\r\n");
    sock.write_all(req.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    let _ = tokio::time::timeout(std::time::Duration::from_secs(10), sock.read_to_end(&mut out)).await;
    String::from_utf8_lossy(&out)
        .lines()
        .next()
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_rate_limit_is_per_token_with_retry_after() {
    let mut setup = limited();
    if let Some(c) = setup.config.as_mut() {
        c.rate_limit = RateLimit {
            per_minute: 6,
            burst: 3,
        };
    }
    let h = Harness::start(TestDb::sqlite(), setup).await;
    for _ in 0..3 {
        assert_eq!(h.get("/v1/workflows").await.status, 200);
    }
    let r = h.get("/v1/workflows").await;
    problem(&r, 429, "rate-limited");
    let wait: u64 = r.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=10).contains(&wait), "Retry-After {wait}");
    // another token is not limited by this one
    let other = h.token_in("acme", &["*"]).await;
    let r = h
        .send(h.http.get(format!("{}/v1/workflows", h.base)).bearer_auth(&other))
        .await;
    assert_eq!(r.status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_authentications_are_limited_per_client_address() {
    let h = Harness::start(TestDb::sqlite(), limited()).await;
    let url = format!("{}/v1/workflows", h.base);
    // three failures (an unknown token, a malformed header, none) are 401s ...
    problem(
        &h.send(h.http.get(&url).bearer_auth("orb_guess1")).await,
        401,
        "unauthorized",
    );
    problem(
        &h.send(h.http.get(&url).header("authorization", "Basic x")).await,
        401,
        "unauthorized",
    );
    problem(&h.send(h.http.get(&url)).await, 401, "unauthorized");
    // ... then this address's failures are refused with 429
    let r = h.send(h.http.get(&url).bearer_auth("orb_guess2")).await;
    problem(&r, 429, "rate-limited");
    let wait: u64 = r.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=60).contains(&wait), "Retry-After {wait}");
    problem(&h.send(h.http.get(&url)).await, 429, "rate-limited");
    // a valid token from the same address still works (a neighbour behind
    // the same NAT or proxy is not locked out)
    let r = h.send(h.http.get(&url).bearer_auth(&h.token)).await;
    assert_eq!(r.status, 200, "{}", r.text);
    // another client address is not limited by this one
    let other = reqwest::Client::builder()
        .local_address(std::net::IpAddr::from([127, 0, 0, 2]))
        .build()
        .unwrap();
    let r = h.send(other.get(&url).bearer_auth(&h.token)).await;
    assert_eq!(r.status, 200, "{}", r.text);
    problem(
        &h.send(other.get(&url).bearer_auth("orb_guess3")).await,
        401,
        "unauthorized",
    );
    // webhooks are not counted per address (providers share addresses)
    let hook = "schemaVersion: 1\nname: hook\ntriggers:\n  - { type: webhook, key: in, verify: { scheme: none } }\nsteps:\n  - { key: a, action: TRANSFORM, config: { value: 1 } }\n";
    let r = h
        .send(
            other
                .post(format!("{}/v1/workflows?slug=hook", h.base))
                .bearer_auth(&h.token)
                .header("content-type", "application/yaml")
                .body(hook),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let r = h
        .send(
            other
                .post(format!("{}/v1/workflows/hook/versions", h.base))
                .bearer_auth(&h.token),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let r = h
        .send(h.http.post(format!("{}/hooks/acme/hook/in", h.base)).body("{}"))
        .await;
    assert_eq!(r.status, 202, "{}", r.text);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_are_capped_and_unknown_routes_are_problems() {
    let h = Harness::start(TestDb::sqlite(), Setup::default()).await;
    for i in 0..205 {
        h.store
            .create_workflow(&NewWorkflow {
                workspace_id: h.workspace,
                slug: format!("w{i}"),
                name: format!("w{i}"),
                draft_document: HELLO.into(),
                draft_format: "yaml".into(),
                ..NewWorkflow::default()
            })
            .await
            .unwrap();
    }
    let r = h.get("/v1/workflows?limit=100000").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["items"].as_array().unwrap().len(), 200);
    let next = r.body["nextCursor"].as_str().unwrap();
    let rest = h.get(&format!("/v1/workflows?limit=100000&cursor={next}")).await;
    assert_eq!(rest.body["items"].as_array().unwrap().len(), 5);
    assert_eq!(rest.body["nextCursor"], Value::Null);
    assert_eq!(h.get("/v1/workflows").await.body["items"].as_array().unwrap().len(), 50);
    problem(&h.get("/v1/workflows?limit=-1").await, 400, "invalid-query");
    problem(&h.get("/v1/nothing-here").await, 404, "not-found");
    problem(
        &h.send(h.req(reqwest::Method::DELETE, "/v1/workflows")).await,
        405,
        "method-not-allowed",
    );
    // the OpenAPI document is served and names every route family
    let doc = h.send(h.http.get(format!("{}/openapi.json", h.base))).await;
    assert_eq!(doc.body["openapi"], "3.1.0");
    for p in [
        "/v1/workflows",
        "/v1/runs/{id}/retry",
        "/hooks/{workspace}/{workflow}/{key}",
        "/v1/events",
    ] {
        assert!(doc.body["paths"].get(p).is_some(), "{p}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_deliveries_are_rate_limited_per_workflow() {
    let h = Harness::start(TestDb::sqlite(), limited()).await;
    let hook = |name: &str| {
        format!(
            "schemaVersion: 1\nname: {name}\ntriggers:\n  - {{ type: webhook, key: in, verify: {{ scheme: none }} }}\nsteps:\n  - {{ key: a, action: TRANSFORM, config: {{ value: 1 }} }}\n"
        )
    };
    h.publish("one", &hook("one")).await;
    h.publish("two", &hook("two")).await;
    let post = |wf: &str| h.http.post(format!("{}/hooks/acme/{wf}/in", h.base)).body("{}");
    for _ in 0..3 {
        assert_eq!(h.send(post("one")).await.status, 202);
    }
    let r = h.send(post("one")).await;
    problem(&r, 429, "rate-limited");
    assert!(r.header("retry-after").is_some());
    // another workflow's webhook has its own budget
    assert_eq!(h.send(post("two")).await.status, 202);
    // the limited delivery started nothing
    let runs = h.get("/v1/runs?workflow=one").await;
    assert_eq!(runs.body["items"].as_array().unwrap().len(), 3);
}
