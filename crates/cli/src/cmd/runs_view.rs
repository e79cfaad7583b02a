//! How `orbflow runs get` and `orbflow runs list` show what the API returns
//! to people: a run's step timeline, a table of runs; and the `--since` /
//! `--until` / `--status` / `--trigger-type` filters of the listing.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::cmd::run::summary::{error_message, run_error};

fn time(v: &Value, field: &str) -> Option<DateTime<Utc>> {
    v.get(field)
        .and_then(Value::as_str)
        .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
        .map(|t| t.with_timezone(&Utc))
}

fn text<'a>(v: &'a Value, field: &str) -> &'a str {
    v.get(field).and_then(Value::as_str).unwrap_or("")
}

fn secs(from: DateTime<Utc>, to: DateTime<Utc>) -> String {
    format!("{:.2}s", (to - from).num_milliseconds() as f64 / 1000.0)
}

/// A run (`GET /v1/runs/{id}`) as a header and one row per step execution
/// ordered by start (path, status, attempts, start offset, duration);
/// steps that never started (skipped, cancelled, pending) come last.
/// `first_starts` (step path → RFC 3339, from the run log) gives a retried
/// step's first attempt's start, where the record has its last one's.
pub(crate) fn timeline(run: &Value, first_starts: &HashMap<String, String>) -> String {
    let origin = time(run, "startedAt").or_else(|| time(run, "createdAt"));
    let mut out = format!("run {} {}", text(run, "id"), text(run, "status"));
    let took = match (time(run, "startedAt"), time(run, "endedAt")) {
        (Some(a), Some(b)) => format!(" in {}", secs(a, b)),
        _ => String::new(),
    };
    out.push_str(&format!(
        "{took} (version {}, trigger {}",
        run.get("version").and_then(Value::as_i64).unwrap_or(0),
        text(run, "triggerType")
    ));
    if let Some(t) = run.get("traceId").and_then(Value::as_str) {
        out.push_str(&format!(", trace {t}"));
    }
    out.push_str(")\n");
    let empty = serde_json::Map::new();
    let steps = run.get("stepExecutions").and_then(Value::as_object).unwrap_or(&empty);
    let start_of = |path: &str, s: &Value| {
        first_starts
            .get(path)
            .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
            .map(|t| t.with_timezone(&Utc))
            .or_else(|| time(s, "startedAt"))
    };
    let mut rows: Vec<(&String, &Value)> = steps.iter().collect();
    rows.sort_by_key(|(path, s)| {
        let start = start_of(path, s);
        (start.is_none(), start, time(s, "endedAt"), *path)
    });
    let width = rows.iter().map(|(p, _)| p.len()).max().unwrap_or(4).max(4);
    out.push_str(&format!(
        "{:<width$}  {:<9}  {:>8}  {:>9}  {:>9}\n",
        "STEP", "STATUS", "ATTEMPTS", "START", "DURATION"
    ));
    for (path, s) in rows {
        let first = start_of(path, s);
        let start = match (origin, first) {
            (Some(o), Some(t)) => format!("+{}", secs(o, t)),
            _ => "-".to_owned(),
        };
        let took = match (first, time(s, "endedAt")) {
            (Some(a), Some(b)) => secs(a, b),
            _ => "-".to_owned(),
        };
        let attempts = s.get("attempts").and_then(Value::as_i64).unwrap_or(0);
        out.push_str(&format!(
            "{path:<width$}  {:<9}  {attempts:>8}  {start:>9}  {took:>9}",
            text(s, "status")
        ));
        if let Some(e) = s.get("error").filter(|e| !e.is_null()) {
            out.push_str(&format!("  {}", error_message(e)));
        }
        out.push('\n');
    }
    if let Some(e) = run.get("error").filter(|e| !e.is_null()) {
        out.push_str(&format!("error: {}\n", run_error(e)));
    }
    out
}

/// A page of runs (`GET /v1/runs`) as a table: id, workflow (its slug when
/// `slugs` knows the id), status, started, duration.
pub(crate) fn table(page: &Value, slugs: &HashMap<String, String>) -> String {
    let items = page.get("items").and_then(Value::as_array).cloned().unwrap_or_default();
    let rows: Vec<[String; 5]> = items
        .iter()
        .map(|r| {
            let wf = text(r, "workflowId");
            let started = time(r, "startedAt").or_else(|| time(r, "createdAt"));
            let took = match (time(r, "startedAt"), time(r, "endedAt")) {
                (Some(a), Some(b)) => secs(a, b),
                _ => "-".to_owned(),
            };
            [
                text(r, "id").to_owned(),
                slugs.get(wf).cloned().unwrap_or_else(|| wf.to_owned()),
                text(r, "status").to_owned(),
                started.map_or_else(|| "-".to_owned(), |t| t.format("%Y-%m-%d %H:%M:%S").to_string()),
                took,
            ]
        })
        .collect();
    let head = ["ID", "WORKFLOW", "STATUS", "STARTED (UTC)", "DURATION"];
    let mut widths = head.map(str::len);
    for r in &rows {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line = |cells: [&str; 5]| {
        let mut l = String::new();
        for (i, (c, w)) in cells.iter().zip(widths).enumerate() {
            if i == 4 {
                l.push_str(&format!("{c:>w$}"));
            } else {
                l.push_str(&format!("{c:<w$}  "));
            }
        }
        l.trim_end().to_owned() + "\n"
    };
    let mut out = line(head);
    for r in &rows {
        out.push_str(&line([&r[0], &r[1], &r[2], &r[3], &r[4]]));
    }
    if page.get("nextCursor").and_then(Value::as_str).is_some() {
        out.push_str("(more: raise --limit, or narrow with --since/--until)\n");
    }
    out
}

/// `--since`/`--until` as the API takes them (RFC 3339): an RFC 3339 time
/// as it is, or a duration ago (`30m`, `2h`, `7d`) from `now`.
pub(crate) fn when(arg: &str, now: DateTime<Utc>) -> Result<String, String> {
    if let Ok(t) = DateTime::parse_from_rfc3339(arg.trim()) {
        return Ok(t
            .with_timezone(&Utc)
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true));
    }
    match arg.trim().parse::<orbflow_model::Duration>() {
        Ok(d) => Ok((now - d.to_chrono()).to_rfc3339_opts(chrono::SecondsFormat::Millis, true)),
        Err(_) => Err(format!(
            "`{arg}` is neither an RFC 3339 time (2025-01-31T08:00:00Z) nor a duration ago (30m, 2h, 7d)"
        )),
    }
}

/// `--status` in any case, as the API spells it; an unknown one is an error.
pub(crate) fn status(arg: &str) -> Result<String, String> {
    let up = arg.trim().to_ascii_uppercase();
    match up.as_str() {
        "PENDING" | "RUNNING" | "COMPLETED" | "FAILED" | "CANCELLED" => Ok(up),
        _ => Err(format!(
            "`{arg}` is not a run status (pending, running, completed, failed, cancelled)"
        )),
    }
}

/// `--trigger-type` in any case, as the API spells it; an unknown one is
/// an error.
pub(crate) fn trigger_type(arg: &str) -> Result<String, String> {
    let known: Vec<_> = orbflow_model::TriggerType::ALL.iter().map(|t| t.as_str()).collect();
    let known = known.join(", ");
    match arg.trim().to_ascii_lowercase().parse::<orbflow_model::TriggerType>() {
        Ok(t) => Ok(t.as_str().to_owned()),
        Err(_) => Err(format!("`{arg}` is not a trigger type ({known})")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_timeline_is_ordered_by_start() {
        let run = json!({
            "id": "r1", "status": "FAILED", "version": 2, "triggerType": "manual",
            "createdAt": "2025-01-01T00:00:00Z",
            "startedAt": "2025-01-01T00:00:00Z", "endedAt": "2025-01-01T00:00:05Z",
            "error": {"message": "step `b` failed", "step": "b", "cause": {"message": "HTTP 503", "attempts": 4}},
            "stepExecutions": {
                "a": {"status": "COMPLETED", "attempts": 1, "startedAt": "2025-01-01T00:00:01Z", "endedAt": "2025-01-01T00:00:02Z", "error": null},
                "b": {"status": "FAILED", "attempts": 4, "startedAt": "2025-01-01T00:00:00.500Z", "endedAt": "2025-01-01T00:00:04Z", "error": {"message": "HTTP 503", "attempts": 4}},
                "c": {"status": "CANCELLED", "attempts": 0, "startedAt": null, "endedAt": "2025-01-01T00:00:04Z", "error": null},
            },
        });
        // the log knows when `b`'s first attempt started
        let starts = HashMap::from([("b".to_owned(), "2025-01-01T00:00:00.250Z".to_owned())]);
        let t = timeline(&run, &starts);
        let lines: Vec<&str> = t.lines().collect();
        assert!(lines[0].starts_with("run r1 FAILED in 5.00s (version 2"), "{t}");
        assert!(
            lines[2].starts_with("b ")
                && lines[2].contains("+0.25s")
                && lines[2].contains("3.75s")
                && lines[2].ends_with("HTTP 503"),
            "{t}"
        );
        assert!(
            lines[3].starts_with("a ") && lines[3].contains("+1.00s") && lines[3].contains("1.00s"),
            "{t}"
        );
        assert!(lines[4].starts_with("c ") && lines[4].contains('-'), "{t}");
        assert_eq!(lines[5], "error: step `b` failed after 4 attempts: HTTP 503");
    }

    #[test]
    fn filters_read_like_people_write_them() {
        let now = DateTime::parse_from_rfc3339("2025-01-02T00:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(when("2h", now).unwrap(), "2025-01-01T22:00:00.000Z");
        assert_eq!(
            when("2025-01-01T10:00:00+01:00", now).unwrap(),
            "2025-01-01T09:00:00.000Z"
        );
        assert!(when("yesterday", now).is_err());
        assert_eq!(status("failed").unwrap(), "FAILED");
        assert!(status("done").is_err());
        assert_eq!(trigger_type("Webhook").unwrap(), "webhook");
        assert_eq!(trigger_type(" event ").unwrap(), "event");
        let e = trigger_type("cron").unwrap_err();
        assert!(e.contains("manual, schedule, webhook, event"), "{e}");
    }
}
