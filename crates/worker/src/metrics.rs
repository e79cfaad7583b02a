//! A worker's step metrics, rendered in the Prometheus text format (served
//! at `/metrics` on a daemon's health listener).
//!
//! - `orbflow_step_attempts_total{action, outcome}` (counter): attempts
//!   executed here, by action and by what they returned: `completed`,
//!   `waiting` (a durable timer), `retryable_error`, `fatal_error`.
//! - `orbflow_step_duration_seconds{action}` (histogram): how long the
//!   attempts took, rendering included.
//! - `orbflow_step_attempts_running` (gauge): attempts executing now.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, Ordering};

use orbflow_actions::{ActionError, Outcome};

/// Upper bounds of the duration histogram's buckets, in seconds.
const BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 5.0, 30.0,
];

/// One action's durations.
#[derive(Debug, Default, Clone)]
struct Histogram {
    /// Attempts at or under each bound (not cumulative; summed on render).
    counts: [u64; BUCKETS.len()],
    sum: f64,
    count: u64,
}

/// One action's attempts: counted by outcome, and timed.
#[derive(Debug, Default)]
struct PerAction {
    outcomes: BTreeMap<&'static str, u64>,
    durations: Histogram,
}

/// The metrics of one worker.
#[derive(Debug, Default)]
pub struct Metrics {
    /// By action: one lock and one lookup per attempt.
    actions: Mutex<BTreeMap<String, PerAction>>,
    running: AtomicI64,
}

/// The `outcome` label of an attempt's result.
pub(crate) fn outcome_label(result: &Result<Outcome, ActionError>) -> &'static str {
    match result {
        Ok(Outcome::Completed(_)) => "completed",
        Ok(Outcome::WaitUntil { .. } | Outcome::Snooze { .. }) => "waiting",
        Err(e) if e.is_retryable() => "retryable_error",
        Err(_) => "fatal_error",
    }
}

/// An attempt executing: counted in the gauge until dropped (a panicking
/// action included).
pub(crate) struct InFlight<'a>(&'a Metrics);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.running.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Metrics {
    /// An attempt started; it counts as running until the guard drops.
    pub(crate) fn started(&self) -> InFlight<'_> {
        self.running.fetch_add(1, Ordering::Relaxed);
        InFlight(self)
    }

    /// An attempt of `action` ended with `outcome` after `secs`.
    pub(crate) fn finished(&self, action: &str, outcome: &'static str, secs: f64) {
        let Ok(mut actions) = self.actions.lock() else { return };
        // no allocation once an action has been seen
        if !actions.contains_key(action) {
            actions.insert(action.to_owned(), PerAction::default());
        }
        if let Some(a) = actions.get_mut(action) {
            *a.outcomes.entry(outcome).or_default() += 1;
            let h = &mut a.durations;
            if let Some(i) = BUCKETS.iter().position(|&b| secs <= b) {
                h.counts[i] += 1;
            }
            h.sum += secs;
            h.count += 1;
        }
    }

    /// The Prometheus text exposition of every metric.
    pub fn render(&self) -> String {
        let mut out = String::new();
        out.push_str(
            "# HELP orbflow_step_attempts_total Step attempts executed by this worker, by action and outcome.\n",
        );
        out.push_str("# TYPE orbflow_step_attempts_total counter\n");
        let actions = self.actions.lock();
        let actions = actions.as_deref().ok();
        for (action, a) in actions.into_iter().flatten() {
            let action = escape(action);
            for (outcome, n) in &a.outcomes {
                let _ = writeln!(
                    out,
                    "orbflow_step_attempts_total{{action=\"{action}\",outcome=\"{outcome}\"}} {n}"
                );
            }
        }
        out.push_str("# HELP orbflow_step_duration_seconds How long step attempts took, rendering included.\n");
        out.push_str("# TYPE orbflow_step_duration_seconds histogram\n");
        for (action, a) in actions.into_iter().flatten() {
            let (action, h) = (escape(action), &a.durations);
            let mut cumulative = 0;
            for (bound, n) in BUCKETS.iter().zip(h.counts) {
                cumulative += n;
                let _ = writeln!(
                    out,
                    "orbflow_step_duration_seconds_bucket{{action=\"{action}\",le=\"{bound}\"}} {cumulative}"
                );
            }
            let _ = writeln!(
                out,
                "orbflow_step_duration_seconds_bucket{{action=\"{action}\",le=\"+Inf\"}} {}",
                h.count
            );
            let _ = writeln!(
                out,
                "orbflow_step_duration_seconds_sum{{action=\"{action}\"}} {}",
                h.sum
            );
            let _ = writeln!(
                out,
                "orbflow_step_duration_seconds_count{{action=\"{action}\"}} {}",
                h.count
            );
        }
        out.push_str("# HELP orbflow_step_attempts_running Step attempts executing now.\n");
        out.push_str("# TYPE orbflow_step_attempts_running gauge\n");
        let _ = writeln!(
            out,
            "orbflow_step_attempts_running {}",
            self.running.load(Ordering::Relaxed)
        );
        out
    }
}

/// A label value with `\`, `"` and newlines escaped.
fn escape(v: &str) -> String {
    v.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn outcomes_are_labelled_by_what_the_action_returned() {
        assert_eq!(outcome_label(&Ok(Outcome::Completed(json!(1)))), "completed");
        let wait = Outcome::WaitUntil {
            until: chrono::Utc::now(),
            output: json!(null),
        };
        assert_eq!(outcome_label(&Ok(wait)), "waiting");
        assert_eq!(outcome_label(&Err(ActionError::retryable("503"))), "retryable_error");
        assert_eq!(outcome_label(&Err(ActionError::fatal("400"))), "fatal_error");
    }

    #[test]
    fn renders_counters_cumulative_buckets_and_the_gauge() {
        let m = Metrics::default();
        {
            let _done = m.started();
            m.finished("TRANSFORM", "completed", 0.0002);
        }
        m.finished("TRANSFORM", "completed", 0.003);
        m.finished("A\"B", "fatal_error", 100.0);
        let _running = m.started();
        let text = m.render();
        for line in [
            "orbflow_step_attempts_total{action=\"TRANSFORM\",outcome=\"completed\"} 2",
            "orbflow_step_attempts_total{action=\"A\\\"B\",outcome=\"fatal_error\"} 1",
            "orbflow_step_duration_seconds_bucket{action=\"TRANSFORM\",le=\"0.0005\"} 1",
            "orbflow_step_duration_seconds_bucket{action=\"TRANSFORM\",le=\"0.0025\"} 1",
            "orbflow_step_duration_seconds_bucket{action=\"TRANSFORM\",le=\"0.005\"} 2",
            "orbflow_step_duration_seconds_bucket{action=\"TRANSFORM\",le=\"+Inf\"} 2",
            "orbflow_step_duration_seconds_count{action=\"TRANSFORM\"} 2",
            // past the largest bound: only in +Inf
            "orbflow_step_duration_seconds_bucket{action=\"A\\\"B\",le=\"30\"} 0",
            "orbflow_step_duration_seconds_bucket{action=\"A\\\"B\",le=\"+Inf\"} 1",
            "orbflow_step_duration_seconds_sum{action=\"A\\\"B\"} 100",
            "orbflow_step_attempts_running 1",
        ] {
            assert!(text.lines().any(|l| l == line), "missing `{line}` in\n{text}");
        }
        assert_well_formed(&text);
    }

    /// Every line is a `# HELP`/`# TYPE` comment or `name{labels} number`.
    pub(crate) fn assert_well_formed(text: &str) {
        for line in text.lines() {
            if line.starts_with("# HELP ") || line.starts_with("# TYPE ") {
                continue;
            }
            let (series, value) = line.rsplit_once(' ').unwrap_or_else(|| panic!("no value: {line}"));
            assert!(value.parse::<f64>().is_ok(), "not a number: {line}");
            let name = series.split('{').next().unwrap_or_default();
            assert!(
                !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
                "bad name: {line}"
            );
            if let Some(labels) = series.strip_prefix(name) {
                assert!(
                    labels.is_empty() || (labels.starts_with('{') && labels.ends_with('}')),
                    "{line}"
                );
            }
        }
    }
}
