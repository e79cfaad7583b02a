//! An SMTP server on 127.0.0.1 for tests: aiosmtpd running
//! `smtp_peer.py` on `ORBFLOW_TEST_PYTHON` (default `python3`). Without
//! aiosmtpd a test says it was skipped; under `CI=true` it fails.
//! Shared by the actions' and the CLI's tests (`#[path]`).

#![allow(dead_code, unreachable_pub)]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::Receiver;
use std::time::Duration;

use serde_json::{Value, json};

/// The password of the AUTH user `bot`.
pub const PASSWORD: &str = "smtp-s3cr3t";

pub fn python() -> Option<String> {
    let py = std::env::var("ORBFLOW_TEST_PYTHON").unwrap_or_else(|_| "python3".into());
    let ok = Command::new(&py)
        .args(["-c", "import aiosmtpd"])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if ok {
        return Some(py);
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "aiosmtpd is required under CI=true ({py} -m pip install aiosmtpd, or set ORBFLOW_TEST_PYTHON)"
    );
    println!("skipped: no aiosmtpd for {py}");
    None
}

pub struct Smtp {
    child: Child,
    /// Its port on 127.0.0.1.
    pub port: u16,
    messages: Receiver<Value>,
}

impl Drop for Smtp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Smtp {
    pub fn start(auth: bool) -> Option<Self> {
        let py = python()?;
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../actions/tests/peer/smtp_peer.py");
        let mut args = vec![script.to_owned(), port.to_string()];
        if auth {
            args.extend(["bot".to_owned(), PASSWORD.to_owned()]);
        }
        let mut child = Command::new(py)
            .args(&args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let out = BufReader::new(child.stdout.take().unwrap());
        let (tx, rx) = std::sync::mpsc::channel();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in out.lines().map_while(Result::ok) {
                if line == "READY" {
                    let _ = ready_tx.send(());
                } else if let Ok(v) = serde_json::from_str::<Value>(&line) {
                    let _ = tx.send(v);
                }
            }
        });
        ready_rx
            .recv_timeout(Duration::from_secs(20))
            .expect("the SMTP peer started");
        Some(Self {
            child,
            port,
            messages: rx,
        })
    }

    pub fn connection(&self, auth: bool) -> Value {
        let mut c =
            json!({"host": "127.0.0.1", "port": self.port, "tls": "none", "from": "Orbflow Bot <bot@orbflow.example>"});
        if auth {
            c["username"] = json!("bot");
            c["password"] = json!(PASSWORD);
        }
        c
    }

    pub fn next(&self) -> Value {
        self.messages
            .recv_timeout(Duration::from_secs(10))
            .expect("a message arrived")
    }
}
