//! Cron schedules with IANA time zones and the daylight saving policy of
//! DESIGN.md §5.
//!
//! # Expressions
//!
//! Five fields (`minute hour day-of-month month day-of-week`), or six with a
//! seconds field first (`second minute hour day-of-month month day-of-week`).
//! Fields take numbers, `*`, lists (`1,15`), ranges (`1-5`) and steps (`*/15`,
//! `10-50/20`); months and weekdays also take names (`JAN`, `MON`), weekday
//! `0` and `7` are both Sunday, and croner's day extensions work: `L` (last
//! day of the month, or with a weekday the last such weekday, `5L`), `W`
//! (nearest weekday, `15W`), `#` (nth weekday, `5#2`) and `?` (same as `*` in
//! the day fields). The aliases `@yearly`, `@annually`, `@monthly`, `@weekly`,
//! `@daily` and `@hourly` stand for their five-field forms.
//!
//! Rejected: any other field count (in particular seven-field expressions with
//! a year, which would be read differently by different cron dialects), the
//! `+` weekday prefix (croner's "day-of-month AND day-of-week", which would
//! contradict the rule below), single-number steps such as `5/15`, values out
//! of range, and expressions that can never fire (`0 0 30 2 *`). Every error
//! names the expression, and the field at fault when there is one.
//!
//! When both day-of-month and day-of-week are restricted, a day matches if
//! **either** matches (classic cron): `0 0 13 * 5` fires on every 13th and
//! on every Friday. A field written `*` (or `?`) is not a restriction.
//!
//! # Daylight saving policy
//!
//! Fire times are real instants. A schedule is matched against the wall
//! clock of its zone, and the hour field decides how a daylight saving
//! transition is handled:
//!
//! - **Interval jobs**: the hour field is a wildcard or stepped (it contains
//!   `*` or `/`, e.g. `0 * * * *`, `30 */2 * * *`, `@hourly`). They fire at
//!   every real instant whose wall clock time matches, so they follow the
//!   real hours: in a spring-forward gap the missing wall times do not fire
//!   at all, and in a fall-back overlap the repeated wall times fire twice,
//!   once at each offset (`01:30+01:00` and then `01:30+00:00` in London).
//! - **Fixed-time jobs**: every other hour field (a number, a list such as
//!   `1,13`, or a range such as `9-17`). They fire once per matching wall
//!   clock time:
//!   - a wall time that falls in a spring-forward gap fires at the first
//!     valid instant after the gap, i.e. at the gap end: `30 1 * * *` in
//!     London on 2025-03-30, when 01:00 jumps to 02:00, fires at
//!     `2025-03-30T02:00:00+01:00`, not at 02:30 (that would be an hour after
//!     the job's slot; the gap end is the earliest moment the job can run,
//!     which is what classic cron does when it catches up after a jump).
//!     Several wall times of one job falling in the same gap (`0,30 1 * * *`,
//!     or `0 1,2 * * *` whose 02:00 is the gap end itself) fire once;
//!   - a wall time that happens twice in a fall-back overlap fires once, at
//!     its first occurrence (the earlier offset): `30 1 * * *` in London on
//!     2025-10-26 fires at `2025-10-26T01:30:00+01:00` only.
//!
//! Only the hour field decides: `*/15 1 * * *` is a fixed-time job (it runs
//! in the first pass of a repeated 1 o'clock hour only, and once at the gap
//! end when the 1 o'clock hour is skipped), `0 */2 * * *` is an interval job.
//!
//! # Relation to croner
//!
//! Parsing and wall clock matching are croner's (4.x). Its own DST handling
//! follows the same rules but classifies a job as fixed-time only when the
//! second, minute *and* hour fields are each a single value, so it treats
//! `30 1,13 * * *` (a list of hours) and `0,30 1 * * *` (a list of minutes)
//! as interval jobs: it silently skips them in a spring-forward gap and runs
//! them twice in a fall-back overlap, which contradicts the policy above.
//! So croner is only asked for the next matching *wall clock* time (on a
//! naive date time, where no DST applies), and this module walks real time
//! itself, one span of constant UTC offset at a time, applying the policy at
//! each offset change. Where the two classifications agree, the unit tests
//! check that the results equal croner's own.
//!
//! Offset changes are located by probing the zone every six hours and then
//! bisecting to the second; no real zone changes its offset twice within
//! six hours.

use chrono::{DateTime, LocalResult, NaiveDate, NaiveDateTime, Offset, TimeZone, Utc};
use chrono_tz::Tz;
use croner::Cron;
use croner::parser::{CronParser, Seconds, Year};

/// A rejected cron expression or time zone.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CronError {
    /// The expression does not parse, or can never fire.
    #[error("invalid cron expression `{expr}`: {reason}")]
    Expression {
        /// The expression as given.
        expr: String,
        /// Why it was rejected, naming the field at fault when there is one.
        reason: String,
    },
    /// The time zone is not an IANA zone name.
    #[error("unknown time zone `{zone}`{}", zone_hint(.suggestion.as_deref()))]
    TimeZone {
        /// The zone name given.
        zone: String,
        /// A close IANA name, if any.
        suggestion: Option<String>,
    },
}

fn zone_hint(suggestion: Option<&str>) -> String {
    match suggestion {
        Some(name) => format!("; did you mean `{name}`?"),
        None => " (expected an IANA name such as `Europe/London` or `UTC`)".to_owned(),
    }
}

/// A parsed cron schedule in a time zone.
#[derive(Debug, Clone)]
pub struct Schedule {
    expr: String,
    cron: Cron,
    tz: Tz,
    has_seconds: bool,
    fixed_time: bool,
}

impl Schedule {
    /// Parses `expr` (5 fields, 6 with seconds first, or an `@` alias) in
    /// `timezone` (an IANA name; `None` means UTC).
    ///
    /// # Errors
    ///
    /// [`CronError::Expression`] when the expression is malformed, out of
    /// range or can never fire; [`CronError::TimeZone`] when the zone is
    /// unknown.
    pub fn parse(expr: &str, timezone: Option<&str>) -> Result<Self, CronError> {
        let compiled = compile(expr).map_err(|reason| CronError::Expression {
            expr: expr.to_owned(),
            reason,
        })?;
        let tz = match timezone {
            Some(name) => parse_timezone(name)?,
            None => Tz::UTC,
        };
        Ok(Self {
            expr: expr.trim().to_owned(),
            cron: compiled.cron,
            tz,
            has_seconds: compiled.has_seconds,
            fixed_time: compiled.fixed_time,
        })
    }

    /// The expression as written (trimmed).
    pub fn expression(&self) -> &str {
        &self.expr
    }

    /// The schedule's zone.
    pub fn timezone(&self) -> Tz {
        self.tz
    }

    /// Whether the expression has a seconds field (six fields).
    pub fn has_seconds(&self) -> bool {
        self.has_seconds
    }

    /// Whether the schedule is a fixed-time job (its hour field has no `*`
    /// and no `/`), which the daylight saving policy treats differently from
    /// an interval job; see the module documentation.
    pub fn is_fixed_time(&self) -> bool {
        self.fixed_time
    }

    /// The first fire time strictly after `after`, in the schedule's zone;
    /// `None` if there is none before croner's search limit (year 5000).
    pub fn next_after(&self, after: DateTime<Utc>) -> Option<DateTime<Tz>> {
        // Fire times are whole seconds, so the first candidate is the next
        // whole second (this also drops any fraction of a second in `after`).
        let start = after.timestamp().checked_add(1)?;
        let fire = self.fire_at_or_after(start)?;
        let utc = DateTime::<Utc>::from_timestamp(fire, 0)?;
        Some(utc.with_timezone(&self.tz))
    }

    /// The next `count` fire times strictly after `after`, in order (fewer
    /// if the schedule runs out before croner's search limit).
    pub fn upcoming(&self, after: DateTime<Utc>, count: usize) -> Vec<DateTime<Tz>> {
        let mut out = Vec::with_capacity(count.min(1024));
        let mut cursor = after;
        while out.len() < count {
            let Some(next) = self.next_after(cursor) else {
                break;
            };
            cursor = next.with_timezone(&Utc);
            out.push(next);
        }
        out
    }

    /// The first fire instant (Unix seconds) at or after `start`.
    ///
    /// Walks real time one span of constant offset at a time. Inside a span
    /// the wall clock is `instant + offset`, so croner's next wall clock match
    /// maps straight back to an instant; if that instant lies past the next
    /// offset change, the walk moves to the change and applies the policy
    /// there (gap catch-up and overlap skip for fixed-time jobs).
    fn fire_at_or_after(&self, start: i64) -> Option<i64> {
        // Each round either answers or moves to the next offset change; zones
        // change offset at most a few times a year.
        const MAX_SPANS: usize = 20_000;
        let mut t = start;
        for _ in 0..MAX_SPANS {
            let offset = self.offset_at(t)?;
            let mut wall_from = wall(t, offset)?;
            if self.fixed_time {
                let before = self.offset_at(t.checked_sub(1)?)?;
                if before < offset {
                    // `t` is the end of a spring-forward gap: a wall time of
                    // the job inside the gap fires now, once.
                    let gap_start = wall(t, before)?;
                    if self.next_wall_match(gap_start)? < wall_from {
                        return Some(t);
                    }
                }
                if let LocalResult::Ambiguous(earlier, _) = self.tz.from_local_datetime(&wall_from)
                    && earlier.timestamp() < t
                {
                    // `t` is in the second pass of a fall-back overlap, whose
                    // wall times already fired in the first pass: resume at
                    // the end of the repeated range.
                    let first_offset = i64::from(earlier.offset().fix().local_minus_utc());
                    let change = self.first_change(earlier.timestamp(), t, first_offset)?.unwrap_or(t);
                    wall_from = wall_from.max(wall(change, first_offset)?);
                }
            }
            let next_wall = self.next_wall_match(wall_from)?;
            let candidate = next_wall.and_utc().timestamp().checked_sub(offset)?;
            match self.first_change(t, candidate, offset)? {
                None => return Some(candidate),
                Some(change) => t = change,
            }
        }
        None
    }

    /// The first wall clock time at or after `from` that the expression
    /// matches (no time zone involved), or `None` past croner's limit.
    fn next_wall_match(&self, from: NaiveDateTime) -> Option<NaiveDateTime> {
        self.cron.find_next_occurrence(&from, true).ok()
    }

    /// The zone's UTC offset, in seconds, at Unix time `t`.
    fn offset_at(&self, t: i64) -> Option<i64> {
        let utc = DateTime::<Utc>::from_timestamp(t, 0)?.naive_utc();
        Some(i64::from(
            self.tz.offset_from_utc_datetime(&utc).fix().local_minus_utc(),
        ))
    }

    /// The first instant in `(from, until]` whose offset differs from
    /// `offset` (the offset at `from`): `Some(None)` if there is none.
    fn first_change(&self, from: i64, until: i64, offset: i64) -> Option<Option<i64>> {
        const PROBE: i64 = 6 * 3600;
        let mut lo = from;
        while lo < until {
            let hi = lo.saturating_add(PROBE).min(until);
            if self.offset_at(hi)? != offset {
                // Bisect (lo, hi]: the offset is `offset` at lo, not at hi.
                let (mut a, mut b) = (lo, hi);
                while b - a > 1 {
                    let mid = a + (b - a) / 2;
                    if self.offset_at(mid)? == offset {
                        a = mid;
                    } else {
                        b = mid;
                    }
                }
                return Some(Some(b));
            }
            lo = hi;
        }
        Some(None)
    }
}

/// The wall clock time at Unix time `t` under a UTC offset of `offset` seconds.
fn wall(t: i64, offset: i64) -> Option<NaiveDateTime> {
    Some(DateTime::<Utc>::from_timestamp(t.checked_add(offset)?, 0)?.naive_utc())
}

/// Parses an IANA time zone name (exact spelling, e.g. `Europe/London`,
/// `America/New_York`, `UTC`).
///
/// # Errors
///
/// [`CronError::TimeZone`] for an unknown name, with the closest IANA name as
/// the suggestion: a case-insensitive match first (`europe/london` →
/// `Europe/London`), then a city name (`london` → `Europe/London`), then the
/// name with the smallest edit distance when it is close enough.
pub fn parse_timezone(name: &str) -> Result<Tz, CronError> {
    name.parse::<Tz>().map_err(|_| CronError::TimeZone {
        zone: name.to_owned(),
        suggestion: suggest_zone(name),
    })
}

/// The IANA name closest to an unknown zone name, if one is close enough.
fn suggest_zone(name: &str) -> Option<String> {
    let wanted = normalize_zone(name);
    if wanted.is_empty() {
        return None;
    }
    let names = || chrono_tz::TZ_VARIANTS.iter().map(|tz| tz.name());
    if let Some(found) = names().find(|candidate| normalize_zone(candidate) == wanted) {
        return Some(found.to_owned());
    }
    let city_of =
        |candidate: &str| -> Option<String> { candidate.rsplit_once('/').map(|(_, city)| normalize_zone(city)) };
    if !wanted.contains('/')
        && let Some(found) = names().find(|candidate| city_of(candidate).as_deref() == Some(&wanted))
    {
        return Some(found.to_owned());
    }
    // Allow about one edit per five characters, at least one and at most three.
    let limit = (wanted.chars().count() / 5).clamp(1, 3);
    let mut best: Option<(usize, &str)> = None;
    for candidate in names() {
        let mut distance = edit_distance(&wanted, &normalize_zone(candidate));
        if !wanted.contains('/')
            && let Some(city) = city_of(candidate)
        {
            distance = distance.min(edit_distance(&wanted, &city));
        }
        if distance <= limit && best.is_none_or(|(d, _)| distance < d) {
            best = Some((distance, candidate));
        }
    }
    best.map(|(_, found)| found.to_owned())
}

/// Lower case, trimmed, spaces as underscores: how zone names are compared.
fn normalize_zone(name: &str) -> String {
    name.trim().to_lowercase().replace(' ', "_")
}

/// Levenshtein distance, by characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    let mut current = vec![0; b.len() + 1];
    for (i, ca) in a.chars().enumerate() {
        current[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitute = previous[j] + usize::from(ca != *cb);
            current[j + 1] = substitute.min(previous[j + 1] + 1).min(current[j] + 1);
        }
        std::mem::swap(&mut previous, &mut current);
    }
    previous[b.len()]
}

/// A parsed expression and what the DST policy needs to know about it.
struct Compiled {
    cron: Cron,
    has_seconds: bool,
    fixed_time: bool,
}

const ALIASES: [(&str, &str); 6] = [
    ("@yearly", "0 0 1 1 *"),
    ("@annually", "0 0 1 1 *"),
    ("@monthly", "0 0 1 * *"),
    ("@weekly", "0 0 * * 0"),
    ("@daily", "0 0 * * *"),
    ("@hourly", "0 * * * *"),
];

/// Field names and allowed values, seconds first.
const FIELDS: [(&str, &str); 6] = [
    ("second", "0-59"),
    ("minute", "0-59"),
    ("hour", "0-23"),
    ("day-of-month", "1-31, L, W, ?"),
    ("month", "1-12 or JAN-DEC"),
    ("day-of-week", "0-7 or SUN-SAT (0 and 7 are Sunday), L, #, ?"),
];

fn parser() -> CronParser {
    // Seconds optional: 5 fields, or 6 with seconds first. No year field.
    // `dom_and_dow` stays off: both day fields restricted means either.
    CronParser::builder()
        .seconds(Seconds::Optional)
        .year(Year::Disallowed)
        .build()
}

/// Parses an expression; the error is the reason, without the expression.
fn compile(expr: &str) -> Result<Compiled, String> {
    let trimmed = expr.trim();
    if trimmed.is_empty() {
        return Err("the expression is empty; expected 5 fields \
                    (minute hour day-of-month month day-of-week) or 6 (second first)"
            .to_owned());
    }
    let text = if trimmed.starts_with('@') {
        ALIASES
            .iter()
            .find(|(alias, _)| alias.eq_ignore_ascii_case(trimmed))
            .map(|(_, expansion)| *expansion)
            .ok_or_else(|| {
                let known: Vec<&str> = ALIASES.iter().map(|(alias, _)| *alias).collect();
                format!("unknown alias `{trimmed}`; expected one of {}", known.join(", "))
            })?
    } else {
        trimmed
    };
    let fields: Vec<&str> = text.split_whitespace().collect();
    let names: &[(&str, &str)] = match fields.len() {
        5 => &FIELDS[1..],
        6 => &FIELDS[..],
        n => {
            let year = if n == 7 { " (a year field is not supported)" } else { "" };
            return Err(format!(
                "expected 5 fields (minute hour day-of-month month day-of-week) \
                 or 6 (second first), found {n}{year}"
            ));
        }
    };
    if fields.last().is_some_and(|dow| dow.starts_with('+')) {
        return Err("the `+` day-of-week prefix is not supported: when day-of-month \
                    and day-of-week are both restricted, either one matching is enough"
            .to_owned());
    }
    // Parse each field on its own first, so that an error names its field.
    let mut probe = ["0", "0", "0", "*", "*", "*"];
    let offset = 6 - fields.len();
    for (i, (field, (name, allowed))) in fields.iter().zip(names).enumerate() {
        let slot = i + offset;
        let saved = probe[slot];
        probe[slot] = field;
        if let Err(err) = parser().parse(&probe.join(" ")) {
            return Err(format!(
                "{name} field `{field}`: {} (allowed: {allowed})",
                describe(&err)
            ));
        }
        probe[slot] = saved;
    }
    let cron = parser().parse(text).map_err(|err| describe(&err))?;
    // Reject expressions that never fire (30 February). Every pattern repeats
    // within the 400-year Gregorian cycle, which croner's search covers.
    let epoch = NaiveDate::from_ymd_opt(2000, 1, 1)
        .and_then(|date| date.and_hms_opt(0, 0, 0))
        .ok_or("internal error: bad epoch")?;
    if cron.find_next_occurrence(&epoch, true).is_err() {
        return Err("it never fires: no date matches its day-of-month, month \
                    and day-of-week fields"
            .to_owned());
    }
    let hour = fields[fields.len() - 4];
    Ok(Compiled {
        cron,
        has_seconds: fields.len() == 6,
        fixed_time: !hour.contains(['*', '/']),
    })
}

/// croner's error as a lower case phrase without its type prefix.
fn describe(err: &croner::errors::CronError) -> String {
    use croner::errors::CronError as E;
    let text = match err {
        E::ComponentError(msg) | E::InvalidPattern(msg) => msg.clone(),
        E::IllegalCharacters(_) => "unexpected characters".to_owned(),
        other => other.to_string(),
    };
    let text = text.trim().trim_end_matches('.');
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => "invalid".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::SecondsFormat;
    use std::str::FromStr as _;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn fires(expr: &str, zone: &str, from: &str, count: usize) -> Vec<String> {
        Schedule::parse(expr, Some(zone))
            .unwrap()
            .upcoming(utc(from), count)
            .iter()
            .map(|t| t.to_rfc3339_opts(SecondsFormat::Secs, false))
            .collect()
    }

    fn reason(expr: &str) -> String {
        match Schedule::parse(expr, None) {
            Err(CronError::Expression { expr: e, reason }) => {
                assert_eq!(e, expr);
                reason
            }
            other => panic!("{expr}: expected an expression error, got {other:?}"),
        }
    }

    #[test]
    fn parses_five_and_six_fields_and_aliases() {
        let five = Schedule::parse("0 9 * * 1-5", Some("Europe/London")).unwrap();
        assert!(!five.has_seconds());
        assert_eq!(five.expression(), "0 9 * * 1-5");
        assert_eq!(five.timezone(), chrono_tz::Europe::London);
        let six = Schedule::parse("*/10 0 9 * * MON-FRI", None).unwrap();
        assert!(six.has_seconds());
        assert_eq!(six.timezone(), Tz::UTC);
        for alias in ["@yearly", "@annually", "@monthly", "@weekly", "@daily", "@HOURLY"] {
            Schedule::parse(alias, None).unwrap();
        }
        assert_eq!(
            fires("@hourly", "UTC", "2025-01-01T00:00:00Z", 2),
            ["2025-01-01T01:00:00+00:00", "2025-01-01T02:00:00+00:00"]
        );
        assert_eq!(
            fires("@weekly", "UTC", "2025-01-01T00:00:00Z", 1),
            ["2025-01-05T00:00:00+00:00"]
        );
    }

    #[test]
    fn classifies_by_the_hour_field() {
        for (expr, fixed) in [
            ("30 1 * * *", true),
            ("30 1,13 * * *", true),
            ("0,30 1 * * *", true),
            ("*/15 9-17 * * *", true),
            ("0 * * * *", false),
            ("0 */2 * * *", false),
            ("0 1-23/2 * * *", false),
            ("@hourly", false),
            ("@daily", true),
            ("0 0 * * * *", false),
        ] {
            assert_eq!(Schedule::parse(expr, None).unwrap().is_fixed_time(), fixed, "{expr}");
        }
    }

    #[test]
    fn errors_name_the_field() {
        assert_eq!(
            reason("60 * * * *"),
            "minute field `60`: number out of bounds (allowed: 0-59)"
        );
        assert!(reason("0 24 * * *").starts_with("hour field `24`"));
        assert!(reason("0 0 32 * *").starts_with("day-of-month field `32`"));
        assert!(reason("0 0 * 13 *").starts_with("month field `13`"));
        assert!(reason("0 0 * * 8").starts_with("day-of-week field `8`"));
        assert!(reason("61 0 0 * * *").starts_with("second field `61`"));
        assert!(reason("x * * * *").starts_with("minute field `x`: unexpected characters"));
        assert!(reason("5/15 * * * *").starts_with("minute field `5/15`"));
        assert!(reason("* * * *").contains("found 4"));
        assert!(reason("0 0 0 1 1 * 2030").contains("found 7 (a year field is not supported)"));
        assert!(reason("").contains("empty"));
        assert!(reason("@reboot").starts_with("unknown alias `@reboot`"));
        assert!(reason("0 0 * * +5").contains("`+`"));
        assert!(reason("0 0 30 2 *").contains("never fires"));
        // The Display form names the expression.
        let err = Schedule::parse("0 0 32 * *", None).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("invalid cron expression `0 0 32 * *`: day-of-month field")
        );
    }

    #[test]
    fn time_zone_suggestions() {
        let suggestion = |name: &str| match parse_timezone(name) {
            Err(CronError::TimeZone { zone, suggestion }) => {
                assert_eq!(zone, name);
                suggestion
            }
            other => panic!("{name}: expected a zone error, got {other:?}"),
        };
        assert_eq!(suggestion("europe/london").as_deref(), Some("Europe/London"));
        assert_eq!(suggestion("AMERICA/NEW_YORK").as_deref(), Some("America/New_York"));
        assert_eq!(suggestion("America/New York").as_deref(), Some("America/New_York"));
        assert_eq!(suggestion("Europe/Londn").as_deref(), Some("Europe/London"));
        assert_eq!(suggestion("Amercia/New_York").as_deref(), Some("America/New_York"));
        assert_eq!(suggestion("london").as_deref(), Some("Europe/London"));
        assert_eq!(suggestion("Sydny").as_deref(), Some("Australia/Sydney"));
        assert_eq!(suggestion("Mars/Olympus_Mons"), None);
        assert_eq!(suggestion(""), None);
        let err = parse_timezone("europe/london").unwrap_err();
        assert_eq!(
            err.to_string(),
            "unknown time zone `europe/london`; did you mean `Europe/London`?"
        );
        assert!(
            parse_timezone("Nowhere/Atall")
                .unwrap_err()
                .to_string()
                .contains("expected an IANA name")
        );
        assert_eq!(parse_timezone("UTC").unwrap(), Tz::UTC);
        assert_eq!(
            parse_timezone("Australia/Sydney").unwrap(),
            chrono_tz::Australia::Sydney
        );
    }

    #[test]
    fn strictly_after_and_fractional_seconds() {
        let schedule = Schedule::parse("0 * * * *", None).unwrap();
        let at = utc("2025-01-01T10:00:00Z");
        assert_eq!(schedule.next_after(at).unwrap(), utc("2025-01-01T11:00:00Z"));
        let before = at - chrono::Duration::milliseconds(1);
        assert_eq!(schedule.next_after(before).unwrap(), at);
        let after = at + chrono::Duration::milliseconds(1);
        assert_eq!(schedule.next_after(after).unwrap(), utc("2025-01-01T11:00:00Z"));
    }

    #[test]
    fn leap_day_and_year_limit() {
        assert_eq!(
            fires("0 0 29 2 *", "Europe/London", "2025-01-01T00:00:00Z", 2),
            ["2028-02-29T00:00:00+00:00", "2032-02-29T00:00:00+00:00"]
        );
        // croner stops at year 5000: the schedule runs out, it does not hang.
        let schedule = Schedule::parse("0 0 1 1 *", None).unwrap();
        assert_eq!(
            schedule.upcoming(utc("4998-06-01T00:00:00Z"), 5),
            [utc("4999-01-01T00:00:00Z"), utc("5000-01-01T00:00:00Z")]
        );
        assert!(schedule.next_after(utc("5000-01-01T00:00:00Z")).is_none());
    }

    #[test]
    fn fixed_time_list_in_gap_differs_from_croner() {
        // croner treats a list of hours as an interval job and skips 01:30
        // on the spring-forward day; the policy fires it at the gap end.
        assert_eq!(
            fires("30 1,13 * * *", "Europe/London", "2025-03-30T00:00:00Z", 3),
            [
                "2025-03-30T02:00:00+01:00",
                "2025-03-30T13:30:00+01:00",
                "2025-03-31T01:30:00+01:00"
            ]
        );
        // croner runs a list of minutes twice in the overlap; the policy once.
        assert_eq!(
            fires("0,30 1 * * *", "Europe/London", "2025-10-25T23:00:00Z", 3),
            [
                "2025-10-26T01:00:00+01:00",
                "2025-10-26T01:30:00+01:00",
                "2025-10-27T01:00:00+00:00"
            ]
        );
    }

    /// Where croner classifies a job as this module does (second, minute and
    /// hour each a single value, or a wildcard or stepped hour), both must
    /// give the same fire times across a year of transitions in several zones.
    #[test]
    fn agrees_with_croner_where_classifications_agree() {
        let zones = [
            "Europe/London",
            "America/New_York",
            "Australia/Sydney",
            "Australia/Lord_Howe",
            "America/Santiago",
            "Asia/Tokyo",
        ];
        let exprs = [
            "30 1 * * *",
            "30 2 * * *",
            "0 2 * * *",
            "0 0 * * *",
            "0 * * * *",
            "30 * * * *",
            "0 */2 * * *",
            "*/20 * * * *",
            "15 30 1 * * *",
            "0 3 * * 0",
            "45 2 1 * *",
        ];
        let from = utc("2025-01-01T00:00:00Z");
        let until = utc("2026-01-01T00:00:00Z");
        let parser = parser();
        for zone in zones {
            let tz: Tz = zone.parse().unwrap();
            for expr in exprs {
                let ours = Schedule::parse(expr, Some(zone)).unwrap();
                let theirs = parser.parse(expr).unwrap();
                let croner_fixed = theirs.determine_job_type() == croner::JobType::FixedTime;
                assert_eq!(croner_fixed, ours.is_fixed_time(), "{expr}");
                let mut mine = Vec::new();
                let mut cursor = from;
                while let Some(next) = ours.next_after(cursor) {
                    if next > until {
                        break;
                    }
                    cursor = next.with_timezone(&Utc);
                    mine.push(next);
                }
                let croners: Vec<_> = theirs
                    .iter_after(from.with_timezone(&tz))
                    .take_while(|t| *t <= until)
                    .collect();
                assert_eq!(mine.len(), croners.len(), "{expr} in {zone}");
                for (a, b) in mine.iter().zip(&croners) {
                    assert_eq!(a, b, "{expr} in {zone}");
                    assert_eq!(a.offset().fix(), b.offset().fix(), "{expr} in {zone}");
                }
            }
        }
        // Sanity: croner parses what we parse.
        assert!(Cron::from_str("0 0 * * *").is_ok());
    }
}
