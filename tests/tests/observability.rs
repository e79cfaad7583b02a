//! One trace per run across processes: `orbflow api` and two `orbflow
//! worker`s export over OTLP/HTTP to a receiver on 127.0.0.1 that decodes
//! the protobuf with the `opentelemetry-proto` types (the same messages a
//! collector reads), and a tonic `TraceService` for gRPC. A packaged
//! receiver (Arize Phoenix from PyPI) was the alternative: it installs a
//! web app, a database and some hundred Python packages on every CI run to
//! answer what these few lines decode with the protocol's own types. A run started with a `traceparent`, with a retried
//! HTTP step, a step on each worker, a DELAY and a condition, must yield
//! one tree: the API request, the run under it, every attempt under the
//! run; the HTTP peer must have received that trace's `traceparent`; no
//! span may carry a secret. The same run moves the `/metrics` counters of
//! the API and of the workers as it must. Skipped without ORBFLOW_TEST_DATABASE_URL /
//! ORBFLOW_TEST_REDIS_URL; under CI=true it must run.

use std::collections::{HashMap, HashSet};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Child, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use orbflow_testkit::TestDb;
use orbflow_testkit::daemon::{free_port, redis_url};
use orbflow_testkit::peer::{Peer, Reply};
use prost::Message as _;
use serde_json::Value;

const SECRET: &str = "tr4ce-s3cret-Value";

/// A span as the receiver got it, with its process's service name.
#[derive(Debug, Clone)]
struct Got {
    service: String,
    instance: String,
    trace_id: String,
    span_id: String,
    parent: String,
    name: String,
    attrs: HashMap<String, String>,
    events: Vec<(String, HashMap<String, String>)>,
    status_message: String,
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn text(v: Option<&AnyValue>) -> String {
    match v.and_then(|v| v.value.as_ref()) {
        Some(any_value::Value::StringValue(s)) => s.clone(),
        Some(any_value::Value::IntValue(i)) => i.to_string(),
        Some(any_value::Value::BoolValue(b)) => b.to_string(),
        Some(any_value::Value::DoubleValue(d)) => d.to_string(),
        other => format!("{other:?}"),
    }
}

fn attrs(kvs: &[KeyValue]) -> HashMap<String, String> {
    kvs.iter().map(|kv| (kv.key.clone(), text(kv.value.as_ref()))).collect()
}

/// The OTLP/HTTP receiver: `POST /v1/traces` with a protobuf
/// `ExportTraceServiceRequest`; answers 200 with an empty response message.
fn otlp_receiver() -> (u16, Arc<Mutex<Vec<Got>>>) {
    let spans = Arc::new(Mutex::new(Vec::new()));
    let store = spans.clone();
    let receiver = Peer::start(move |r| {
        assert!(r.request_line.starts_with("POST /v1/traces "), "{}", r.request_line);
        assert_eq!(r.header("content-type"), Some("application/x-protobuf"));
        let req = ExportTraceServiceRequest::decode(r.raw_body.as_slice()).expect("a valid OTLP message");
        let mut got = store.lock().unwrap();
        for rs in req.resource_spans {
            let res = attrs(&rs.resource.map(|r| r.attributes).unwrap_or_default());
            for ss in rs.scope_spans {
                for s in ss.spans {
                    got.push(Got {
                        service: res.get("service.name").cloned().unwrap_or_default(),
                        instance: res.get("service.instance.id").cloned().unwrap_or_default(),
                        trace_id: hex(&s.trace_id),
                        span_id: hex(&s.span_id),
                        parent: hex(&s.parent_span_id),
                        name: s.name,
                        attrs: attrs(&s.attributes),
                        events: s.events.into_iter().map(|e| (e.name, attrs(&e.attributes))).collect(),
                        status_message: s.status.map(|st| st.message).unwrap_or_default(),
                    });
                }
            }
        }
        Reply {
            keep_alive: true,
            ..Reply::ok("application/x-protobuf", "")
        }
    });
    (receiver.port, spans)
}

/// The HTTP peer of the workflow's steps: `/a` fails its first request with
/// 503, then answers 200; every answer but that first comes after 800 ms
/// (so that two steps overlap, one on each worker). Records each request's
/// path and `traceparent`.
/// (path, `traceparent`) of each request, in arrival order.
type Seen = Arc<Mutex<Vec<(String, String)>>>;

fn peer() -> (u16, Seen) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s = seen.clone();
    let peer = Peer::start(move |r| {
        let path = r.request_line.split(' ').nth(1).unwrap_or_default().to_owned();
        let first_a = {
            let mut seen = s.lock().unwrap();
            let first = path == "/a" && !seen.iter().any(|(p, _)| p == "/a");
            seen.push((path, r.header("traceparent").unwrap_or_default().to_owned()));
            first
        };
        if first_a {
            Reply::new(503, "", "")
        } else {
            std::thread::sleep(Duration::from_millis(800));
            Reply::ok("application/json", "{\"ok\":true}")
        }
    });
    (peer.port, seen)
}

/// One HTTP request to the API (`connection: close`): status and JSON body.
fn http(port: u16, method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> (u16, Value) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nhost: 127.0.0.1\r\nconnection: close\r\ncontent-length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    req.push_str(body);
    s.write_all(req.as_bytes()).unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    let status = out.split(' ').nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    let body = out.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    (status, serde_json::from_str(body).unwrap_or(Value::Null))
}

/// Parses Prometheus text: every sample line is `name{labels} value` under
/// a declared family; returns series → value.
fn prometheus(text: &str) -> HashMap<String, f64> {
    let mut declared = HashSet::new();
    let mut out = HashMap::new();
    for line in text.lines().filter(|l| !l.is_empty()) {
        if let Some(t) = line.strip_prefix("# TYPE ") {
            let mut parts = t.split(' ');
            declared.insert(parts.next().unwrap().to_owned());
            let kind = parts.next().unwrap();
            assert!(["counter", "gauge", "histogram"].contains(&kind), "{line}");
            continue;
        }
        if line.starts_with("# HELP ") {
            continue;
        }
        let (series, value) = line.rsplit_once(' ').unwrap_or_else(|| panic!("not a sample: {line}"));
        let value: f64 = value.parse().unwrap_or_else(|_| panic!("not a number: {line}"));
        let name = series.split('{').next().unwrap();
        let family = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|s| name.strip_suffix(s).filter(|f| declared.contains(*f)))
            .unwrap_or(name);
        assert!(declared.contains(family), "undeclared: {line}");
        if let Some(labels) = series.strip_prefix(name) {
            assert!(
                labels.is_empty() || (labels.starts_with('{') && labels.ends_with('}')),
                "{line}"
            );
        }
        out.insert(series.to_owned(), value);
    }
    out
}

/// The sum of a series over processes (0 where absent).
fn total(all: &[HashMap<String, f64>], series: &str) -> f64 {
    all.iter().filter_map(|m| m.get(series)).sum()
}

/// The body of a GET, as text.
fn raw(port: u16, path: &str) -> String {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.write_all(format!("GET {path} HTTP/1.1\r\nhost: 127.0.0.1\r\nconnection: close\r\n\r\n").as_bytes())
        .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    assert!(out.starts_with("HTTP/1.1 200"), "{out}");
    out.split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default()
}

struct Kill(Vec<Child>, String, String);

impl Drop for Kill {
    fn drop(&mut self) {
        orbflow_testkit::daemon::stop_all(&mut self.0);
        orbflow_testkit::daemon::clear_redis_prefix(&self.1, &self.2);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fleet_run_is_one_trace_across_the_api_and_two_workers_and_moves_the_metrics() {
    let Some(redis) = redis_url() else { return };
    let Some(db) = TestDb::postgres().await else { return };
    let (otlp, spans) = otlp_receiver();
    let (peer_port, seen) = peer();
    let id = uuid::Uuid::now_v7().simple().to_string();
    let prefix = format!("orbflow-traces-{id}:");
    let port = free_port();
    let orbflow = |instance: &str| {
        let mut c = orbflow_testkit::daemon::orbflow();
        c.env("ORBFLOW_DATABASE_URL", &db.url)
            .env("ORBFLOW_REDIS_URL", &redis)
            .env("ORBFLOW_REDIS_PREFIX", &prefix)
            .env("ORBFLOW_HTTP_ALLOW_PRIVATE", "true")
            .env("ORBFLOW_SECRET_API_TOKEN", SECRET)
            .env("OTEL_EXPORTER_OTLP_ENDPOINT", format!("http://127.0.0.1:{otlp}"))
            .env("OTEL_BSP_SCHEDULE_DELAY", "100")
            .env("OTEL_RESOURCE_ATTRIBUTES", format!("service.instance.id={instance}"))
            .env_remove("OTEL_SERVICE_NAME")
            .env_remove("OTEL_EXPORTER_OTLP_PROTOCOL")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        c
    };
    assert!(orbflow("migrate").arg("migrate").status().unwrap().success());
    let out = orbflow("token")
        .args([
            "token",
            "create",
            "--workspace",
            "acme",
            "--permissions",
            "*",
            "--name",
            "ci",
        ])
        .stdout(Stdio::piped())
        .output()
        .unwrap();
    let token = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    assert!(token.starts_with("orb_"), "{token}");
    let mut daemons = Kill(Vec::new(), redis.clone(), prefix.clone());
    daemons.0.push(
        orbflow("api")
            .args(["api", "--listen", &format!("127.0.0.1:{port}")])
            .spawn()
            .unwrap(),
    );
    let mut health = Vec::new();
    for w in ["worker-a", "worker-b"] {
        let h = free_port();
        health.push(h);
        daemons.0.push(
            orbflow(w)
                .args(["worker", "--concurrency", "1"])
                .env("ORBFLOW_HEALTH_LISTEN", format!("127.0.0.1:{h}"))
                .spawn()
                .unwrap(),
        );
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "orbflow api did not listen");
        std::thread::sleep(Duration::from_millis(50));
    }

    let yaml = format!(
        r#"schemaVersion: 1
name: traced
steps:
  - key: a
    action: TRIGGER_WEBHOOK
    config: {{ url: "http://127.0.0.1:{peer_port}/a", headers: {{ authorization: "Bearer {{{{ secrets.API_TOKEN }}}}" }} }}
    retry: {{ maxAttempts: 3, backoff: fixed, initialInterval: 1s }}
  - key: b
    dependsOn: []
    action: TRIGGER_WEBHOOK
    config: {{ url: "http://127.0.0.1:{peer_port}/b" }}
  - key: pause
    dependsOn: [a, b]
    action: DELAY
    config: {{ duration: "1s" }}
  - key: check
    type: condition
    if: "steps.a.output.status == 200"
    then:
      - key: note
        action: LOG_EVENT
        config: {{ message: "checked with {{{{ secrets.API_TOKEN }}}}", data: {{ t: "{{{{ secrets.API_TOKEN }}}}" }} }}
"#
    );
    let auth = format!("Bearer {token}");
    let yaml_type = ("content-type", "application/yaml");
    let json_type = ("content-type", "application/json");
    let (status, wf) = http(
        port,
        "POST",
        "/v1/workflows",
        &[("authorization", &auth), yaml_type],
        &yaml,
    );
    assert_eq!(status, 201, "{wf}");
    let (status, v) = http(
        port,
        "POST",
        "/v1/workflows/traced/versions",
        &[("authorization", &auth)],
        "",
    );
    assert_eq!(status, 201, "{v}");

    // the caller's trace: the run continues it
    let caller_trace = "4bf92f3577b34da6a3ce929d0e0e4736";
    let caller_span = "00f067aa0ba902b7";
    let parent = format!("00-{caller_trace}-{caller_span}-01");
    let (status, run) = http(
        port,
        "POST",
        "/v1/workflows/traced/runs",
        &[("authorization", &auth), ("traceparent", &parent), json_type],
        r#"{"input": {}}"#,
    );
    assert_eq!(status, 201, "{run}");
    assert_eq!(run["traceId"], caller_trace, "the run's trace is the caller's: {run}");
    let run_id = run["id"].as_str().unwrap().to_owned();
    let deadline = Instant::now() + Duration::from_secs(60);
    let run = loop {
        let (_, r) = http(
            port,
            "GET",
            &format!("/v1/runs/{run_id}"),
            &[("authorization", &auth)],
            "",
        );
        if r["status"] != "PENDING" && r["status"] != "RUNNING" {
            break r;
        }
        assert!(Instant::now() < deadline, "the run did not end: {r}");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(run["status"], "COMPLETED", "{run}");
    assert_eq!(run["stepExecutions"]["a"]["attempts"], 2, "{run}");
    assert_eq!(run["traceId"], caller_trace);

    // every attempt span and the run's own, exported by whichever process had them
    let deadline = Instant::now() + Duration::from_secs(30);
    let mine = loop {
        let got = spans.lock().unwrap().clone();
        let mine: Vec<Got> = got.into_iter().filter(|s| s.trace_id == caller_trace).collect();
        let attempts = mine.iter().filter(|s| s.name.starts_with("step ")).count();
        if mine.iter().any(|s| s.name == "run") && attempts >= 5 {
            break mine;
        }
        assert!(Instant::now() < deadline, "spans missing: {mine:#?}");
        std::thread::sleep(Duration::from_millis(100));
    };

    // the API request, under the caller's span
    let server: Vec<&Got> = mine.iter().filter(|s| s.service == "orbflow-api").collect();
    assert_eq!(server.len(), 1, "{server:#?}");
    let server = server[0];
    assert_eq!(server.name, "POST /v1/workflows/{workflow}/runs");
    assert_eq!(server.parent, caller_span);
    assert_eq!(server.attrs["http.route"], "/v1/workflows/{workflow}/runs");
    assert_eq!(server.attrs["http.response.status_code"], "201");
    // the run, under the request
    let runs: Vec<&Got> = mine.iter().filter(|s| s.name == "run").collect();
    assert_eq!(runs.len(), 1, "one run span: {runs:#?}");
    let run_span = runs[0];
    assert_eq!(run_span.parent, server.span_id);
    assert_eq!(run_span.attrs["orbflow.run.id"], run_id);
    assert_eq!(run_span.attrs["orbflow.run.status"], "COMPLETED");
    // every attempt, under the run, on both workers
    let attempts: Vec<&Got> = mine.iter().filter(|s| s.name.starts_with("step ")).collect();
    for a in &attempts {
        assert_eq!(a.parent, run_span.span_id, "{a:#?}");
        assert_eq!(a.service, "orbflow-worker");
        assert_eq!(a.attrs["orbflow.run.id"], run_id);
    }
    let workers: HashSet<&str> = attempts.iter().map(|a| a.instance.as_str()).collect();
    assert_eq!(workers, HashSet::from(["worker-a", "worker-b"]), "{attempts:#?}");
    let of = |path: &str| -> Vec<&Got> {
        let mut v: Vec<&Got> = attempts
            .iter()
            .copied()
            .filter(|a| a.attrs["orbflow.step.path"] == path)
            .collect();
        v.sort_by_key(|a| a.attrs["orbflow.step.attempt"].clone());
        v
    };
    let a = of("a");
    assert_eq!(a.len(), 2, "the retried step: {a:#?}");
    assert_eq!(a[0].attrs["orbflow.step.outcome"], "retryable_error");
    assert!(a[0].status_message.contains("503"), "{:#?}", a[0]);
    assert_eq!(a[1].attrs["orbflow.step.outcome"], "completed");
    assert_eq!(of("b").len(), 1);
    assert_eq!(of("pause")[0].attrs["orbflow.step.outcome"], "waiting");
    let note = of("check.then[0].note");
    let note = if note.is_empty() { of("note") } else { note };
    assert_eq!(note.len(), 1, "the condition's branch ran: {attempts:#?}");
    assert_eq!(note[0].events.len(), 1, "LOG_EVENT's line is an event: {:#?}", note[0]);
    assert_eq!(note[0].events[0].0, "checked with ***");
    // the spans of this trace form one tree: each parent is in it, but the caller's
    let ids: HashSet<&str> = mine.iter().map(|s| s.span_id.as_str()).collect();
    for s in &mine {
        assert!(
            ids.contains(s.parent.as_str()) || s.parent == caller_span,
            "a span outside the tree: {s:#?}"
        );
    }
    // and nothing of the run went to another trace
    let all = spans.lock().unwrap().clone();
    for s in all.iter().filter(|s| s.attrs.get("orbflow.run.id") == Some(&run_id)) {
        assert_eq!(s.trace_id, caller_trace, "{s:#?}");
    }
    // no span carries the secret
    let dump = format!("{all:?}");
    assert!(!dump.contains(SECRET), "a secret reached a span");

    // metrics: the API counted the request by its route; the workers, the run's attempts
    let (status, _) = http(port, "GET", "/metrics", &[], "");
    assert_eq!(status, 200);
    let api = prometheus(&raw(port, "/metrics"));
    assert!(
        api["orbflow_http_requests_total{method=\"POST\",route=\"/v1/workflows/{workflow}/runs\",status=\"201\"}"]
            >= 1.0,
        "{api:?}"
    );
    assert!(api.contains_key("orbflow_stale_write_backs_total"));
    let workers: Vec<HashMap<String, f64>> = health.iter().map(|h| prometheus(&raw(*h, "/metrics"))).collect();
    let hook = "orbflow_step_attempts_total{action=\"TRIGGER_WEBHOOK\",outcome=";
    assert_eq!(
        total(&workers, &format!("{hook}\"retryable_error\"}}")),
        1.0,
        "{workers:?}"
    );
    assert_eq!(total(&workers, &format!("{hook}\"completed\"}}")), 2.0);
    assert_eq!(
        total(
            &workers,
            "orbflow_step_attempts_total{action=\"DELAY\",outcome=\"waiting\"}"
        ),
        1.0
    );
    assert_eq!(total(&workers, "orbflow_runs_ended_total{status=\"COMPLETED\"}"), 1.0);
    assert_eq!(total(&workers, "orbflow_runs_ended_total{status=\"FAILED\"}"), 0.0);
    assert_eq!(total(&workers, "orbflow_step_attempts_running"), 0.0);

    // each request is an HTTP client span under its attempt
    let clients: Vec<&Got> = mine.iter().filter(|s| s.name == "POST").collect();
    assert_eq!(clients.len(), 3, "{clients:#?}");
    let mut codes: Vec<&str> = clients
        .iter()
        .map(|c| c.attrs["http.response.status_code"].as_str())
        .collect();
    codes.sort_unstable();
    assert_eq!(codes, ["200", "200", "503"]);
    for c in &clients {
        let attempt = attempts.iter().find(|a| a.span_id == c.parent);
        assert!(attempt.is_some(), "a client span under an attempt: {c:#?}");
        assert_eq!(c.attrs["server.address"], "127.0.0.1");
        assert_eq!(c.attrs["http.request.method"], "POST");
        assert_eq!(c.attrs["server.port"], peer_port.to_string());
    }
    // the peer got the trace: each request's traceparent is its client span
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 3, "{seen:?}");
    for (path, tp) in &seen {
        let parts: Vec<&str> = tp.split('-').collect();
        assert_eq!(parts.len(), 4, "{path}: {tp:?}");
        assert_eq!(parts[1], caller_trace, "{path}: {tp}");
        let client = clients.iter().find(|c| c.span_id == parts[2]);
        assert!(client.is_some(), "{path}: its traceparent names a client span: {tp}");
    }
}

/// The gRPC receiver: `TraceService/Export`, keeping the spans' (trace id,
/// name, attributes).
#[derive(Default, Clone)]
struct GrpcReceiver(Arc<Mutex<Vec<Named>>>);

/// A span's trace id, name and attributes.
type Named = (String, String, HashMap<String, String>);

#[tonic::async_trait]
impl opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::TraceService for GrpcReceiver {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<
        tonic::Response<opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceResponse>,
        tonic::Status,
    > {
        let mut got = self.0.lock().unwrap();
        for rs in request.into_inner().resource_spans {
            for ss in rs.scope_spans {
                for s in ss.spans {
                    got.push((hex(&s.trace_id), s.name, attrs(&s.attributes)));
                }
            }
        }
        Ok(tonic::Response::new(Default::default()))
    }
}

const CHAIN: &str = "schemaVersion: 1\nname: grpc\nsteps:\n  - {key: one, action: TRANSFORM, config: {value: 1}}\n  - {key: two, action: TRANSFORM, config: {value: 2}}\n";

/// The trace id `orbflow run` announced on stderr.
fn announced_trace(stderr: &str) -> String {
    let (_, rest) = stderr
        .split_once(", trace ")
        .unwrap_or_else(|| panic!("no trace id announced: {stderr}"));
    rest.chars().take(32).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orbflow_run_exports_its_trace_over_grpc() {
    use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::TraceServiceServer;
    let receiver = GrpcReceiver::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let incoming = futures_util::stream::unfold(listener, |l| async move {
        let conn = l.accept().await.map(|(s, _)| s);
        Some((conn, l))
    });
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(TraceServiceServer::new(receiver.clone()))
            .serve_with_incoming(incoming),
    );
    let dir = std::env::temp_dir().join(format!("orbflow-grpc-{}", uuid::Uuid::now_v7().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let wf = dir.join("grpc.yaml");
    std::fs::write(&wf, CHAIN).unwrap();
    let out = tokio::task::spawn_blocking(move || {
        orbflow_testkit::daemon::orbflow()
            .args(["run", wf.to_str().unwrap(), "--output", "json"])
            .env("OTEL_EXPORTER_OTLP_ENDPOINT", format!("http://127.0.0.1:{port}"))
            .env("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")
            .env_remove("OTEL_SERVICE_NAME")
            .env_remove("OTEL_RESOURCE_ATTRIBUTES")
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let trace = announced_trace(&stderr);
    // spans are flushed before the process exits
    let got = receiver.0.lock().unwrap().clone();
    let mine: Vec<_> = got.iter().filter(|(t, ..)| *t == trace).collect();
    let names: HashSet<&str> = mine.iter().map(|(_, n, _)| n.as_str()).collect();
    assert_eq!(names, HashSet::from(["run", "step one", "step two"]), "{got:?}");
    assert_eq!(mine.len(), 3, "{mine:?}");
    let run = mine.iter().find(|(_, n, _)| n == "run").unwrap();
    assert_eq!(run.2["orbflow.run.status"], "COMPLETED");
    assert_eq!(run.2["orbflow.run.trigger"], "manual");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_dead_receiver_costs_a_run_nothing() {
    let dir = std::env::temp_dir().join(format!("orbflow-dead-otlp-{}", uuid::Uuid::now_v7().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let wf = dir.join("chain.yaml");
    std::fs::write(&wf, CHAIN).unwrap();
    // a port nobody listens on, over both transports
    let dead = free_port();
    for protocol in ["http/protobuf", "grpc"] {
        let out = orbflow_testkit::daemon::orbflow()
            .args(["run", wf.to_str().unwrap(), "--output", "json"])
            .env("OTEL_EXPORTER_OTLP_ENDPOINT", format!("http://127.0.0.1:{dead}"))
            .env("OTEL_EXPORTER_OTLP_PROTOCOL", protocol)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{protocol}: {stderr}");
        let run: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(run["status"], "COMPLETED", "{protocol}");
        assert_eq!(run["steps"]["two"]["output"], 2, "{protocol}");
        assert_eq!(announced_trace(&stderr).len(), 32);
    }
    let _ = std::fs::remove_dir_all(&dir);
}
