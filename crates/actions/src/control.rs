//! Control-flow actions: DELAY, and the CONDITIONAL_BRANCH and LOOP blocks.
//!
//! DELAY is data for the engine: it returns [`Outcome::WaitUntil`] and the
//! engine keeps the wake time in the database, so a restart resumes the
//! timer instead of starting it over. The two blocks are written as
//! `type: condition|switch|loop` steps; their entries document the block
//! parameters and cannot be used as a step's `action`.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use orbflow_model::validate::config as config_format;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::json;

use crate::action::{Action, ActionContext, ActionError, Outcome};
use crate::spec::{ActionSpec, Category, schema_of};

/// A DELAY duration: milliseconds or a duration string, at most 366 days.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum DelayDuration {
    /// Milliseconds.
    Millis(u64),
    /// A duration string: `500ms`, `30s`, `10m`, `2h`, `1d`.
    Text(orbflow_model::Duration),
}

impl JsonSchema for DelayDuration {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "DelayDuration".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "Milliseconds or a duration string, at most 366 days.",
            "anyOf": [
                {
                    "type": "integer",
                    "minimum": 0,
                    "maximum": orbflow_model::duration::MAX_DURATION_MILLIS,
                    "description": "Milliseconds."
                },
                {
                    "type": "string",
                    "format": config_format::DURATION,
                    "description": "A duration string: `500ms`, `30s`, `10m`, `2h`, `1d`.",
                    "examples": ["10m"]
                }
            ]
        })
    }
}

/// DELAY config: exactly one of `duration` and `until` (a `null` counts as
/// absent, as it does when the step runs).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schemars(extend("oneOf" = [
    { "required": ["duration"], "properties": { "duration": { "not": { "type": "null" } } } },
    { "required": ["until"], "properties": { "until": { "type": "string" } } }
]))]
pub struct DelayConfig {
    /// How long to wait.
    #[serde(default)]
    pub duration: Option<DelayDuration>,
    /// Wait until this instant (RFC 3339).
    #[serde(default)]
    #[schemars(extend("format" = config_format::DATE_TIME))]
    pub until: Option<String>,
}

/// DELAY: a durable timer.
#[derive(Debug, Clone, Copy, Default)]
pub struct Delay;

#[async_trait::async_trait]
impl Action for Delay {
    async fn execute(&self, ctx: ActionContext) -> Result<Outcome, ActionError> {
        let cfg: DelayConfig =
            serde_json::from_value(ctx.config).map_err(|e| ActionError::fatal(format!("invalid DELAY config: {e}")))?;
        let until = match (cfg.duration, cfg.until) {
            (Some(d), None) => {
                let ms = match d {
                    DelayDuration::Millis(ms) => ms,
                    DelayDuration::Text(d) => d.as_millis(),
                };
                if ms > orbflow_model::duration::MAX_DURATION_MILLIS {
                    return Err(ActionError::fatal("DELAY duration is longer than 366 days"));
                }
                let ms = i64::try_from(ms).map_err(|_| ActionError::fatal("DELAY duration too long"))?;
                ctx.now + chrono::Duration::milliseconds(ms)
            }
            (None, Some(u)) => DateTime::parse_from_rfc3339(&u)
                .map_err(|e| ActionError::fatal(format!("DELAY `until` is not RFC 3339 (`{u}`): {e}")))?
                .with_timezone(&Utc),
            (Some(_), Some(_)) => return Err(ActionError::fatal("DELAY takes `duration` or `until`, not both")),
            (None, None) => return Err(ActionError::fatal("DELAY needs `duration` or `until`")),
        };
        Ok(Outcome::WaitUntil {
            until,
            output: json!({ "until": until.to_rfc3339_opts(chrono::SecondsFormat::Millis, true) }),
        })
    }
}

/// A block has no executable action: the engine evaluates it.
#[derive(Debug, Clone, Copy)]
struct Block(&'static str);

#[async_trait::async_trait]
impl Action for Block {
    async fn execute(&self, _ctx: ActionContext) -> Result<Outcome, ActionError> {
        Err(ActionError::fatal(format!(
            "{} is a control-flow block, evaluated by the engine, not an action",
            self.0
        )))
    }
}

/// CONDITIONAL_BRANCH parameters (written as a `type: condition` or
/// `type: switch` step).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ConditionalBranchConfig {
    /// CEL condition (condition blocks).
    #[serde(default, rename = "if")]
    pub condition: Option<String>,
    /// CEL expression compared with each case (switch blocks).
    #[serde(default)]
    pub on: Option<String>,
}

/// LOOP parameters (written as a `type: loop` step).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LoopConfig {
    /// CEL expression yielding the list.
    pub for_each: String,
    /// Loop variable. Default: `item`.
    #[serde(default, rename = "as")]
    pub item_var: Option<String>,
    /// Iterations at once. Default: 1.
    #[serde(default)]
    #[schemars(range(min = 1, max = 1000))]
    pub max_concurrency: Option<u32>,
}

pub(crate) fn actions() -> Vec<(ActionSpec, Arc<dyn Action>)> {
    vec![
        (
            ActionSpec {
                name: "DELAY",
                description: "Wait for a duration or until an instant; a durable timer that survives restarts.",
                category: Category::Control,
                config_schema: schema_of::<DelayConfig>(),
                example: json!({"duration": "10m"}),
                required_permissions: &[],
                output: "{ until: RFC 3339 wake time }",
                security: "Holds no worker while waiting: the wake time is stored in the database.",
                block: false,
                implemented: true,
                connection: None,
            },
            Arc::new(Delay),
        ),
        (
            ActionSpec {
                name: "CONDITIONAL_BRANCH",
                description: "If/else and switch blocks (`type: condition`, `type: switch`); untaken branches are SKIPPED.",
                category: Category::Control,
                config_schema: schema_of::<ConditionalBranchConfig>(),
                example: json!({"if": "steps.sentiment.output.score < -0.3"}),
                required_permissions: &[],
                output: "{ branch: \"then\" | \"else\" | case index | \"default\" }",
                security: "CEL is not Turing-complete; evaluation is bounded.",
                block: true,
                implemented: true,
                connection: None,
            },
            Arc::new(Block("CONDITIONAL_BRANCH")),
        ),
        (
            ActionSpec {
                name: "LOOP",
                description: "Run a body once per item of a CEL list (`type: loop`), sequentially or up to maxConcurrency at once.",
                category: Category::Control,
                config_schema: schema_of::<LoopConfig>(),
                example: json!({"forEach": "[1, 2, 3]", "as": "n", "maxConcurrency": 2}),
                required_permissions: &[],
                output: "the list of the last body step's outputs, in item order",
                security: "The list size is bounded by the expression limits.",
                block: true,
                implemented: true,
                connection: None,
            },
            Arc::new(Block("LOOP")),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn delay_computes_wake_time_from_now() {
        for cfg in [json!({"duration": "10m"}), json!({"duration": 600_000})] {
            let (mut ctx, _) = ActionContext::for_test(cfg);
            ctx.now = "2026-01-01T00:00:00Z".parse().unwrap();
            let Outcome::WaitUntil { until, .. } = Delay.execute(ctx).await.unwrap() else {
                panic!("DELAY must wait");
            };
            assert_eq!(until.to_rfc3339(), "2026-01-01T00:10:00+00:00");
        }
        let (ctx, _) = ActionContext::for_test(json!({"until": "2026-12-01T09:00:00+01:00"}));
        let Outcome::WaitUntil { until, .. } = Delay.execute(ctx).await.unwrap() else {
            panic!("DELAY must wait");
        };
        assert_eq!(until.to_rfc3339(), "2026-12-01T08:00:00+00:00");
    }

    #[tokio::test]
    async fn delay_rejects_bad_configs() {
        for (cfg, msg) in [
            (json!({}), "needs `duration` or `until`"),
            (json!({"duration": "1s", "until": "2026-01-01T00:00:00Z"}), "not both"),
            (json!({"until": "tomorrow"}), "not RFC 3339"),
            (json!({"duration": "10 minutes"}), "invalid DELAY config"),
        ] {
            let (ctx, _) = ActionContext::for_test(cfg);
            let e = Delay.execute(ctx).await.unwrap_err();
            assert!(!e.is_retryable());
            assert!(e.to_string().contains(msg), "{e}");
        }
    }
}
