//! A TCP proxy on 127.0.0.1 that a test cuts and restores: the way to make
//! Postgres or Redis stop answering one process without touching the shared
//! server.

use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Forwards the connections it accepts on 127.0.0.1:[`port`](Self::port)
/// to `upstream`. [`cut`](Self::cut) shuts every connection down and stops
/// accepting (the port refuses); [`restore`](Self::restore) accepts again
/// on the same port.
#[derive(Debug)]
pub struct TcpProxy {
    /// The port it listens on.
    pub port: u16,
    upstream: String,
    cut: Arc<AtomicBool>,
    conns: Arc<Mutex<Vec<TcpStream>>>,
    accept: Option<std::thread::JoinHandle<()>>,
}

impl TcpProxy {
    /// A proxy to `upstream` (`host:port`) on a free port.
    ///
    /// # Panics
    /// When no port can be bound.
    pub fn to(upstream: &str) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("a free port on 127.0.0.1");
        let port = listener.local_addr().expect("its address").port();
        let mut p = Self {
            port,
            upstream: upstream.to_owned(),
            cut: Arc::default(),
            conns: Arc::default(),
            accept: None,
        };
        p.serve(listener);
        p
    }

    fn serve(&mut self, listener: TcpListener) {
        listener.set_nonblocking(true).expect("a non-blocking listener");
        self.cut.store(false, Ordering::SeqCst);
        let (cut, conns, upstream) = (self.cut.clone(), self.conns.clone(), self.upstream.clone());
        self.accept = Some(std::thread::spawn(move || {
            // ends when the proxy is cut (or dropped), dropping the listener
            while !cut.load(Ordering::SeqCst) {
                let Ok((client, _)) = listener.accept() else {
                    std::thread::sleep(Duration::from_millis(10));
                    continue;
                };
                let _ = client.set_nonblocking(false);
                let Ok(server) = TcpStream::connect(&upstream) else {
                    continue;
                };
                let (Ok(c2), Ok(s2)) = (client.try_clone(), server.try_clone()) else {
                    continue;
                };
                if let Ok(mut all) = conns.lock() {
                    all.extend([c2, s2]);
                }
                let (Ok(c3), Ok(s3)) = (client.try_clone(), server.try_clone()) else {
                    continue;
                };
                for (mut from, mut to) in [(c3, s3), (server, client)] {
                    std::thread::spawn(move || {
                        let _ = std::io::copy(&mut from, &mut to);
                        let _ = to.shutdown(std::net::Shutdown::Both);
                    });
                }
            }
        }));
    }

    /// Shuts every forwarded connection down and stops accepting: the port
    /// refuses connections until [`restore`](Self::restore).
    pub fn cut(&mut self) {
        self.cut.store(true, Ordering::SeqCst);
        if let Some(t) = self.accept.take() {
            let _ = t.join();
        }
        if let Ok(mut all) = self.conns.lock() {
            for s in all.drain(..) {
                let _ = s.shutdown(std::net::Shutdown::Both);
            }
        }
    }

    /// Accepts again on the same port after a [`cut`](Self::cut).
    ///
    /// # Panics
    /// When the port cannot be bound again within 5 s.
    pub fn restore(&mut self) {
        self.cut();
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        let listener = loop {
            match TcpListener::bind(("127.0.0.1", self.port)) {
                Ok(l) => break l,
                Err(e) if std::time::Instant::now() > deadline => panic!("rebinding port {}: {e}", self.port),
                Err(_) => std::thread::sleep(Duration::from_millis(20)),
            }
        };
        self.serve(listener);
    }

    /// `url` with its `host:port` replaced by this proxy's (its user,
    /// password, path and query kept).
    pub fn url(&self, url: &str) -> String {
        let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
        let (auth_host, tail) = rest.split_at(rest.find(['/', '?']).unwrap_or(rest.len()));
        let creds = auth_host
            .rsplit_once('@')
            .map(|(c, _)| format!("{c}@"))
            .unwrap_or_default();
        format!("{scheme}://{creds}127.0.0.1:{}{tail}", self.port)
    }
}

impl Drop for TcpProxy {
    fn drop(&mut self) {
        self.cut();
    }
}

/// The `host:port` of `url` (`postgres://u:p@h:5432/db` → `h:5432`).
pub fn authority(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let host = &rest[..rest.find(['/', '?']).unwrap_or(rest.len())];
    host.rsplit_once('@').map_or(host, |(_, h)| h).to_owned()
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};

    use super::*;

    fn echo_server() -> u16 {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        std::thread::spawn(move || {
            for mut s in l.incoming().flatten() {
                std::thread::spawn(move || {
                    let mut buf = [0u8; 64];
                    while let Ok(n) = s.read(&mut buf) {
                        if n == 0 || s.write_all(&buf[..n]).is_err() {
                            break;
                        }
                    }
                });
            }
        });
        port
    }

    fn echo(port: u16) -> std::io::Result<String> {
        let mut s = TcpStream::connect(("127.0.0.1", port))?;
        s.set_read_timeout(Some(Duration::from_secs(5)))?;
        s.write_all(b"ping")?;
        let mut buf = [0u8; 4];
        s.read_exact(&mut buf)?;
        Ok(String::from_utf8_lossy(&buf).into_owned())
    }

    #[test]
    fn forwards_until_cut_and_again_once_restored() {
        let mut p = TcpProxy::to(&format!("127.0.0.1:{}", echo_server()));
        assert_eq!(echo(p.port).unwrap(), "ping");
        let mut open = TcpStream::connect(("127.0.0.1", p.port)).unwrap();
        open.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        std::thread::sleep(Duration::from_millis(100));
        p.cut();
        assert!(echo(p.port).is_err(), "the port refuses");
        let mut buf = [0u8; 1];
        assert!(
            matches!(open.read(&mut buf), Ok(0) | Err(_)),
            "open connections are shut"
        );
        p.restore();
        assert_eq!(echo(p.port).unwrap(), "ping");
    }

    #[test]
    fn urls_point_at_the_proxy() {
        let p = TcpProxy::to("127.0.0.1:1");
        let port = p.port;
        assert_eq!(
            p.url("postgres://u:pw@db.internal:5432/test?sslmode=disable"),
            format!("postgres://u:pw@127.0.0.1:{port}/test?sslmode=disable")
        );
        assert_eq!(p.url("redis://127.0.0.1:6379"), format!("redis://127.0.0.1:{port}"));
        assert_eq!(authority("postgres://u:pw@db.internal:5432/test"), "db.internal:5432");
        assert_eq!(authority("redis://127.0.0.1:6379"), "127.0.0.1:6379");
    }
}
