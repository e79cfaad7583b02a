//! The routes, one file per resource. [`router`] mounts them all.

pub(crate) mod actions;
pub(crate) mod connections;
pub(crate) mod email_templates;
pub(crate) mod events;
pub(crate) mod hooks;
pub(crate) mod meta;
pub(crate) mod notifications;
pub(crate) mod records;
pub(crate) mod runs;
pub(crate) mod schedules;
pub(crate) mod secrets;
pub(crate) mod tokens;
pub(crate) mod ui;
pub(crate) mod versions;
pub(crate) mod workflows;

use axum::Router;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use orbflow_engine::admin::WorkflowRecord;
use serde::Serialize;

use crate::auth::Principal;
use crate::state::AppState;
use crate::{Error, Result};

/// Every route of the API.
pub(crate) fn router(state: AppState) -> Router {
    Router::new()
        .route("/openapi.json", get(meta::openapi_json))
        // the browser pages: not API operations, so not in the OpenAPI document
        .merge(ui::pages())
        .route("/healthz", get(meta::healthz))
        .route("/readyz", get(meta::readyz))
        .route("/metrics", get(meta::metrics))
        .route("/v1/workspace", get(meta::workspace))
        .route("/v1/tokens", get(tokens::list).post(tokens::create))
        .route("/v1/tokens/{id}", axum::routing::delete(tokens::revoke))
        .route("/v1/secrets", get(secrets::list))
        .route(
            "/v1/secrets/{name}",
            get(secrets::get).put(secrets::put).delete(secrets::delete),
        )
        .route("/v1/connections", get(connections::list))
        .route(
            "/v1/connections/{name}",
            get(connections::get).put(connections::put).delete(connections::delete),
        )
        .route("/v1/notifications", get(notifications::list))
        .route("/v1/notifications/{id}", get(notifications::get))
        .route("/v1/notifications/{id}/read", post(notifications::read))
        .route("/v1/notifications/{id}/unread", post(notifications::unread))
        .route(
            "/v1/collections/{name}/records",
            get(records::list).post(records::insert),
        )
        .route(
            "/v1/collections/{name}/records/{id}",
            get(records::get).put(records::replace).delete(records::delete),
        )
        .route("/v1/email-templates", get(email_templates::list))
        .route(
            "/v1/email-templates/{name}",
            get(email_templates::get)
                .put(email_templates::put)
                .delete(email_templates::delete),
        )
        .route("/v1/workflows", get(workflows::list).post(workflows::create))
        .route("/v1/workflows/validate", post(workflows::validate))
        .route("/v1/workflows/{workflow}", get(workflows::get))
        .route("/v1/workflows/{workflow}/archive", post(workflows::archive))
        .route(
            "/v1/workflows/{workflow}/draft",
            get(workflows::get_draft).put(workflows::put_draft),
        )
        .route(
            "/v1/workflows/{workflow}/versions",
            get(versions::list).post(versions::publish),
        )
        .route("/v1/workflows/{workflow}/versions/{number}", get(versions::get))
        .route(
            "/v1/workflows/{workflow}/versions/{number}/export",
            get(versions::export),
        )
        .route("/v1/workflows/{workflow}/versions/{number}/diff", get(versions::diff))
        .route(
            "/v1/workflows/{workflow}/versions/{number}/rollback",
            post(versions::rollback),
        )
        .route("/v1/workflows/{workflow}/runs", post(runs::start))
        .route("/v1/runs", get(runs::list))
        .route("/v1/runs/{id}", get(runs::get))
        .route("/v1/runs/{id}/logs", get(runs::logs))
        .route("/v1/runs/{id}/cancel", post(runs::cancel))
        .route("/v1/runs/{id}/retry", post(runs::retry))
        .route("/v1/actions", get(actions::list))
        .route("/v1/actions/{name}", get(actions::get))
        .route("/v1/schedules", get(schedules::list))
        .route("/v1/schedules/preview", post(schedules::preview_expression))
        .route("/v1/schedules/{id}", get(schedules::get))
        .route("/v1/schedules/{id}/enable", post(schedules::enable))
        .route("/v1/schedules/{id}/disable", post(schedules::disable))
        .route("/v1/schedules/{id}/preview", get(schedules::preview))
        .route("/v1/events", post(events::publish))
        .route("/hooks/{workspace}/{workflow}/{key}", post(hooks::deliver))
        .route("/hooks/{workflow}/{key}", post(hooks::deliver_short))
        .fallback(meta::not_found)
        .method_not_allowed_fallback(meta::method_not_allowed)
        .layer(axum::extract::DefaultBodyLimit::disable())
        .layer(axum::middleware::from_fn(crate::observe::observe))
        .with_state(state)
}

/// A JSON response with a status.
pub(crate) fn json<T: Serialize>(status: StatusCode, body: &T) -> Response {
    match serde_json::to_vec(body) {
        Ok(bytes) => (status, [(header::CONTENT_TYPE, "application/json")], bytes).into_response(),
        Err(e) => Error::Internal(format!("serializing a response: {e}")).into_response(),
    }
}

/// Adds a header when its value is valid.
pub(crate) fn with_header(mut res: Response, name: header::HeaderName, value: &str) -> Response {
    if let Ok(v) = HeaderValue::from_str(value) {
        res.headers_mut().insert(name, v);
    }
    res
}

/// The workflow `slug_or_id` of the caller's workspace, or 404.
pub(crate) async fn find_workflow(state: &AppState, who: &Principal, slug_or_id: &str) -> Result<WorkflowRecord> {
    state
        .admin()
        .workflow(who.workspace_id(), slug_or_id)
        .await?
        .ok_or_else(|| Error::NotFound(format!("workflow `{slug_or_id}`")))
}

/// What a name in a route's path may be: 1 to `max` characters, the first
/// one `first` accepts, the others ones `rest` accepts. One rule per kind of
/// named workspace object (secrets, connections, email templates,
/// collections).
pub(crate) struct NameRule {
    pub(crate) max: usize,
    pub(crate) first: fn(char) -> bool,
    pub(crate) rest: fn(char) -> bool,
    /// The rule, in words, for the 400.
    pub(crate) says: &'static str,
}

impl NameRule {
    /// 400 `invalid-path`, saying the rule, unless `name` follows it.
    pub(crate) fn check(&self, name: &str) -> Result<()> {
        let ok =
            !name.is_empty() && name.len() <= self.max && name.starts_with(self.first) && name.chars().all(self.rest);
        if ok {
            Ok(())
        } else {
            Err(Error::BadRequest {
                code: "invalid-path",
                detail: self.says.into(),
            })
        }
    }
}
