//! The missed-tick policy.
//!
//! A tick is *on time* while it is less than the grace period old; older
//! ticks were missed (no scheduler ran). On-time ticks always fire. Missed
//! ones: `skip` (default) fires none, `latest` fires the most recent one,
//! `all` fires each of them, at most [`MAX_CATCH_UP`].

use chrono::{DateTime, Utc};
use orbflow_model::CatchUp;
use orbflow_model::cron::Schedule;

/// Most missed ticks `catchUp: all` fires at once.
pub const MAX_CATCH_UP: usize = 100;

/// The ticks to fire now, and the next tick after `now`.
pub fn due(
    schedule: &Schedule,
    first: DateTime<Utc>,
    now: DateTime<Utc>,
    catch_up: CatchUp,
    grace: chrono::Duration,
) -> (Vec<DateTime<Utc>>, Option<DateTime<Utc>>) {
    let mut all = Vec::new();
    let mut t = first;
    // every tick from `first` up to now (bounded: a per-second cron down for a day is 86,400)
    while t <= now && all.len() < 100_000 {
        all.push(t);
        match schedule.next_after(t) {
            Some(n) => t = n.with_timezone(&Utc),
            None => break,
        }
    }
    let next = if t > now {
        Some(t)
    } else {
        schedule.next_after(now).map(|n| n.with_timezone(&Utc))
    };
    let (missed, on_time): (Vec<_>, Vec<_>) = all.into_iter().partition(|t| now - *t > grace);
    let mut fire = match catch_up {
        CatchUp::Latest => missed.last().copied().into_iter().collect(),
        CatchUp::All => missed.iter().rev().take(MAX_CATCH_UP).rev().copied().collect(),
        CatchUp::Skip => Vec::new(),
    };
    fire.extend(on_time);
    (fire, next)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn on_time_ticks_fire_and_missed_ones_follow_the_policy() {
        let s = Schedule::parse("0 * * * *", None).unwrap();
        let grace = chrono::Duration::seconds(60);
        // one tick, on time
        let (fire, next) = due(
            &s,
            t("2026-01-01T10:00:00Z"),
            t("2026-01-01T10:00:05Z"),
            CatchUp::Skip,
            grace,
        );
        assert_eq!(fire, [t("2026-01-01T10:00:00Z")]);
        assert_eq!(next, Some(t("2026-01-01T11:00:00Z")));
        // down from 10:00 to 13:00:30: 10, 11, 12 missed, 13 on time
        let now = t("2026-01-01T13:00:30Z");
        let first = t("2026-01-01T10:00:00Z");
        assert_eq!(due(&s, first, now, CatchUp::Skip, grace).0, [t("2026-01-01T13:00:00Z")]);
        assert_eq!(
            due(&s, first, now, CatchUp::Latest, grace).0,
            [t("2026-01-01T12:00:00Z"), t("2026-01-01T13:00:00Z")]
        );
        assert_eq!(due(&s, first, now, CatchUp::All, grace).0.len(), 4);
        // all missed, nothing on time: skip fires nothing and moves on
        let (fire, next) = due(&s, first, t("2026-01-01T12:30:00Z"), CatchUp::Skip, grace);
        assert!(fire.is_empty());
        assert_eq!(next, Some(t("2026-01-01T13:00:00Z")));
    }

    #[test]
    fn catch_up_all_is_bounded() {
        let s = Schedule::parse("* * * * *", None).unwrap();
        let (fire, _) = due(
            &s,
            t("2026-01-01T00:00:00Z"),
            t("2026-01-02T00:00:00Z"),
            CatchUp::All,
            chrono::Duration::seconds(60),
        );
        // 23:59 (exactly 60s old) and 00:00 are on time; 100 of the missed ones fire
        assert_eq!(fire.len(), MAX_CATCH_UP + 2);
    }
}
