//! What the CLI's end-to-end tests share: HTTP peers on 127.0.0.1, free
//! ports, the Redis URL (required under CI=true) and cleaning a test's
//! Redis keys.

#![allow(dead_code, unreachable_pub)]

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// An HTTP server answering after `delay`.
pub fn slow_server(delay: Duration) -> u16 {
    counting_slow_server(delay).0
}

/// [`slow_server`], counting the requests it received.
pub fn counting_slow_server(delay: Duration) -> (u16, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let hits = Arc::new(AtomicUsize::new(0));
    let h = hits.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            h.fetch_add(1, Ordering::SeqCst);
            std::thread::spawn(move || {
                let mut buf = [0u8; 4096];
                let _ = stream.read(&mut buf);
                std::thread::sleep(delay);
                let _ = stream.write_all(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\nconnection: close\r\n\r\n{}");
            });
        }
    });
    (port, hits)
}

/// An HTTP server that reads a request and never answers; each connection
/// sends `true` on the channel when it arrives and `false` when the client
/// drops it.
pub fn hanging_server() -> (u16, std::sync::mpsc::Receiver<bool>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let tx = tx.clone();
            std::thread::spawn(move || {
                let _ = tx.send(true);
                let mut buf = [0u8; 4096];
                // read until the client closes the connection
                while matches!(stream.read(&mut buf), Ok(n) if n > 0) {}
                let _ = tx.send(false);
            });
        }
    });
    (port, rx)
}

/// One request as a [`scripted_server`] received it: request line, head and body.
#[derive(Debug, Clone)]
pub struct Received {
    /// `POST /services/T/B/x HTTP/1.1`.
    pub request_line: String,
    /// The header lines, as sent.
    pub head: String,
    /// The body (read up to its Content-Length).
    pub body: String,
}

/// An HTTP server answering the n-th request with `replies[n]` (the last one
/// again after that), each `(status, extra header lines, body)`; every
/// request goes on the channel.
pub fn scripted_server(replies: Vec<(u16, &'static str, &'static str)>) -> (u16, std::sync::mpsc::Receiver<Received>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for (n, stream) in listener.incoming().enumerate() {
            let Ok(mut stream) = stream else { continue };
            let (status, headers, body) = replies[n.min(replies.len() - 1)];
            let mut buf = Vec::new();
            let mut chunk = [0u8; 4096];
            let head_end = loop {
                if let Some(p) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                    break Some(p);
                }
                match stream.read(&mut chunk) {
                    Ok(0) | Err(_) => break None,
                    Ok(k) => buf.extend_from_slice(&chunk[..k]),
                }
            };
            let Some(head_end) = head_end else { continue };
            let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
            let length: usize = head
                .lines()
                .filter_map(|l| l.split_once(':'))
                .find(|(k, _)| k.trim().eq_ignore_ascii_case("content-length"))
                .and_then(|(_, v)| v.trim().parse().ok())
                .unwrap_or(0);
            let mut rest = buf[head_end + 4..].to_vec();
            while rest.len() < length {
                match stream.read(&mut chunk) {
                    Ok(0) | Err(_) => break,
                    Ok(k) => rest.extend_from_slice(&chunk[..k]),
                }
            }
            let _ = tx.send(Received {
                request_line: head.lines().next().unwrap_or("").to_owned(),
                head: head.clone(),
                body: String::from_utf8_lossy(&rest).into_owned(),
            });
            let answer = format!(
                "HTTP/1.1 {status} X\r\nContent-Length: {}\r\nConnection: close\r\n{headers}\r\n{body}",
                body.len()
            );
            let _ = stream.write_all(answer.as_bytes());
        }
    });
    (port, rx)
}

/// A port free on 127.0.0.1 (bound and released).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// `ORBFLOW_TEST_REDIS_URL`: `None` (the test says it is skipped) when
/// unset, a panic under CI=true.
pub fn redis_url() -> Option<String> {
    match std::env::var("ORBFLOW_TEST_REDIS_URL") {
        Ok(u) if !u.trim().is_empty() => Some(u),
        _ if std::env::var("CI").is_ok_and(|v| v == "true") => {
            panic!("ORBFLOW_TEST_REDIS_URL must be set when CI=true")
        }
        _ => {
            println!("skipped: ORBFLOW_TEST_REDIS_URL not set");
            None
        }
    }
}

/// Deletes every key under `prefix` (a test's own), best effort.
pub fn clear_redis_prefix(redis: &str, prefix: &str) {
    if let Ok(client) = redis::Client::open(redis)
        && let Ok(mut c) = client.get_connection()
    {
        let keys: Vec<String> = redis::cmd("KEYS")
            .arg(format!("{prefix}*"))
            .query(&mut c)
            .unwrap_or_default();
        if !keys.is_empty() {
            let _: Result<i64, _> = redis::cmd("DEL").arg(keys).query(&mut c);
        }
    }
}

/// Starts `orbflow dev` on `db` and `port` with `envs` set; returns it, what it printed up
/// to its token, and the token.
pub fn start_dev(db: &std::path::Path, port: u16, envs: &[(&str, &str)]) -> (std::process::Child, String, String) {
    let mut dev = std::process::Command::new(env!("CARGO_BIN_EXE_orbflow"))
        .args([
            "dev",
            "--db",
            &db.to_string_lossy(),
            "--listen",
            &format!("127.0.0.1:{port}"),
        ])
        .envs(envs.iter().copied())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut err = dev.stderr.take().unwrap();
    let mut seen = String::new();
    let start = std::time::Instant::now();
    let mut buf = [0u8; 4096];
    while !(seen.contains("development token") && seen.ends_with('\n')) {
        let n = err.read(&mut buf).unwrap();
        assert!(
            n > 0 && start.elapsed() < Duration::from_secs(30),
            "dev did not start: {seen}"
        );
        seen.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
    // keep draining its stderr so that it never blocks on a full pipe
    std::thread::spawn(move || while matches!(err.read(&mut buf), Ok(n) if n > 0) {});
    let token = seen
        .split("development token (")
        .nth(1)
        .and_then(|t| t.split("): ").nth(1))
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned();
    (dev, seen, token)
}

/// How long [`stop`] waits after SIGTERM before it kills.
pub const STOP_GRACE: Duration = Duration::from_secs(10);

/// Stops a spawned daemon gracefully: SIGTERM, then up to [`STOP_GRACE`]
/// for it to exit (an instrumented binary writes its coverage profile only
/// on a normal exit), SIGKILL as a last resort. Returns its exit status, or
/// `None` when it had to be killed.
pub fn stop(child: &mut std::process::Child) -> Option<std::process::ExitStatus> {
    stop_all(std::slice::from_mut(child)).pop().flatten()
}

/// [`stop`] for several daemons at once: all get SIGTERM first, then share
/// one grace period. The statuses are in the children's order.
pub fn stop_all(children: &mut [std::process::Child]) -> Vec<Option<std::process::ExitStatus>> {
    let mut done: Vec<Option<std::process::ExitStatus>> =
        children.iter_mut().map(|c| c.try_wait().ok().flatten()).collect();
    for (c, d) in children.iter().zip(&done) {
        if d.is_none() {
            let _ = std::process::Command::new("kill")
                .args(["-TERM", &c.id().to_string()])
                .stderr(std::process::Stdio::null())
                .status();
        }
    }
    let start = std::time::Instant::now();
    while done.iter().any(Option::is_none) && start.elapsed() < STOP_GRACE {
        std::thread::sleep(Duration::from_millis(20));
        for (c, d) in children.iter_mut().zip(done.iter_mut()) {
            if d.is_none() {
                *d = c.try_wait().ok().flatten();
            }
        }
    }
    for (c, d) in children.iter_mut().zip(&done) {
        if d.is_none() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
    done
}
