//! What `orbflow run` prints on stderr while the run runs.
//!
//! Every poll reads the run's step executions and its log; [`Watcher::poll`]
//! turns what is new into lines, ordered by when it happened (the log's and
//! the steps' own timestamps, not the order rows come back in), each printed
//! once:
//!
//! - piped (stderr not a terminal): one line per transition that is not a
//!   plain completion: a retry, a wait, a re-delivery, FAILED (with
//!   `(continued)` under `onError: continue`), SKIPPED, CANCELLED, and
//!   COMPLETED only after retries;
//! - `--verbose`: every run log line (attempt starts, retries, the actions'
//!   own lines, failures) with SKIPPED and CANCELLED steps;
//! - on a terminal, the same lines scroll above one status line redrawn in
//!   place: `[done/total]` over the steps the plan has outside loop bodies
//!   (a fixed total), loop iterations apart, the running steps and any
//!   retry wait with its countdown and last error.

use std::collections::{HashMap, HashSet};
use std::io::Write as _;

use chrono::{DateTime, Utc};
use orbflow_engine::store::{LogRecord, StepRecord};
use orbflow_model::{OnError, Step, StepKind, StepStatus, Workflow};

use super::summary::error_message;

/// What the display needs from the workflow.
#[derive(Debug, Default)]
pub(crate) struct Shape {
    /// Steps outside loop bodies (a loop counts once, its body not): the
    /// executions every run has at most once.
    pub(crate) total: usize,
    /// Keys of the steps with `onError: continue`.
    pub(crate) continued: HashSet<String>,
    /// Keys of the blocks (condition, switch, loop).
    pub(crate) blocks: HashSet<String>,
}

impl Shape {
    /// The shape of `wf`.
    pub(crate) fn of(wf: &Workflow) -> Self {
        let mut s = Self::default();
        s.walk(&wf.steps, false);
        s
    }

    fn walk(&mut self, steps: &[Step], in_loop: bool) {
        for st in steps {
            if !in_loop {
                self.total += 1;
            }
            if st.on_error == Some(OnError::Continue) {
                self.continued.insert(st.key.clone());
            }
            if !matches!(st.kind, StepKind::Action { .. }) {
                self.blocks.insert(st.key.clone());
            }
            match &st.kind {
                StepKind::Action { .. } => {}
                StepKind::Condition { then, otherwise, .. } => {
                    self.walk(then, in_loop);
                    self.walk(otherwise, in_loop);
                }
                StepKind::Switch { cases, default, .. } => {
                    for c in cases {
                        self.walk(&c.steps, in_loop);
                    }
                    self.walk(default, in_loop);
                }
                StepKind::Loop { steps, .. } => self.walk(steps, true),
            }
        }
    }
}

/// Whether `path` is a loop iteration's own row (`loop[3]`).
pub(crate) fn is_iteration(path: &str) -> bool {
    orbflow_model::path::StepPath::new(path).is_iteration()
}

/// `+1.23s` after `origin`.
pub(crate) fn offset(origin: DateTime<Utc>, at: DateTime<Utc>) -> String {
    let ms = (at - origin).num_milliseconds().max(0);
    format!("+{}.{:02}s", ms / 1000, (ms % 1000) / 10)
}

/// One line to print, with when it happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Line {
    /// When it happened.
    pub(crate) at: DateTime<Utc>,
    /// The text, without the time offset.
    pub(crate) text: String,
}

/// A run log line whole: time, step, attempt, level, message.
type LogKey = (DateTime<Utc>, Option<String>, Option<i32>, String, String);

/// Turns polls into lines and draws the terminal's status line.
pub(crate) struct Watcher {
    shape: Shape,
    verbose: bool,
    tty: bool,
    width: usize,
    origin: DateTime<Utc>,
    /// How many times each log line was already seen (lines are compared
    /// whole: a late-committed line is new wherever it sorts).
    logs_seen: HashMap<LogKey, usize>,
    /// Step paths whose terminal line was printed.
    steps_seen: HashSet<String>,
    /// The status line is on screen.
    drawn: bool,
}

/// A run log line and what the piped display makes of it.
enum Kind {
    Retry,
    Wait,
    Redelivered,
    Other,
}

fn kind(l: &LogRecord) -> Kind {
    let m = l.message.as_str();
    if l.step_path.is_none() {
        Kind::Other
    } else if m.starts_with("attempt ") && m.contains(" failed, retrying in ") {
        Kind::Retry
    } else if m.starts_with("waiting until ") || m.starts_with("snoozed until ") {
        Kind::Wait
    } else if m.ends_with("; re-delivered") {
        Kind::Redelivered
    } else {
        Kind::Other
    }
}

impl Watcher {
    /// A watcher of a run created at `origin`; `tty` draws the status line.
    pub(crate) fn new(shape: Shape, verbose: bool, tty: bool, origin: DateTime<Utc>) -> Self {
        let width = std::env::var("COLUMNS")
            .ok()
            .and_then(|c| c.trim().parse::<usize>().ok())
            .filter(|&w| w >= 20)
            .unwrap_or(100);
        Self {
            shape,
            verbose,
            tty,
            width,
            origin,
            logs_seen: HashMap::new(),
            steps_seen: HashSet::new(),
            drawn: false,
        }
    }

    /// The shape it was given.
    pub(crate) fn shape(&self) -> &Shape {
        &self.shape
    }

    /// The lines new since the last poll, in the order they happened.
    pub(crate) fn poll(&mut self, steps: &[StepRecord], logs: &[LogRecord]) -> Vec<Line> {
        let by_path: HashMap<&str, &StepRecord> = steps.iter().map(|s| (s.path.as_str(), s)).collect();
        let mut out = Vec::new();
        let mut counts: HashMap<_, usize> = HashMap::new();
        for l in logs {
            let key = (
                l.created_at,
                l.step_path.clone(),
                l.attempt,
                l.level.as_str().to_owned(),
                l.message.clone(),
            );
            let n = counts.entry(key.clone()).or_insert(0);
            *n += 1;
            let seen = self.logs_seen.entry(key).or_insert(0);
            if *n <= *seen {
                continue;
            }
            *seen = *n;
            if let Some(text) = self.log_line(l, &by_path) {
                out.push(Line { at: l.created_at, text });
            }
        }
        let mut cancelled = Vec::new();
        for s in steps {
            if !s.status.is_terminal() || is_iteration(&s.path) || self.steps_seen.contains(&s.path) {
                continue;
            }
            self.steps_seen.insert(s.path.clone());
            let at = s.ended_at.unwrap_or(s.created_at);
            if s.status == StepStatus::Cancelled {
                cancelled.push((at, s.path.clone()));
            } else if let Some(text) = self.step_line(s) {
                out.push(Line { at, text });
            }
        }
        out.extend(group_cancelled(cancelled));
        // stable: a step's log line goes before its row's line at the same instant
        out.sort_by_key(|l| l.at);
        out
    }

    fn log_line(&self, l: &LogRecord, steps: &HashMap<&str, &StepRecord>) -> Option<String> {
        let path = l.step_path.as_deref().unwrap_or("");
        if self.verbose {
            let who = match (l.step_path.as_deref(), l.attempt) {
                (Some(p), Some(a)) => format!("{p}#{a}"),
                (Some(p), None) => p.to_owned(),
                (None, _) => "(run)".to_owned(),
            };
            return Some(format!("{:<5} {who}: {}", l.level.as_str().to_uppercase(), l.message));
        }
        match kind(l) {
            Kind::Retry => Some(format!(
                "{path} {}",
                retry_text(l, steps.get(path).map_or(0, |s| s.max_attempts))
            )),
            Kind::Wait => {
                // `waiting until T` → `WAITING until T`; `snoozed …` → `SNOOZED …`
                let (word, rest) = l.message.split_once(' ').unwrap_or((l.message.as_str(), ""));
                Some(format!("{path} {} {rest}", word.to_uppercase()))
            }
            Kind::Redelivered => Some(format!("{path} RE-DELIVERED: {}", l.message)),
            Kind::Other => None,
        }
    }

    fn step_line(&self, s: &StepRecord) -> Option<String> {
        let attempts = if s.attempt > 1 {
            format!(" after {} attempts", s.attempt)
        } else {
            String::new()
        };
        match s.status {
            StepStatus::Skipped => Some(format!("{} SKIPPED", s.path)),
            // the log's `step failed` line says it in verbose mode
            _ if self.verbose => None,
            StepStatus::Failed => {
                let continued = if self.shape.continued.contains(&s.step_key) {
                    " (continued)"
                } else {
                    ""
                };
                let why = s.error.as_ref().map(error_message).unwrap_or_default();
                Some(format!("{} FAILED{attempts}{continued}: {why}", s.path))
            }
            StepStatus::Completed if s.attempt > 1 => Some(format!("{} COMPLETED{attempts}", s.path)),
            _ => None,
        }
    }

    /// Prints `lines` (above the status line on a terminal), then redraws
    /// the status line from `steps`.
    pub(crate) fn show(&mut self, lines: &[Line], steps: &[StepRecord], elapsed: std::time::Duration) {
        let mut err = std::io::stderr().lock();
        if self.tty && self.drawn && !lines.is_empty() {
            let _ = write!(err, "\r\x1b[2K");
            self.drawn = false;
        }
        for l in lines {
            let _ = writeln!(err, "{:>8} {}", offset(self.origin, l.at), l.text);
        }
        if self.tty {
            let status = self.status_line(steps, elapsed, Utc::now());
            let _ = write!(err, "\r\x1b[2K{status}");
            self.drawn = true;
        }
        let _ = err.flush();
    }

    /// Clears the status line (before the summary, or a message).
    pub(crate) fn clear(&mut self) {
        if self.tty && self.drawn {
            eprint!("\r\x1b[2K");
            self.drawn = false;
        }
    }

    /// `[done/total] 4.2s  running: a, b +3 · iterations 2/10 · fetch: retry in 1.3s (attempt 2/4 failed: …)`,
    /// cut to the terminal's width.
    pub(crate) fn status_line(&self, steps: &[StepRecord], elapsed: std::time::Duration, now: DateTime<Utc>) -> String {
        let fixed = steps.iter().filter(|s| !s.path.contains('['));
        let done = fixed.filter(|s| s.status.is_terminal()).count().min(self.shape.total);
        let mut parts = vec![format!("[{done}/{}] {:.1}s", self.shape.total, elapsed.as_secs_f64())];
        let iterations: Vec<&StepRecord> = steps.iter().filter(|s| is_iteration(&s.path)).collect();
        if !iterations.is_empty() {
            let finished = iterations.iter().filter(|s| s.status.is_terminal()).count();
            parts.push(format!("iterations {finished}/{}", iterations.len()));
        }
        let leaf = |s: &&StepRecord| !is_iteration(&s.path) && !self.shape.blocks.contains(&s.step_key);
        let running: Vec<&str> = steps
            .iter()
            .filter(leaf)
            .filter(|s| s.status == StepStatus::Running)
            .map(|s| s.path.as_str())
            .collect();
        if !running.is_empty() {
            let shown = running.iter().take(3).copied().collect::<Vec<_>>().join(", ");
            let more = running.len().saturating_sub(3);
            parts.push(if more > 0 {
                format!("running: {shown} +{more}")
            } else {
                format!("running: {shown}")
            });
        }
        for s in steps
            .iter()
            .filter(leaf)
            .filter(|s| s.status == StepStatus::Waiting)
            .take(2)
        {
            let left = s
                .next_attempt_at
                .map_or(0.0, |t| (t - now).num_milliseconds().max(0) as f64 / 1000.0);
            parts.push(match &s.error {
                Some(e) => format!(
                    "{}: retry in {left:.1}s (attempt {}/{} failed: {})",
                    s.path,
                    s.attempt,
                    s.max_attempts,
                    error_message(e)
                ),
                None => format!("{}: waiting {left:.1}s", s.path),
            });
        }
        cut(&parts.join(" · "), self.width.saturating_sub(1))
    }
}

/// `RETRYING after attempt 2/4 failed (next in 1.00s): <message>` from the
/// engine's `attempt 2 failed, retrying in 1000ms: <message>` (as it is when
/// it does not read so).
fn retry_text(l: &LogRecord, max: i32) -> String {
    let parsed = l.message.strip_prefix("attempt ").and_then(|rest| {
        let (n, rest) = rest.split_once(" failed, retrying in ")?;
        let (ms, message) = rest.split_once("ms: ")?;
        let ms: u64 = ms.parse().ok()?;
        Some((n.to_owned(), ms, message))
    });
    match parsed {
        Some((n, ms, message)) => {
            let of = if max > 1 { format!("/{max}") } else { String::new() };
            format!(
                "RETRYING after attempt {n}{of} failed (next in {:.2}s): {message}",
                ms as f64 / 1000.0
            )
        }
        None => format!("RETRYING: {}", l.message),
    }
}

/// One line for up to three cancelled steps each; more cancelled at once
/// (the rest of a failed run) are one line naming the first few.
fn group_cancelled(mut cancelled: Vec<(DateTime<Utc>, String)>) -> Vec<Line> {
    cancelled.sort();
    if cancelled.len() <= 3 {
        return cancelled
            .into_iter()
            .map(|(at, p)| Line {
                at,
                text: format!("{p} CANCELLED"),
            })
            .collect();
    }
    let at = cancelled[0].0;
    let names: Vec<&str> = cancelled.iter().take(3).map(|(_, p)| p.as_str()).collect();
    vec![Line {
        at,
        text: format!(
            "{} steps CANCELLED: {} and {} more",
            cancelled.len(),
            names.join(", "),
            cancelled.len() - 3
        ),
    }]
}

/// `s` cut to `max` characters (with `…`).
fn cut(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_owned();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use uuid::Uuid;

    fn at(ms: i64) -> DateTime<Utc> {
        DateTime::from_timestamp_millis(1_700_000_000_000 + ms).unwrap()
    }

    fn step(path: &str, status: StepStatus, attempt: i32, ended: i64) -> StepRecord {
        let mut s = StepRecord::new(Uuid::nil(), path.into(), path.into(), at(0));
        s.status = status;
        s.attempt = attempt;
        s.max_attempts = 3;
        s.ended_at = status.is_terminal().then(|| at(ended));
        s
    }

    fn log(path: &str, attempt: i32, level: &str, message: &str, ms: i64) -> LogRecord {
        LogRecord {
            run_id: Uuid::nil(),
            step_path: Some(path.into()),
            attempt: Some(attempt),
            level: level.parse().unwrap(),
            message: message.into(),
            data: None,
            created_at: at(ms),
        }
    }

    fn shape() -> Shape {
        Shape {
            total: 4,
            continued: HashSet::from(["notify".to_owned()]),
            blocks: HashSet::new(),
        }
    }

    #[test]
    fn piped_lines_are_transitions_in_time_order_each_once() {
        let mut w = Watcher::new(shape(), false, false, at(0));
        let mut notify = step("notify", StepStatus::Failed, 1, 300);
        notify.error = Some(json!({"message": "no SMTP connection", "attempts": 1}));
        // map order (alphabetical) differs from time order
        let steps = vec![
            step("a_plain", StepStatus::Completed, 1, 50),
            step("b_skipped", StepStatus::Skipped, 0, 400),
            step("fetch", StepStatus::Completed, 3, 250),
            notify,
        ];
        let logs = vec![
            log("fetch", 1, "info", "step started (TRIGGER_WEBHOOK, attempt 1)", 10),
            log("fetch", 1, "warn", "attempt 1 failed, retrying in 100ms: HTTP 503", 20),
            log(
                "fetch",
                2,
                "warn",
                "attempt 2 failed, retrying in 100ms: HTTP 503: a: b",
                130,
            ),
            log("fetch", 3, "info", "step completed", 250),
        ];
        let text: Vec<String> = w.poll(&steps, &logs).into_iter().map(|l| l.text).collect();
        assert_eq!(
            text,
            [
                "fetch RETRYING after attempt 1/3 failed (next in 0.10s): HTTP 503",
                "fetch RETRYING after attempt 2/3 failed (next in 0.10s): HTTP 503: a: b",
                "fetch COMPLETED after 3 attempts",
                "notify FAILED (continued): no SMTP connection",
                "b_skipped SKIPPED",
            ]
        );
        assert!(w.poll(&steps, &logs).is_empty(), "nothing twice");
        // a line committed late, with an earlier time, is still new
        let mut later = logs.clone();
        later.insert(1, log("other", 1, "warn", "attempt 1 failed, retrying in 5ms: x", 15));
        let again = w.poll(&steps, &later);
        assert_eq!(again.len(), 1, "{again:?}");
    }

    #[test]
    fn many_cancelled_steps_are_one_line_and_verbose_shows_every_log_line() {
        let mut w = Watcher::new(shape(), true, false, at(0));
        let steps: Vec<StepRecord> = (0..10)
            .map(|i| step(&format!("s{i}"), StepStatus::Cancelled, 0, 500))
            .collect();
        let logs = vec![log("s0", 1, "info", "step started (TRANSFORM, attempt 1)", 5)];
        let text: Vec<String> = w.poll(&steps, &logs).into_iter().map(|l| l.text).collect();
        assert_eq!(
            text,
            [
                "INFO  s0#1: step started (TRANSFORM, attempt 1)",
                "10 steps CANCELLED: s0, s1, s2 and 7 more"
            ]
        );
    }

    #[test]
    fn the_status_line_has_a_fixed_total_and_the_retry_countdown() {
        let w = Watcher::new(shape(), false, true, at(0));
        let mut fetch = step("fetch", StepStatus::Waiting, 2, 0);
        fetch.next_attempt_at = Some(at(1500));
        fetch.error = Some(json!({"message": "HTTP 503", "attempt": 2}));
        let steps = vec![
            step("a", StepStatus::Completed, 1, 10),
            fetch,
            step("l[0]", StepStatus::Completed, 0, 10),
            step("l[0].x", StepStatus::Completed, 1, 10),
            step("l[1]", StepStatus::Running, 0, 10),
        ];
        let line = w.status_line(&steps, std::time::Duration::from_millis(2000), at(500));
        assert_eq!(
            line,
            "[1/4] 2.0s · iterations 1/2 · fetch: retry in 1.0s (attempt 2/3 failed: HTTP 503)"
        );
        assert_eq!(cut("abcdef", 4), "abc…");
        assert_eq!(offset(at(0), at(6620)), "+6.62s");
    }
}
