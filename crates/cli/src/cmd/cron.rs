//! `orbflow cron`: inspect cron schedules (DESIGN.md §6).
//!
//! `orbflow cron next "EXPR" --tz ZONE --from RFC3339 --count N` prints the
//! next N fire times strictly after `--from`, one RFC 3339 line each, in the
//! zone's own offset (`2025-10-26T01:30:00+01:00`; never `Z`). The daylight
//! saving policy is the model's: see `orbflow_model::cron`.

use std::io::{self, Write as _};

use chrono::{DateTime, SecondsFormat, Utc};
use orbflow_model::cron::Schedule;

/// Exit code for an invalid expression, zone, `--from` or `--count`.
const EXIT_INVALID: i32 = 2;

/// The most fire times one invocation prints.
const MAX_COUNT: u32 = 1000;

/// Inspect cron schedules.
#[derive(Debug, clap::Args)]
pub(crate) struct CronArgs {
    #[command(subcommand)]
    command: CronCommand,
}

#[derive(Debug, clap::Subcommand)]
enum CronCommand {
    /// Print the next fire times of a cron expression.
    ///
    /// One RFC 3339 line per fire time, in the zone's own offset. Fixed-time
    /// jobs in a spring-forward gap fire at the gap end, and once (first
    /// occurrence) in a fall-back overlap; jobs with a wildcard or stepped
    /// hour fire for every real hour.
    Next(NextArgs),
}

#[derive(Debug, clap::Args)]
struct NextArgs {
    /// The cron expression: 5 fields (minute hour day-of-month month
    /// day-of-week), 6 with seconds first, or @hourly, @daily, @weekly,
    /// @monthly, @yearly. Quote it; unquoted fields are joined with spaces.
    #[arg(value_name = "EXPR", required = true, num_args = 1..)]
    expr: Vec<String>,

    /// IANA time zone the expression is read in.
    #[arg(long, value_name = "ZONE", default_value = "UTC")]
    tz: String,

    /// Start time (RFC 3339); fire times strictly after it are printed.
    /// Default: now.
    #[arg(long, value_name = "RFC3339")]
    from: Option<String>,

    /// How many fire times to print (1 to 1000).
    #[arg(long, value_name = "N", default_value_t = 5)]
    count: u32,
}

/// Runs `orbflow cron`; returns the process exit code (0, or 2 for an
/// invalid expression, zone, `--from` or `--count`, reported on stderr as
/// `orbflow: <message>`).
pub(crate) fn run(args: CronArgs) -> anyhow::Result<i32> {
    match args.command {
        CronCommand::Next(next) => run_next(next),
    }
}

fn run_next(args: NextArgs) -> anyhow::Result<i32> {
    if !(1..=MAX_COUNT).contains(&args.count) {
        return Ok(invalid(&format!(
            "invalid --count {}: expected 1 to {MAX_COUNT}",
            args.count
        )));
    }
    let expr = args.expr.join(" ");
    let schedule = match Schedule::parse(&expr, Some(&args.tz)) {
        Ok(schedule) => schedule,
        Err(err) => return Ok(invalid(&err)),
    };
    let from = match args.from.as_deref() {
        None => Utc::now(),
        Some(text) => match DateTime::parse_from_rfc3339(text.trim()) {
            Ok(time) => time.with_timezone(&Utc),
            Err(err) => {
                return Ok(invalid(&format!(
                    "invalid --from `{text}`: expected an RFC 3339 time such as \
                     2025-10-26T00:00:00Z or 2025-10-26T01:00:00+01:00 ({err})"
                )));
            }
        },
    };
    let count = usize::try_from(args.count)?;
    let mut out = io::stdout().lock();
    for time in schedule.upcoming(from, count) {
        let line = time.to_rfc3339_opts(SecondsFormat::Secs, false);
        if let Err(err) = writeln!(out, "{line}") {
            return broken_pipe_is_fine(err);
        }
    }
    if let Err(err) = out.flush() {
        return broken_pipe_is_fine(err);
    }
    Ok(0)
}

/// Reports an invalid input on stderr and returns its exit code.
fn invalid(message: &dyn std::fmt::Display) -> i32 {
    eprintln!("orbflow: {message}");
    EXIT_INVALID
}

/// A closed stdout (`| head`) ends the listing quietly; other errors are errors.
fn broken_pipe_is_fine(err: io::Error) -> anyhow::Result<i32> {
    if err.kind() == io::ErrorKind::BrokenPipe {
        Ok(0)
    } else {
        Err(anyhow::Error::new(err).context("writing to stdout"))
    }
}
