//! The workflow document: triggers, steps and blocks (DESIGN.md §5).
//!
//! These types are the DSL. They serialize to the canonical YAML/JSON form,
//! and the DSL's JSON Schema (`docs/workflow.schema.json`) is generated from
//! them. Parsing goes through [`crate::dsl`], which checks the shape first so
//! that every error carries a path and a location.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::duration::Duration;

/// The only DSL version this build understands.
pub const SCHEMA_VERSION: u32 = 1;

/// Largest `ui` of one workflow or one step, in bytes of compact JSON.
///
/// `ui` is layout metadata for the canvas (positions, colours, notes): the
/// engine ignores it, so it is kept small to keep documents small.
pub const UI_MAX_BYTES: usize = 16 * 1024;

/// A workflow document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schemars(title = "orbflow workflow (schemaVersion 1)")]
pub struct Workflow {
    /// DSL version of this document. Must be 1.
    #[schemars(extend("const" = 1))]
    pub schema_version: u32,
    /// Human name of the workflow.
    pub name: String,
    /// What the workflow is for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// A JSON Schema that run input must satisfy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inputs: Option<Value>,
    /// What starts a run. Without triggers a workflow can still be started by
    /// hand (CLI or API).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub triggers: Vec<Trigger>,
    /// The steps, in order.
    pub steps: Vec<Step>,
    /// A CEL expression for the run's output. Default: a map from each
    /// top-level step key to its output.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<String>,
    /// The longest a run may take, from its start: past it the run FAILS and
    /// its running steps are told to stop. Default: no limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<Duration>,
    /// Layout metadata for the canvas (positions, colours, notes): any JSON
    /// mapping, at most 16 KiB as compact JSON. The engine ignores it;
    /// validation, import/export and YAML↔JSON keep it unchanged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ui: Option<Map<String, Value>>,
}

/// What starts a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(
    tag = "type",
    rename_all = "camelCase",
    rename_all_fields = "camelCase",
    deny_unknown_fields
)]
pub enum Trigger {
    /// Started by hand, from the CLI or the API.
    Manual {},
    /// Started by a cron schedule.
    Schedule {
        /// Cron expression, 5 fields (or 6 with seconds first).
        cron: String,
        /// IANA time zone the expression is read in. Default: UTC.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        timezone: Option<String>,
        /// Run input for runs this schedule starts.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        input: Option<Value>,
        /// What to do with ticks missed while no scheduler ran. Default: skip.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        catch_up: Option<CatchUp>,
    },
    /// Started by an HTTP request to `/hooks/{workspace}/{workflow}/{key}`.
    Webhook {
        /// Path segment of the webhook, `[a-z][a-z0-9_-]*`.
        key: String,
        /// How deliveries are authenticated. Required: use `scheme: none`
        /// to accept unsigned deliveries.
        verify: WebhookVerify,
    },
    /// Started by a published event.
    Event {
        /// The event type, e.g. `mention.received`.
        event: String,
        /// CEL condition over `event` that must hold for a run to start.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        filter: Option<String>,
    },
}

impl Trigger {
    /// The trigger's `type` as written in the DSL.
    pub fn type_name(&self) -> &'static str {
        match self {
            Self::Manual {} => "manual",
            Self::Schedule { .. } => "schedule",
            Self::Webhook { .. } => "webhook",
            Self::Event { .. } => "event",
        }
    }
}

/// Missed-tick policy of a schedule after downtime.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum CatchUp {
    /// Missed ticks are dropped (default).
    Skip,
    /// Only the latest missed tick fires.
    Latest,
    /// Every missed tick fires, up to a bound.
    All,
}

impl CatchUp {
    /// The name as written in the DSL (and stored in `schedules.catch_up`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Skip => "skip",
            Self::Latest => "latest",
            Self::All => "all",
        }
    }
}

impl std::str::FromStr for CatchUp {
    type Err = crate::kinds::UnknownName;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [Self::Skip, Self::Latest, Self::All]
            .into_iter()
            .find(|c| c.as_str() == s)
            .ok_or_else(|| crate::kinds::UnknownName {
                kind: "catch-up policy",
                value: s.to_owned(),
            })
    }
}

/// Webhook signature verification.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WebhookVerify {
    /// Signature scheme.
    pub scheme: VerifyScheme,
    /// Name of the secret holding the signing key (not the key itself).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
    /// Largest accepted age of a signed timestamp (schemes that sign one).
    /// Default: 5m.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tolerance: Option<Duration>,
    /// Header carrying the signature (`hmac-sha256` only). Default:
    /// `X-Signature-256`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub header: Option<String>,
    /// Header carrying a unix timestamp (`hmac-sha256` only). When set, the
    /// signature is over `{timestamp}.{body}` and the timestamp must be
    /// within `tolerance`, which makes old deliveries unreplayable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp_header: Option<String>,
}

/// Webhook signature schemes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum VerifyScheme {
    /// Standard Webhooks (`webhook-id`, `webhook-timestamp`, `webhook-signature`).
    StandardWebhooks,
    /// GitHub (`X-Hub-Signature-256`).
    Github,
    /// Stripe (`Stripe-Signature`).
    Stripe,
    /// Generic HMAC-SHA256 of the body, hex, in a header.
    HmacSha256,
    /// No verification: every delivery is accepted.
    None,
}

impl VerifyScheme {
    /// The name as written in the DSL (and stored).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::StandardWebhooks => "standard-webhooks",
            Self::Github => "github",
            Self::Stripe => "stripe",
            Self::HmacSha256 => "hmac-sha256",
            Self::None => "none",
        }
    }

    /// The scheme of a name written by [`as_str`](Self::as_str).
    pub fn parse(name: &str) -> Option<Self> {
        [
            Self::StandardWebhooks,
            Self::Github,
            Self::Stripe,
            Self::HmacSha256,
            Self::None,
        ]
        .into_iter()
        .find(|s| s.as_str() == name)
    }
}

impl std::str::FromStr for VerifyScheme {
    type Err = crate::kinds::UnknownName;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s).ok_or_else(|| crate::kinds::UnknownName {
            kind: "webhook scheme",
            value: s.to_owned(),
        })
    }
}

/// One step: an action or a block (condition, switch, loop).
///
/// Serialized flat as the DSL writes it; see [`StepDoc`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "StepDoc", into = "StepDoc")]
pub struct Step {
    /// Unique key in the whole workflow, `[a-z][a-z0-9_]*`.
    pub key: String,
    /// Display name.
    pub name: Option<String>,
    /// What the step does.
    pub description: Option<String>,
    /// Explicit dependencies; `None` means "the previous step of this list".
    pub depends_on: Option<Vec<String>>,
    /// What the step is.
    pub kind: StepKind,
    /// Retry policy (action steps).
    pub retry: Option<RetryPolicy>,
    /// Per-attempt time limit (action steps).
    pub timeout: Option<Duration>,
    /// What a failure of this step does to the run.
    pub on_error: Option<OnError>,
    /// Canvas layout metadata (any JSON mapping); the engine ignores it.
    pub ui: Option<Map<String, Value>>,
}

/// The four kinds of step.
#[derive(Debug, Clone, PartialEq)]
pub enum StepKind {
    /// Runs an action from the catalog.
    Action {
        /// Catalog name, e.g. `TRANSFORM`.
        action: String,
        /// The action's configuration (may hold `{{ }}` templates).
        config: Option<Value>,
    },
    /// If/else block.
    Condition {
        /// CEL condition.
        condition: String,
        /// Steps run when it holds.
        then: Vec<Step>,
        /// Steps run when it does not.
        otherwise: Vec<Step>,
    },
    /// Switch block.
    Switch {
        /// CEL expression compared with each case value.
        on: String,
        /// Cases in order; the first equal value is taken.
        cases: Vec<SwitchCase>,
        /// Steps run when no case matches.
        default: Vec<Step>,
    },
    /// Loop block.
    Loop {
        /// CEL expression yielding a list.
        for_each: String,
        /// Name the item is bound to. Default: `item`.
        item_var: Option<String>,
        /// Iterations running at once. Default: 1.
        max_concurrency: Option<u32>,
        /// Body, run once per item.
        steps: Vec<Step>,
    },
}

impl StepKind {
    /// The DSL `type` of this kind.
    pub fn step_type(&self) -> StepType {
        match self {
            Self::Action { .. } => StepType::Action,
            Self::Condition { .. } => StepType::Condition,
            Self::Switch { .. } => StepType::Switch,
            Self::Loop { .. } => StepType::Loop,
        }
    }
}

impl Step {
    /// Child step lists of a block with their branch type, in document order.
    pub fn branches(&self) -> Vec<(BranchType, Option<&SwitchCase>, &[Step])> {
        match &self.kind {
            StepKind::Action { .. } => Vec::new(),
            StepKind::Condition { then, otherwise, .. } => vec![
                (BranchType::IfTrue, None, then.as_slice()),
                (BranchType::IfFalse, None, otherwise.as_slice()),
            ],
            StepKind::Switch { cases, default, .. } => {
                let mut out: Vec<_> = cases
                    .iter()
                    .map(|c| (BranchType::SwitchCase, Some(c), c.steps.as_slice()))
                    .collect();
                out.push((BranchType::Default, None, default.as_slice()));
                out
            }
            StepKind::Loop { steps, .. } => vec![(BranchType::LoopBody, None, steps.as_slice())],
        }
    }
}

/// A switch case.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SwitchCase {
    /// Value compared with `on` by JSON equality.
    pub value: Value,
    /// Steps run when it matches.
    pub steps: Vec<Step>,
}

/// The DSL `type` of a step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum StepType {
    /// An action (default when `type` is absent).
    Action,
    /// If/else block.
    Condition,
    /// Switch block.
    Switch,
    /// Loop block.
    Loop,
}

impl StepType {
    /// Stable name, as in the DSL and the database.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Action => "action",
            Self::Condition => "condition",
            Self::Switch => "switch",
            Self::Loop => "loop",
        }
    }
}

/// How a step relates to its enclosing block (the seed's branch_type).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum BranchType {
    /// `then` of a condition.
    IfTrue,
    /// `else` of a condition.
    IfFalse,
    /// A switch case.
    SwitchCase,
    /// The switch default.
    Default,
    /// A loop body.
    LoopBody,
}

impl BranchType {
    /// Stable name, as stored in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::IfTrue => "IF_TRUE",
            Self::IfFalse => "IF_FALSE",
            Self::SwitchCase => "SWITCH_CASE",
            Self::Default => "DEFAULT",
            Self::LoopBody => "LOOP_BODY",
        }
    }

    /// The DSL field that holds this branch.
    pub fn field(self) -> &'static str {
        match self {
            Self::IfTrue => "then",
            Self::IfFalse => "else",
            Self::SwitchCase => "cases",
            Self::Default => "default",
            Self::LoopBody => "steps",
        }
    }
}

/// Retry policy of an action step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RetryPolicy {
    /// Attempts in all, the first included (≥ 1).
    pub max_attempts: u32,
    /// Backoff between attempts. Default: exponential.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backoff: Option<Backoff>,
    /// Wait before the second attempt. Default: 1s.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub initial_interval: Option<Duration>,
    /// Longest wait between attempts. Default: 1m.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_interval: Option<Duration>,
    /// Randomize each wait by up to ±20 %. Default: true.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jitter: Option<bool>,
}

impl RetryPolicy {
    /// The wait before attempt `next_attempt` (2 for the first retry),
    /// without jitter.
    pub fn delay_before(&self, next_attempt: u32) -> Duration {
        let initial = self.initial_interval.unwrap_or(Duration::from_secs(1)).as_millis();
        let max = self
            .max_interval
            .unwrap_or(Duration::from_secs(60))
            .as_millis()
            .max(initial);
        let millis = match self.backoff.unwrap_or(Backoff::Exponential) {
            Backoff::Fixed => initial,
            Backoff::Exponential => {
                let exp = next_attempt.saturating_sub(2).min(32);
                initial.saturating_mul(1u64 << exp).min(max)
            }
        };
        Duration::from_millis(millis)
    }
}

/// Backoff shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum Backoff {
    /// The same wait every time.
    Fixed,
    /// The wait doubles each attempt, up to `maxInterval`.
    Exponential,
}

/// What a step's failure does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum OnError {
    /// The run fails (default).
    Fail,
    /// The step stays FAILED and dependents run as if it completed.
    Continue,
}

/// The flat form a step takes in YAML and JSON: every field of every kind,
/// with `type` telling which apply.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schemars(title = "Step")]
pub struct StepDoc {
    /// Unique key in the whole workflow, `[a-z][a-z0-9_]*`.
    pub key: String,
    /// Display name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// What the step does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// `action` (default), `condition`, `switch` or `loop`.
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub step_type: Option<StepType>,
    /// Steps or blocks this one waits for. Absent: the previous step of the
    /// same list. `[]`: none (a root).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub depends_on: Option<Vec<String>>,
    /// Action name from the catalog (action steps).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
    /// Action configuration; strings may hold `{{ }}` templates.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<Value>,
    /// CEL condition (condition blocks).
    #[serde(default, rename = "if", skip_serializing_if = "Option::is_none")]
    pub condition: Option<String>,
    /// Steps run when the condition holds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub then: Option<Vec<Step>>,
    /// Steps run when it does not.
    #[serde(default, rename = "else", skip_serializing_if = "Option::is_none")]
    pub otherwise: Option<Vec<Step>>,
    /// CEL expression compared with each case (switch blocks).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on: Option<String>,
    /// Switch cases.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cases: Option<Vec<SwitchCase>>,
    /// Steps run when no case matches.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<Vec<Step>>,
    /// CEL list to iterate (loop blocks).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub for_each: Option<String>,
    /// Loop variable name. Default: `item`.
    #[serde(default, rename = "as", skip_serializing_if = "Option::is_none")]
    pub item_var: Option<String>,
    /// Iterations at once. Default: 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_concurrency: Option<u32>,
    /// Loop body.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub steps: Option<Vec<Step>>,
    /// Retry policy (action steps).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry: Option<RetryPolicy>,
    /// Per-attempt time limit (action steps).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<Duration>,
    /// `fail` (default) or `continue`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_error: Option<OnError>,
    /// Layout metadata for the canvas (positions, colours, notes): any JSON
    /// mapping, at most 16 KiB as compact JSON. The engine ignores it;
    /// validation, import/export and YAML↔JSON keep it unchanged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ui: Option<Map<String, Value>>,
}

impl JsonSchema for Step {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Step".into()
    }

    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        StepDoc::json_schema(generator)
    }
}

/// Why a flat step document is not a valid step.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct StepShapeError(pub String);

impl TryFrom<StepDoc> for Step {
    type Error = StepShapeError;

    fn try_from(d: StepDoc) -> Result<Self, Self::Error> {
        let missing = |f: &str, t: &str| StepShapeError(format!("a {t} step needs `{f}`"));
        let kind = match d.step_type.unwrap_or(StepType::Action) {
            StepType::Action => StepKind::Action {
                action: d.action.ok_or_else(|| missing("action", "action"))?,
                config: d.config,
            },
            StepType::Condition => StepKind::Condition {
                condition: d.condition.ok_or_else(|| missing("if", "condition"))?,
                then: d.then.ok_or_else(|| missing("then", "condition"))?,
                otherwise: d.otherwise.unwrap_or_default(),
            },
            StepType::Switch => StepKind::Switch {
                on: d.on.ok_or_else(|| missing("on", "switch"))?,
                cases: d.cases.ok_or_else(|| missing("cases", "switch"))?,
                default: d.default.unwrap_or_default(),
            },
            StepType::Loop => StepKind::Loop {
                for_each: d.for_each.ok_or_else(|| missing("forEach", "loop"))?,
                item_var: d.item_var,
                max_concurrency: d.max_concurrency,
                steps: d.steps.ok_or_else(|| missing("steps", "loop"))?,
            },
        };
        Ok(Step {
            key: d.key,
            name: d.name,
            description: d.description,
            depends_on: d.depends_on,
            kind,
            retry: d.retry,
            timeout: d.timeout,
            on_error: d.on_error,
            ui: d.ui,
        })
    }
}

impl From<Step> for StepDoc {
    fn from(s: Step) -> Self {
        let mut d = StepDoc {
            key: s.key,
            name: s.name,
            description: s.description,
            step_type: None,
            depends_on: s.depends_on,
            action: None,
            config: None,
            condition: None,
            then: None,
            otherwise: None,
            on: None,
            cases: None,
            default: None,
            for_each: None,
            item_var: None,
            max_concurrency: None,
            steps: None,
            retry: s.retry,
            timeout: s.timeout,
            on_error: s.on_error,
            ui: s.ui,
        };
        let non_empty = |v: Vec<Step>| (!v.is_empty()).then_some(v);
        match s.kind {
            StepKind::Action { action, config } => {
                d.action = Some(action);
                d.config = config;
            }
            StepKind::Condition {
                condition,
                then,
                otherwise,
            } => {
                d.step_type = Some(StepType::Condition);
                d.condition = Some(condition);
                d.then = Some(then);
                d.otherwise = non_empty(otherwise);
            }
            StepKind::Switch { on, cases, default } => {
                d.step_type = Some(StepType::Switch);
                d.on = Some(on);
                d.cases = Some(cases);
                d.default = non_empty(default);
            }
            StepKind::Loop {
                for_each,
                item_var,
                max_concurrency,
                steps,
            } => {
                d.step_type = Some(StepType::Loop);
                d.for_each = Some(for_each);
                d.item_var = item_var;
                d.max_concurrency = max_concurrency;
                d.steps = Some(steps);
            }
        }
        d
    }
}

impl Workflow {
    /// The workflow's default slug (the API's and the CLI's, alike): its
    /// `name` in lower case with `-` between words, at most 63 characters.
    pub fn default_slug(&self) -> String {
        slugify(&self.name)
    }

    /// Every action step, depth first in document order, with its document
    /// path (`steps[1].then[0]`).
    pub fn action_steps(&self) -> Vec<ActionStep<'_>> {
        let mut out = Vec::new();
        walk_actions(&self.steps, "steps", &mut out);
        out
    }

    /// Every step, depth first in document order, with its parent.
    pub fn walk(&self) -> Vec<StepRef<'_>> {
        let mut out = Vec::new();
        walk_list(&self.steps, None, &mut out);
        out
    }
}

/// A slug from a name: ASCII letters and digits in lower case, one `-`
/// for every run of anything else, none at the ends, at most 63 characters.
pub fn slugify(name: &str) -> String {
    let mut out = String::new();
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
    }
    out.trim_end_matches('-')
        .chars()
        .take(63)
        .collect::<String>()
        .trim_end_matches('-')
        .to_owned()
}

/// A step seen during a walk of the workflow.
#[derive(Debug, Clone, Copy)]
pub struct StepRef<'a> {
    /// The step.
    pub step: &'a Step,
    /// Its enclosing block, if any.
    pub parent: Option<&'a Step>,
    /// Branch of the parent it sits in.
    pub branch: Option<BranchType>,
    /// Position in its list.
    pub index: usize,
}

/// An action step and where it is written.
#[derive(Debug, Clone)]
pub struct ActionStep<'a> {
    /// Its document path: `steps[1].then[0]`.
    pub path: String,
    /// Its key.
    pub key: &'a str,
    /// Its catalog name.
    pub action: &'a str,
    /// Its config.
    pub config: Option<&'a Value>,
}

fn walk_actions<'a>(steps: &'a [Step], base: &str, out: &mut Vec<ActionStep<'a>>) {
    for (i, step) in steps.iter().enumerate() {
        let path = format!("{base}[{i}]");
        match &step.kind {
            StepKind::Action { action, config } => out.push(ActionStep {
                path,
                key: &step.key,
                action,
                config: config.as_ref(),
            }),
            StepKind::Condition { then, otherwise, .. } => {
                walk_actions(then, &format!("{path}.then"), out);
                walk_actions(otherwise, &format!("{path}.else"), out);
            }
            StepKind::Switch { cases, default, .. } => {
                for (c, case) in cases.iter().enumerate() {
                    walk_actions(&case.steps, &format!("{path}.cases[{c}].steps"), out);
                }
                walk_actions(default, &format!("{path}.default"), out);
            }
            StepKind::Loop { steps, .. } => walk_actions(steps, &format!("{path}.steps"), out),
        }
    }
}

fn walk_list<'a>(steps: &'a [Step], parent: Option<(&'a Step, BranchType)>, out: &mut Vec<StepRef<'a>>) {
    for (index, step) in steps.iter().enumerate() {
        out.push(StepRef {
            step,
            parent: parent.map(|p| p.0),
            branch: parent.map(|p| p.1),
            index,
        });
        for (branch, _, children) in step.branches() {
            walk_list(children, Some((step, branch)), out);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::slugify;

    #[test]
    fn slugs_from_names() {
        assert_eq!(slugify("Mention triage!"), "mention-triage");
        assert_eq!(slugify("  Hello   World  "), "hello-world");
        assert_eq!(slugify("Order Intake"), "order-intake");
        assert_eq!(slugify("é"), "");
        // cut at 63 characters, never ending on a dash
        let long = format!("{}-b", "a".repeat(62));
        assert_eq!(slugify(&long), "a".repeat(62));
    }
}
