//! Cron schedules across daylight saving transitions (DESIGN.md §5):
//! fixed-time jobs fire at the gap end in a spring-forward gap and once (first
//! occurrence) in a fall-back overlap; jobs with a wildcard or stepped hour
//! fire for every real hour.
//!
//! Transitions used (all 2025):
//! - Europe/London: 03-30 01:00 GMT → 02:00 BST (gap 01:00–02:00);
//!   10-26 02:00 BST → 01:00 GMT (01:00–02:00 happens twice).
//! - America/New_York: 03-09 02:00 EST → 03:00 EDT (gap 02:00–03:00);
//!   11-02 02:00 EDT → 01:00 EST (01:00–02:00 happens twice).
//! - Australia/Sydney: 04-06 03:00 AEDT → 02:00 AEST (02:00–03:00 twice);
//!   10-05 02:00 AEST → 03:00 AEDT (gap 02:00–03:00).

use chrono::{DateTime, SecondsFormat, Utc};
use orbflow_model::cron::{CronError, Schedule, parse_timezone};

fn at(rfc3339: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(rfc3339)
        .expect("test time")
        .with_timezone(&Utc)
}

/// The next `count` fire times after `from`, as RFC 3339 in the zone's offset.
fn fires(expr: &str, zone: &str, from: &str, count: usize) -> Vec<String> {
    let schedule = Schedule::parse(expr, Some(zone)).expect("valid schedule");
    let times = schedule.upcoming(at(from), count);
    // `upcoming` is `next_after` chained on its own results.
    let mut cursor = at(from);
    for time in &times {
        let next = schedule.next_after(cursor).expect("next");
        assert_eq!(&next, time);
        assert!(next.with_timezone(&Utc) > cursor, "strictly after");
        cursor = next.with_timezone(&Utc);
    }
    times
        .iter()
        .map(|t| t.to_rfc3339_opts(SecondsFormat::Secs, false))
        .collect()
}

// ---------------------------------------------------------------- fixed time

#[test]
fn fixed_time_in_spring_forward_gap_fires_at_gap_end() {
    // London: 01:30 does not exist on 2025-03-30; the first valid instant
    // after the gap is 02:00 BST.
    assert_eq!(
        fires("30 1 * * *", "Europe/London", "2025-03-29T00:00:00Z", 3),
        [
            "2025-03-29T01:30:00+00:00",
            "2025-03-30T02:00:00+01:00",
            "2025-03-31T01:30:00+01:00",
        ]
    );
    // New York: 02:30 does not exist on 2025-03-09.
    assert_eq!(
        fires("30 2 * * *", "America/New_York", "2025-03-08T00:00:00-05:00", 3),
        [
            "2025-03-08T02:30:00-05:00",
            "2025-03-09T03:00:00-04:00",
            "2025-03-10T02:30:00-04:00",
        ]
    );
    // Sydney: 02:30 does not exist on 2025-10-05.
    assert_eq!(
        fires("30 2 * * *", "Australia/Sydney", "2025-10-04T00:00:00+10:00", 3),
        [
            "2025-10-04T02:30:00+10:00",
            "2025-10-05T03:00:00+11:00",
            "2025-10-06T02:30:00+11:00",
        ]
    );
}

#[test]
fn fixed_time_gap_edges() {
    // One second before the gap: the catch-up run is the next fire.
    assert_eq!(
        fires("30 1 * * *", "Europe/London", "2025-03-30T00:59:59Z", 1),
        ["2025-03-30T02:00:00+01:00"]
    );
    // At the gap end itself: strictly after, so the catch-up is past.
    assert_eq!(
        fires("30 1 * * *", "Europe/London", "2025-03-30T02:00:00+01:00", 1),
        ["2025-03-31T01:30:00+01:00"]
    );
    // Several wall times in one gap, and one at the gap end itself: once.
    assert_eq!(
        fires("0,30 1 * * *", "Europe/London", "2025-03-30T00:00:00Z", 2),
        ["2025-03-30T02:00:00+01:00", "2025-03-31T01:00:00+01:00"]
    );
    assert_eq!(
        fires("0 1,2 * * *", "Europe/London", "2025-03-30T00:00:00Z", 3),
        [
            "2025-03-30T02:00:00+01:00",
            "2025-03-31T01:00:00+01:00",
            "2025-03-31T02:00:00+01:00",
        ]
    );
    // A list of hours is still fixed-time (croner alone would skip 02:30).
    assert_eq!(
        fires("30 2,14 * * *", "America/New_York", "2025-03-09T00:00:00-05:00", 2),
        ["2025-03-09T03:00:00-04:00", "2025-03-09T14:30:00-04:00"]
    );
    // A fixed hour with stepped minutes: the skipped hour runs once.
    assert_eq!(
        fires("*/15 1 * * *", "Europe/London", "2025-03-30T00:00:00Z", 2),
        ["2025-03-30T02:00:00+01:00", "2025-03-31T01:00:00+01:00"]
    );
}

#[test]
fn fixed_time_in_fall_back_overlap_fires_once_at_first_occurrence() {
    assert_eq!(
        fires("30 1 * * *", "Europe/London", "2025-10-25T12:00:00Z", 2),
        ["2025-10-26T01:30:00+01:00", "2025-10-27T01:30:00+00:00"]
    );
    assert_eq!(
        fires("30 1 * * *", "America/New_York", "2025-11-01T12:00:00-04:00", 2),
        ["2025-11-02T01:30:00-04:00", "2025-11-03T01:30:00-05:00"]
    );
    assert_eq!(
        fires("30 2 * * *", "Australia/Sydney", "2025-04-05T12:00:00+11:00", 2),
        ["2025-04-06T02:30:00+11:00", "2025-04-07T02:30:00+10:00"]
    );
}

#[test]
fn fixed_time_overlap_never_fires_in_the_second_pass() {
    // From just after the first 01:30, and from inside the second pass
    // (before and after its 01:30): next is the following day.
    for from in [
        "2025-10-26T01:30:00+01:00",
        "2025-10-26T01:45:00+01:00",
        "2025-10-26T01:00:00+00:00",
        "2025-10-26T01:15:00+00:00",
        "2025-10-26T01:30:00+00:00",
    ] {
        assert_eq!(
            fires("30 1 * * *", "Europe/London", from, 1),
            ["2025-10-27T01:30:00+00:00"],
            "from {from}"
        );
    }
    // A fixed hour with several minutes runs through the first pass only.
    assert_eq!(
        fires("0,30 1 * * *", "America/New_York", "2025-11-02T00:00:00-04:00", 3),
        [
            "2025-11-02T01:00:00-04:00",
            "2025-11-02T01:30:00-04:00",
            "2025-11-03T01:00:00-05:00",
        ]
    );
    // A wall time after the repeated range, reached from its second pass.
    assert_eq!(
        fires("0 2 * * *", "Europe/London", "2025-10-26T01:10:00+00:00", 1),
        ["2025-10-26T02:00:00+00:00"]
    );
}

// ------------------------------------------------------------------ interval

#[test]
fn hourly_job_across_spring_forward_skips_the_missing_hour() {
    assert_eq!(
        fires("0 * * * *", "Europe/London", "2025-03-29T23:30:00Z", 3),
        [
            "2025-03-30T00:00:00+00:00",
            "2025-03-30T02:00:00+01:00",
            "2025-03-30T03:00:00+01:00",
        ]
    );
    assert_eq!(
        fires("30 * * * *", "Europe/London", "2025-03-29T23:45:00Z", 3),
        [
            "2025-03-30T00:30:00+00:00",
            "2025-03-30T02:30:00+01:00",
            "2025-03-30T03:30:00+01:00",
        ]
    );
    assert_eq!(
        fires("30 * * * *", "America/New_York", "2025-03-09T01:00:00-05:00", 3),
        [
            "2025-03-09T01:30:00-05:00",
            "2025-03-09T03:30:00-04:00",
            "2025-03-09T04:30:00-04:00",
        ]
    );
    assert_eq!(
        fires("@hourly", "Australia/Sydney", "2025-10-05T01:30:00+10:00", 2),
        ["2025-10-05T03:00:00+11:00", "2025-10-05T04:00:00+11:00"]
    );
}

#[test]
fn hourly_job_across_fall_back_fires_in_both_passes() {
    assert_eq!(
        fires("30 * * * *", "Europe/London", "2025-10-25T23:00:00Z", 4),
        [
            "2025-10-26T00:30:00+01:00",
            "2025-10-26T01:30:00+01:00",
            "2025-10-26T01:30:00+00:00",
            "2025-10-26T02:30:00+00:00",
        ]
    );
    assert_eq!(
        fires("0 * * * *", "Europe/London", "2025-10-25T22:30:00Z", 4),
        [
            "2025-10-26T00:00:00+01:00",
            "2025-10-26T01:00:00+01:00",
            "2025-10-26T01:00:00+00:00",
            "2025-10-26T02:00:00+00:00",
        ]
    );
    assert_eq!(
        fires("30 * * * *", "America/New_York", "2025-11-02T00:45:00-04:00", 3),
        [
            "2025-11-02T01:30:00-04:00",
            "2025-11-02T01:30:00-05:00",
            "2025-11-02T02:30:00-05:00",
        ]
    );
    // Starting inside the second pass continues in it.
    assert_eq!(
        fires("30 * * * *", "America/New_York", "2025-11-02T01:00:00-05:00", 2),
        ["2025-11-02T01:30:00-05:00", "2025-11-02T02:30:00-05:00"]
    );
}

#[test]
fn hourly_job_fires_for_every_real_hour_of_the_day() {
    let count_on = |expr: &str, zone: &str, from: &str, until: &str| {
        let schedule = Schedule::parse(expr, Some(zone)).expect("valid");
        schedule
            .upcoming(at(from), 100)
            .into_iter()
            .filter(|t| t.with_timezone(&Utc) < at(until))
            .count()
    };
    // A 23-hour and a 25-hour local day.
    assert_eq!(
        count_on(
            "0 * * * *",
            "Europe/London",
            "2025-03-29T23:59:59Z",
            "2025-03-30T23:00:00Z"
        ),
        23
    );
    assert_eq!(
        count_on(
            "0 * * * *",
            "Europe/London",
            "2025-10-25T22:59:59Z",
            "2025-10-27T00:00:00Z"
        ),
        25
    );
    assert_eq!(
        count_on(
            "0 * * * *",
            "America/New_York",
            "2025-11-01T23:59:59-04:00",
            "2025-11-03T00:00:00-05:00"
        ),
        25
    );
}

#[test]
fn every_minute_job_fires_every_real_minute_through_transitions() {
    for (zone, from) in [
        ("Europe/London", "2025-03-30T00:00:00Z"),
        ("Europe/London", "2025-10-26T00:00:00Z"),
        ("America/New_York", "2025-03-09T06:00:00Z"),
        ("America/New_York", "2025-11-02T04:00:00Z"),
        ("Australia/Sydney", "2025-04-05T15:00:00Z"),
        ("Australia/Sydney", "2025-10-04T15:00:00Z"),
    ] {
        let schedule = Schedule::parse("* * * * *", Some(zone)).expect("valid");
        let times = schedule.upcoming(at(from), 180);
        assert_eq!(times.len(), 180);
        for pair in times.windows(2) {
            assert_eq!((pair[1] - pair[0]).num_seconds(), 60, "{zone}: {pair:?}");
        }
    }
}

#[test]
fn stepped_hour_job_follows_real_hours() {
    // London: hour 1 is the repeated/missing hour, which */2 does not match.
    assert_eq!(
        fires("0 */2 * * *", "Europe/London", "2025-03-29T23:30:00Z", 3),
        [
            "2025-03-30T00:00:00+00:00",
            "2025-03-30T02:00:00+01:00",
            "2025-03-30T04:00:00+01:00",
        ]
    );
    assert_eq!(
        fires("0 */2 * * *", "Europe/London", "2025-10-25T22:30:00Z", 3),
        [
            "2025-10-26T00:00:00+01:00",
            "2025-10-26T02:00:00+00:00",
            "2025-10-26T04:00:00+00:00",
        ]
    );
    // Sydney: 02:00 happens twice in April and not at all in October.
    assert_eq!(
        fires("0 */2 * * *", "Australia/Sydney", "2025-04-05T23:30:00+11:00", 4),
        [
            "2025-04-06T00:00:00+11:00",
            "2025-04-06T02:00:00+11:00",
            "2025-04-06T02:00:00+10:00",
            "2025-04-06T04:00:00+10:00",
        ]
    );
    assert_eq!(
        fires("0 */2 * * *", "Australia/Sydney", "2025-10-04T23:30:00+10:00", 2),
        ["2025-10-05T00:00:00+10:00", "2025-10-05T04:00:00+11:00"]
    );
    // New York: 02:00 is missing in March; a stepped range over odd hours
    // meets the repeated 01:00 in November twice.
    assert_eq!(
        fires("0 */2 * * *", "America/New_York", "2025-03-08T23:30:00-05:00", 2),
        ["2025-03-09T00:00:00-05:00", "2025-03-09T04:00:00-04:00"]
    );
    assert_eq!(
        fires("0 1-23/2 * * *", "America/New_York", "2025-11-02T00:00:00-04:00", 3),
        [
            "2025-11-02T01:00:00-04:00",
            "2025-11-02T01:00:00-05:00",
            "2025-11-02T03:00:00-05:00",
        ]
    );
}

// ------------------------------------------------------------------- seconds

#[test]
fn six_field_seconds_jobs() {
    assert_eq!(
        fires("15 0 9 * * *", "Europe/London", "2025-07-01T00:00:00Z", 2),
        ["2025-07-01T09:00:15+01:00", "2025-07-02T09:00:15+01:00"]
    );
    // Interval (wildcard hour): every 30 s, through the New York overlap.
    assert_eq!(
        fires("*/30 * * * * *", "America/New_York", "2025-11-02T01:59:00-04:00", 4),
        [
            "2025-11-02T01:59:30-04:00",
            "2025-11-02T01:00:00-05:00",
            "2025-11-02T01:00:30-05:00",
            "2025-11-02T01:01:00-05:00",
        ]
    );
    // Fixed time with seconds: gap end, then once in the overlap.
    assert_eq!(
        fires("45 30 1 * * *", "Europe/London", "2025-03-30T00:00:00Z", 2),
        ["2025-03-30T02:00:00+01:00", "2025-03-31T01:30:45+01:00"]
    );
    assert_eq!(
        fires("*/20 30 1 * * *", "Europe/London", "2025-10-26T00:00:00Z", 4),
        [
            "2025-10-26T01:30:00+01:00",
            "2025-10-26T01:30:20+01:00",
            "2025-10-26T01:30:40+01:00",
            "2025-10-27T01:30:00+00:00",
        ]
    );
}

// ----------------------------------------------------------------- day rules

#[test]
fn day_of_month_and_day_of_week_both_restricted_either_matches() {
    // January 2025: Fridays 3, 10, 17, 24, 31; the 13th is a Monday.
    assert_eq!(
        fires("0 0 13 * 5", "Europe/London", "2025-01-01T00:00:00Z", 6),
        [
            "2025-01-03T00:00:00+00:00",
            "2025-01-10T00:00:00+00:00",
            "2025-01-13T00:00:00+00:00",
            "2025-01-17T00:00:00+00:00",
            "2025-01-24T00:00:00+00:00",
            "2025-01-31T00:00:00+00:00",
        ]
    );
    // July 2025 in New York: Fridays 4, 11, 18, 25; the 13th is a Sunday.
    assert_eq!(
        fires("0 0 13 * FRI", "America/New_York", "2025-07-01T00:00:00-04:00", 5),
        [
            "2025-07-04T00:00:00-04:00",
            "2025-07-11T00:00:00-04:00",
            "2025-07-13T00:00:00-04:00",
            "2025-07-18T00:00:00-04:00",
            "2025-07-25T00:00:00-04:00",
        ]
    );
    // A `*` day field is not a restriction.
    assert_eq!(
        fires("0 0 13 * *", "Europe/London", "2025-01-01T00:00:00Z", 2),
        ["2025-01-13T00:00:00+00:00", "2025-02-13T00:00:00+00:00"]
    );
    assert_eq!(
        fires("0 0 * * 5", "Europe/London", "2025-01-01T00:00:00Z", 2),
        ["2025-01-03T00:00:00+00:00", "2025-01-10T00:00:00+00:00"]
    );
}

// -------------------------------------------------------------------- errors

#[test]
fn invalid_expressions_are_rejected_with_the_expression_named() {
    for (expr, expected) in [
        ("* * * *", "expected 5 fields"),
        ("0 0 0 1 1 * 2030", "a year field is not supported"),
        ("60 * * * *", "minute field `60`"),
        ("0 24 * * *", "hour field `24`"),
        ("0 0 32 * *", "day-of-month field `32`"),
        ("0 0 * 13 *", "month field `13`"),
        ("0 0 * * 8", "day-of-week field `8`"),
        ("hello world this is cron", "minute field `hello`"),
        ("*/0 * * * *", "step cannot be zero"),
        ("", "empty"),
        ("@reboot", "unknown alias `@reboot`"),
        ("0 0 30 2 *", "never fires"),
    ] {
        let err = Schedule::parse(expr, Some("Europe/London")).expect_err(&format!("`{expr}` must be rejected"));
        match &err {
            CronError::Expression { expr: named, reason } => {
                assert_eq!(named, expr);
                assert!(reason.contains(expected), "`{expr}`: {reason}");
            }
            other => panic!("`{expr}`: {other:?}"),
        }
        assert!(
            err.to_string()
                .starts_with(&format!("invalid cron expression `{expr}`: ")),
            "{err}"
        );
    }
}

#[test]
fn invalid_time_zones_suggest_the_closest_iana_name() {
    for (zone, suggestion) in [
        ("europe/london", Some("Europe/London")),
        ("america/new_york", Some("America/New_York")),
        ("America/New York", Some("America/New_York")),
        ("Europe/Londom", Some("Europe/London")),
        ("Australia/Sidney", Some("Australia/Sydney")),
        ("Mars/Olympus_Mons", None),
    ] {
        let err = Schedule::parse("0 9 * * *", Some(zone)).expect_err(zone);
        assert_eq!(
            err,
            CronError::TimeZone {
                zone: zone.to_owned(),
                suggestion: suggestion.map(str::to_owned),
            }
        );
        assert_eq!(parse_timezone(zone), Err(err.clone()));
        let message = err.to_string();
        assert!(message.starts_with(&format!("unknown time zone `{zone}`")));
        if let Some(name) = suggestion {
            assert!(message.ends_with(&format!("did you mean `{name}`?")), "{message}");
        }
    }
    // The default zone is UTC.
    let schedule = Schedule::parse("0 9 * * *", None).expect("valid");
    assert_eq!(schedule.timezone(), chrono_tz::Tz::UTC);
    assert_eq!(
        schedule
            .next_after(at("2025-01-01T00:00:00Z"))
            .expect("next")
            .to_rfc3339_opts(SecondsFormat::Secs, false),
        "2025-01-01T09:00:00+00:00"
    );
}
