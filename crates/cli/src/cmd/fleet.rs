//! What every fleet command shares: where the database and Redis are.
//! Every flag has its environment variable.

/// Database and Redis of the fleet.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct FleetArgs {
    /// Database URL (`postgres://…`; `sqlite://…` works for a one-machine fleet).
    #[arg(long, env = "ORBFLOW_DATABASE_URL")]
    pub(crate) database_url: Option<String>,
    /// Redis URL (`redis://…`).
    #[arg(long, env = "ORBFLOW_REDIS_URL")]
    pub(crate) redis_url: Option<String>,
    /// Prefix of every Redis key, so deployments can share a server.
    #[arg(long, env = "ORBFLOW_REDIS_PREFIX", default_value = "orbflow:")]
    pub(crate) redis_prefix: String,
}

pub(crate) use orbflow_store::redact_url as redact;

/// The fleet's database and queue, connected, with the health endpoints
/// served when `health_listen` is set.
pub(crate) struct Connected {
    /// The store (migrations applied).
    pub(crate) store: std::sync::Arc<orbflow_store::SeaStore>,
    /// The Redis step queue.
    pub(crate) queue: std::sync::Arc<orbflow_queue::RedisQueue>,
}

impl FleetArgs {
    /// The database and Redis URLs, or `None` (after saying what is
    /// missing) when either is not configured.
    pub(crate) fn urls(&self, command: &str) -> Option<(&str, &str)> {
        match (&self.database_url, &self.redis_url) {
            (Some(d), Some(r)) => Some((d, r)),
            _ => {
                eprintln!(
                    "orbflow: {command} needs --database-url and --redis-url (ORBFLOW_DATABASE_URL, ORBFLOW_REDIS_URL)"
                );
                None
            }
        }
    }

    /// Connects to both and serves `/healthz` and `/readyz` on `health_listen`.
    pub(crate) async fn connect(&self, urls: (&str, &str), health_listen: Option<&str>) -> anyhow::Result<Connected> {
        use anyhow::Context as _;
        let (db_url, redis_url) = urls;
        let conn = orbflow_store::connect(db_url)
            .await
            .with_context(|| format!("opening {}", redact(db_url)))?;
        // workspace secrets: sealed under ORBFLOW_SECRETS_KEY; a key that
        // does not open what is stored stops the process here
        let keys = orbflow_store::sealing::SecretKeys::from_env()?;
        let store = orbflow_store::SeaStore::with_secret_keys(conn, keys);
        store.check_secret_keys().await?;
        let queue = orbflow_queue::RedisQueue::connect(redis_url, &self.redis_prefix)
            .await
            .with_context(|| format!("connecting to {}", redact(redis_url)))?;
        let queue = std::sync::Arc::new(queue);
        if let Some(addr) = health_listen {
            crate::health::serve(
                addr,
                crate::health::check(store.connection().clone(), queue.clone()),
                None,
            )
            .await?;
        }
        Ok(Connected { store, queue })
    }
}

/// Listens for SIGTERM and SIGINT from now on (the handlers are installed
/// when this returns, not when the future is first polled: a signal that
/// comes right after a start-up message is a graceful stop, never the
/// default action that kills the process); the future ends at the first.
pub(crate) fn shutdown_listener() -> anyhow::Result<impl std::future::Future<Output = ()>> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    Ok(async move {
        tokio::select! {
            _ = int.recv() => {}
            _ = term.recv() => {}
        }
    })
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn passwords_never_reach_messages() {
        assert_eq!(redact("postgres://u:secret@h:5432/db"), "postgres://u:***@h:5432/db");
        assert_eq!(redact("redis://:pw@127.0.0.1:6379"), "redis://:***@127.0.0.1:6379");
        assert_eq!(redact("postgres://u@h/db"), "postgres://u@h/db");
        assert_eq!(redact("sqlite://x.db"), "sqlite://x.db");
    }
}
