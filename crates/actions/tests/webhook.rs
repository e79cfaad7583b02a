//! TRIGGER_WEBHOOK against a real HTTP/1.1 server on 127.0.0.1.
//!
//! The server (`peer`) is deliberately tiny: it reads one request per
//! connection, records it, answers with a scripted reply and closes.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use orbflow_actions::net::{self, HttpPolicy};
use orbflow_actions::webhook::TriggerWebhook;
use orbflow_actions::{Action, ActionContext, ActionError, CatalogConfig, Outcome, Registry};
use serde_json::{Value, json};

mod peer;

use peer::{Reply, Server};

fn allow() -> HttpPolicy {
    HttpPolicy { allow_private: true }
}

fn deny() -> HttpPolicy {
    HttpPolicy { allow_private: false }
}

async fn run(policy: &HttpPolicy, config: Value) -> Result<Outcome, ActionError> {
    let (ctx, _) = ActionContext::for_test(config);
    TriggerWebhook::new(policy).execute(ctx).await
}

fn completed(r: Result<Outcome, ActionError>) -> Value {
    match r {
        Ok(Outcome::Completed(v)) => v,
        other => panic!("expected Completed, got {other:?}"),
    }
}

fn fatal(r: Result<Outcome, ActionError>) -> String {
    match r {
        Err(ActionError::Fatal { message }) => message,
        other => panic!("expected Fatal, got {other:?}"),
    }
}

fn retryable(r: Result<Outcome, ActionError>) -> (String, Option<Duration>) {
    match r {
        Err(ActionError::Retryable { message, retry_after }) => (message, retry_after),
        other => panic!("expected Retryable, got {other:?}"),
    }
}

#[tokio::test]
async fn json_response_is_parsed_and_request_is_complete() {
    let server = Server::start(|_, _| {
        Reply::json(200, &json!({"ok": true, "n": [1, 2]}))
            .header("X-Reply", "yes")
            .header("Set-Cookie", "a=1")
            .header("Set-Cookie", "b=2")
    })
    .await;
    let out = completed(
        run(
            &allow(),
            json!({
                "url": server.url("/hook?x=1"),
                "headers": {"X-Test": "42"},
                "body": {"text": "hello", "score": -0.5},
            }),
        )
        .await,
    );
    assert_eq!(out["status"], 200);
    assert_eq!(out["body"], json!({"ok": true, "n": [1, 2]}));
    assert_eq!(out["headers"]["x-reply"], "yes");
    assert_eq!(out["headers"]["content-type"], "application/json");
    assert_eq!(out["headers"]["set-cookie"], "a=1, b=2");
    assert!(
        out["headers"]
            .as_object()
            .unwrap()
            .keys()
            .all(|k| *k == k.to_lowercase())
    );

    let reqs = server.requests();
    assert_eq!(reqs.len(), 1);
    let r = &reqs[0];
    assert_eq!(r.method, "POST", "POST is the default method");
    assert_eq!(r.path, "/hook?x=1");
    assert_eq!(r.header("Idempotency-Key"), Some("run-test:step"));
    assert_eq!(r.header("X-Test"), Some("42"));
    assert_eq!(r.header("Content-Type"), Some("application/json"));
    assert_eq!(
        serde_json::from_slice::<Value>(&r.body).unwrap(),
        json!({"text": "hello", "score": -0.5})
    );
}

#[tokio::test]
async fn config_idempotency_key_wins_case_insensitively() {
    let server = Server::start(|_, _| Reply::new(204)).await;
    let out = completed(
        run(
            &allow(),
            json!({"url": server.url("/"), "method": "PUT", "headers": {"idempotency-KEY": "mine"}}),
        )
        .await,
    );
    assert_eq!(out["status"], 204);
    assert_eq!(out["body"], "");
    let r = &server.requests()[0];
    assert_eq!(r.method, "PUT");
    assert_eq!(r.header_count("idempotency-key"), 1);
    assert_eq!(r.header("Idempotency-Key"), Some("mine"));
}

#[tokio::test]
async fn text_bodies_both_ways() {
    let server = Server::start(|req, _| {
        if req.path == "/badjson" {
            Reply::new(200)
                .header("Content-Type", "application/json")
                .body("not json{")
        } else {
            Reply::text(200, "plain answer")
        }
    })
    .await;
    let out = completed(run(&allow(), json!({"url": server.url("/"), "body": "hello there"})).await);
    assert_eq!(out["body"], "plain answer");
    let r = &server.requests()[0];
    assert_eq!(r.body, b"hello there");
    assert_eq!(r.header("Content-Type"), Some("text/plain; charset=utf-8"));

    // A Content-Type set by the config is kept.
    let out = completed(
        run(
            &allow(),
            json!({"url": server.url("/"), "body": "a=1", "headers": {"content-type": "application/x-www-form-urlencoded"}}),
        )
        .await,
    );
    assert_eq!(out["status"], 200);
    assert_eq!(
        server.requests()[1].header("Content-Type"),
        Some("application/x-www-form-urlencoded")
    );

    // JSON content type with a body that does not parse: the text.
    let out = completed(run(&allow(), json!({"url": server.url("/badjson"), "method": "GET"})).await);
    assert_eq!(out["body"], "not json{");
    let r = &server.requests()[2];
    assert_eq!(r.method, "GET");
    assert!(r.body.is_empty());
    assert_eq!(r.header("Content-Type"), None);
}

#[tokio::test]
async fn head_and_not_modified_complete() {
    let server = Server::start(|req, _| {
        if req.method == "HEAD" {
            Reply::text(200, "ignored body")
        } else {
            Reply::new(304).header("ETag", "\"v1\"")
        }
    })
    .await;
    let out = completed(run(&allow(), json!({"url": server.url("/"), "method": "HEAD"})).await);
    assert_eq!(out["status"], 200);
    assert_eq!(out["body"], "");
    let out = completed(run(&allow(), json!({"url": server.url("/"), "method": "GET"})).await);
    assert_eq!(out["status"], 304);
    assert_eq!(out["headers"]["etag"], "\"v1\"");
}

#[tokio::test]
async fn server_errors_are_retryable() {
    let server = Server::start(|req, _| match req.path.as_str() {
        "/500" => Reply::text(500, "database on fire"),
        "/408" => Reply::new(408),
        "/502" => Reply::new(502).header("Retry-After", "30"),
        _ => Reply::new(200),
    })
    .await;
    let (msg, after) = retryable(run(&allow(), json!({"url": server.url("/500")})).await);
    assert!(msg.contains("500") && msg.contains("database on fire"), "{msg}");
    assert_eq!(after, None);
    let (msg, _) = retryable(run(&allow(), json!({"url": server.url("/408")})).await);
    assert!(msg.contains("408"), "{msg}");
    // Retry-After is honoured for 429 and 503 only.
    let (_, after) = retryable(run(&allow(), json!({"url": server.url("/502")})).await);
    assert_eq!(after, None);
}

#[tokio::test]
async fn unavailable_with_retry_after_seconds() {
    let server = Server::start(|_, _| Reply::text(503, "maintenance").header("Retry-After", "7")).await;
    let (msg, after) = retryable(run(&allow(), json!({"url": server.url("/")})).await);
    assert!(msg.contains("503"), "{msg}");
    assert_eq!(after, Some(Duration::from_secs(7)));
}

#[tokio::test]
async fn too_many_requests_with_http_date() {
    let when = chrono::Utc::now() + chrono::Duration::seconds(120);
    let date = when.format("%a, %d %b %Y %H:%M:%S GMT").to_string();
    let server = Server::start(move |_, _| Reply::new(429).header("Retry-After", &date)).await;
    let (msg, after) = retryable(run(&allow(), json!({"url": server.url("/")})).await);
    assert!(msg.contains("429"), "{msg}");
    let after = after.expect("retry_after from the HTTP-date").as_secs();
    assert!((115..=120).contains(&after), "{after}");
}

#[tokio::test]
async fn client_errors_are_fatal() {
    let server = Server::start(|req, _| {
        if req.path == "/401" {
            // Echoes the credential back, as some servers do.
            let auth = req.header("Authorization").unwrap_or("").to_owned();
            Reply::text(401, &format!("bad credentials: {auth}"))
        } else {
            Reply::text(404, "no such hook")
        }
    })
    .await;
    let msg = fatal(run(&allow(), json!({"url": server.url("/missing")})).await);
    assert!(msg.contains("404") && msg.contains("no such hook"), "{msg}");
    assert!(!msg.contains("/missing"), "paths are not shown: {msg}");

    let msg = fatal(
        run(
            &allow(),
            json!({"url": server.url("/401"), "headers": {"Authorization": "Bearer sup3r-s3cret-token"}}),
        )
        .await,
    );
    assert!(msg.contains("401"), "{msg}");
    assert!(!msg.contains("sup3r-s3cret-token"), "credential leaked: {msg}");
}

#[tokio::test]
async fn timeout_is_retryable() {
    let server = Server::start(|_, _| Reply::new(200).delay(Duration::from_secs(5))).await;
    for timeout in [json!("300ms"), json!(300)] {
        let started = Instant::now();
        let (msg, _) = retryable(run(&allow(), json!({"url": server.url("/"), "timeout": timeout})).await);
        assert!(msg.contains("timed out"), "{msg}");
        assert!(started.elapsed() < Duration::from_secs(3));
    }
}

#[tokio::test]
async fn cancellation_stops_the_request() {
    let server = Server::start(|_, _| Reply::new(200).delay(Duration::from_secs(5))).await;
    let (ctx, _) = ActionContext::for_test(json!({"url": server.url("/")}));
    let token = ctx.cancel.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(100)).await;
        token.cancel();
    });
    let started = Instant::now();
    let r = TriggerWebhook::new(&allow()).execute(ctx).await;
    assert_eq!(r, Err(ActionError::Cancelled));
    assert!(started.elapsed() < Duration::from_secs(3));
}

#[tokio::test]
async fn connection_refused_is_retryable() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let (msg, _) = retryable(run(&allow(), json!({"url": format!("http://{addr}/")})).await);
    assert!(msg.contains("cannot connect"), "{msg}");
}

#[tokio::test]
async fn private_addresses_are_refused_by_default() {
    let server = Server::start(|_, _| Reply::new(200)).await;
    let port = server.addr.port();
    for url in [
        format!("http://127.0.0.1:{port}/"),
        format!("http://localhost:{port}/"),
        format!("http://[::ffff:127.0.0.1]:{port}/"),
        "http://169.254.169.254/latest/meta-data/".to_owned(),
    ] {
        let msg = fatal(run(&deny(), json!({ "url": url })).await);
        assert!(msg.contains("ORBFLOW_HTTP_ALLOW_PRIVATE"), "{url}: {msg}");
    }
    assert!(server.requests().is_empty(), "nothing reached the server");
}

/// A client that resolves `hooks.public.test` to the local server, standing
/// in for a public host whose answer redirects somewhere private.
fn pinned(policy: &HttpPolicy, addr: SocketAddr) -> TriggerWebhook {
    let client = net::client_builder(policy)
        .resolve_to_addrs("hooks.public.test", &[addr])
        .build()
        .unwrap();
    TriggerWebhook::with_client(policy, client)
}

#[tokio::test]
async fn localhost_names_are_refused_before_any_lookup() {
    let server = Server::start(|_, _| Reply::new(200)).await;
    let port = server.addr.port();
    // This client answers the local names with the stub itself (as
    // /etc/hosts or a hostile resolver could): only a refusal by name,
    // before any lookup, keeps the request from reaching it.
    let names = ["localhost.", "hooks.localhost", "hooks.localhost."];
    let mut builder = net::client_builder(&deny());
    for name in names {
        builder = builder.resolve_to_addrs(name, &[server.addr]);
    }
    let action = TriggerWebhook::with_client(&deny(), builder.build().unwrap());
    for url in [
        format!("http://localhost.:{port}/"),
        format!("http://LOCALHOST.:{port}/"),
        format!("http://hooks.localhost:{port}/"),
        format!("http://Hooks.LocalHost.:{port}/"),
    ] {
        let (ctx, _) = ActionContext::for_test(json!({ "url": url }));
        let msg = fatal(action.execute(ctx).await);
        assert!(msg.contains("ORBFLOW_HTTP_ALLOW_PRIVATE"), "{url}: {msg}");
    }
    assert!(server.requests().is_empty(), "nothing reached the server");
}

#[tokio::test]
async fn redirects_to_private_addresses_are_refused() {
    let server = Server::start(|req, addr| match req.path.as_str() {
        "/to-ip" => Reply::new(302).header("Location", &format!("http://127.0.0.1:{}/secret", addr.port())),
        "/to-name" => Reply::new(302).header("Location", &format!("http://localhost:{}/secret", addr.port())),
        "/to-metadata" => Reply::new(302).header("Location", "http://169.254.169.254/latest/meta-data/"),
        _ => Reply::text(200, "secret"),
    })
    .await;
    let action = pinned(&deny(), server.addr);
    let port = server.addr.port();
    for path in ["/to-ip", "/to-name", "/to-metadata"] {
        let (ctx, _) = ActionContext::for_test(json!({"url": format!("http://hooks.public.test:{port}{path}")}));
        let msg = fatal(action.execute(ctx).await);
        assert!(msg.contains("ORBFLOW_HTTP_ALLOW_PRIVATE"), "{path}: {msg}");
    }
    let paths: Vec<String> = server.requests().into_iter().map(|r| r.path).collect();
    assert_eq!(
        paths,
        ["/to-ip", "/to-name", "/to-metadata"],
        "the private target was never requested"
    );
}

#[tokio::test]
async fn redirects_are_followed_when_allowed_up_to_five() {
    let server = Server::start(|req, _| {
        let n: u32 = req.path.trim_start_matches("/hop/").parse().unwrap_or(0);
        if req.path == "/start" {
            Reply::new(302).header("Location", "/final")
        } else if req.path.starts_with("/hop/") && n > 0 {
            Reply::new(302).header("Location", &format!("/hop/{}", n - 1))
        } else {
            Reply::json(200, &json!({"final": true}))
        }
    })
    .await;
    let out = completed(run(&allow(), json!({"url": server.url("/start"), "method": "GET"})).await);
    assert_eq!(out["body"], json!({"final": true}));
    let out = completed(run(&allow(), json!({"url": server.url("/hop/5"), "method": "GET"})).await);
    assert_eq!(out["status"], 200, "five redirects are followed");
    let msg = fatal(run(&allow(), json!({"url": server.url("/hop/6"), "method": "GET"})).await);
    assert!(msg.contains("too many redirects"), "{msg}");
}

#[tokio::test]
async fn oversized_bodies_are_fatal() {
    let big = vec![b'a'; 10 * 1024 * 1024 + 1];
    let server = Server::start(move |req, _| {
        let r = Reply::new(200).header("Content-Type", "text/plain").body(big.clone());
        if req.path == "/streamed" {
            Reply {
                content_length: false,
                ..r
            }
        } else {
            r
        }
    })
    .await;
    for path in ["/declared", "/streamed"] {
        let msg = fatal(run(&allow(), json!({"url": server.url(path), "method": "GET"})).await);
        assert!(msg.contains("10 MiB"), "{path}: {msg}");
    }
}

#[tokio::test]
async fn bad_configs_are_fatal() {
    for (cfg, want) in [
        (json!({"url": "not a url"}), "invalid URL"),
        (json!({"url": "ftp://example.com/x"}), "scheme `ftp`"),
        (
            json!({"url": "http://example.com", "method": "TRACE"}),
            "invalid TRIGGER_WEBHOOK config",
        ),
        (json!({"url": "http://example.com", "extra": 1}), "unknown field"),
        (
            json!({"url": "http://example.com", "timeout": "soon"}),
            "invalid TRIGGER_WEBHOOK config",
        ),
        (json!({"url": "http://example.com", "timeout": 0}), "greater than 0"),
        (
            json!({"url": "http://example.com", "headers": {"bad header": "x"}}),
            "invalid header name",
        ),
        (
            json!({"url": "http://example.com", "headers": {"X-Token": "a\nb"}}),
            "invalid value for header `X-Token`",
        ),
        (json!({}), "missing field `url`"),
        (json!(null), "invalid TRIGGER_WEBHOOK config"),
    ] {
        let msg = fatal(run(&allow(), cfg.clone()).await);
        assert!(msg.contains(want), "{cfg}: {msg}");
    }
}

#[tokio::test]
async fn registry_runs_trigger_webhook() {
    let server = Server::start(|_, _| Reply::json(200, &json!({"via": "registry"}))).await;
    let registry = Registry::builtin(&CatalogConfig { http: allow() }).unwrap();
    let (ctx, _) = ActionContext::for_test(json!({"url": server.url("/")}));
    let out = completed(registry.execute("TRIGGER_WEBHOOK", ctx).await);
    assert_eq!(out["body"]["via"], "registry");

    let registry = Registry::builtin(&CatalogConfig { http: deny() }).unwrap();
    let (ctx, _) = ActionContext::for_test(json!({"url": server.url("/")}));
    let msg = fatal(registry.execute("TRIGGER_WEBHOOK", ctx).await);
    assert!(msg.contains("ORBFLOW_HTTP_ALLOW_PRIVATE"), "{msg}");
}

/// Records the client spans the action starts and how they end.
#[derive(Default, Clone)]
struct Calls(Arc<Mutex<Vec<String>>>);

struct Call(Calls, String);

impl orbflow_actions::CallTracer for Calls {
    fn start(&self, call: &orbflow_actions::OutgoingCall<'_>) -> Box<dyn orbflow_actions::CallSpan> {
        let what = format!("{} {}://{}:{:?}", call.method, call.scheme, call.host, call.port);
        Box::new(Call(self.clone(), what))
    }
}

impl orbflow_actions::CallSpan for Call {
    fn traceparent(&self) -> String {
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".to_owned()
    }
    fn end(self: Box<Self>, status: Option<u16>, error: Option<&str>) {
        let ended = format!("{} -> {status:?} {}", self.1, error.unwrap_or("-"));
        self.0.0.lock().unwrap().push(ended);
    }
}

async fn traced(config: Value) -> (Result<Outcome, ActionError>, Vec<String>) {
    let calls = Calls::default();
    let (mut ctx, _) = ActionContext::for_test(config);
    ctx.calls = Some(Arc::new(calls.clone()));
    let r = TriggerWebhook::new(&allow()).execute(ctx).await;
    let ended = calls.0.lock().unwrap().clone();
    (r, ended)
}

#[tokio::test]
async fn each_request_is_a_client_span_and_carries_its_traceparent() {
    let server = Server::start(|req, _| Reply::new(if req.path == "/fail" { 503 } else { 200 })).await;
    let port = server
        .url("/")
        .rsplit(':')
        .next()
        .unwrap()
        .trim_end_matches('/')
        .to_owned();
    let (r, ended) = traced(json!({"url": server.url("/ok")})).await;
    completed(r);
    assert_eq!(ended, [format!("POST http://127.0.0.1:Some({port}) -> Some(200) -")]);
    let (r, ended) = traced(json!({"url": server.url("/fail"), "method": "GET"})).await;
    retryable(r);
    assert_eq!(ended, [format!("GET http://127.0.0.1:Some({port}) -> Some(503) -")]);
    let sent = server.requests();
    for req in &sent {
        assert_eq!(
            req.header("traceparent"),
            Some("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
        );
    }
    // a traceparent of the config's own is sent as it is, once
    let (r, _) = traced(json!({"url": server.url("/ok"), "headers": {"TraceParent": "00-11111111111111111111111111111111-2222222222222222-00"}})).await;
    completed(r);
    let last = server.requests().pop().unwrap();
    assert_eq!(last.header_count("traceparent"), 1);
    assert_eq!(
        last.header("traceparent"),
        Some("00-11111111111111111111111111111111-2222222222222222-00")
    );
    // no answer: the span ends with the transport error
    let dead = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let (r, ended) = traced(json!({"url": format!("http://127.0.0.1:{dead}/")})).await;
    retryable(r);
    assert_eq!(ended.len(), 1);
    assert!(
        ended[0].contains("-> None TRIGGER_WEBHOOK POST http://127.0.0.1:"),
        "{ended:?}"
    );
    // without a tracer, no traceparent is made up
    let before = server.requests().len();
    completed(run(&allow(), json!({"url": server.url("/ok")})).await);
    let plain = &server.requests()[before];
    assert_eq!(plain.header("traceparent"), None);
}
