//! Durations as the DSL writes them: `500ms`, `30s`, `10m`, `2h`, `1d`.

use std::fmt;
use std::str::FromStr;

use schemars::JsonSchema;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A non-negative span of time with millisecond precision.
///
/// Parsed from a number followed by one unit (`ms`, `s`, `m`, `h`, `d`) and
/// always printed in its canonical form: the largest unit that divides it
/// exactly (`90s` stays `90s`, `60000ms` becomes `1m`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Duration {
    millis: u64,
}

/// Why a duration string was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid duration `{input}`: {reason} (expected a number and a unit: 500ms, 30s, 10m, 2h, 1d)")]
pub struct ParseDurationError {
    input: String,
    reason: &'static str,
}

const UNITS: [(&str, u64); 5] = [
    ("d", 86_400_000),
    ("h", 3_600_000),
    ("m", 60_000),
    ("s", 1_000),
    ("ms", 1),
];

/// The longest duration the DSL accepts (366 days), so that arithmetic on
/// timestamps can never overflow.
pub const MAX_DURATION_MILLIS: u64 = 366 * 86_400_000;

impl Duration {
    /// A duration of `millis` milliseconds.
    pub const fn from_millis(millis: u64) -> Self {
        Self { millis }
    }

    /// A duration of `secs` seconds.
    pub const fn from_secs(secs: u64) -> Self {
        Self { millis: secs * 1000 }
    }

    /// Length in milliseconds.
    pub const fn as_millis(self) -> u64 {
        self.millis
    }

    /// The same span as a [`chrono::Duration`].
    pub fn to_chrono(self) -> chrono::Duration {
        chrono::Duration::milliseconds(i64::try_from(self.as_millis()).unwrap_or(i64::MAX / 1_000_000))
    }

    /// The same span as a [`std::time::Duration`].
    pub const fn to_std(self) -> std::time::Duration {
        std::time::Duration::from_millis(self.millis)
    }
}

impl FromStr for Duration {
    type Err = ParseDurationError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = |reason| ParseDurationError {
            input: s.to_owned(),
            reason,
        };
        let t = s.trim();
        let digits = t.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return Err(err("it does not start with a number"));
        }
        let (num, unit) = t.split_at(digits);
        let n: u64 = num.parse().map_err(|_| err("the number is too large"))?;
        let factor = match unit {
            "ms" => 1,
            "s" => 1_000,
            "m" => 60_000,
            "h" => 3_600_000,
            "d" => 86_400_000,
            "" => return Err(err("the unit is missing")),
            _ => return Err(err("the unit is not one of ms, s, m, h, d")),
        };
        let millis = n
            .checked_mul(factor)
            .filter(|m| *m <= MAX_DURATION_MILLIS)
            .ok_or_else(|| err("it is longer than 366 days"))?;
        Ok(Self { millis })
    }
}

impl fmt::Display for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.millis == 0 {
            return f.write_str("0s");
        }
        for (unit, factor) in UNITS {
            if self.millis.is_multiple_of(factor) {
                return write!(f, "{}{unit}", self.millis / factor);
            }
        }
        unreachable!("every duration is a whole number of milliseconds")
    }
}

impl Serialize for Duration {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Duration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

impl JsonSchema for Duration {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Duration".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "pattern": "^[0-9]+(ms|s|m|h|d)$",
            "description": "A duration: a number and one unit, e.g. 500ms, 30s, 10m, 2h, 1d.",
            "examples": ["30s"]
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_unit() {
        for (s, ms) in [
            ("500ms", 500),
            ("30s", 30_000),
            ("10m", 600_000),
            ("2h", 7_200_000),
            ("1d", 86_400_000),
            ("0s", 0),
        ] {
            assert_eq!(s.parse::<Duration>().unwrap().as_millis(), ms, "{s}");
        }
    }

    #[test]
    fn rejects_bad_input_with_reason() {
        for (s, reason) in [
            ("", "does not start with a number"),
            ("ms", "does not start with a number"),
            ("10", "unit is missing"),
            ("10w", "not one of"),
            ("1.5s", "not one of"),
            ("-1s", "does not start with a number"),
            ("99999999999999999999s", "too large"),
            ("367d", "longer than 366 days"),
        ] {
            let e = s.parse::<Duration>().unwrap_err().to_string();
            assert!(e.contains(reason), "{s}: {e}");
        }
    }

    #[test]
    fn prints_canonical_form() {
        for (ms, s) in [
            (90_000, "90s"),
            (60_000, "1m"),
            (1_500, "1500ms"),
            (0, "0s"),
            (86_400_000, "1d"),
        ] {
            assert_eq!(Duration::from_millis(ms).to_string(), s);
            assert_eq!(s.parse::<Duration>().unwrap().as_millis(), ms);
        }
    }
}
