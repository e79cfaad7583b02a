//! Cron schedules (stub: being written).

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

/// A rejected cron expression or time zone.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CronError {
    /// The expression does not parse.
    #[error("invalid cron expression `{expr}`: {reason}")]
    Expression {
        /// The expression.
        expr: String,
        /// Why.
        reason: String,
    },
    /// The time zone is not an IANA zone name.
    #[error("unknown time zone `{zone}`")]
    TimeZone {
        /// The zone name given.
        zone: String,
        /// A close IANA name, if any.
        suggestion: Option<String>,
    },
}

/// A parsed cron schedule in a time zone.
#[derive(Debug, Clone)]
pub struct Schedule {
    tz: Tz,
}

impl Schedule {
    /// Parses `expr` (5 or 6 fields) in `timezone` (IANA; default UTC).
    pub fn parse(_expr: &str, _timezone: Option<&str>) -> Result<Self, CronError> {
        Ok(Self { tz: Tz::UTC })
    }

    /// The schedule's zone.
    pub fn timezone(&self) -> Tz {
        self.tz
    }

    /// The first fire time strictly after `after`.
    pub fn next_after(&self, _after: DateTime<Utc>) -> Option<DateTime<Tz>> {
        None
    }

    /// The next `count` fire times strictly after `after`.
    pub fn upcoming(&self, after: DateTime<Utc>, count: usize) -> Vec<DateTime<Tz>> {
        let _ = (after, count);
        Vec::new()
    }
}
