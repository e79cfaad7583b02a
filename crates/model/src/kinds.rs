//! Closed sets of names that are stored and shown as stable strings: what
//! started a run, a workflow's status, the level of a run log line or of a
//! notification. Each is an enum whose `as_str` is the stored string and
//! whose `FromStr` reads it back (anything else is an [`UnknownName`]).

/// A string that names none of an enum's values.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {kind} `{value}`")]
pub struct UnknownName {
    /// What was read: `trigger type`, `log level`, ….
    pub kind: &'static str,
    /// The string.
    pub value: String,
}

/// An enum of names stored as stable strings: `as_str`, `Display`, `FromStr`
/// (an [`UnknownName`] naming `kind`), serde with the given case, `ALL`.
macro_rules! name_enum {
    ($(#[$m:meta])* $name:ident ($kind:literal, $case:literal) { $($(#[$vm:meta])* $v:ident => $s:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, ::serde::Serialize, ::serde::Deserialize, ::schemars::JsonSchema)]
        #[serde(rename_all = $case)]
        pub enum $name { $($(#[$vm])* $v),+ }

        impl $name {
            /// Every value, in declaration order (a lifecycle's, in its order).
            pub const ALL: &'static [$name] = &[$($name::$v),+];

            /// The stable string stored in the database and shown in the API.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$v => $s),+ }
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl ::std::str::FromStr for $name {
            type Err = $crate::kinds::UnknownName;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($s => Ok($name::$v),)+
                    _ => Err($crate::kinds::UnknownName { kind: $kind, value: s.to_owned() }),
                }
            }
        }
    };
}

pub(crate) use name_enum;

name_enum!(
    /// What started a run (`workflow_runs.trigger_type`).
    TriggerType("trigger type", "lowercase") {
        /// By hand: the CLI or `POST /v1/workflows/{id}/runs`.
        Manual => "manual",
        /// A cron schedule.
        Schedule => "schedule",
        /// A webhook delivery.
        Webhook => "webhook",
        /// A published event.
        Event => "event",
    }
);

name_enum!(
    /// A workflow's status (`workflows.status`).
    WorkflowStatus("workflow status", "SCREAMING_SNAKE_CASE") {
        /// Created, never published: no trigger fires.
        Draft => "DRAFT",
        /// A version is published: its triggers fire.
        Active => "ACTIVE",
        /// Archived: no trigger fires, runs are kept.
        Archived => "ARCHIVED",
    }
);

name_enum!(
    /// The level of a run log line (`run_logs.level`).
    LogLevel("log level", "lowercase") {
        /// Detail.
        Debug => "debug",
        /// Normal progress.
        Info => "info",
        /// Something odd but not fatal.
        Warn => "warn",
        /// A failure.
        Error => "error",
    }
);

name_enum!(
    /// The level of an in-app notification (`notifications.level`).
    NotificationLevel("notification level", "lowercase") {
        /// For information.
        Info => "info",
        /// Needs attention.
        Warning => "warning",
        /// Something failed.
        Error => "error",
    }
);

impl crate::Trigger {
    /// The kind of this trigger, as runs it starts record it.
    pub fn trigger_type(&self) -> TriggerType {
        match self {
            Self::Manual {} => TriggerType::Manual,
            Self::Schedule { .. } => TriggerType::Schedule,
            Self::Webhook { .. } => TriggerType::Webhook,
            Self::Event { .. } => TriggerType::Event,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::fmt;
    use std::str::FromStr;

    use serde::Serialize;

    use super::*;

    fn round_trips<T>(all: &[T])
    where
        T: Copy + fmt::Debug + PartialEq + fmt::Display + FromStr<Err = UnknownName> + Serialize,
    {
        for v in all {
            let s = v.to_string();
            assert_eq!(s.parse::<T>(), Ok(*v));
            assert_eq!(serde_json::to_value(v).unwrap(), serde_json::Value::String(s));
        }
    }

    #[test]
    fn names_round_trip_through_their_stored_strings() {
        round_trips(TriggerType::ALL);
        round_trips(WorkflowStatus::ALL);
        round_trips(LogLevel::ALL);
        round_trips(NotificationLevel::ALL);
        assert_eq!(TriggerType::Webhook.as_str(), "webhook");
        assert_eq!(WorkflowStatus::Active.as_str(), "ACTIVE");
        assert_eq!(NotificationLevel::Warning.as_str(), "warning");
        let back: LogLevel = serde_json::from_str("\"warn\"").unwrap();
        assert_eq!(back, LogLevel::Warn);
    }

    #[test]
    fn an_unknown_string_is_an_error_naming_the_kind() {
        let e = "cron".parse::<TriggerType>().unwrap_err();
        assert_eq!(e.to_string(), "unknown trigger type `cron`");
        assert_eq!("active".parse::<WorkflowStatus>().unwrap_err().kind, "workflow status");
        assert_eq!("WARN".parse::<LogLevel>().unwrap_err().value, "WARN");
        assert!("warn".parse::<NotificationLevel>().is_err());
    }

    #[test]
    fn catch_up_and_schemes_read_back_their_dsl_names() {
        use crate::{CatchUp, VerifyScheme};
        for c in [CatchUp::Skip, CatchUp::Latest, CatchUp::All] {
            assert_eq!(c.as_str().parse::<CatchUp>(), Ok(c));
            assert_eq!(serde_json::to_value(c).unwrap(), c.as_str());
        }
        assert_eq!(
            "later".parse::<CatchUp>().unwrap_err().to_string(),
            "unknown catch-up policy `later`"
        );
        assert_eq!("hmac-sha256".parse::<VerifyScheme>(), Ok(VerifyScheme::HmacSha256));
        assert_eq!(
            "hmac".parse::<VerifyScheme>().unwrap_err().to_string(),
            "unknown webhook scheme `hmac`"
        );
    }

    #[test]
    fn each_trigger_has_its_type() {
        let wf = crate::dsl::parse(
            "schemaVersion: 1\nname: t\ntriggers:\n  - {type: manual}\n  - {type: schedule, cron: '0 * * * *'}\n  - {type: webhook, key: k, verify: {scheme: none}}\n  - {type: event, event: a.b}\nsteps:\n  - {key: a, action: TRANSFORM, config: {value: 1}}\n",
            crate::dsl::Format::Yaml,
        )
        .unwrap()
        .workflow;
        let types: Vec<_> = wf.triggers.iter().map(crate::Trigger::trigger_type).collect();
        assert_eq!(types, TriggerType::ALL);
        for t in &wf.triggers {
            assert_eq!(t.trigger_type().as_str(), t.type_name());
        }
    }
}
