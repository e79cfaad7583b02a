//! BullMQ, the reference: its own `redis-server` on 127.0.0.1 (or, without
//! that binary, database 15 of the shared Redis), and one
//! `node bench/bullmq/bench.mjs --json` process per workload and worker count.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::stats::{Figures, Outcome, Pct};

/// The Redis BullMQ runs on; a server started here is stopped when dropped.
#[derive(Debug)]
pub(crate) struct BullRedis {
    child: Option<Child>,
    /// Its URL.
    pub(crate) url: String,
    /// Where it is, for the report.
    pub(crate) note: String,
}

/// First port tried for BullMQ's own Redis.
const FIRST_PORT: u16 = 6390;

fn answers_ping(port: u16) -> bool {
    let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_millis(500)));
    let mut buf = [0u8; 16];
    s.write_all(b"PING\r\n").is_ok() && s.read(&mut buf).is_ok_and(|n| buf[..n].starts_with(b"+PONG"))
}

impl BullRedis {
    /// Starts `redis-server` without persistence on the first free port
    /// from 6390; falls back to database 15 of `shared` (a Redis URL
    /// without a database) when that fails.
    pub(crate) fn start(shared: &str) -> Self {
        let fallback = |why: String| Self {
            child: None,
            url: format!("{}/15", shared.trim_end_matches('/')),
            note: format!("database 15 of the shared Redis ({why})"),
        };
        let Some(port) = (FIRST_PORT..FIRST_PORT + 10).find(|p| TcpStream::connect(("127.0.0.1", *p)).is_err()) else {
            return fallback("no free port".into());
        };
        let spawned = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn();
        let mut child = match spawned {
            Ok(c) => c,
            Err(e) => return fallback(format!("redis-server: {e}")),
        };
        let t = Instant::now();
        while t.elapsed() < Duration::from_secs(5) {
            if matches!(child.try_wait(), Ok(Some(_))) {
                return fallback("redis-server exited".into());
            }
            if answers_ping(port) {
                return Self {
                    child: Some(child),
                    url: format!("redis://127.0.0.1:{port}"),
                    note: format!("its own redis-server on 127.0.0.1:{port}, no persistence"),
                };
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = child.kill();
        let _ = child.wait();
        fallback("redis-server did not answer".into())
    }
}

impl Drop for BullRedis {
    fn drop(&mut self) {
        if let Some(child) = &mut self.child {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// One BullMQ workload.
#[derive(Debug, Clone)]
pub(crate) struct BullCase<'a> {
    /// Workload name, as in `bench.mjs`.
    pub(crate) workload: &'a str,
    /// `Worker`s of concurrency 8.
    pub(crate) workers: usize,
    /// The Redis.
    pub(crate) redis: &'a str,
    /// The HTTP peer's URL.
    pub(crate) peer: &'a str,
    /// Give up after this long.
    pub(crate) timeout: Duration,
}

/// `bench/bullmq`.
pub(crate) fn dir() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../bench/bullmq"))
}

/// Reads a pipe to its end on a thread.
fn drain(mut pipe: impl Read + Send + 'static) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut s = String::new();
        let _ = pipe.read_to_string(&mut s);
        s
    })
}

/// Runs `case` in a node process of its own.
pub(crate) fn run(case: &BullCase<'_>) -> Outcome {
    if !dir().join("node_modules/bullmq").exists() {
        return Outcome::Failed("bullmq is not installed: run `npm ci` in bench/bullmq".into());
    }
    let spawned = Command::new("node")
        .args(["bench.mjs", "--json", "--workload", case.workload])
        .args(["--workers", &case.workers.to_string()])
        .current_dir(dir())
        .env("BULLMQ_REDIS_URL", case.redis)
        .env("BENCH_PEER_URL", case.peer)
        .env("BENCH_TIMEOUT_SECS", case.timeout.as_secs().to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match spawned {
        Ok(c) => c,
        Err(e) => return Outcome::Failed(format!("node: {e}")),
    };
    let (Some(out), Some(err)) = (child.stdout.take(), child.stderr.take()) else {
        return Outcome::Failed("node: no pipes".into());
    };
    let (out, err) = (drain(out), drain(err));
    // the script stops itself at the timeout; this bounds a hung process
    let deadline = Instant::now() + case.timeout + Duration::from_secs(60);
    loop {
        match child.try_wait() {
            Ok(Some(_)) => break,
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(50)),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return Outcome::Timeout;
            }
        }
    }
    let (out, err) = (out.join().unwrap_or_default(), err.join().unwrap_or_default());
    match out.lines().last().and_then(|l| serde_json::from_str::<Value>(l).ok()) {
        Some(v) => parse(&v),
        None => Outcome::Failed(format!("bench.mjs: {}", err.lines().last().unwrap_or("no output"))),
    }
}

/// The JSON line `bench.mjs --json` prints.
fn parse(v: &Value) -> Outcome {
    if v["timeout"].as_bool() == Some(true) {
        return Outcome::Timeout;
    }
    let f = |k: &str| v[k].as_f64().unwrap_or(0.0);
    Outcome::Done(Figures {
        runs: f("runs") as usize,
        steps: f("steps") as usize,
        secs: f("secs"),
        ready: Pct {
            p50: f("ready_p50"),
            p99: f("ready_p99"),
        },
        step_to_step: Pct {
            p50: f("s2s_p50"),
            p99: f("s2s_p99"),
        },
        rss_kib: v["maxrss_kib"].as_u64(),
    })
}
