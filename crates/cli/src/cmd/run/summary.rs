//! The end of `orbflow run` on stderr: the steps by status, each failed step
//! with its reason, the slowest steps, and the run's error in words (never
//! its JSON).

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use orbflow_engine::store::{LogRecord, RunRecord, StepRecord};
use orbflow_model::{RunStatus, StepStatus};
use serde_json::Value;

use super::watch::{Shape, is_iteration};

/// The message of an error value: its `message`, then its `cause`'s, joined
/// by `: ` (a string is itself; JSON only for a shape without a message).
pub(crate) fn error_message(e: &Value) -> String {
    match e {
        Value::String(s) => s.clone(),
        Value::Null => "no error recorded".to_owned(),
        Value::Object(o) => match o.get("message").and_then(Value::as_str) {
            Some(m) => match o.get("cause").filter(|c| !c.is_null()) {
                Some(c) => format!("{m}: {}", error_message(c)),
                None => m.to_owned(),
            },
            None => e.to_string(),
        },
        other => other.to_string(),
    }
}

/// A run's error in words: `step `x` failed after 4 attempts: <message>`.
pub(crate) fn run_error(e: &Value) -> String {
    let step = e.get("step").and_then(Value::as_str);
    match (step, e.get("cause")) {
        (Some(step), Some(cause)) => {
            let attempts = cause.get("attempts").and_then(Value::as_i64).unwrap_or(1);
            let after = if attempts > 1 {
                format!(" after {attempts} attempts")
            } else {
                String::new()
            };
            format!("step `{step}` failed{after}: {}", error_message(cause))
        }
        _ => error_message(e),
    }
}

/// The last line: `run FAILED: <why>`, or `None` for a completed run.
pub(crate) fn verdict(run: &RunRecord) -> Option<String> {
    if run.status == RunStatus::Completed {
        return None;
    }
    let why = run.error.as_ref().map(run_error).filter(|w| w != "cancelled");
    Some(match why {
        Some(w) => format!("run {}: {w}", run.status.as_str()),
        None => format!("run {}", run.status.as_str()),
    })
}

/// `12 completed, 1 failed (continued), 3 skipped` over the step
/// executions (loop iterations' own rows aside).
pub(crate) fn counts(steps: &[StepRecord], shape: &Shape) -> String {
    let mut n: HashMap<&'static str, usize> = HashMap::new();
    for s in steps.iter().filter(|s| !is_iteration(&s.path)) {
        let label = match s.status {
            StepStatus::Failed if shape.continued.contains(&s.step_key) => "failed (continued)",
            other => status_label(other),
        };
        *n.entry(label).or_insert(0) += 1;
    }
    let order = [
        "completed",
        "failed",
        "failed (continued)",
        "skipped",
        "cancelled",
        "running",
        "waiting",
        "queued",
        "pending",
    ];
    let parts: Vec<String> = order
        .iter()
        .filter_map(|l| n.get(l).map(|c| format!("{c} {l}")))
        .collect();
    if parts.is_empty() {
        "no steps ran".to_owned()
    } else {
        parts.join(", ")
    }
}

fn status_label(s: StepStatus) -> &'static str {
    match s {
        StepStatus::Completed => "completed",
        StepStatus::Failed => "failed",
        StepStatus::Skipped => "skipped",
        StepStatus::Cancelled => "cancelled",
        StepStatus::Running => "running",
        StepStatus::Waiting => "waiting",
        StepStatus::Queued => "queued",
        StepStatus::Pending => "pending",
    }
}

/// When each step's first attempt started, from the run log (a step's own
/// `started_at` is its last attempt's).
fn first_starts(logs: &[LogRecord]) -> HashMap<&str, DateTime<Utc>> {
    let mut m = HashMap::new();
    for l in logs {
        if let Some(p) = l.step_path.as_deref()
            && l.message.starts_with("step started")
        {
            m.entry(p).or_insert(l.created_at);
        }
    }
    m
}

/// Each executed action step's duration, first attempt start to end,
/// longest first.
pub(crate) fn durations<'a>(steps: &'a [StepRecord], logs: &[LogRecord], shape: &Shape) -> Vec<(&'a str, f64)> {
    let starts = first_starts(logs);
    let mut v: Vec<(&str, f64)> = steps
        .iter()
        .filter(|s| !is_iteration(&s.path) && !shape.blocks.contains(&s.step_key))
        .filter_map(|s| {
            let start = starts.get(s.path.as_str()).copied().or(s.started_at)?;
            let end = s.ended_at?;
            Some((s.path.as_str(), (end - start).num_milliseconds().max(0) as f64 / 1000.0))
        })
        .collect();
    v.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(b.0)));
    v
}

/// The summary lines (without the `run … in …s` headline).
pub(crate) fn lines(steps: &[StepRecord], logs: &[LogRecord], shape: &Shape) -> Vec<String> {
    let mut out = vec![format!("  steps: {}", counts(steps, shape))];
    let mut failed: Vec<&StepRecord> = steps
        .iter()
        .filter(|s| s.status == StepStatus::Failed && !is_iteration(&s.path))
        .collect();
    failed.sort_by_key(|s| s.ended_at);
    for s in failed.iter().take(10) {
        let what = if shape.continued.contains(&s.step_key) {
            "failed (continued)"
        } else {
            "failed"
        };
        let attempts = match s.attempt {
            n if n > 1 => format!(" after {n} attempts"),
            _ => String::new(),
        };
        let why = s.error.as_ref().map(error_message).unwrap_or_default();
        out.push(format!("  {what}: {}{attempts}: {why}", s.path));
    }
    if failed.len() > 10 {
        out.push(format!("  … and {} more failed", failed.len() - 10));
    }
    let slow = durations(steps, logs, shape);
    if !slow.is_empty() {
        let top: Vec<String> = slow.iter().take(3).map(|(p, d)| format!("{p} {d:.2}s")).collect();
        out.push(format!("  slowest: {}", top.join(", ")));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn run_errors_read_as_words() {
        let e = json!({
            "message": "step `call` failed",
            "step": "call",
            "cause": {"message": "HTTP 503 Service Unavailable", "attempts": 4, "retryable": true},
        });
        assert_eq!(
            run_error(&e),
            "step `call` failed after 4 attempts: HTTP 503 Service Unavailable"
        );
        let once = json!({"message": "step `m` failed", "step": "m", "cause": {"message": "no SMTP", "attempts": 1}});
        assert_eq!(run_error(&once), "step `m` failed: no SMTP");
        let out = json!({"message": "the output expression failed", "cause": {"message": "no such key: x"}});
        assert_eq!(run_error(&out), "the output expression failed: no such key: x");
        assert_eq!(run_error(&json!({"code": 1})), r#"{"code":1}"#);
    }

    #[test]
    fn counts_split_continued_failures() {
        use uuid::Uuid;
        let t = Utc::now();
        let mk = |p: &str, st: StepStatus| {
            let mut s = StepRecord::new(Uuid::nil(), p.into(), p.into(), t);
            s.status = st;
            s
        };
        let shape = Shape {
            total: 5,
            continued: ["n".to_owned()].into(),
            blocks: Default::default(),
        };
        let steps = vec![
            mk("a", StepStatus::Completed),
            mk("b", StepStatus::Completed),
            mk("n", StepStatus::Failed),
            mk("l[0]", StepStatus::Completed),
            mk("s", StepStatus::Skipped),
        ];
        assert_eq!(counts(&steps, &shape), "2 completed, 1 failed (continued), 1 skipped");
    }
}
