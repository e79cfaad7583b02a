//! Validation of a parsed workflow: every rule of DESIGN.md §5, all errors
//! at once, each with its path.
//!
//! - [`diagnostic`]: [`Diagnostic`], [`Diagnostics`], did-you-mean.
//! - [`rules`]: keys, triggers, actions and configs, expressions, retry.
//! - [`config`]: action configs against their schema (formats, messages).
//! - [`graph`]: `dependsOn` targets, scope and cycles.

pub mod config;
pub mod diagnostic;
pub mod graph;
pub mod rules;

pub use diagnostic::{Diagnostic, Diagnostics};

use crate::catalog::ActionSchemas;
use crate::workflow::Workflow;

/// Checks everything the types alone do not; returns every problem found.
pub fn validate(wf: &Workflow, catalog: &dyn ActionSchemas) -> Diagnostics {
    let mut d = Diagnostics::default();
    let index = rules::StepIndex::build(wf);
    rules::check_workflow(wf, &index, catalog, &mut d);
    graph::check_dependencies(wf, &index, &mut d);
    d
}
