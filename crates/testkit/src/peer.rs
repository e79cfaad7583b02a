//! HTTP peers on 127.0.0.1 for the actions (TRIGGER_WEBHOOK, Slack, the
//! model…) to call: one responder, [`Peer`], whose answers come from a
//! closure and which records every request; and [`hanging_peer`], which
//! never answers and reports connections opening and closing.
//!
//! The helpers below are [`Peer`]s with a given closure: [`slow_server`]
//! (answers after a delay), [`scripted_server`] (the n-th request gets the
//! n-th reply), [`idempotency_peer`] (counts per Idempotency-Key, failing
//! the first attempts) and [`keep_alive_peer`] (the benches' peer).

use std::collections::HashMap;
use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// One request as a peer received it.
#[derive(Debug, Clone)]
pub struct Request {
    /// Its position among the peer's connections, from 0 (in accept order).
    pub index: usize,
    /// `POST /services/T/B/x HTTP/1.1`.
    pub request_line: String,
    /// The request line and the header lines, as sent (`\r\n`-separated).
    pub head: String,
    /// The body (read up to its Content-Length), as text.
    pub body: String,
    /// The same body, as bytes (for binary bodies such as protobuf).
    pub raw_body: Vec<u8>,
}

/// The name [`scripted_server`] gives the requests it reports.
pub type Received = Request;

impl Request {
    /// The value of header `name` (case-insensitive), trimmed.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.head
            .lines()
            .skip(1)
            .filter_map(|l| l.split_once(':'))
            .find(|(k, _)| k.trim().eq_ignore_ascii_case(name))
            .map(|(_, v)| v.trim())
    }
}

/// What a [`Peer`] answers.
#[derive(Debug, Clone)]
pub struct Reply {
    /// The status code.
    pub status: u16,
    /// Extra header lines, each ending in `\r\n` (Content-Length is added).
    pub headers: String,
    /// The body.
    pub body: String,
    /// Keep the connection open for the client's next request (otherwise
    /// `Connection: close`).
    pub keep_alive: bool,
}

impl Reply {
    /// `status` with extra `headers` (lines ending in `\r\n`) and `body`.
    pub fn new(status: u16, headers: &str, body: &str) -> Self {
        Self {
            status,
            headers: headers.to_owned(),
            body: body.to_owned(),
            keep_alive: false,
        }
    }

    /// 200 with `body` as `content_type`.
    pub fn ok(content_type: &str, body: &str) -> Self {
        Self::new(200, &format!("content-type: {content_type}\r\n"), body)
    }

    fn to_bytes(&self) -> Vec<u8> {
        let reason = match self.status {
            200 => "OK",
            201 => "Created",
            404 => "Not Found",
            429 => "Too Many Requests",
            500 => "Internal Server Error",
            503 => "Service Unavailable",
            _ => "X",
        };
        let connection = if self.keep_alive { "" } else { "connection: close\r\n" };
        format!(
            "HTTP/1.1 {} {reason}\r\ncontent-length: {}\r\n{connection}{}\r\n{}",
            self.status,
            self.body.len(),
            self.headers,
            self.body
        )
        .into_bytes()
    }
}

/// How a [`Peer`] answers: called for every request (it may sleep).
pub type Handler = dyn Fn(&Request) -> Reply + Send + Sync;

/// A running HTTP responder on 127.0.0.1; it serves until the process
/// exits.
#[derive(Debug)]
pub struct Peer {
    /// Its port.
    pub port: u16,
    /// Connections accepted (counted as they arrive, before their request
    /// is read).
    pub connections: Arc<AtomicUsize>,
    /// Requests read in full (counted before the handler is called).
    pub requests: Arc<AtomicUsize>,
    /// Every request, in the order they were read.
    pub received: Receiver<Request>,
}

impl Peer {
    /// Starts a peer serving each connection on its own thread.
    pub fn start(handler: impl Fn(&Request) -> Reply + Send + Sync + 'static) -> Self {
        Self::spawn(Arc::new(handler), false)
    }

    /// Starts a peer serving one connection at a time, in accept order.
    pub fn start_sequential(handler: impl Fn(&Request) -> Reply + Send + Sync + 'static) -> Self {
        Self::spawn(Arc::new(handler), true)
    }

    /// `http://127.0.0.1:<port>`.
    pub fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn spawn(handler: Arc<Handler>, sequential: bool) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("a port on 127.0.0.1");
        let port = listener.local_addr().expect("its address").port();
        let connections = Arc::new(AtomicUsize::new(0));
        let requests = Arc::new(AtomicUsize::new(0));
        let (tx, received) = std::sync::mpsc::channel();
        let conn = Conn {
            handler,
            requests: requests.clone(),
            tx,
        };
        let accepted = connections.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let index = accepted.fetch_add(1, Ordering::SeqCst);
                if sequential {
                    conn.serve(stream, index);
                } else {
                    let conn = conn.clone();
                    std::thread::spawn(move || conn.serve(stream, index));
                }
            }
        });
        Self {
            port,
            connections,
            requests,
            received,
        }
    }
}

/// What serving one connection needs.
#[derive(Clone)]
struct Conn {
    handler: Arc<Handler>,
    requests: Arc<AtomicUsize>,
    tx: Sender<Request>,
}

impl Conn {
    /// Answers requests on `stream` until the client closes it or a reply
    /// closes it.
    fn serve(&self, stream: TcpStream, index: usize) {
        let _ = stream.set_nodelay(true);
        let Ok(mut out) = stream.try_clone() else { return };
        let mut reader = BufReader::new(stream);
        while let Some(request) = read_request(&mut reader, index) {
            self.requests.fetch_add(1, Ordering::SeqCst);
            let _ = self.tx.send(request.clone());
            let reply = (self.handler)(&request);
            let close = request
                .header("connection")
                .is_some_and(|v| v.eq_ignore_ascii_case("close"));
            if out.write_all(&reply.to_bytes()).is_err() || !reply.keep_alive || close {
                return;
            }
        }
    }
}

/// Reads one request (head, then the body up to its Content-Length);
/// `None` when the client closed the connection first.
fn read_request(reader: &mut impl BufRead, index: usize) -> Option<Request> {
    let mut head = String::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return None;
        }
        if line.trim_end().is_empty() {
            break;
        }
        head.push_str(&line);
    }
    let head = head.trim_end().to_owned();
    let mut request = Request {
        index,
        request_line: head.lines().next().unwrap_or("").to_owned(),
        head,
        body: String::new(),
        raw_body: Vec::new(),
    };
    let length: usize = request
        .header("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; length];
    if reader.read_exact(&mut body).is_err() {
        return None;
    }
    request.body = String::from_utf8_lossy(&body).into_owned();
    request.raw_body = body;
    Some(request)
}

/// An HTTP server answering `{}` (JSON) after `delay`.
pub fn slow_server(delay: Duration) -> u16 {
    counting_slow_server(delay).0
}

/// [`slow_server`], counting the connections it received.
pub fn counting_slow_server(delay: Duration) -> (u16, Arc<AtomicUsize>) {
    slow_server_answering(delay, "application/json", "{}")
}

/// An HTTP server answering `body` as `content_type` after `delay`,
/// counting the connections it received.
pub fn slow_server_answering(
    delay: Duration,
    content_type: &'static str,
    body: &'static str,
) -> (u16, Arc<AtomicUsize>) {
    let peer = Peer::start(move |_| {
        std::thread::sleep(delay);
        Reply::ok(content_type, body)
    });
    (peer.port, peer.connections)
}

/// An HTTP server answering the n-th request with `replies[n]` (the last one
/// again after that), each `(status, extra header lines, body)`, one
/// connection at a time; every request goes on the channel.
pub fn scripted_server(replies: Vec<(u16, &'static str, &'static str)>) -> (u16, Receiver<Received>) {
    assert!(!replies.is_empty(), "a scripted server needs a reply");
    let peer = Peer::start_sequential(move |r| {
        let (status, headers, body) = replies[r.index.min(replies.len() - 1)];
        Reply::new(status, headers, body)
    });
    (peer.port, peer.received)
}

/// A [`Peer`] counting requests per Idempotency-Key: it answers each key's
/// first `fail` requests with 503 (`Retry-After: 0`), the next ones with 200
/// and `{"attempt":n}` (n counting that key's requests), after `delay`.
#[derive(Debug)]
pub struct IdempotencyPeer {
    /// Its port.
    pub port: u16,
    /// Requests per Idempotency-Key (`""` for requests without one).
    pub hits: Arc<Mutex<HashMap<String, u32>>>,
}

impl IdempotencyPeer {
    /// Requests received, all keys together.
    pub fn total(&self) -> u32 {
        self.hits.lock().expect("hits").values().sum()
    }
}

/// Starts an [`IdempotencyPeer`].
pub fn idempotency_peer(fail: u32, delay: Duration) -> IdempotencyPeer {
    let hits: Arc<Mutex<HashMap<String, u32>>> = Arc::default();
    let h = hits.clone();
    let peer = Peer::start(move |r| {
        let key = r.header("idempotency-key").unwrap_or("").to_ascii_lowercase();
        let n = {
            let mut m = h.lock().expect("hits");
            let e = m.entry(key).or_default();
            *e += 1;
            *e
        };
        std::thread::sleep(delay);
        if n <= fail {
            Reply::new(503, "retry-after: 0\r\n", "")
        } else {
            Reply::ok("application/json", &format!("{{\"attempt\":{n}}}"))
        }
    });
    IdempotencyPeer { port: peer.port, hits }
}

/// The benches' peer: HTTP/1.1 with keep-alive, answering `{"ok":true}` at
/// once; [`Peer::requests`] counts the requests answered.
pub fn keep_alive_peer() -> Peer {
    Peer::start(|_| Reply {
        keep_alive: true,
        ..Reply::ok("application/json", "{\"ok\":true}")
    })
}

/// A peer that reads requests and never answers.
#[derive(Debug)]
pub struct HangingPeer {
    /// Its port.
    pub port: u16,
    /// `true` when a connection arrives, `false` when its client drops it.
    pub events: Receiver<bool>,
    /// Connections whose client hung up.
    pub closed: Arc<AtomicUsize>,
}

/// Starts a [`HangingPeer`]. A connection is given up (unreported) after
/// 120 s without its client closing it.
pub fn hanging_peer() -> HangingPeer {
    let listener = TcpListener::bind("127.0.0.1:0").expect("a port on 127.0.0.1");
    let port = listener.local_addr().expect("its address").port();
    let (tx, events) = std::sync::mpsc::channel();
    let closed = Arc::new(AtomicUsize::new(0));
    let c = closed.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let (tx, c) = (tx.clone(), c.clone());
            std::thread::spawn(move || {
                let _ = tx.send(true);
                let _ = stream.set_read_timeout(Some(Duration::from_secs(120)));
                let mut buf = [0u8; 4096];
                // read until the client closes the connection
                let end = loop {
                    match stream.read(&mut buf) {
                        Ok(0) => break Ok(()),
                        Ok(_) => {}
                        Err(e) => break Err(e),
                    }
                };
                if end.is_err_and(|e| matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut)) {
                    return;
                }
                c.fetch_add(1, Ordering::SeqCst);
                let _ = tx.send(false);
            });
        }
    });
    HangingPeer { port, events, closed }
}

/// [`hanging_peer`]'s port and events.
pub fn hanging_server() -> (u16, Receiver<bool>) {
    let p = hanging_peer();
    (p.port, p.events)
}
