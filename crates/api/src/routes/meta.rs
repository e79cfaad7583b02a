//! The OpenAPI document, health, metrics, the token's workspace, and the
//! answers to unknown routes.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;

use crate::auth::Principal;
use crate::dto::WorkspaceOut;
use crate::routes::json;
use crate::state::AppState;
use crate::{Error, Result};

/// This OpenAPI document.
#[utoipa::path(
    get, path = "/openapi.json", tag = "meta", operation_id = "openapi_doc",
    responses((status = 200, description = "The OpenAPI 3.1 document", content_type = "application/json", body = Object))
)]
pub(crate) async fn openapi_json() -> Response {
    json(StatusCode::OK, &crate::openapi::document())
}

/// The process is up.
#[utoipa::path(
    get, path = "/healthz", tag = "meta", operation_id = "health",
    responses((status = 200, description = "Up", body = String, content_type = "text/plain"))
)]
pub(crate) async fn healthz() -> &'static str {
    "ok"
}

/// This process's metrics in the Prometheus text format (API requests by
/// route template and status, runs ended, the engine's lease and
/// write-back counters, the backlog). Open like `/healthz`: it names no
/// workspace's data.
#[utoipa::path(
    get, path = "/metrics", tag = "meta", operation_id = "metrics",
    responses((status = 200, description = "Prometheus text exposition format 0.0.4", body = String, content_type = "text/plain"))
)]
pub(crate) async fn metrics(State(state): State<AppState>) -> Response {
    let text = orbflow_telemetry::metrics::render(Some(state.engine().stats()));
    let mut res = Response::new(axum::body::Body::from(text));
    res.headers_mut().insert(
        axum::http::header::CONTENT_TYPE,
        axum::http::HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    res
}

/// The database (and the queue) answer.
#[utoipa::path(
    get, path = "/readyz", tag = "meta", operation_id = "ready",
    responses((status = 200, description = "Ready", body = String, content_type = "text/plain"))
)]
pub(crate) async fn readyz(State(state): State<AppState>) -> Result<&'static str> {
    if let Some(check) = state.ready() {
        check().await.map_err(Error::Unavailable)?;
    }
    Ok("ready")
}

/// The token's workspace.
#[utoipa::path(
    get, path = "/v1/workspace", tag = "workspace",
    responses((status = 200, description = "The workspace the token acts in", body = WorkspaceOut)),
    security(("bearer" = []))
)]
pub(crate) async fn workspace(State(state): State<AppState>, who: Principal) -> Result<Response> {
    let ws = state
        .admin()
        .workspace(who.workspace_id())
        .await?
        .ok_or_else(|| Error::NotFound("workspace".into()))?;
    Ok(json(
        StatusCode::OK,
        &WorkspaceOut {
            id: ws.id,
            slug: ws.slug,
            name: ws.name,
            created_at: ws.created_at,
        },
    ))
}

/// Any unknown path.
pub(crate) async fn not_found() -> Error {
    Error::NotFound("route".into())
}

/// A known path with another method.
pub(crate) async fn method_not_allowed() -> Response {
    let mut p = Error::NotFound("route".into()).problem();
    p.status = 405;
    p.title = "Method Not Allowed".into();
    p.code = "method-not-allowed".into();
    p.kind = "urn:orbflow:problem:method-not-allowed".into();
    p.detail = "this route does not accept that method".into();
    let mut res = json(StatusCode::METHOD_NOT_ALLOWED, &p);
    res.headers_mut().insert(
        axum::http::header::CONTENT_TYPE,
        axum::http::HeaderValue::from_static("application/problem+json"),
    );
    res
}
