//! OTLP export, configured by the standard variables:
//!
//! | variable | effect |
//! | --- | --- |
//! | `OTEL_EXPORTER_OTLP_ENDPOINT`, `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` | where spans go; export is on when either is set |
//! | `OTEL_TRACES_EXPORTER` | `otlp` turns export on at the default endpoint; `none` turns it off |
//! | `OTEL_SDK_DISABLED` | `true` turns export off |
//! | `OTEL_EXPORTER_OTLP_PROTOCOL`, `OTEL_EXPORTER_OTLP_TRACES_PROTOCOL` | `http/protobuf` (default) or `grpc` |
//! | `OTEL_SERVICE_NAME`, `OTEL_RESOURCE_ATTRIBUTES` | the resource (service name defaults to `orbflow-<command>`) |
//! | `OTEL_TRACES_SAMPLER`, `OTEL_TRACES_SAMPLER_ARG` | sampling of spans without a parent |
//! | `OTEL_BSP_*`, `OTEL_EXPORTER_OTLP_TIMEOUT`, `OTEL_EXPORTER_OTLP_HEADERS` | batching, timeout, headers |
//!
//! Spans are exported in batches from the SDK's own thread: a receiver that
//! is down or slow costs a run nothing (spans are dropped when the queue
//! is full).

use std::cell::Cell;
use std::sync::OnceLock;

use opentelemetry::trace::{SpanId, TraceId, TracerProvider as _};
use opentelemetry_sdk::trace::{IdGenerator, RandomIdGenerator, SdkTracer, SdkTracerProvider};

use crate::{Error, Result};

static TRACER: OnceLock<SdkTracer> = OnceLock::new();

/// Whether spans are exported (after [`init`] turned export on).
pub fn enabled() -> bool {
    TRACER.get().is_some()
}

pub(crate) fn tracer() -> Option<&'static SdkTracer> {
    TRACER.get()
}

thread_local! {
    /// The ids the next span built on this thread takes (see [`with_ids`]).
    static NEXT: Cell<Option<(TraceId, SpanId)>> = const { Cell::new(None) };
}

/// Runs `f` (which builds one span) with the ids orbflow chose for it: the
/// SDK draws a span's ids from its id generator, and [`ChosenIds`] hands
/// out these instead of random ones.
pub(crate) fn with_ids<T>(trace: [u8; 16], span: [u8; 8], f: impl FnOnce() -> T) -> T {
    NEXT.with(|n| n.set(Some((TraceId::from_bytes(trace), SpanId::from_bytes(span)))));
    let out = f();
    NEXT.with(|n| n.set(None));
    out
}

/// An id generator that gives the ids set by [`with_ids`], and random ones
/// otherwise.
#[derive(Debug, Default)]
struct ChosenIds(RandomIdGenerator);

impl IdGenerator for ChosenIds {
    fn new_trace_id(&self) -> TraceId {
        NEXT.with(Cell::get).map_or_else(|| self.0.new_trace_id(), |(t, _)| t)
    }

    fn new_span_id(&self) -> SpanId {
        NEXT.with(Cell::get).map_or_else(|| self.0.new_span_id(), |(_, s)| s)
    }
}

/// Flushes and stops the exporter when dropped (at the end of `main`).
#[must_use = "export stops when the guard is dropped"]
pub struct Guard {
    provider: Option<SdkTracerProvider>,
    // the gRPC exporter's connection lives on this runtime
    runtime: Option<tokio::runtime::Runtime>,
}

impl std::fmt::Debug for Guard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Guard")
            .field("exporting", &self.provider.is_some())
            .finish()
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        if let Some(p) = self.provider.take()
            && let Err(e) = p.shutdown()
        {
            tracing::warn!(error = %e, "flushing spans at exit failed");
        }
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

/// The transport spans travel on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Protocol {
    HttpProtobuf,
    Grpc,
}

/// What the environment asks for: `None` when export is off.
fn settings(var: &dyn Fn(&str) -> Option<String>) -> Result<Option<Protocol>> {
    let get = |k: &str| var(k).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
    if get("OTEL_SDK_DISABLED").is_some_and(|v| v.eq_ignore_ascii_case("true")) {
        return Ok(None);
    }
    let exporter = get("OTEL_TRACES_EXPORTER");
    match exporter.as_deref() {
        Some("none") => return Ok(None),
        None | Some("otlp") => {}
        Some(other) => {
            return Err(Error::Setting {
                name: "OTEL_TRACES_EXPORTER",
                value: other.to_owned(),
                why: "orbflow exports traces with `otlp` (or `none`)",
            });
        }
    }
    let endpoint = get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT").or_else(|| get("OTEL_EXPORTER_OTLP_ENDPOINT"));
    if endpoint.is_none() && exporter.is_none() {
        return Ok(None);
    }
    let (name, protocol) = match get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL") {
        Some(p) => ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", Some(p)),
        None => ("OTEL_EXPORTER_OTLP_PROTOCOL", get("OTEL_EXPORTER_OTLP_PROTOCOL")),
    };
    match protocol.as_deref() {
        None | Some("http/protobuf") => Ok(Some(Protocol::HttpProtobuf)),
        Some("grpc") => Ok(Some(Protocol::Grpc)),
        Some(other) => Err(Error::Setting {
            name,
            value: other.to_owned(),
            why: "orbflow speaks `http/protobuf` or `grpc`",
        }),
    }
}

/// Turns export on when the `OTEL_*` variables ask for it (see the module
/// docs); `service` names the process when neither `OTEL_SERVICE_NAME` nor
/// `OTEL_RESOURCE_ATTRIBUTES` does. Call once, early in `main`, and keep
/// the guard. A second call exports nothing more.
pub fn init(service: &str) -> Result<Guard> {
    let off = Guard {
        provider: None,
        runtime: None,
    };
    let Some(protocol) = settings(&|k| std::env::var(k).ok())? else {
        return Ok(off);
    };
    if TRACER.get().is_some() {
        return Ok(off);
    }
    // the exporter's HTTP client needs a TLS provider (ring, as everywhere
    // in orbflow); a process that installed one already keeps it
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut runtime = None;
    let exporter = match protocol {
        Protocol::HttpProtobuf => {
            use opentelemetry_otlp::WithExportConfig;
            opentelemetry_otlp::SpanExporter::builder()
                .with_http()
                .with_protocol(opentelemetry_otlp::Protocol::HttpBinary)
                .build()
        }
        Protocol::Grpc => {
            // tonic's connection is a task on a runtime of its own, so that
            // it outlives whichever runtime the command builds
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .thread_name("otlp-grpc")
                .enable_all()
                .build()
                .map_err(|e| Error::Exporter(e.to_string()))?;
            let built = {
                let _enter = rt.enter();
                opentelemetry_otlp::SpanExporter::builder().with_tonic().build()
            };
            runtime = Some(rt);
            built
        }
    }
    .map_err(|e| Error::Exporter(e.to_string()))?;
    let named = std::env::var_os("OTEL_SERVICE_NAME").is_some()
        || std::env::var("OTEL_RESOURCE_ATTRIBUTES").is_ok_and(|a| a.contains("service.name="));
    let mut resource = opentelemetry_sdk::Resource::builder();
    if !named {
        resource = resource.with_service_name(service.to_owned());
    }
    let provider = SdkTracerProvider::builder()
        .with_id_generator(ChosenIds::default())
        .with_resource(resource.build())
        .with_batch_exporter(exporter)
        .build();
    let tracer = provider.tracer("orbflow");
    let _ = TRACER.set(tracer);
    Ok(Guard {
        provider: Some(provider),
        runtime,
    })
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn with(vars: &[(&str, &str)]) -> Result<Option<Protocol>> {
        let m: HashMap<String, String> = vars.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        settings(&|k| m.get(k).cloned())
    }

    #[test]
    fn export_is_off_unless_an_endpoint_or_the_exporter_is_named() {
        assert_eq!(with(&[]).unwrap(), None);
        assert_eq!(with(&[("OTEL_EXPORTER_OTLP_ENDPOINT", " ")]).unwrap(), None);
        assert_eq!(
            with(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318")]).unwrap(),
            Some(Protocol::HttpProtobuf)
        );
        assert_eq!(
            with(&[("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://127.0.0.1:4318/v1/traces")]).unwrap(),
            Some(Protocol::HttpProtobuf)
        );
        assert_eq!(
            with(&[("OTEL_TRACES_EXPORTER", "otlp")]).unwrap(),
            Some(Protocol::HttpProtobuf)
        );
        for off in [("OTEL_TRACES_EXPORTER", "none"), ("OTEL_SDK_DISABLED", "TRUE")] {
            assert_eq!(
                with(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318"), off]).unwrap(),
                None,
                "{off:?}"
            );
        }
    }

    #[test]
    fn the_protocol_is_read_per_signal_first() {
        let ep = ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4317");
        assert_eq!(
            with(&[ep, ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")]).unwrap(),
            Some(Protocol::Grpc)
        );
        assert_eq!(
            with(&[
                ep,
                ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
                ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "http/protobuf")
            ])
            .unwrap(),
            Some(Protocol::HttpProtobuf)
        );
    }

    #[test]
    fn unsupported_values_name_the_variable() {
        let ep = ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318");
        let e = with(&[ep, ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "http/json")])
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL=\"http/json\""), "{e}");
        let e = with(&[ep, ("OTEL_TRACES_EXPORTER", "zipkin")]).unwrap_err().to_string();
        assert!(e.contains("OTEL_TRACES_EXPORTER") && e.contains("otlp"), "{e}");
    }

    #[test]
    fn chosen_ids_are_handed_out_once_then_random_again() {
        let g = ChosenIds::default();
        let (t, s) = with_ids([7; 16], [9; 8], || (g.new_trace_id(), g.new_span_id()));
        assert_eq!(t, TraceId::from_bytes([7; 16]));
        assert_eq!(s, SpanId::from_bytes([9; 8]));
        assert_ne!(g.new_span_id(), SpanId::from_bytes([9; 8]));
        assert_ne!(g.new_trace_id(), TraceId::from_bytes([7; 16]));
    }
}
