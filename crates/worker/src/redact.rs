//! Keeping secrets out of what an attempt leaves behind: its log lines,
//! its output and its error. A value is hidden when it is an operator-wide
//! secret (`ORBFLOW_SECRET_*`, through `Engine::redact`) or a secret the
//! attempt's templates could read (its workspace's, set by [`hide`]); each
//! occurrence becomes `***`, longest value first.
//!
//! [`hide`]: RedactedLogger::hide

use std::sync::{Arc, Mutex};

use orbflow_actions::{ActionError, LogLevel, LogLine, Outcome, StepLogger, TracingLogger};
use orbflow_engine::Engine;
use serde_json::Value;

/// An attempt's logger: every line redacted, emitted to `tracing` at once
/// and kept for the run log (recorded with the outcome).
pub(crate) struct RedactedLogger {
    engine: Arc<Engine>,
    /// The secret values this attempt was given, longest first.
    hidden: Mutex<Vec<String>>,
    lines: Mutex<Vec<LogLine>>,
}

impl RedactedLogger {
    pub(crate) fn new(engine: Arc<Engine>) -> Self {
        Self {
            engine,
            hidden: Mutex::new(Vec::new()),
            lines: Mutex::new(Vec::new()),
        }
    }

    /// Hides these values too (longest first) from now on.
    pub(crate) fn hide(&self, values: Vec<String>) {
        if !values.is_empty()
            && let Ok(mut h) = self.hidden.lock()
        {
            h.extend(values);
            h.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
            h.dedup();
        }
    }

    /// `text` with every secret hidden.
    fn text(&self, text: &str) -> String {
        let mut out = self.engine.redact(text);
        if let Ok(hidden) = self.hidden.lock() {
            for v in hidden.iter() {
                if out.contains(v.as_str()) {
                    out = out.replace(v.as_str(), "***");
                }
            }
        }
        out
    }

    /// `v` with every string (keys too) redacted.
    fn value(&self, v: &Value) -> Value {
        match v {
            Value::String(s) => Value::String(self.text(s)),
            Value::Array(a) => Value::Array(a.iter().map(|x| self.value(x)).collect()),
            Value::Object(o) => Value::Object(o.iter().map(|(k, x)| (self.text(k), self.value(x))).collect()),
            other => other.clone(),
        }
    }

    /// The attempt's result with its output or error redacted: untouched
    /// when the attempt was given no secret (nothing to find, nothing paid).
    pub(crate) fn scrub_result(&self, result: Result<Outcome, ActionError>) -> Result<Outcome, ActionError> {
        let given = self.hidden.lock().map(|h| !h.is_empty()).unwrap_or(true);
        if !given {
            // operator-wide secrets are still kept out of errors, which
            // may quote a URL or a response
            return result.map_err(|e| self.error(e));
        }
        match result {
            Ok(Outcome::Completed(v)) => Ok(Outcome::Completed(self.value(&v))),
            Ok(Outcome::WaitUntil { until, output }) => Ok(Outcome::WaitUntil {
                until,
                output: self.value(&output),
            }),
            Ok(Outcome::Snooze { until, reason }) => Ok(Outcome::Snooze {
                until,
                reason: self.text(&reason),
            }),
            Err(e) => Err(self.error(e)),
        }
    }

    fn error(&self, e: ActionError) -> ActionError {
        match e {
            ActionError::Retryable { message, retry_after } => ActionError::Retryable {
                message: self.text(&message),
                retry_after,
            },
            ActionError::Fatal { message } => ActionError::Fatal {
                message: self.text(&message),
            },
            other => other,
        }
    }

    /// The lines logged so far, taken.
    pub(crate) fn take_lines(&self) -> Vec<LogLine> {
        self.lines
            .lock()
            .map(|mut l| std::mem::take(&mut *l))
            .unwrap_or_default()
    }
}

impl StepLogger for RedactedLogger {
    fn log(&self, level: LogLevel, message: &str, data: Option<&Value>) {
        let message = self.text(message);
        let data = data.map(|d| self.value(d));
        let text = data.as_ref().map(Value::to_string).unwrap_or_default();
        TracingLogger::emit(level, &message, &text);
        if let Ok(mut lines) = self.lines.lock() {
            lines.push(LogLine { level, message, data });
        }
    }
}
