//! orbflow's HTTP API: REST under `/v1` (axum), described by the OpenAPI
//! 3.1 document at `/openapi.json` (utoipa), with bearer tokens scoped to a
//! workspace, and the webhook intake at `/hooks/{workspace}/{workflow}/{key}`.
//! Served by `orbflow api` (the fleet) and inside `orbflow dev`.
//!
//! Module map:
//! - [`Config`] (limits, with defaults and [`Config::validate`]), [`serve`]
//!   and [`router`]: the service.
//! - [`state`]: [`AppState`](state::AppState), what handlers share (effects of
//!   engine calls go to an `orbflow_engine::queue::Dispatch`).
//! - [`error`]: [`Error`] and its one JSON shape (RFC 9457 problem details);
//!   the only place an error becomes a status.
//! - [`auth`]: bearer tokens (hashed, scoped, permissions) and issuing them.
//! - `limits`: rate limits per token, per workflow's webhooks, and of
//!   failed authentications per client address. `extract`: query, path and body
//!   readers whose rejections are problems; body limits; page caps.
//! - `routes/`: one file per resource (workflows, versions, runs, actions,
//!   schedules, events, hooks, tokens, secrets, meta).
//! - `verify`: webhook signature schemes (Standard Webhooks, GitHub, Stripe,
//!   HMAC-SHA256), constant-time.
//! - `observe`: a span per request (continuing `traceparent`); the runs a
//!   request starts join its trace.
//! - `diff`: differences between two versions' documents.
//! - [`openapi`]: the document.
//! - `dto`: request and response bodies.

pub mod auth;
mod diff;
pub mod dto;
pub mod error;
mod extract;
mod limits;
mod observe;
pub mod openapi;
mod routes;
pub mod state;
mod verify;

pub use error::{Error, Result};
pub use limits::RateLimit;
pub use state::{AppState, Dispatch, QueueDispatch, Services};

/// Limits of the API.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// Largest workflow document (create, draft, validate), bytes.
    pub max_document_bytes: usize,
    /// Largest run input, event or other JSON body, bytes.
    pub max_input_bytes: usize,
    /// Largest webhook delivery, bytes.
    pub max_webhook_bytes: usize,
    /// Requests per token.
    pub rate_limit: RateLimit,
    /// Deliveries per workflow on its webhooks (they carry no token).
    pub webhook_rate_limit: RateLimit,
    /// Failed authentications (a missing, malformed, unknown or revoked
    /// token; a webhook signature that does not verify) per client address.
    pub auth_failure_rate_limit: RateLimit,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            max_document_bytes: 1024 * 1024,
            max_input_bytes: 256 * 1024,
            max_webhook_bytes: 1024 * 1024,
            rate_limit: RateLimit::default(),
            webhook_rate_limit: RateLimit {
                per_minute: 6000,
                burst: 600,
            },
            auth_failure_rate_limit: RateLimit {
                per_minute: 600,
                burst: 120,
            },
        }
    }
}

impl Config {
    /// Checks the limits make sense.
    pub fn validate(&self) -> Result<()> {
        let bad = |what: &str| Error::BadRequest {
            code: "invalid-config",
            detail: what.to_owned(),
        };
        for (name, v) in [
            ("max_document_bytes", self.max_document_bytes),
            ("max_input_bytes", self.max_input_bytes),
            ("max_webhook_bytes", self.max_webhook_bytes),
        ] {
            if v == 0 || v > 64 * 1024 * 1024 {
                return Err(bad(&format!("{name} must be 1 byte to 64 MiB")));
            }
        }
        for r in [self.rate_limit, self.webhook_rate_limit, self.auth_failure_rate_limit] {
            if r.per_minute == 0 || r.burst == 0 {
                return Err(bad("a rate limit needs per_minute and burst of at least 1"));
            }
        }
        Ok(())
    }
}

/// The router with every route.
pub fn router(state: AppState) -> axum::Router {
    routes::router(state)
}

/// Serves the API on `listener` until `shutdown` is cancelled; in-flight
/// requests finish first. Each request knows its peer address (the key of
/// the failed-authentication limit).
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: tokio_util::sync::CancellationToken,
) -> std::io::Result<()> {
    let app = router(state).into_make_service_with_connect_info::<std::net::SocketAddr>();
    axum::serve(listener, app)
        .with_graceful_shutdown(async move { shutdown.cancelled().await })
        .await
}
