//! What every request leaves behind for operators: its span (continuing an
//! incoming `traceparent`, see `orbflow_telemetry::ServerSpan`), whose
//! trace the runs it starts join, and its count and duration by route
//! template (`orbflow_http_requests_total`, served at `/metrics`).

use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::Response;
use orbflow_engine::trace::TraceContext;

tokio::task_local! {
    /// The trace context of the request being handled (the parent of the
    /// runs it starts).
    static REQUEST_TRACE: TraceContext;
}

/// The trace context of the request this task handles, if any.
pub(crate) fn request_trace() -> Option<TraceContext> {
    REQUEST_TRACE.try_with(|t| *t).ok()
}

/// The middleware: a span per request, the request's context in scope.
pub(crate) async fn observe(req: Request, next: Next) -> Response {
    let method = req.method().as_str().to_owned();
    // the route template, not the path: one span name per route
    let route = req.extensions().get::<MatchedPath>().map(|m| m.as_str().to_owned());
    let path = req.uri().path().to_owned();
    let incoming = req.headers().get("traceparent").and_then(|v| v.to_str().ok());
    let began = std::time::Instant::now();
    let span = orbflow_telemetry::ServerSpan::start(incoming, &method);
    let response = REQUEST_TRACE.scope(span.context(), next.run(req)).await;
    let status = response.status().as_u16();
    span.end(&method, route.as_deref(), &path, status);
    orbflow_telemetry::metrics::http_request(&method, route.as_deref(), status, began.elapsed().as_secs_f64());
    response
}
