//! HTTP peers the CLI's end-to-end tests talk to, on 127.0.0.1.

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
