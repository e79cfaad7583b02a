//! The process's own metrics, beside a worker's step metrics
//! (`orbflow_worker::Metrics`), in the Prometheus text format:
//!
//! - `orbflow_runs_ended_total{status}` (counter): runs this process ended
//!   (COMPLETED, FAILED, CANCELLED).
//! - `orbflow_http_requests_total{method, route, status}` (counter) and
//!   `orbflow_http_request_duration_seconds{method, route}` (histogram):
//!   the API's requests, by route template (`/v1/runs/{id}`), never by path.
//! - `orbflow_schedule_fire_lag_seconds` (histogram): how late a cron tick
//!   started its run.
//! - From the engine's [`Stats`]: `orbflow_lease_expiries_total`,
//!   `orbflow_recovered_attempts_total`, `orbflow_redeliveries_total`,
//!   `orbflow_stale_deliveries_total`, `orbflow_stale_write_backs_total`.
//! - From the database (refreshed by [`refresh`], read at most every few
//!   seconds whatever the scrape rate): `orbflow_steps_queued`,
//!   `orbflow_steps_queued_oldest_age_seconds`, `orbflow_runs_active{status}`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{LazyLock, Mutex};
use std::time::Duration;

use orbflow_engine::Stats;
use orbflow_engine::store::{Backlog, Store};
use orbflow_model::RunStatus;

/// Upper bounds of the request-duration buckets, in seconds.
const HTTP_BUCKETS: [f64; 10] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 5.0];
/// Upper bounds of the fire-lag buckets, in seconds.
const LAG_BUCKETS: [f64; 8] = [0.1, 0.5, 1.0, 2.0, 5.0, 15.0, 60.0, 300.0];

#[derive(Debug, Default, Clone)]
struct Histogram<const N: usize> {
    /// Observations at or under each bound (not cumulative).
    counts: Vec<u64>,
    sum: f64,
    count: u64,
}

impl<const N: usize> Histogram<N> {
    fn observe(&mut self, bounds: &[f64; N], v: f64) {
        if self.counts.len() != N {
            self.counts = vec![0; N];
        }
        if let Some(i) = bounds.iter().position(|&b| v <= b) {
            self.counts[i] += 1;
        }
        self.sum += v;
        self.count += 1;
    }

    fn render(&self, out: &mut String, name: &str, labels: &str, bounds: &[f64; N]) {
        let sep = if labels.is_empty() { "" } else { "," };
        let mut cumulative = 0;
        for (i, bound) in bounds.iter().enumerate() {
            cumulative += self.counts.get(i).copied().unwrap_or(0);
            let _ = writeln!(out, "{name}_bucket{{{labels}{sep}le=\"{bound}\"}} {cumulative}");
        }
        let _ = writeln!(out, "{name}_bucket{{{labels}{sep}le=\"+Inf\"}} {}", self.count);
        let braces = if labels.is_empty() {
            String::new()
        } else {
            format!("{{{labels}}}")
        };
        let _ = writeln!(out, "{name}_sum{braces} {}", self.sum);
        let _ = writeln!(out, "{name}_count{braces} {}", self.count);
    }
}

/// (method, route) → requests by status, and their durations.
type Requests = BTreeMap<(String, String), (BTreeMap<u16, u64>, Histogram<10>)>;

#[derive(Debug, Default)]
struct Registry {
    runs_ended: [AtomicU64; 3],
    requests: Mutex<Requests>,
    fire_lag: Mutex<Histogram<8>>,
    /// Backlog gauges; `-1` until the first read.
    queued: AtomicI64,
    oldest_age_ms: AtomicI64,
    pending: AtomicI64,
    running: AtomicI64,
}

static REGISTRY: LazyLock<Registry> = LazyLock::new(|| Registry {
    queued: AtomicI64::new(-1),
    oldest_age_ms: AtomicI64::new(-1),
    pending: AtomicI64::new(-1),
    running: AtomicI64::new(-1),
    ..Registry::default()
});

const ENDED: [RunStatus; 3] = [RunStatus::Completed, RunStatus::Failed, RunStatus::Cancelled];

/// Counts a run this process ended.
pub fn run_ended(status: RunStatus) {
    if let Some(i) = ENDED.iter().position(|s| *s == status) {
        REGISTRY.runs_ended[i].fetch_add(1, Ordering::Relaxed);
    }
}

/// Counts an API request: `route` is the matched template (`None`: no
/// route matched, counted as `unmatched`).
pub fn http_request(method: &str, route: Option<&str>, status: u16, secs: f64) {
    let Ok(mut r) = REGISTRY.requests.lock() else { return };
    let key = (method.to_owned(), route.unwrap_or("unmatched").to_owned());
    let e = r.entry(key).or_default();
    *e.0.entry(status).or_default() += 1;
    e.1.observe(&HTTP_BUCKETS, secs);
}

/// Records how late a schedule tick started its run.
pub fn schedule_fired(lag: Duration) {
    if let Ok(mut h) = REGISTRY.fire_lag.lock() {
        h.observe(&LAG_BUCKETS, lag.as_secs_f64());
    }
}

/// Sets the backlog gauges from a read taken at `now` ([`refresh`] does it
/// every few seconds).
pub fn set_backlog(b: &Backlog, now: chrono::DateTime<chrono::Utc>) {
    let r = &*REGISTRY;
    r.queued
        .store(i64::try_from(b.queued_steps).unwrap_or(i64::MAX), Ordering::Relaxed);
    let age = b.oldest_queued_at.map_or(0, |t| (now - t).num_milliseconds().max(0));
    r.oldest_age_ms.store(age, Ordering::Relaxed);
    r.pending
        .store(i64::try_from(b.pending_runs).unwrap_or(i64::MAX), Ordering::Relaxed);
    r.running
        .store(i64::try_from(b.running_runs).unwrap_or(i64::MAX), Ordering::Relaxed);
}

/// Reads the backlog from `store` every `every` until `stop` fires (a
/// failed read keeps the last values and is logged).
pub async fn refresh(store: std::sync::Arc<dyn Store>, every: Duration, stop: tokio_util::sync::CancellationToken) {
    loop {
        match store.backlog().await {
            Ok(b) => set_backlog(&b, chrono::Utc::now()),
            Err(e) => tracing::warn!(error = %e, "reading the backlog for metrics failed"),
        }
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(every) => {}
        }
    }
}

fn header(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

/// A label value with `\`, `"` and newlines escaped.
fn escape(v: &str) -> String {
    v.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

/// The Prometheus text of this process's metrics; `stats` are its engine's.
pub fn render(stats: Option<&Stats>) -> String {
    let r = &*REGISTRY;
    let mut out = String::new();
    header(
        &mut out,
        "orbflow_runs_ended_total",
        "counter",
        "Runs this process ended, by status.",
    );
    for (s, n) in ENDED.iter().zip(&r.runs_ended) {
        let _ = writeln!(
            out,
            "orbflow_runs_ended_total{{status=\"{}\"}} {}",
            s.as_str(),
            n.load(Ordering::Relaxed)
        );
    }
    if let Ok(requests) = r.requests.lock()
        && !requests.is_empty()
    {
        header(
            &mut out,
            "orbflow_http_requests_total",
            "counter",
            "API requests, by method, route template and status.",
        );
        for ((method, route), (statuses, _)) in requests.iter() {
            let (method, route) = (escape(method), escape(route));
            for (status, n) in statuses {
                let _ = writeln!(
                    out,
                    "orbflow_http_requests_total{{method=\"{method}\",route=\"{route}\",status=\"{status}\"}} {n}"
                );
            }
        }
        header(
            &mut out,
            "orbflow_http_request_duration_seconds",
            "histogram",
            "API request durations, by method and route template.",
        );
        for ((method, route), (_, h)) in requests.iter() {
            let labels = format!("method=\"{}\",route=\"{}\"", escape(method), escape(route));
            h.render(
                &mut out,
                "orbflow_http_request_duration_seconds",
                &labels,
                &HTTP_BUCKETS,
            );
        }
    }
    if let Ok(h) = r.fire_lag.lock()
        && h.count > 0
    {
        header(
            &mut out,
            "orbflow_schedule_fire_lag_seconds",
            "histogram",
            "How late a cron tick started its run.",
        );
        h.render(&mut out, "orbflow_schedule_fire_lag_seconds", "", &LAG_BUCKETS);
    }
    if let Some(s) = stats {
        for (name, help, v) in [
            (
                "orbflow_lease_expiries_total",
                "Attempts found lost because their lease expired.",
                &s.lease_expiries,
            ),
            (
                "orbflow_recovered_attempts_total",
                "Attempts found lost when this process started.",
                &s.recovered,
            ),
            (
                "orbflow_redeliveries_total",
                "Lost attempts whose step went back to the queue.",
                &s.redeliveries,
            ),
            (
                "orbflow_stale_deliveries_total",
                "Deliveries ignored because their step was no longer QUEUED.",
                &s.stale_deliveries,
            ),
            (
                "orbflow_stale_write_backs_total",
                "Outcomes refused because their attempt no longer held the step.",
                &s.stale_write_backs,
            ),
        ] {
            header(&mut out, name, "counter", help);
            let _ = writeln!(out, "{name} {}", v.load(Ordering::Relaxed));
        }
    }
    let queued = r.queued.load(Ordering::Relaxed);
    if queued >= 0 {
        header(
            &mut out,
            "orbflow_steps_queued",
            "gauge",
            "Steps ready and waiting for a worker (from the database).",
        );
        let _ = writeln!(out, "orbflow_steps_queued {queued}");
        header(
            &mut out,
            "orbflow_steps_queued_oldest_age_seconds",
            "gauge",
            "How long the oldest queued step has waited (0 when none).",
        );
        let age = r.oldest_age_ms.load(Ordering::Relaxed);
        let _ = writeln!(out, "orbflow_steps_queued_oldest_age_seconds {}", age as f64 / 1000.0);
        header(
            &mut out,
            "orbflow_runs_active",
            "gauge",
            "Runs not yet ended, by status (from the database).",
        );
        let _ = writeln!(
            out,
            "orbflow_runs_active{{status=\"PENDING\"}} {}",
            r.pending.load(Ordering::Relaxed)
        );
        let _ = writeln!(
            out,
            "orbflow_runs_active{{status=\"RUNNING\"}} {}",
            r.running.load(Ordering::Relaxed)
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value(text: &str, series: &str) -> Option<f64> {
        text.lines()
            .find_map(|l| l.strip_prefix(series).and_then(|v| v.strip_prefix(' ')))
            .and_then(|v| v.parse().ok())
    }

    #[test]
    fn requests_are_counted_by_route_template_and_timed() {
        http_request("GET", Some("/v1/runs/{id}"), 200, 0.002);
        http_request("GET", Some("/v1/runs/{id}"), 404, 0.2);
        http_request("POST", None, 404, 0.0005);
        let text = render(None);
        assert!(
            value(
                &text,
                "orbflow_http_requests_total{method=\"GET\",route=\"/v1/runs/{id}\",status=\"200\"}"
            ) >= Some(1.0),
            "{text}"
        );
        assert!(
            value(
                &text,
                "orbflow_http_requests_total{method=\"POST\",route=\"unmatched\",status=\"404\"}"
            ) >= Some(1.0)
        );
        // cumulative buckets: 0.002 is under 0.0025, 0.2 is not under 0.1
        let under = value(
            &text,
            "orbflow_http_request_duration_seconds_bucket{method=\"GET\",route=\"/v1/runs/{id}\",le=\"0.0025\"}",
        )
        .unwrap();
        let all = value(
            &text,
            "orbflow_http_request_duration_seconds_bucket{method=\"GET\",route=\"/v1/runs/{id}\",le=\"+Inf\"}",
        )
        .unwrap();
        assert!(under >= 1.0 && all >= under + 1.0, "{text}");
        assert_eq!(
            value(
                &text,
                "orbflow_http_request_duration_seconds_count{method=\"GET\",route=\"/v1/runs/{id}\"}"
            ),
            Some(all)
        );
    }

    #[test]
    fn the_backlog_and_the_engines_counters_render() {
        let now = chrono::Utc::now();
        set_backlog(
            &Backlog {
                queued_steps: 7,
                oldest_queued_at: Some(now - chrono::Duration::milliseconds(2500)),
                pending_runs: 2,
                running_runs: 3,
            },
            now,
        );
        let stats = Stats::default();
        stats.stale_write_backs.fetch_add(4, Ordering::Relaxed);
        schedule_fired(Duration::from_millis(700));
        let text = render(Some(&stats));
        assert_eq!(value(&text, "orbflow_steps_queued"), Some(7.0));
        assert_eq!(value(&text, "orbflow_steps_queued_oldest_age_seconds"), Some(2.5));
        assert_eq!(value(&text, "orbflow_runs_active{status=\"RUNNING\"}"), Some(3.0));
        assert_eq!(value(&text, "orbflow_stale_write_backs_total"), Some(4.0));
        assert_eq!(value(&text, "orbflow_lease_expiries_total"), Some(0.0));
        assert!(
            value(&text, "orbflow_schedule_fire_lag_seconds_bucket{le=\"1\"}") >= Some(1.0),
            "{text}"
        );
        assert!(text.contains("# TYPE orbflow_schedule_fire_lag_seconds histogram"));
        // every sample line belongs to a declared metric
        let declared: Vec<&str> = text
            .lines()
            .filter_map(|l| l.strip_prefix("# TYPE "))
            .map(|l| l.split(' ').next().unwrap())
            .collect();
        for l in text.lines().filter(|l| !l.starts_with('#')) {
            let name = l.split(['{', ' ']).next().unwrap();
            let base = name
                .trim_end_matches("_bucket")
                .trim_end_matches("_sum")
                .trim_end_matches("_count");
            assert!(declared.contains(&name) || declared.contains(&base), "{l}");
        }
    }

    #[test]
    fn ended_runs_count_by_status() {
        let before = value(&render(None), "orbflow_runs_ended_total{status=\"FAILED\"}").unwrap();
        run_ended(RunStatus::Failed);
        run_ended(RunStatus::Running); // not an end: ignored
        let after = value(&render(None), "orbflow_runs_ended_total{status=\"FAILED\"}").unwrap();
        assert_eq!(after, before + 1.0);
    }
}
