//! Figures of one workload on one setup, computed from the stored step rows.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use orbflow_engine::store::StepRecord;

use super::workloads::Shape;

/// Median and 99th percentile, in milliseconds.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Pct {
    pub(crate) p50: f64,
    pub(crate) p99: f64,
}

impl Pct {
    /// The percentiles of `samples` (nearest rank); zeros when empty.
    pub(crate) fn of(mut samples: Vec<f64>) -> Self {
        samples.sort_by(|a, b| a.total_cmp(b));
        let at = |p: f64| {
            samples
                .get(((samples.len() as f64 - 1.0) * p).round() as usize)
                .copied()
                .unwrap_or(0.0)
        };
        Self {
            p50: at(0.5),
            p99: at(0.99),
        }
    }
}

/// What one workload measured.
#[derive(Debug, Clone, Default)]
pub(crate) struct Figures {
    /// Runs started.
    pub(crate) runs: usize,
    /// Action steps executed.
    pub(crate) steps: usize,
    /// First start to last completion.
    pub(crate) secs: f64,
    /// Ready-to-start: `queued_at` → `started_at`.
    pub(crate) ready: Pct,
    /// Step-to-step: the predecessor's `ended_at` → `started_at`.
    pub(crate) step_to_step: Pct,
    /// Peak RSS (VmHWM) of the largest worker process, when measured.
    pub(crate) rss_kib: Option<u64>,
}

impl Figures {
    /// Steps per second.
    pub(crate) fn steps_per_sec(&self) -> f64 {
        self.steps as f64 / self.secs
    }

    /// Runs per second.
    pub(crate) fn runs_per_sec(&self) -> f64 {
        self.runs as f64 / self.secs
    }
}

/// How a workload ended on one setup.
#[derive(Debug, Clone)]
pub(crate) enum Outcome {
    /// Finished; its figures.
    Done(Figures),
    /// Not finished within the timeout.
    Timeout,
    /// Could not run or did not complete.
    Failed(String),
}

fn ms(later: DateTime<Utc>, earlier: DateTime<Utc>) -> Option<f64> {
    Some((later - earlier).num_microseconds()? as f64 / 1000.0)
}

/// The latencies of one run's action steps (rows with a `queued_at`):
/// ready-to-start, and step-to-step by `shape`.
pub(crate) fn latencies(shape: Shape, steps: &[StepRecord]) -> (Vec<f64>, Vec<f64>) {
    let actions: Vec<&StepRecord> = steps.iter().filter(|s| s.queued_at.is_some()).collect();
    let ready = actions.iter().filter_map(|s| ms(s.started_at?, s.queued_at?)).collect();
    let ended: HashMap<&str, DateTime<Utc>> = actions
        .iter()
        .filter_map(|s| Some((s.path.as_str(), s.ended_at?)))
        .collect();
    let step_to_step = match shape {
        Shape::Chain => actions
            .iter()
            .filter_map(|s| {
                let i: usize = s.path.strip_prefix('s')?.parse().ok()?;
                ms(s.started_at?, *ended.get(format!("s{}", i.checked_sub(1)?).as_str())?)
            })
            .collect(),
        Shape::Fan | Shape::Loop => {
            let mut ends: Vec<DateTime<Utc>> = ended.values().copied().collect();
            ends.sort();
            let last_fan = ended.iter().filter(|(k, _)| k.starts_with('f')).map(|(_, t)| *t).max();
            actions
                .iter()
                .filter_map(|s| {
                    let start = s.started_at?;
                    let pred = if shape == Shape::Fan && s.path == "join" {
                        last_fan?
                    } else {
                        // the latest end before it: the step that freed its slot
                        *ends.get(ends.partition_point(|e| *e <= start).checked_sub(1)?)?
                    };
                    ms(start, pred)
                })
                .collect()
        }
    };
    (ready, step_to_step)
}

/// Reads the peak resident set (VmHWM, KiB) of process `pid`.
pub(crate) fn peak_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}
