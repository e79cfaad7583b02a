//! orbflow's action catalog.
//!
//! - [`action`]: the [`Action`] trait, its context, typed outcomes and errors.
//! - [`spec`]: catalog metadata ([`ActionSpec`], [`Category`]).
//! - [`registry`]: the [`Registry`] of built-in actions, which also gives the
//!   validator each action's config schema.
//! - one module per family: [`social`], [`notifications`], [`ai`], [`data`],
//!   [`control`]; the real integrations live beside them: [`webhook`]
//!   (TRIGGER_WEBHOOK), [`slack`] (SEND_SLACK_MESSAGE), [`email`] (SEND_EMAIL),
//!   [`database`] (UPDATE_DATABASE), [`sentiment`]
//!   (ANALYZE_SENTIMENT), [`generate`] (GENERATE_CONTENT), [`moderate`]
//!   (MODERATE_CONTENT), the [`social`] providers (Mastodon, Bluesky, X),
//!   [`call`] (one provider call: span, time-out, rate limits, typed
//!   errors) and [`net`] (outgoing HTTP that refuses private addresses).
//! - [`connections`]: the kinds of workspace connection (smtp, slack,
//!   inbox_webhook, llm, moderation, mastodon, bluesky, x) and their
//!   settings' schemas.
//! - [`docs`]: renders docs/WORKFLOW_ACTIONS.md from the registry.

pub mod action;
pub mod ai;
pub mod call;
pub mod connections;
pub mod control;
pub mod data;
pub mod database;
pub mod docs;
pub mod email;
pub mod generate;
pub mod moderate;
pub mod net;
pub mod notifications;
pub mod registry;
pub mod sentiment;
pub mod sentiment_model;
pub mod slack;
pub mod social;
pub mod spec;
pub mod webhook;

mod error;

pub use action::{
    Action, ActionContext, ActionError, CallSpan, CallTracer, LogLevel, LogLine, MemoryLogger, Outcome, OutgoingCall,
    StepLogger, TracingLogger,
};
pub use error::{Error, Result};
pub use registry::{CatalogConfig, Registry};
pub use spec::{ActionSpec, Category, ConnectionUse};
