//! The run view and the API reference, served from assets embedded in the
//! binary (no build step): `/ui/` (workflows, runs, one run's step graph,
//! timeline, attempts and logs, live while it moves; cancel and retry) and
//! `/docs` (every operation of `/openapi.json`). The pages hold no data:
//! their scripts call the API with the user's bearer token, so access is
//! the API's. `GET /` leads to `/ui/`.

use axum::Router;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;

const INDEX: &str = include_str!("../ui/index.html");
const APP_JS: &str = include_str!("../ui/app.js");
const DOCS: &str = include_str!("../ui/docs.html");
const DOCS_JS: &str = include_str!("../ui/docs.js");
const STYLE: &str = include_str!("../ui/style.css");

/// Scripts and styles only from this origin; no inline script, no frames.
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

fn asset(content_type: &'static str, body: &'static str) -> Response {
    let mut r = (StatusCode::OK, body).into_response();
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    r
}

/// The pages and their assets (no state, no auth: they hold no data).
pub(crate) fn pages<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route("/", get(root))
        .route("/ui", get(root))
        .route("/ui/", get(index))
        .route("/ui/app.js", get(app_js))
        .route("/ui/docs.js", get(docs_js))
        .route("/ui/style.css", get(style))
        .route("/docs", get(docs))
}

pub(crate) async fn root() -> Redirect {
    Redirect::to("/ui/")
}

pub(crate) async fn index() -> Response {
    asset("text/html; charset=utf-8", INDEX)
}

pub(crate) async fn app_js() -> Response {
    asset("text/javascript; charset=utf-8", APP_JS)
}

pub(crate) async fn style() -> Response {
    asset("text/css; charset=utf-8", STYLE)
}

pub(crate) async fn docs() -> Response {
    asset("text/html; charset=utf-8", DOCS)
}

pub(crate) async fn docs_js() -> Response {
    asset("text/javascript; charset=utf-8", DOCS_JS)
}
