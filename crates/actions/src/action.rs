//! The [`Action`] trait and what an execution receives and returns.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde_json::Value;
use tokio_util::sync::CancellationToken;

/// One action type of the catalog. An implementation runs one attempt of one
/// step; retries, backoff and timers belong to the engine.
#[async_trait::async_trait]
pub trait Action: Send + Sync + 'static {
    /// Runs one attempt.
    ///
    /// Must return promptly with [`ActionError::Cancelled`] once
    /// `ctx.cancel` fires, and must never panic on any config (configs are
    /// validated against the action's schema at publish time, but templates
    /// are only resolved now).
    async fn execute(&self, ctx: ActionContext) -> Result<Outcome, ActionError>;
}

/// What an action attempt gets.
#[derive(Clone)]
pub struct ActionContext {
    /// The step's config with every `{{ }}` template resolved.
    pub config: Value,
    /// `run_id:step_path`, the same on every attempt. Pass it on where the
    /// remote side supports it (HTTP `Idempotency-Key`).
    pub idempotency_key: String,
    /// Attempt number, starting at 1.
    pub attempt: u32,
    /// Fires when the run is cancelled or the attempt timed out.
    pub cancel: CancellationToken,
    /// Where the action writes its log lines (they end up in the run logs).
    pub logger: Arc<dyn StepLogger>,
    /// The time the engine considers "now" for this attempt (timers are
    /// computed from it, so a replay computes the same wake time).
    pub now: DateTime<Utc>,
    /// Client spans for the calls the action makes (each outgoing HTTP
    /// request is one, and carries its `traceparent`); `None` for an
    /// attempt outside any trace.
    pub calls: Option<Arc<dyn CallTracer>>,
    /// The workspace connection the step uses (its settings, credentials
    /// resolved), for actions that take one
    /// ([`ActionSpec::connection`](crate::ActionSpec::connection)): the one
    /// `config.connection` names, else the workspace's default of the kind;
    /// `None` when the workspace has none.
    pub connection: Option<Value>,
    /// The run's workspace inbox (CREATE_NOTIFICATION), bound to the run
    /// and step; `None` where the runner has none.
    pub inbox: Option<Arc<dyn crate::notifications::Inbox>>,
    /// The run's workspace data store (UPDATE_DATABASE), bound to the run
    /// and step; `None` where the runner has none.
    pub records: Option<Arc<dyn crate::database::Records>>,
    /// The run's workspace email templates (SEND_EMAIL's `templateId`);
    /// `None` where the runner has none.
    pub email_templates: Option<Arc<dyn crate::email::EmailTemplates>>,
}

/// One call an action makes to the outside, as its client span names it.
/// Never the path or query: they may hold secrets.
#[derive(Debug, Clone, Copy)]
pub struct OutgoingCall<'a> {
    /// HTTP method (`GET`, `POST`, …).
    pub method: &'a str,
    /// `http` or `https`.
    pub scheme: &'a str,
    /// The server's host name or address.
    pub host: &'a str,
    /// The server's port.
    pub port: Option<u16>,
}

/// Starts the client spans of an attempt's outgoing calls (the worker gives
/// one whose spans go under the attempt's span).
pub trait CallTracer: Send + Sync {
    /// Starts the span of one call.
    fn start(&self, call: &OutgoingCall<'_>) -> Box<dyn CallSpan>;
}

/// The span of one outgoing call.
pub trait CallSpan: Send {
    /// The W3C `traceparent` the request carries (this span's), so the
    /// receiver's spans join the trace.
    fn traceparent(&self) -> String;
    /// Ends the span with the response's status, or what failed before
    /// one came (`error`).
    fn end(self: Box<Self>, status: Option<u16>, error: Option<&str>);
}

impl std::fmt::Debug for ActionContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The config may hold resolved secrets: never print it.
        f.debug_struct("ActionContext")
            .field("idempotency_key", &self.idempotency_key)
            .field("attempt", &self.attempt)
            .finish_non_exhaustive()
    }
}

/// A successful attempt.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// The step is done; this is its output.
    Completed(Value),
    /// The step waits until this instant (a durable timer the engine keeps in
    /// the database), then completes with `output`.
    WaitUntil {
        /// Wake time.
        until: DateTime<Utc>,
        /// Output recorded when the timer fires.
        output: Value,
    },
    /// Not yet: run the action again at `until` (a durable timer the engine
    /// keeps in the database, surviving restarts), without counting this
    /// attempt against the retry budget. SCHEDULE_POST waits so for a
    /// publish time on a platform with no scheduling of its own.
    Snooze {
        /// When to run again.
        until: DateTime<Utc>,
        /// Why, for the run log.
        reason: String,
    },
}

/// A failed attempt, typed so the engine knows what to do next.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ActionError {
    /// Worth another attempt (within the step's retry policy).
    #[error("{message}")]
    Retryable {
        /// What went wrong.
        message: String,
        /// The remote side asked to wait at least this long (HTTP Retry-After).
        retry_after: Option<std::time::Duration>,
    },
    /// Will fail the same way every time: no retry.
    #[error("{message}")]
    Fatal {
        /// What went wrong.
        message: String,
    },
    /// The cancellation token fired.
    #[error("cancelled")]
    Cancelled,
}

impl ActionError {
    /// A retryable error without a server-imposed wait.
    pub fn retryable(message: impl Into<String>) -> Self {
        Self::Retryable {
            message: message.into(),
            retry_after: None,
        }
    }

    /// A fatal error.
    pub fn fatal(message: impl Into<String>) -> Self {
        Self::Fatal {
            message: message.into(),
        }
    }

    /// Whether the engine may try again.
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Retryable { .. })
    }
}

/// Log level of an action's log line (the run log's level).
pub use orbflow_model::LogLevel;

/// One line an action logged, kept to be written to the run log with the
/// attempt's outcome.
#[derive(Debug, Clone, PartialEq)]
pub struct LogLine {
    /// Level.
    pub level: LogLevel,
    /// Message.
    pub message: String,
    /// Structured data.
    pub data: Option<Value>,
}

/// Receives an action's log lines.
pub trait StepLogger: Send + Sync {
    /// Records one line with optional structured data.
    fn log(&self, level: LogLevel, message: &str, data: Option<&Value>);
}

/// A logger that forwards to `tracing`.
#[derive(Debug, Default, Clone, Copy)]
pub struct TracingLogger;

impl TracingLogger {
    /// Emits one line at `level`, with `data` (JSON text, empty for none)
    /// as a field.
    pub fn emit(level: LogLevel, message: &str, data: &str) {
        match level {
            LogLevel::Debug => tracing::debug!(%data, "{message}"),
            LogLevel::Info => tracing::info!(%data, "{message}"),
            LogLevel::Warn => tracing::warn!(%data, "{message}"),
            LogLevel::Error => tracing::error!(%data, "{message}"),
        }
    }
}

impl StepLogger for TracingLogger {
    fn log(&self, level: LogLevel, message: &str, data: Option<&Value>) {
        Self::emit(level, message, &data.map(Value::to_string).unwrap_or_default());
    }
}

/// A logger that keeps every line in memory (tests, `orbflow run`).
#[derive(Debug, Default)]
pub struct MemoryLogger {
    lines: std::sync::Mutex<Vec<(LogLevel, String, Option<Value>)>>,
}

impl MemoryLogger {
    /// The lines logged so far.
    pub fn lines(&self) -> Vec<(LogLevel, String, Option<Value>)> {
        self.lines.lock().map(|l| l.clone()).unwrap_or_default()
    }
}

impl StepLogger for MemoryLogger {
    fn log(&self, level: LogLevel, message: &str, data: Option<&Value>) {
        if let Ok(mut l) = self.lines.lock() {
            l.push((level, message.to_owned(), data.cloned()));
        }
    }
}

impl ActionContext {
    /// A context for `config` with a fresh token and an in-memory logger;
    /// for tests and one-off executions.
    pub fn for_test(config: Value) -> (Self, Arc<MemoryLogger>) {
        let logger = Arc::new(MemoryLogger::default());
        (
            Self {
                config,
                idempotency_key: "run-test:step".to_owned(),
                attempt: 1,
                cancel: CancellationToken::new(),
                logger: logger.clone(),
                now: Utc::now(),
                calls: None,
                connection: None,
                inbox: None,
                records: None,
                email_templates: None,
            },
            logger,
        )
    }
}
