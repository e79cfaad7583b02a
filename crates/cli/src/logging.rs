//! The process's log subscriber: lines on stderr, readable text on a
//! terminal and JSON lines otherwise, filtered by `ORBFLOW_LOG` (or
//! `RUST_LOG`) with the usual `tracing` directives (`info`,
//! `orbflow_worker=debug,warn`, …).
//!
//! Environment: `ORBFLOW_LOG` / `RUST_LOG` (default: `info` for the daemons,
//! `warn` for the other commands, whose own output is their progress),
//! `ORBFLOW_LOG_FORMAT` (`json` or `text`; default by whether stderr is a
//! terminal). A JSON line carries the fields of the spans it was logged in
//! (an attempt's `run_id`, `step`, `attempt` and `action`).

use std::io::{IsTerminal, Write};

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::fmt::writer::BoxMakeWriter;

/// How lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Format {
    /// One JSON object a line.
    Json,
    /// Readable text (colored on a terminal).
    Text,
}

/// The settings from the environment, checked.
#[derive(Debug)]
pub(crate) struct Settings {
    filter: EnvFilter,
    format: Format,
}

impl Settings {
    /// Reads `ORBFLOW_LOG` (else `RUST_LOG`, else `default`) and
    /// `ORBFLOW_LOG_FORMAT`; an invalid value is an error naming the
    /// variable.
    pub(crate) fn from_env(default: &str) -> Result<Self, String> {
        let (var, spec) = match (std::env::var("ORBFLOW_LOG"), std::env::var("RUST_LOG")) {
            (Ok(v), _) => ("ORBFLOW_LOG", v),
            (_, Ok(v)) => ("RUST_LOG", v),
            _ => ("the default", default.to_owned()),
        };
        let filter = EnvFilter::builder()
            .parse(&spec)
            .map_err(|e| format!("{var}: invalid log filter `{spec}`: {e}"))?;
        let format = match std::env::var("ORBFLOW_LOG_FORMAT").as_deref() {
            Ok("json") => Format::Json,
            Ok("text") => Format::Text,
            Ok(other) => return Err(format!("ORBFLOW_LOG_FORMAT: `{other}` is not `json` or `text`")),
            Err(_) if std::io::stderr().is_terminal() => Format::Text,
            Err(_) => Format::Json,
        };
        Ok(Self { filter, format })
    }

    /// Installs the subscriber for the whole process (a second call, as in
    /// tests, leaves the first in place).
    pub(crate) fn install(self) {
        let writer = if std::io::stderr().is_terminal() {
            BoxMakeWriter::new(ClearingStderr)
        } else {
            BoxMakeWriter::new(std::io::stderr)
        };
        let builder = tracing_subscriber::fmt()
            .with_env_filter(self.filter)
            .with_writer(writer);
        let _ = match self.format {
            Format::Json => builder
                .json()
                .flatten_event(true)
                .with_current_span(false)
                .with_span_list(true)
                .try_init(),
            Format::Text => builder.with_ansi(std::io::stderr().is_terminal()).try_init(),
        };
    }
}

/// Stderr on a terminal, clearing the line before each log line: a status
/// line drawn in place (`orbflow run`'s) gives way to the log line instead
/// of running into it, and is drawn again below it.
struct ClearingStderr;

impl MakeWriter<'_> for ClearingStderr {
    type Writer = ClearingWriter;

    fn make_writer(&self) -> Self::Writer {
        ClearingWriter { started: false }
    }
}

/// One log line's writer of [`ClearingStderr`].
struct ClearingWriter {
    started: bool,
}

impl Write for ClearingWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let mut err = std::io::stderr().lock();
        if !self.started {
            self.started = true;
            err.write_all(b"\r\x1b[2K")?;
        }
        err.write(buf)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}
