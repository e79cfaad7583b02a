//! `/healthz` (the process is up), `/readyz` (its database and Redis
//! answer) and, where the daemon has them, `/metrics` (Prometheus text) for
//! the fleet's daemons, on a plain HTTP/1.1 listener.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// A readiness check: `Err(reason)` when a dependency does not answer.
pub(crate) type Check = Arc<dyn Fn() -> Pin<Box<dyn Future<Output = Result<(), String>> + Send>> + Send + Sync>;

/// Renders the daemon's metrics in the Prometheus text format.
pub(crate) type Render = Arc<dyn Fn() -> String + Send + Sync>;

/// Serves the endpoints on `addr` until the process ends; `/metrics` is a
/// 404 without `metrics`.
pub(crate) async fn serve(addr: &str, ready: Check, metrics: Option<Render>) -> anyhow::Result<()> {
    let listener = TcpListener::bind(addr).await?;
    eprintln!(
        "health endpoints on http://{}/healthz and /readyz",
        listener.local_addr()?
    );
    tokio::spawn(async move {
        loop {
            let Ok((mut sock, _)) = listener.accept().await else {
                continue;
            };
            let ready = ready.clone();
            let metrics = metrics.clone();
            tokio::spawn(async move {
                let mut buf = [0u8; 1024];
                let n = match tokio::time::timeout(Duration::from_secs(5), sock.read(&mut buf)).await {
                    Ok(Ok(n)) => n,
                    _ => return,
                };
                let head = String::from_utf8_lossy(&buf[..n]);
                let path = head.split_whitespace().nth(1).unwrap_or("/");
                let mut content_type = "text/plain";
                let (status, body) = match (path, &metrics) {
                    ("/metrics", Some(render)) => {
                        content_type = "text/plain; version=0.0.4";
                        ("200 OK", render())
                    }
                    ("/healthz", _) => ("200 OK", "ok".to_owned()),
                    ("/readyz", _) => match tokio::time::timeout(Duration::from_secs(3), ready()).await {
                        Ok(Ok(())) => ("200 OK", "ready".to_owned()),
                        Ok(Err(e)) => ("503 Service Unavailable", format!("not ready: {e}")),
                        Err(_) => ("503 Service Unavailable", "not ready: checks timed out".to_owned()),
                    },
                    _ => ("404 Not Found", "not found".to_owned()),
                };
                let resp = format!(
                    "HTTP/1.1 {status}\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = sock.write_all(resp.as_bytes()).await;
            });
        }
    });
    Ok(())
}

/// The readiness check of a daemon: a database ping and a Redis round trip.
pub(crate) fn check(db: sea_orm::DatabaseConnection, queue: Arc<orbflow_queue::RedisQueue>) -> Check {
    Arc::new(move || {
        let db = db.clone();
        let queue = queue.clone();
        Box::pin(async move {
            db.ping().await.map_err(|e| format!("database: {e}"))?;
            queue.try_len().await.map_err(|e| format!("redis: {e}"))?;
            Ok(())
        })
    })
}
