//! The nested DSL flattened into the seed's relational shape — one row per
//! step with sequence, dependencies, parent, branch type and branch
//! condition — and rebuilt from rows, losslessly (`unflatten(flatten(w))`
//! gives back `w`'s steps) but for `ui`: canvas layout metadata is not part
//! of the plan (the engine ignores it), so rows neither carry it nor change
//! with it, and rebuilt steps have none. The document a version stores keeps
//! it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::duration::Duration;
use crate::workflow::{BranchType, OnError, RetryPolicy, Step, StepKind, StepType, SwitchCase};

/// One materialized step (the `workflow_steps` table).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StepRow {
    /// Step key.
    pub key: String,
    /// action, condition, switch or loop.
    pub step_type: StepType,
    /// Catalog name: the action, or CONDITIONAL_BRANCH / LOOP for blocks.
    pub action: String,
    /// Action config, or the block's parameters (`if`; `on`; `forEach`, `as`, `maxConcurrency`).
    pub config: Option<Value>,
    /// Position in document order (depth first), from 0.
    pub sequence: u32,
    /// Position within its own list.
    pub position: u32,
    /// Resolved dependencies: `dependsOn`, or the previous step of the list.
    pub dependencies: Vec<String>,
    /// `dependsOn` as written (`None`: implicit ordering).
    pub depends_on: Option<Vec<String>>,
    /// Key of the enclosing block.
    pub parent_key: Option<String>,
    /// Branch of the enclosing block.
    pub branch_type: Option<BranchType>,
    /// `true`/`false` for then/else, the case value for a switch case.
    pub branch_condition: Option<Value>,
    /// Index of the switch case.
    pub branch_index: Option<u32>,
    /// Display name.
    pub name: Option<String>,
    /// Description.
    pub description: Option<String>,
    /// Retry policy.
    pub retry: Option<RetryPolicy>,
    /// Timeout.
    pub timeout: Option<Duration>,
    /// onError.
    pub on_error: Option<OnError>,
}

/// Rows that do not form a workflow.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot rebuild steps from rows: {0}")]
pub struct PlanError(pub String);

/// Flattens `steps` into rows in document order.
pub fn flatten(steps: &[Step]) -> Vec<StepRow> {
    let mut rows = Vec::new();
    flatten_list(steps, None, None, &mut rows);
    rows
}

/// Where a list of steps sits: the block it belongs to and on which branch
/// (type, the value that selects it, the case's index).
type Branch = (BranchType, Option<Value>, Option<u32>);

fn flatten_list(steps: &[Step], parent: Option<&str>, branch: Option<Branch>, rows: &mut Vec<StepRow>) {
    let mut prev: Option<&str> = None;
    for (pos, s) in steps.iter().enumerate() {
        let (action, config) = row_action(&s.kind);
        let dependencies = match &s.depends_on {
            Some(d) => d.clone(),
            None => prev.map(|p| vec![p.to_owned()]).unwrap_or_default(),
        };
        rows.push(StepRow {
            key: s.key.clone(),
            step_type: s.kind.step_type(),
            action,
            config,
            sequence: u32::try_from(rows.len()).unwrap_or(u32::MAX),
            position: u32::try_from(pos).unwrap_or(u32::MAX),
            dependencies,
            depends_on: s.depends_on.clone(),
            parent_key: parent.map(str::to_owned),
            branch_type: branch.as_ref().map(|b| b.0),
            branch_condition: branch.as_ref().and_then(|b| b.1.clone()),
            branch_index: branch.as_ref().and_then(|b| b.2),
            name: s.name.clone(),
            description: s.description.clone(),
            retry: s.retry.clone(),
            timeout: s.timeout,
            on_error: s.on_error,
        });
        flatten_children(s, rows);
        prev = Some(&s.key);
    }
}

/// The row's action name and config: the action's own, or the block's
/// pseudo-action with its expression.
fn row_action(kind: &StepKind) -> (String, Option<Value>) {
    match kind {
        StepKind::Action { action, config } => (action.clone(), config.clone()),
        StepKind::Condition { condition, .. } => ("CONDITIONAL_BRANCH".to_owned(), Some(json!({ "if": condition }))),
        StepKind::Switch { on, .. } => ("CONDITIONAL_BRANCH".to_owned(), Some(json!({ "on": on }))),
        StepKind::Loop {
            for_each,
            item_var,
            max_concurrency,
            ..
        } => {
            let mut m = Map::new();
            m.insert("forEach".into(), json!(for_each));
            if let Some(v) = item_var {
                m.insert("as".into(), json!(v));
            }
            if let Some(n) = max_concurrency {
                m.insert("maxConcurrency".into(), json!(n));
            }
            ("LOOP".to_owned(), Some(Value::Object(m)))
        }
    }
}

/// The rows of a block's branches, after the block's own row.
fn flatten_children(s: &Step, rows: &mut Vec<StepRow>) {
    let key = Some(s.key.as_str());
    match &s.kind {
        StepKind::Action { .. } => {}
        StepKind::Condition { then, otherwise, .. } => {
            flatten_list(
                then,
                key,
                Some((BranchType::IfTrue, Some(Value::Bool(true)), None)),
                rows,
            );
            flatten_list(
                otherwise,
                key,
                Some((BranchType::IfFalse, Some(Value::Bool(false)), None)),
                rows,
            );
        }
        StepKind::Switch { cases, default, .. } => {
            for (i, c) in cases.iter().enumerate() {
                let idx = u32::try_from(i).unwrap_or(u32::MAX);
                let branch = (BranchType::SwitchCase, Some(c.value.clone()), Some(idx));
                flatten_list(&c.steps, key, Some(branch), rows);
            }
            flatten_list(default, key, Some((BranchType::Default, None, None)), rows);
        }
        StepKind::Loop { steps, .. } => flatten_list(steps, key, Some((BranchType::LoopBody, None, None)), rows),
    }
}

/// Rebuilds the nested steps from rows (in any order).
pub fn unflatten(rows: &[StepRow]) -> Result<Vec<Step>, PlanError> {
    let mut children: BTreeMap<Option<&str>, Vec<&StepRow>> = BTreeMap::new();
    for r in rows {
        children.entry(r.parent_key.as_deref()).or_default().push(r);
    }
    for list in children.values_mut() {
        list.sort_by_key(|r| r.sequence);
    }
    let mut used = 0usize;
    let top = children.get(&None).cloned().unwrap_or_default();
    let steps = build(&top, &children, &mut used, 0)?;
    if used != rows.len() {
        return Err(PlanError(format!(
            "{} rows have a parent that is not a block of these rows",
            rows.len() - used
        )));
    }
    Ok(steps)
}

type Children<'a> = BTreeMap<Option<&'a str>, Vec<&'a StepRow>>;

fn build(list: &[&StepRow], children: &Children<'_>, used: &mut usize, depth: usize) -> Result<Vec<Step>, PlanError> {
    if depth > 64 {
        return Err(PlanError("blocks nest deeper than 64 levels (a parent cycle?)".into()));
    }
    let mut out = Vec::with_capacity(list.len());
    for r in list {
        *used += 1;
        let kids: Vec<&StepRow> = children.get(&Some(r.key.as_str())).cloned().unwrap_or_default();
        let of =
            |b: BranchType| -> Vec<&StepRow> { kids.iter().copied().filter(|k| k.branch_type == Some(b)).collect() };
        let param = |name: &str| r.config.as_ref().and_then(|c| c.get(name)).cloned();
        let param_str = |name: &str| -> Result<String, PlanError> {
            param(name)
                .and_then(|v| v.as_str().map(str::to_owned))
                .ok_or_else(|| PlanError(format!("block `{}` has no `{name}` parameter", r.key)))
        };
        let kind = match r.step_type {
            StepType::Action => StepKind::Action {
                action: r.action.clone(),
                config: r.config.clone(),
            },
            StepType::Condition => StepKind::Condition {
                condition: param_str("if")?,
                then: build(&of(BranchType::IfTrue), children, used, depth + 1)?,
                otherwise: build(&of(BranchType::IfFalse), children, used, depth + 1)?,
            },
            StepType::Switch => {
                let mut by_case: BTreeMap<u32, (Value, Vec<&StepRow>)> = BTreeMap::new();
                for k in of(BranchType::SwitchCase) {
                    let i = k
                        .branch_index
                        .ok_or_else(|| PlanError(format!("case step `{}` has no case index", k.key)))?;
                    let v = k.branch_condition.clone().unwrap_or(Value::Null);
                    by_case.entry(i).or_insert_with(|| (v, Vec::new())).1.push(k);
                }
                let mut cases = Vec::new();
                for (_, (value, rows)) in by_case {
                    cases.push(SwitchCase {
                        value,
                        steps: build(&rows, children, used, depth + 1)?,
                    });
                }
                StepKind::Switch {
                    on: param_str("on")?,
                    cases,
                    default: build(&of(BranchType::Default), children, used, depth + 1)?,
                }
            }
            StepType::Loop => StepKind::Loop {
                for_each: param_str("forEach")?,
                item_var: param("as").and_then(|v| v.as_str().map(str::to_owned)),
                max_concurrency: param("maxConcurrency")
                    .and_then(|v| v.as_u64())
                    .and_then(|n| u32::try_from(n).ok()),
                steps: build(&of(BranchType::LoopBody), children, used, depth + 1)?,
            },
        };
        out.push(Step {
            key: r.key.clone(),
            name: r.name.clone(),
            description: r.description.clone(),
            depends_on: r.depends_on.clone(),
            kind,
            retry: r.retry.clone(),
            timeout: r.timeout,
            on_error: r.on_error,
            ui: None,
        });
    }
    Ok(out)
}

/// Number of rows a step list flattens into.
pub fn count(steps: &[Step]) -> usize {
    steps
        .iter()
        .map(|s| 1 + s.branches().iter().map(|(_, _, c)| count(c)).sum::<usize>())
        .sum()
}
