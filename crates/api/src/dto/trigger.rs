//! The kind of trigger that started a run, as a listing filter
//! (`GET /v1/runs?triggerType=…`).

use serde::Deserialize;
use utoipa::ToSchema;

/// What started a run, as a filter: the trigger types of the DSL.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum TriggerTypeQ {
    /// Started by hand (API or CLI).
    Manual,
    /// Started by a cron schedule.
    Schedule,
    /// Started by a webhook delivery.
    Webhook,
    /// Started by an event.
    Event,
}

impl TriggerTypeQ {
    /// The stored name (`workflow_runs.trigger_type`).
    pub fn as_str(self) -> &'static str {
        orbflow_model::TriggerType::from(self).as_str()
    }
}

impl From<TriggerTypeQ> for orbflow_model::TriggerType {
    fn from(t: TriggerTypeQ) -> Self {
        match t {
            TriggerTypeQ::Manual => Self::Manual,
            TriggerTypeQ::Schedule => Self::Schedule,
            TriggerTypeQ::Webhook => Self::Webhook,
            TriggerTypeQ::Event => Self::Event,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::TriggerTypeQ;

    #[test]
    fn names_are_the_stored_ones() {
        for (name, t) in [
            ("manual", TriggerTypeQ::Manual),
            ("schedule", TriggerTypeQ::Schedule),
            ("webhook", TriggerTypeQ::Webhook),
            ("event", TriggerTypeQ::Event),
        ] {
            let parsed: TriggerTypeQ = serde_json::from_value(serde_json::Value::from(name)).unwrap();
            assert_eq!(parsed, t);
            assert_eq!(t.as_str(), name);
        }
        assert!(serde_json::from_value::<TriggerTypeQ>(serde_json::Value::from("Webhook")).is_err());
    }
}
