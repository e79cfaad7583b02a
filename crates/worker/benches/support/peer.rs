//! The HTTP peer TRIGGER_WEBHOOK steps call: HTTP/1.1 with keep-alive on
//! 127.0.0.1, a thread per connection, answering `{"ok":true}` at once.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// A running peer; it serves until the process exits.
#[derive(Debug, Clone)]
pub(crate) struct Peer {
    /// `http://127.0.0.1:<port>/hook`.
    pub(crate) url: String,
    /// Requests answered.
    pub(crate) hits: Arc<AtomicU64>,
}

/// Starts a peer on a free port of 127.0.0.1.
pub(crate) fn start() -> std::io::Result<Peer> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let url = format!("http://127.0.0.1:{}/hook", listener.local_addr()?.port());
    let hits = Arc::new(AtomicU64::new(0));
    let counter = hits.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let counter = counter.clone();
            std::thread::spawn(move || serve(stream, &counter));
        }
    });
    Ok(Peer { url, hits })
}

/// Answers requests on one connection until the client closes it.
fn serve(stream: TcpStream, hits: &AtomicU64) {
    let _ = stream.set_nodelay(true);
    let Ok(mut out) = stream.try_clone() else { return };
    let mut reader = BufReader::new(stream);
    loop {
        let mut length = 0usize;
        let mut close = false;
        let mut line = String::new();
        // request line and headers
        loop {
            line.clear();
            match reader.read_line(&mut line) {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
            let l = line.trim_end().to_ascii_lowercase();
            if l.is_empty() {
                break;
            }
            if let Some(v) = l.strip_prefix("content-length:") {
                length = v.trim().parse().unwrap_or(0);
            } else if l.starts_with("connection:") && l.contains("close") {
                close = true;
            }
        }
        let mut body = vec![0u8; length];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        hits.fetch_add(1, Ordering::Relaxed);
        let reply = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 11\r\n\r\n{\"ok\":true}";
        if out.write_all(reply).is_err() || close {
            return;
        }
    }
}
