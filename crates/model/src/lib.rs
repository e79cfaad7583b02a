//! orbflow's domain model. No I/O.
//!
//! - [`workflow`]: the workflow document (triggers, steps, blocks) as typed
//!   Rust; serializes to the canonical DSL and generates its JSON Schema.
//! - [`dsl`]: YAML/JSON parsing with locations, canonical emit, the schema.
//! - [`validate`]: every rule of DESIGN.md §5, all errors at once, each with
//!   its path and (for YAML) line and column.
//! - [`expr`]: CEL expressions and `{{ }}` templates, with bounded work.
//! - [`secrets`]: which `{{ secrets.NAME }}` a workflow's action configs read, and where.
//! - [`plan`]: flattening the nested DSL into the relational step rows and back.
//! - [`status`]: run and step lifecycles, one `transition` function each.
//! - [`path`]: step paths (`items[2].price`): loop prefixes, iterations.
//! - [`kinds`]: names stored as stable strings (trigger type, workflow
//!   status, log and notification levels).
//! - [`cron`]: cron schedules with time zones and the DST policy.
//! - [`duration`]: `500ms`, `30s`, `10m`, `2h`, `1d`.
//! - [`catalog`]: the trait through which the validator sees action schemas.
//! - [`json_size`]: a value's size as compact JSON, counted without the text.

pub mod catalog;
pub mod cron;
pub mod dsl;
pub mod duration;
pub mod expr;
pub mod json_size;
pub mod kinds;
pub mod path;
pub mod plan;
pub mod secrets;
pub mod status;
pub mod validate;
pub mod workflow;

mod error;

pub use catalog::ActionSchemas;
pub use duration::Duration;
pub use error::{Error, Result};
pub use json_size::compact_json_len;
pub use kinds::{LogLevel, NotificationLevel, TriggerType, UnknownName, WorkflowStatus};
pub use status::{IllegalTransition, RunStatus, StepStatus};
pub use validate::{Diagnostic, Diagnostics};
pub use workflow::{
    ActionStep, Backoff, BranchType, CatchUp, OnError, RetryPolicy, SCHEMA_VERSION, Step, StepKind, StepType,
    SwitchCase, Trigger, UI_MAX_BYTES, VerifyScheme, WebhookVerify, Workflow,
};
