//! The final markdown tables: every figure, and each orbflow figure's ratio
//! to BullMQ's from the same run.

use std::fmt::Write;

use crate::acceptance::sql_count::SqlFigures;
use crate::support::stats::{Figures, Outcome, Pct};

/// Where a workload ran.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Setup {
    /// Engine and worker in the bench process, SQLite file.
    Embedded,
    /// N `orbflow worker` processes, Postgres + Redis.
    Fleet(usize),
    /// N BullMQ `Worker`s in one Node process, its own Redis.
    BullMq(usize),
}

impl Setup {
    fn label(self) -> String {
        match self {
            Self::Embedded => "embedded".into(),
            Self::Fleet(n) => format!("fleet x{n}"),
            Self::BullMq(n) => format!("BullMQ x{n}"),
        }
    }

    /// The BullMQ setup an orbflow setup is compared with.
    fn reference(self) -> Option<Self> {
        match self {
            Self::Embedded => Some(Self::BullMq(1)),
            Self::Fleet(n) => Some(Self::BullMq(n)),
            Self::BullMq(_) => None,
        }
    }
}

/// One workload on one setup.
#[derive(Debug, Clone)]
pub(crate) struct Row {
    /// Workload name.
    pub(crate) workload: String,
    /// Where it ran.
    pub(crate) setup: Setup,
    /// How it went.
    pub(crate) outcome: Outcome,
}

/// Milliseconds with fewer decimals as they grow.
fn ms(x: f64) -> String {
    match x.abs() {
        v if v >= 100.0 => format!("{x:.0}"),
        v if v >= 10.0 => format!("{x:.1}"),
        _ => format!("{x:.2}"),
    }
}

fn pct(p: Pct) -> String {
    format!("{} / {}", ms(p.p50), ms(p.p99))
}

/// The cells of a row without figures: `what` under seconds and steps/s.
fn blank(what: &str) -> Vec<String> {
    let mut cells = vec![String::new(); 9];
    cells[2] = what.to_owned();
    cells[3] = what.to_owned();
    cells[5] = "—".into();
    cells
}

fn done(outcome: &Outcome) -> Option<&Figures> {
    match outcome {
        Outcome::Done(f) => Some(f),
        _ => None,
    }
}

/// One progress line (while the bench runs).
pub(crate) fn progress(row: &Row) -> String {
    let what = match &row.outcome {
        Outcome::Done(f) => format!(
            "{} steps in {:.3} s = {:.0} steps/s; step-to-step {} ms; ready-to-start {} ms",
            f.steps,
            f.secs,
            f.steps_per_sec(),
            pct(f.step_to_step),
            pct(f.ready)
        ),
        Outcome::Timeout => "timeout".into(),
        Outcome::Failed(e) => format!("failed: {e}"),
    };
    format!("{:<18} {:<11} {what}", row.workload, row.setup.label())
}

/// The table of every row, orbflow's with their ratio to BullMQ.
pub(crate) fn figures(rows: &[Row]) -> String {
    let mut t = String::from(
        "| workload | setup | runs | steps | seconds | steps/s | runs/s | orbflow / BullMQ | step-to-step p50 / p99 ms | ready-to-start p50 / p99 ms | peak RSS MiB |\n\
         | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n",
    );
    for row in rows {
        let reference = row
            .setup
            .reference()
            .and_then(|s| rows.iter().find(|r| r.workload == row.workload && r.setup == s))
            .and_then(|r| done(&r.outcome));
        let cells: Vec<String> = match &row.outcome {
            Outcome::Done(f) => {
                let ratio = match (row.setup.reference(), reference) {
                    (None, _) => "—".to_owned(),
                    (Some(_), Some(b)) => format!("{:.2}", f.steps_per_sec() / b.steps_per_sec()),
                    (Some(_), None) => "n/a".to_owned(),
                };
                let runs_per_sec = if f.runs > 1 {
                    format!("{:.1}", f.runs_per_sec())
                } else {
                    "—".into()
                };
                vec![
                    f.runs.to_string(),
                    f.steps.to_string(),
                    format!("{:.3}", f.secs),
                    format!("{:.0}", f.steps_per_sec()),
                    runs_per_sec,
                    ratio,
                    pct(f.step_to_step),
                    pct(f.ready),
                    f.rss_kib.map_or("—".into(), |k| format!("{:.0}", k as f64 / 1024.0)),
                ]
            }
            Outcome::Timeout => blank("timeout"),
            Outcome::Failed(e) => blank(&format!("failed: {}", e.replace('|', "/"))),
        };
        let cells = cells.join(" | ");
        let _ = writeln!(t, "| {} | {} | {cells} |", row.workload, row.setup.label());
    }
    t
}

/// The table of SQL statements per step.
pub(crate) fn sql(results: &[SqlFigures]) -> String {
    let mut t = String::from(
        "| workload | steps | statements | per step | SELECT | INSERT | UPDATE | DELETE | other | `FOR UPDATE` reads per step |\n\
         | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n",
    );
    for r in results {
        let _ = match &r.counted {
            Ok((steps, c)) => {
                let per = |n: u64| n as f64 / (*steps).max(1) as f64;
                writeln!(
                    t,
                    "| {} | {steps} | {} | {:.2} | {} | {} | {} | {} | {} | {:.2} |",
                    r.name,
                    c.total(),
                    per(c.total()),
                    c.select,
                    c.insert,
                    c.update,
                    c.delete,
                    c.other,
                    per(c.locking_reads)
                )
            }
            Err(e) => writeln!(t, "| {} | {} | | | | | | | | |", r.name, e.replace('|', "/")),
        };
    }
    t
}
