//! `orbflow api` as a real child process: its flags and their errors, its
//! health listener (`/healthz`, `/readyz`, `/metrics`) and the API's own
//! `/readyz` while Postgres or Redis stops answering (each reached through
//! a TCP proxy on 127.0.0.1 that the test cuts), and a graceful stop on
//! SIGTERM. Also `orbflow cron next`'s input errors. The fleet tests are
//! skipped (with a message) without ORBFLOW_TEST_DATABASE_URL /
//! ORBFLOW_TEST_REDIS_URL; under CI=true they must run.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use orbflow_store::testing::TestDb;
use orbflow_testkit::daemon::{free_port, redis_url};
use orbflow_testkit::proxy::{TcpProxy, authority};

fn orbflow() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_orbflow"));
    c.env_remove("ORBFLOW_DATABASE_URL")
        .env_remove("ORBFLOW_REDIS_URL")
        .env_remove("ORBFLOW_LISTEN")
        .env_remove("ORBFLOW_HEALTH_LISTEN")
        .stdin(Stdio::null());
    c
}

/// Waits for a child with a limit; kills it and fails if it does not exit.
fn output_within(mut child: Child, limit: Duration) -> Output {
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the process did not exit within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    child.wait_with_output().unwrap()
}

fn run_within(c: &mut Command, limit: Duration) -> (Option<i32>, String) {
    let child = c.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let o = output_within(child, limit);
    (o.status.code(), String::from_utf8_lossy(&o.stderr).into_owned())
}

/// A port on 127.0.0.1 that nothing listens on.
fn closed_port() -> u16 {
    free_port()
}

#[test]
fn api_without_a_database_or_redis_url_exits_2_naming_the_flags() {
    for args in [
        vec!["api"],
        vec!["api", "--redis-url", "redis://127.0.0.1:1"],
        vec!["api", "--database-url", "postgres://u@127.0.0.1:1/db"],
    ] {
        let (code, err) = run_within(orbflow().args(&args), Duration::from_secs(30));
        assert_eq!(code, Some(2), "{args:?}: {err}");
        assert!(
            err.contains("orbflow: api needs --database-url and --redis-url (ORBFLOW_DATABASE_URL, ORBFLOW_REDIS_URL)"),
            "{args:?}: {err}"
        );
    }
}

#[test]
fn api_limits_out_of_range_exit_2_before_connecting() {
    // both URLs point at closed ports: the limits are refused first
    let db = format!("postgres://u:secret@127.0.0.1:{}/db", closed_port());
    let redis = format!("redis://127.0.0.1:{}", closed_port());
    for (flag, value, message) in [
        (
            "--rate-burst",
            "0",
            "a rate limit needs per_minute and burst of at least 1",
        ),
        (
            "--rate-per-minute",
            "0",
            "a rate limit needs per_minute and burst of at least 1",
        ),
        (
            "--webhook-rate-burst",
            "0",
            "a rate limit needs per_minute and burst of at least 1",
        ),
        (
            "--auth-failure-rate-per-minute",
            "0",
            "a rate limit needs per_minute and burst of at least 1",
        ),
        (
            "--max-document-bytes",
            "0",
            "max_document_bytes must be 1 byte to 64 MiB",
        ),
        (
            "--max-input-bytes",
            "67108865",
            "max_input_bytes must be 1 byte to 64 MiB",
        ),
        ("--max-webhook-bytes", "0", "max_webhook_bytes must be 1 byte to 64 MiB"),
    ] {
        let (code, err) = run_within(
            orbflow().args(["api", "--database-url", &db, "--redis-url", &redis, flag, value]),
            Duration::from_secs(30),
        );
        assert_eq!(code, Some(2), "{flag} {value}: {err}");
        assert!(
            err.contains(&format!("orbflow api: {message}")),
            "{flag} {value}: {err}"
        );
        assert!(!err.contains("secret"), "{err}");
    }
    // not a number: clap's usage error names the flag
    let (code, err) = run_within(
        orbflow().args([
            "api",
            "--database-url",
            &db,
            "--redis-url",
            &redis,
            "--rate-burst",
            "many",
        ]),
        Duration::from_secs(30),
    );
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("--rate-burst"), "{err}");
}

#[test]
fn api_with_an_unreachable_database_exits_1_without_its_password() {
    let port = closed_port();
    let redis = format!("redis://127.0.0.1:{}", closed_port());
    let (code, err) = run_within(
        orbflow().args([
            "api",
            "--database-url",
            &format!("postgres://orbflow:hunter2@127.0.0.1:{port}/db"),
            "--redis-url",
            &redis,
            "--listen",
            &format!("127.0.0.1:{}", free_port()),
        ]),
        Duration::from_secs(90),
    );
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains(&format!("opening postgres://orbflow:***@127.0.0.1:{port}/db")),
        "{err}"
    );
    assert!(!err.contains("hunter2"), "{err}");
}

/// One GET on 127.0.0.1: (status line, lower-cased head, body).
fn get(port: u16, path: &str) -> Option<(String, String, String)> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    s.write_all(format!("GET {path} HTTP/1.1\r\nhost: 127.0.0.1\r\nconnection: close\r\n\r\n").as_bytes())
        .ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    let (head, body) = out.split_once("\r\n\r\n")?;
    let status = head.lines().next()?.to_owned();
    Some((status, head.to_lowercase(), body.to_owned()))
}

/// Polls `path` until `f` accepts the answer (at most `limit`).
fn until(port: u16, path: &str, limit: Duration, f: impl Fn(&str, &str) -> bool) -> (String, String) {
    let start = Instant::now();
    let mut last = None;
    while start.elapsed() < limit {
        if let Some((status, _, body)) = get(port, path) {
            if f(&status, &body) {
                return (status, body);
            }
            last = Some((status, body));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("{path} on {port}: no expected answer within {limit:?}; last: {last:?}");
}

/// Reads a child's stderr to the end on a thread.
fn drain(child: &mut Child) -> std::thread::JoinHandle<String> {
    let mut err = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s);
        s
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_health_and_readiness_follow_postgres_and_redis_and_sigterm_stops_it() {
    let Some(redis) = redis_url() else { return };
    let Some(db) = TestDb::postgres().await else { return };
    let prefix = format!("orbflow-test-{}:", uuid::Uuid::now_v7().simple());
    let mut pg_proxy = TcpProxy::to(&authority(&db.url));
    let mut redis_proxy = TcpProxy::to(&authority(&redis));
    let (port, health) = (free_port(), free_port());
    let mut api = orbflow()
        .args([
            "api",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--health-listen",
            &format!("127.0.0.1:{health}"),
        ])
        .env("ORBFLOW_DATABASE_URL", pg_proxy.url(&db.url))
        .env("ORBFLOW_REDIS_URL", redis_proxy.url(&redis))
        .env("ORBFLOW_REDIS_PREFIX", &prefix)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = drain(&mut api);
    struct Stop(Child);
    impl Drop for Stop {
        fn drop(&mut self) {
            orbflow_testkit::daemon::stop(&mut self.0);
        }
    }
    let mut api = Stop(api);
    let start = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(api.0.try_wait().unwrap().is_none(), "orbflow api exited");
        assert!(start.elapsed() < Duration::from_secs(60), "orbflow api did not listen");
        std::thread::sleep(Duration::from_millis(50));
    }

    // the health listener: up, ready, metrics, and 404 for the rest
    let (status, head, body) = get(health, "/healthz").unwrap();
    assert_eq!((status.as_str(), body.as_str()), ("HTTP/1.1 200 OK", "ok"));
    assert!(head.contains("content-type: text/plain\r\n"), "{head}");
    let (status, _, body) = get(health, "/readyz").unwrap();
    assert_eq!((status.as_str(), body.as_str()), ("HTTP/1.1 200 OK", "ready"));
    let (status, head, body) = get(health, "/metrics").unwrap();
    assert_eq!(status, "HTTP/1.1 200 OK");
    assert!(head.contains("content-type: text/plain; version=0.0.4\r\n"), "{head}");
    assert!(body.contains("# TYPE orbflow_lease_expiries_total counter\n"), "{body}");
    assert!(head.contains(&format!("content-length: {}\r\n", body.len())), "{head}");
    let (status, _, body) = get(health, "/v1/workflows").unwrap();
    assert_eq!(
        (status.as_str(), body.as_str()),
        ("HTTP/1.1 404 Not Found", "not found")
    );
    // the API's own port answers them too
    let (status, _, body) = get(port, "/readyz").unwrap();
    assert_eq!((status.as_str(), body.as_str()), ("HTTP/1.1 200 OK", "ready"));
    let (status, _, body) = get(port, "/healthz").unwrap();
    assert_eq!((status.as_str(), body.as_str()), ("HTTP/1.1 200 OK", "ok"));

    // Redis stops answering: not ready, saying why (or that the check timed out)
    redis_proxy.cut();
    let (_, body) = until(health, "/readyz", Duration::from_secs(30), |s, _| {
        s.starts_with("HTTP/1.1 503")
    });
    assert!(
        body.starts_with("not ready: redis: ") || body == "not ready: checks timed out",
        "{body}"
    );
    println!("with Redis cut: {body}");
    let (status, head, body) = get(port, "/readyz").unwrap();
    assert!(status.starts_with("HTTP/1.1 503"), "{status} {body}");
    assert!(head.contains("content-type: application/problem+json"), "{head}");
    // the process is still up
    let (status, _, body) = get(health, "/healthz").unwrap();
    assert_eq!((status.as_str(), body.as_str()), ("HTTP/1.1 200 OK", "ok"));

    // Postgres too: the database is checked first
    pg_proxy.cut();
    let (_, body) = until(health, "/readyz", Duration::from_secs(30), |_, b| {
        b.starts_with("not ready: database: ") || b == "not ready: checks timed out"
    });
    assert!(body.starts_with("not ready: "), "{body}");
    println!("with Postgres cut: {body}");

    // SIGTERM: a graceful stop, exit 0
    let status = orbflow_testkit::daemon::stop(&mut api.0);
    let err = stderr.join().unwrap();
    assert!(status.is_some_and(|s| s.success()), "{status:?}: {err}");
    assert!(
        err.contains(&format!(
            "health endpoints on http://127.0.0.1:{health}/healthz and /readyz"
        )),
        "{err}"
    );
    assert!(
        err.contains(&format!("orbflow api: serving on http://127.0.0.1:{port}")),
        "{err}"
    );
    assert!(err.contains("orbflow api: stopping\n"), "{err}");
    assert!(err.contains("orbflow api: stopped\n"), "{err}");
    orbflow_testkit::daemon::clear_redis_prefix(&redis, &prefix);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_on_a_taken_address_exits_1_naming_it() {
    let Some(redis) = redis_url() else { return };
    let Some(db) = TestDb::postgres().await else { return };
    let prefix = format!("orbflow-test-{}:", uuid::Uuid::now_v7().simple());
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    for args in [
        vec!["api", "--listen", &addr],
        vec!["api", "--listen", "127.0.0.1:0", "--health-listen", &addr],
    ] {
        let (code, err) = run_within(
            orbflow()
                .args(&args)
                .env("ORBFLOW_DATABASE_URL", &db.url)
                .env("ORBFLOW_REDIS_URL", &redis)
                .env("ORBFLOW_REDIS_PREFIX", &prefix),
            Duration::from_secs(90),
        );
        assert_eq!(code, Some(1), "{args:?}: {err}");
        assert!(err.contains("orbflow: "), "{args:?}: {err}");
        assert!(!err.contains("serving on"), "{args:?}: {err}");
        if args[1] == "--listen" && args.len() == 3 {
            assert!(err.contains(&format!("listening on {addr}")), "{err}");
        }
    }
    drop(taken);
    orbflow_testkit::daemon::clear_redis_prefix(&redis, &prefix);
}

#[test]
fn cron_next_refuses_a_count_out_of_range_and_a_bad_from() {
    for count in ["0", "1001"] {
        let (code, err) = run_within(
            orbflow().args(["cron", "next", "0 * * * *", "--count", count]),
            Duration::from_secs(30),
        );
        assert_eq!(code, Some(2), "{count}: {err}");
        assert!(
            err.contains(&format!("orbflow: invalid --count {count}: expected 1 to 1000")),
            "{err}"
        );
    }
    let (code, err) = run_within(
        orbflow().args(["cron", "next", "0 * * * *", "--from", "yesterday"]),
        Duration::from_secs(30),
    );
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("orbflow: invalid --from `yesterday`: expected an RFC 3339 time"),
        "{err}"
    );
    // the edges of the range work, and --from is trimmed
    let o = orbflow()
        .args([
            "cron",
            "next",
            "0 * * * *",
            "--count",
            "1000",
            "--from",
            " 2025-01-01T00:00:00Z ",
        ])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(out.lines().count(), 1000);
    assert_eq!(out.lines().next(), Some("2025-01-01T01:00:00+00:00"));
    assert_eq!(out.lines().last(), Some("2025-02-11T16:00:00+00:00"));
}

#[test]
fn cron_next_into_a_closed_pipe_ends_quietly() {
    // the read end is closed before the process starts: every write fails
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let o = orbflow()
        .args([
            "cron",
            "next",
            "* * * * *",
            "--count",
            "1000",
            "--from",
            "2025-01-01T00:00:00Z",
        ])
        .stdout(writer)
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(String::from_utf8_lossy(&o.stderr), "");
}
