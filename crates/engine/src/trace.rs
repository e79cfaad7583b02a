//! W3C trace context of a run (<https://www.w3.org/TR/trace-context/>).
//!
//! Every run gets a trace when it starts, whether or not spans are
//! exported: the run's own span ids are chosen here and stored on the run,
//! so that the process that starts the run, the workers that run its
//! attempts and the process that ends it all name the same spans, and log
//! lines and outgoing `traceparent` headers carry the trace id even with
//! export off. Exporting the spans is the telemetry crate's business; this
//! module only knows ids.

use std::fmt;

/// A span's place in a trace: trace id, span id and the sampled flag (the
/// three things a `traceparent` header carries).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct TraceContext {
    /// 16 bytes, never all zero.
    pub trace_id: [u8; 16],
    /// 8 bytes, never all zero.
    pub span_id: [u8; 8],
    /// Whether the caller records this trace (flag `01`).
    pub sampled: bool,
}

impl fmt::Debug for TraceContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.traceparent())
    }
}

impl TraceContext {
    /// A new trace: random ids, sampled.
    pub fn root() -> Self {
        Self {
            trace_id: nonzero(),
            span_id: nonzero(),
            sampled: true,
        }
    }

    /// A new span in the same trace, under this one.
    pub fn child(&self) -> Self {
        Self {
            trace_id: self.trace_id,
            span_id: nonzero(),
            sampled: self.sampled,
        }
    }

    /// Parses a `traceparent` header value (version `00`, or a later version
    /// read as `00`, as the spec asks). `None` when it is malformed or has
    /// an all-zero id: the caller then starts a new trace.
    pub fn parse(s: &str) -> Option<Self> {
        let s = s.trim();
        let mut parts = s.split('-');
        let version = parts.next()?;
        let trace = parts.next()?;
        let span = parts.next()?;
        let flags = parts.next()?;
        if version.len() != 2 || version.eq_ignore_ascii_case("ff") || !is_lower_hex(version) {
            return None;
        }
        // version 00 has exactly four fields; later versions may add more
        if version == "00" && parts.next().is_some() {
            return None;
        }
        let trace_id: [u8; 16] = hex_bytes(trace)?;
        let span_id: [u8; 8] = hex_bytes(span)?;
        let flags: [u8; 1] = hex_bytes(flags)?;
        if trace_id == [0; 16] || span_id == [0; 8] {
            return None;
        }
        Some(Self {
            trace_id,
            span_id,
            sampled: flags[0] & 1 == 1,
        })
    }

    /// The `traceparent` header value: `00-{trace id}-{span id}-{flags}`.
    pub fn traceparent(&self) -> String {
        format!(
            "00-{}-{}-{}",
            self.trace_id_hex(),
            hex(&self.span_id),
            if self.sampled { "01" } else { "00" }
        )
    }

    /// The trace id as 32 lowercase hex digits.
    pub fn trace_id_hex(&self) -> String {
        hex(&self.trace_id)
    }

    /// The span id as 16 lowercase hex digits.
    pub fn span_id_hex(&self) -> String {
        hex(&self.span_id)
    }
}

/// A run's trace: the run's own span, and the span it was started under
/// (the API request, the webhook delivery), if any.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct RunTrace {
    /// The run's span (its trace id is the run's trace id).
    pub span: TraceContext,
    /// The span that started the run, when it was started inside one.
    pub parent_span_id: Option<[u8; 8]>,
}

impl RunTrace {
    /// The trace of a run started under `parent` (a new trace when `None`).
    pub fn start(parent: Option<TraceContext>) -> Self {
        match parent {
            Some(p) => Self {
                span: p.child(),
                parent_span_id: Some(p.span_id),
            },
            None => Self {
                span: TraceContext::root(),
                parent_span_id: None,
            },
        }
    }

    /// Reads what [`store`](Self::store) wrote; `None` for a run without a
    /// trace (runs started before traces existed) or a corrupt value.
    pub fn load(context: Option<&str>, parent_span_id: Option<&str>) -> Option<Self> {
        let span = TraceContext::parse(context?)?;
        let parent_span_id = parent_span_id.and_then(hex_bytes::<8>).filter(|p| *p != [0; 8]);
        Some(Self { span, parent_span_id })
    }

    /// What the store keeps: the run span's `traceparent`, and the parent
    /// span id as hex.
    pub fn store(&self) -> (String, Option<String>) {
        (self.span.traceparent(), self.parent_span_id.as_ref().map(|p| hex(p)))
    }
}

/// Displays a run's trace id (empty for a run without a trace), for log
/// lines about a run outside its attempts' spans.
#[derive(Clone, Copy, Debug)]
pub struct TraceIdOf(pub Option<RunTrace>);

impl fmt::Display for TraceIdOf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(t) => f.write_str(&t.span.trace_id_hex()),
            None => Ok(()),
        }
    }
}

fn nonzero<const N: usize>() -> [u8; N] {
    loop {
        let b: [u8; N] = rand::random();
        if b != [0; N] {
            return b;
        }
    }
}

fn is_lower_hex(s: &str) -> bool {
    s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// Lowercase hex (the spec's form; uppercase is rejected).
fn hex_bytes<const N: usize>(s: &str) -> Option<[u8; N]> {
    if s.len() != N * 2 || !is_lower_hex(s) {
        return None;
    }
    let mut out = [0u8; N];
    for (i, o) in out.iter_mut().enumerate() {
        *o = u8::from_str_radix(s.get(i * 2..i * 2 + 2)?, 16).ok()?;
    }
    Some(out)
}

fn hex(b: &[u8]) -> String {
    use fmt::Write;
    let mut s = String::with_capacity(b.len() * 2);
    for x in b {
        let _ = write!(s, "{x:02x}");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    #[test]
    fn the_specs_example_round_trips() {
        let t = TraceContext::parse(EXAMPLE).unwrap();
        assert_eq!(t.trace_id_hex(), "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(t.span_id_hex(), "00f067aa0ba902b7");
        assert!(t.sampled);
        assert_eq!(t.traceparent(), EXAMPLE);
        let unsampled = TraceContext::parse(&EXAMPLE.replace("-01", "-00")).unwrap();
        assert!(!unsampled.sampled);
        assert!(unsampled.traceparent().ends_with("-00"));
    }

    #[test]
    fn malformed_values_start_a_new_trace() {
        for bad in [
            "",
            "00",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902bz-01",
            "0-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        ] {
            assert_eq!(TraceContext::parse(bad), None, "{bad:?}");
        }
        // a later version may carry more fields; its first four are read
        let future = "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-what-ever";
        assert_eq!(
            TraceContext::parse(future).map(|t| t.traceparent()).as_deref(),
            Some(EXAMPLE)
        );
    }

    #[test]
    fn a_run_under_a_caller_continues_its_trace() {
        let caller = TraceContext::parse(EXAMPLE).unwrap();
        let run = RunTrace::start(Some(caller));
        assert_eq!(run.span.trace_id, caller.trace_id);
        assert_ne!(run.span.span_id, caller.span_id);
        assert_eq!(run.parent_span_id, Some(caller.span_id));
        let (ctx, parent) = run.store();
        assert_eq!(parent.as_deref(), Some("00f067aa0ba902b7"));
        assert_eq!(RunTrace::load(Some(&ctx), parent.as_deref()), Some(run));

        let alone = RunTrace::start(None);
        assert_ne!(alone.span.trace_id, [0; 16]);
        assert_ne!(alone.span.trace_id, RunTrace::start(None).span.trace_id);
        assert!(alone.span.sampled && alone.parent_span_id.is_none());
        let (ctx, parent) = alone.store();
        assert_eq!(RunTrace::load(Some(&ctx), parent.as_deref()), Some(alone));
        assert_eq!(RunTrace::load(None, None), None);
        assert_eq!(RunTrace::load(Some("garbage"), None), None);
        assert_eq!(TraceIdOf(Some(run)).to_string(), "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(TraceIdOf(None).to_string(), "");
    }
}
