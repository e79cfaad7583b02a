//! The engine's settings ([`EngineConfig`]) and what it counts ([`Stats`]).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};

use orbflow_model::expr::budget::Limits;
use serde_json::Value;

/// Engine settings.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// How long a claim holds a step before the reconciler may re-deliver it.
    pub lease: chrono::Duration,
    /// Most items a loop may iterate over.
    pub max_loop_items: usize,
    /// Secrets visible to action configs as `secrets.NAME`.
    pub secrets: HashMap<String, String>,
    /// Operator-wide connections by kind (`ORBFLOW_CONNECTION_<KIND>`), used
    /// where a workspace has no default of the kind.
    pub connections: HashMap<String, Value>,
    /// Cost budget and time limit of every expression evaluation (a
    /// template render shares one; the step's `timeout` caps its time).
    pub expressions: Limits,
    /// Deliveries a step gets whatever its retry policy: a lost attempt
    /// (the worker died or stalled past its lease) counts as an attempt, and
    /// a step with fewer `maxAttempts` than this is still re-delivered up to
    /// this many times before it fails.
    pub min_deliveries: i32,
    /// Largest output of one step, and largest run output, as JSON bytes:
    /// past it the step (or the run) fails with an error saying so.
    pub max_output_bytes: usize,
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self {
            lease: chrono::Duration::seconds(30),
            max_loop_items: 10_000,
            secrets: HashMap::new(),
            connections: HashMap::new(),
            expressions: Limits::default(),
            min_deliveries: 2,
            max_output_bytes: 16 * 1024 * 1024,
        }
    }
}

impl EngineConfig {
    /// `text` with every secret's value replaced by `***`, longest first (a
    /// secret that contains another is hidden whole); empty values are
    /// left alone.
    pub fn redact(&self, text: &str) -> String {
        let mut values: Vec<&str> = self
            .secrets
            .values()
            .map(String::as_str)
            .filter(|v| !v.is_empty())
            .collect();
        values.sort_by_key(|v| std::cmp::Reverse(v.len()));
        let mut out = text.to_owned();
        for v in values {
            if out.contains(v) {
                out = out.replace(v, "***");
            }
        }
        out
    }

    /// Secrets from `ORBFLOW_SECRET_<NAME>` environment variables.
    pub fn secrets_from_env() -> HashMap<String, String> {
        std::env::vars()
            .filter_map(|(k, v)| k.strip_prefix("ORBFLOW_SECRET_").map(|n| (n.to_owned(), v)))
            .collect()
    }
}

/// What an engine counted since the process started (for metrics).
#[derive(Debug, Default)]
pub struct Stats {
    /// Attempts found lost because their lease expired (the worker died or
    /// stalled): re-delivered, or failed when no attempts were left.
    pub lease_expiries: AtomicU64,
    /// Attempts found lost when this process started (the embedded default).
    pub recovered: AtomicU64,
    /// Lost attempts whose step went back to the queue for another attempt.
    pub redeliveries: AtomicU64,
    /// Deliveries ignored because their step was no longer QUEUED (a
    /// duplicate, or a step that moved on).
    pub stale_deliveries: AtomicU64,
    /// Outcomes refused because their attempt no longer held the step (its
    /// lease was lost; the fencing token did not match).
    pub stale_write_backs: AtomicU64,
}

impl Stats {
    pub(crate) fn lost(&self, why: crate::recovery::Requeue, redelivered: bool) {
        let counter = match why {
            crate::recovery::Requeue::LeaseExpired => &self.lease_expiries,
            crate::recovery::Requeue::Recovered => &self.recovered,
        };
        counter.fetch_add(1, Ordering::Relaxed);
        if redelivered {
            self.redeliveries.fetch_add(1, Ordering::Relaxed);
        }
    }
}
