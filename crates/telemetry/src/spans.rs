//! The spans orbflow emits, with the ids the run's trace gave them:
//!
//! - **run** (`run`, internal): from the run's creation to its end, under
//!   the span that started it (an API request) or at the root of its own
//!   trace (a cron tick, `orbflow run`). Reported by whichever process ends
//!   the run, with the start time the run row kept.
//! - **attempt** (`step {path}`, consumer): one per attempt, under the run's
//!   span, on whichever worker runs it; retries, DELAY wake-ups and
//!   re-deliveries after a lost lease are further attempts of the same
//!   trace. Outgoing HTTP carries its `traceparent`.
//! - **server** (`{method} {route}`, server): an API request, continuing an
//!   incoming `traceparent`; the runs it starts go under it.
//!
//! Attribute names follow the OpenTelemetry semantic conventions where they
//! exist (`http.*`, `url.path`, `messaging.*`, `error.type`) and are
//! `orbflow.*` otherwise.

use std::time::SystemTime;

use opentelemetry::trace::{
    Span as _, SpanBuilder, SpanContext, SpanKind, Status, TraceContextExt as _, TraceFlags, TraceState,
};
use opentelemetry::{Context, KeyValue, SpanId, TraceId};
use opentelemetry_sdk::trace::Span;
use orbflow_actions::{CallSpan, CallTracer, LogLine, OutgoingCall};
use orbflow_engine::trace::{RunTrace, TraceContext};
use orbflow_engine::{Claimed, FinishedRun};

use crate::export::{tracer, with_ids};

/// Starts a span with the ids of `ctx`, under `parent` (a span id in the
/// same trace) or at the root of the trace. `None` when export is off.
fn start(builder: SpanBuilder, ctx: TraceContext, parent: Option<[u8; 8]>) -> Option<Span> {
    let tracer = tracer()?;
    let cx = match parent {
        Some(p) => Context::new().with_remote_span_context(SpanContext::new(
            TraceId::from_bytes(ctx.trace_id),
            SpanId::from_bytes(p),
            if ctx.sampled {
                TraceFlags::SAMPLED
            } else {
                TraceFlags::default()
            },
            true,
            TraceState::default(),
        )),
        None => Context::new(),
    };
    Some(with_ids(ctx.trace_id, ctx.span_id, || {
        builder.start_with_context(tracer, &cx)
    }))
}

/// Counts a run that ended, and reports its span (with export on, for a
/// run with a trace).
pub fn run_ended(run: &FinishedRun) {
    crate::metrics::run_ended(run.status);
    let Some(trace) = run.trace else { return };
    if !crate::enabled() {
        return;
    }
    let builder = SpanBuilder::from_name("run")
        .with_kind(SpanKind::Internal)
        .with_start_time(SystemTime::from(run.created_at))
        .with_attributes([
            KeyValue::new("orbflow.run.id", run.id.to_string()),
            KeyValue::new("orbflow.workflow.id", run.workflow_id.to_string()),
            KeyValue::new("orbflow.workflow.version", i64::from(run.version_number)),
            KeyValue::new("orbflow.run.trigger", run.trigger_type.as_str()),
            KeyValue::new("orbflow.run.status", run.status.as_str()),
        ]);
    let Some(mut span) = start(builder, trace.span, trace.parent_span_id) else {
        return;
    };
    if let Some(e) = &run.error {
        span.set_status(Status::error(e.clone()));
    }
    span.end_with_timestamp(SystemTime::from(run.ended_at));
}

/// The span of one attempt. Its ids exist whether or not spans are
/// exported: log lines carry its trace id, outgoing HTTP its `traceparent`.
#[derive(Debug)]
pub struct Attempt {
    ctx: Option<TraceContext>,
    span: Option<Span>,
}

impl Attempt {
    /// Starts the span of the attempt `c`, under its run's span.
    pub fn start(c: &Claimed) -> Self {
        let Some(RunTrace { span: run, .. }) = c.trace else {
            return Self { ctx: None, span: None };
        };
        let ctx = run.child();
        let span = if crate::enabled() {
            let builder = SpanBuilder::from_name(format!("step {}", c.job.path))
                .with_kind(SpanKind::Consumer)
                .with_attributes([
                    KeyValue::new("orbflow.run.id", c.job.run_id.to_string()),
                    KeyValue::new("orbflow.workflow.id", c.workflow_id.to_string()),
                    KeyValue::new("orbflow.workflow.version", i64::from(c.version_number)),
                    KeyValue::new("orbflow.step.path", c.job.path.clone()),
                    KeyValue::new("orbflow.step.action", c.action.clone()),
                    KeyValue::new("orbflow.step.attempt", i64::from(c.attempt)),
                    KeyValue::new("messaging.system", "orbflow"),
                    KeyValue::new("messaging.operation.type", "process"),
                    KeyValue::new("messaging.destination.name", "steps"),
                ]);
            start(builder, ctx, Some(run.span_id))
        } else {
            None
        };
        Self { ctx: Some(ctx), span }
    }

    /// The attempt's trace context (`None` for a run without a trace).
    pub fn context(&self) -> Option<TraceContext> {
        self.ctx
    }

    /// The client spans of the attempt's outgoing calls, under its span.
    pub fn calls(&self) -> Option<std::sync::Arc<dyn CallTracer>> {
        self.ctx
            .map(|parent| std::sync::Arc::new(Calls { parent }) as std::sync::Arc<dyn CallTracer>)
    }

    /// Ends the span: `outcome` as the attempt's metrics name it, `error`
    /// (already redacted) for an attempt that did not complete, and the
    /// action's log lines (already redacted) as events.
    pub fn end(self, outcome: &'static str, error: Option<&str>, logs: &[LogLine]) {
        let Some(mut span) = self.span else { return };
        for line in logs {
            let mut attrs = vec![KeyValue::new("level", line.level.as_str())];
            if let Some(d) = &line.data {
                attrs.push(KeyValue::new("data", d.to_string()));
            }
            span.add_event(line.message.clone(), attrs);
        }
        span.set_attribute(KeyValue::new("orbflow.step.outcome", outcome));
        if let Some(e) = error {
            span.set_attribute(KeyValue::new("error.type", outcome));
            span.set_status(Status::error(e.to_owned()));
        }
        span.end();
    }
}

/// Starts the client spans of one attempt's calls.
struct Calls {
    parent: TraceContext,
}

impl CallTracer for Calls {
    fn start(&self, call: &OutgoingCall<'_>) -> Box<dyn CallSpan> {
        let ctx = self.parent.child();
        let span = if crate::enabled() {
            let mut attrs = vec![
                KeyValue::new("http.request.method", call.method.to_owned()),
                KeyValue::new("server.address", call.host.to_owned()),
                KeyValue::new("url.scheme", call.scheme.to_owned()),
            ];
            if let Some(p) = call.port {
                attrs.push(KeyValue::new("server.port", i64::from(p)));
            }
            let builder = SpanBuilder::from_name(call.method.to_owned())
                .with_kind(SpanKind::Client)
                .with_attributes(attrs);
            start(builder, ctx, Some(self.parent.span_id))
        } else {
            None
        };
        Box::new(Call { ctx, span })
    }
}

/// An HTTP client span (semantic conventions: named by its method; 4xx and
/// 5xx answers are errors).
struct Call {
    ctx: TraceContext,
    span: Option<Span>,
}

impl CallSpan for Call {
    fn traceparent(&self) -> String {
        self.ctx.traceparent()
    }

    fn end(self: Box<Self>, status: Option<u16>, error: Option<&str>) {
        let Some(mut span) = self.span else { return };
        match (status, error) {
            (Some(code), _) => {
                span.set_attribute(KeyValue::new("http.response.status_code", i64::from(code)));
                if code >= 400 {
                    span.set_attribute(KeyValue::new("error.type", code.to_string()));
                    span.set_status(Status::error(""));
                }
            }
            (None, Some(e)) => {
                span.set_attribute(KeyValue::new("error.type", "transport"));
                span.set_status(Status::error(e.to_owned()));
            }
            (None, None) => {}
        }
        span.end();
    }
}

/// The span of one API request.
#[derive(Debug)]
pub struct ServerSpan {
    ctx: TraceContext,
    span: Option<Span>,
}

impl ServerSpan {
    /// Starts the span of a request whose `traceparent` header is
    /// `incoming` (continued when valid; a new trace otherwise).
    pub fn start(incoming: Option<&str>, method: &str) -> Self {
        let parent = incoming.and_then(TraceContext::parse);
        let mut ctx = parent.map_or_else(TraceContext::root, |p| p.child());
        let span = if crate::enabled() {
            let builder = SpanBuilder::from_name(method.to_owned())
                .with_kind(SpanKind::Server)
                .with_attributes([KeyValue::new("http.request.method", method.to_owned())]);
            let span = start(builder, ctx, parent.map(|p| p.span_id));
            // the sampler decides for a request that starts its trace; the
            // runs it starts follow that decision
            if let Some(s) = &span {
                ctx.sampled = s.span_context().is_sampled();
            }
            span
        } else {
            None
        };
        Self { ctx, span }
    }

    /// The request's trace context: the parent of the runs it starts.
    pub fn context(&self) -> TraceContext {
        self.ctx
    }

    /// Ends the span with the route that matched (`None` for no route) and
    /// the response's status.
    pub fn end(self, method: &str, route: Option<&str>, path: &str, status: u16) {
        let Some(mut span) = self.span else { return };
        if let Some(r) = route {
            span.update_name(format!("{method} {r}"));
            span.set_attribute(KeyValue::new("http.route", r.to_owned()));
        }
        span.set_attribute(KeyValue::new("url.path", path.to_owned()));
        span.set_attribute(KeyValue::new("http.response.status_code", i64::from(status)));
        if status >= 500 {
            span.set_attribute(KeyValue::new("error.type", status.to_string()));
            span.set_status(Status::error(""));
        }
        span.end();
    }
}
