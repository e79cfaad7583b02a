//! What every handler shares: the store, the engine, where jobs go, the
//! catalog, secrets and limits. Cheap to clone.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use orbflow_actions::Registry;
use orbflow_engine::admin::Admin;
pub use orbflow_engine::queue::{Dispatch, QueueDispatch};
use orbflow_engine::{Effects, Engine};

use crate::Config;
use crate::limits::Limiter;

/// A readiness probe for `/readyz`: `Err(reason)` when a dependency is down.
pub type ReadyCheck = Arc<dyn Fn() -> Pin<Box<dyn Future<Output = Result<(), String>> + Send>> + Send + Sync>;

/// What the API is built from.
pub struct Services {
    /// The API's storage.
    pub admin: Arc<dyn Admin>,
    /// The engine (runs, cancel, retry).
    pub engine: Arc<Engine>,
    /// Where effects go.
    pub dispatch: Arc<dyn Dispatch>,
    /// The action catalog (validation, permissions).
    pub registry: Arc<Registry>,
    /// Secret values by name (webhook signing keys).
    pub secrets: HashMap<String, String>,
    /// `/readyz`.
    pub ready: Option<ReadyCheck>,
}

struct Inner {
    services: Services,
    config: Config,
    limiter: Limiter,
    hook_limiter: Limiter,
    auth_failures: Limiter<std::net::IpAddr>,
}

/// The shared state of the router.
#[derive(Clone)]
pub struct AppState(Arc<Inner>);

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState").finish_non_exhaustive()
    }
}

impl AppState {
    /// State from its parts; `config` must be valid ([`Config::validate`]).
    pub fn new(services: Services, config: Config) -> Self {
        let limiter = Limiter::new(config.rate_limit);
        let hook_limiter = Limiter::new(config.webhook_rate_limit);
        let auth_failures = Limiter::new(config.auth_failure_rate_limit);
        Self(Arc::new(Inner {
            services,
            config,
            limiter,
            hook_limiter,
            auth_failures,
        }))
    }

    pub(crate) fn admin(&self) -> &dyn Admin {
        self.0.services.admin.as_ref()
    }

    pub(crate) fn engine(&self) -> &Engine {
        &self.0.services.engine
    }

    pub(crate) async fn dispatch(&self, effects: Effects) {
        self.0.services.dispatch.apply(effects).await;
    }

    pub(crate) fn registry(&self) -> &Registry {
        &self.0.services.registry
    }

    pub(crate) fn secret(&self, name: &str) -> Option<&str> {
        self.0.services.secrets.get(name).map(String::as_str)
    }

    pub(crate) fn ready(&self) -> Option<&ReadyCheck> {
        self.0.services.ready.as_ref()
    }

    pub(crate) fn config(&self) -> &Config {
        &self.0.config
    }

    pub(crate) fn limiter(&self) -> &Limiter {
        &self.0.limiter
    }

    /// Webhook deliveries, per workflow.
    pub(crate) fn hook_limiter(&self) -> &Limiter {
        &self.0.hook_limiter
    }

    fn peer_key(peer: Option<std::net::IpAddr>) -> std::net::IpAddr {
        peer.map_or(
            std::net::IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED),
            crate::limits::client_key,
        )
    }

    /// Counts a failed authentication from `peer` and turns `failure` into
    /// 429 (with Retry-After) once the address is over its budget. Without a
    /// known peer (the router served without connect info) every such
    /// request shares one bucket.
    pub(crate) fn auth_failed(&self, peer: Option<std::net::IpAddr>, failure: crate::Error) -> crate::Error {
        let key = Self::peer_key(peer);
        match self.0.auth_failures.check(key) {
            Ok(()) => failure,
            Err(limited) => {
                tracing::warn!(peer = %key, "failed authentications over the limit");
                limited
            }
        }
    }
}
