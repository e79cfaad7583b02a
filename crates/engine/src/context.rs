//! Building the expression context of a step from the store, reading only
//! the step executions its expressions reference.

use orbflow_model::StepStatus;
use orbflow_model::expr::EvalContext;
use serde_json::{Map, Value, json};

use crate::Result;
use orbflow_model::path::{StepPath, truncate_prefix};

use crate::plan::{Ix, Plan};
use crate::store::{RunRecord, StepRecord, Tx};

/// The `steps.<key>` entry of a step execution.
pub fn entry(s: &StepRecord) -> Value {
    json!({
        "status": s.status.as_str(),
        "output": s.output.clone().unwrap_or(Value::Null),
        "error": s.error.clone().unwrap_or(Value::Null),
        "attempts": s.attempt,
    })
}

pub use orbflow_model::path::indexes;

/// The run-level variables.
pub fn base(run: &RunRecord) -> EvalContext {
    EvalContext::new()
        .with("input", run.input.clone())
        .with(
            "trigger",
            json!({
                "type": run.trigger_type,
                "data": run.trigger_data.clone().unwrap_or(Value::Null),
                "firedAt": run.created_at.to_rfc3339(),
            }),
        )
        .with(
            "run",
            json!({ "id": run.id.to_string(), "workflowId": run.workflow_id.to_string(), "version": run.version_number }),
        )
}

/// Context for expressions evaluated at `path` (a step or block execution
/// path) reading `keys`.
pub async fn for_path(
    tx: &mut dyn Tx,
    plan: &Plan,
    run: &RunRecord,
    at: Ix,
    path: &str,
    keys: &[String],
) -> Result<EvalContext> {
    let mut ctx = base(run);
    let prefix = StepPath::new(path).prefix();
    // loop variables of the enclosing loops
    let idx = indexes(prefix);
    for (level, &l) in plan.loops[at].iter().enumerate() {
        let Some(&i) = idx.get(level) else { break };
        // the iteration row `…loop[i]` holds its item
        let iter_path = truncate_prefix(prefix, level + 1).trim_end_matches('.');
        let item = tx
            .step(run.id, iter_path)
            .await?
            .and_then(|s| s.wait_output)
            .unwrap_or(Value::Null);
        let var = plan.rows[l]
            .config
            .as_ref()
            .and_then(|c| c.get("as"))
            .and_then(Value::as_str)
            .unwrap_or("item")
            .to_owned();
        ctx.set(&var, item);
        ctx.set("index", json!(i));
    }
    let mut steps = Map::new();
    for k in keys {
        let Some(&ki) = plan.by_key.get(k) else { continue };
        steps.insert(k.clone(), step_entry(tx, plan, run, at, prefix, ki).await?);
    }
    ctx.set("steps", Value::Object(steps));
    Ok(ctx)
}

async fn step_entry(tx: &mut dyn Tx, plan: &Plan, run: &RunRecord, at: Ix, prefix: &str, k: Ix) -> Result<Value> {
    let key = &plan.rows[k].key;
    // How many of k's loops also enclose `at`?
    let shared = plan.loops[k]
        .iter()
        .zip(plan.loops[at].iter())
        .take_while(|(a, b)| a == b)
        .count();
    if shared == plan.loops[k].len() {
        let path = format!("{}{key}", truncate_prefix(prefix, shared));
        return Ok(match tx.step(run.id, &path).await? {
            Some(s) => entry(&s),
            // a step with no execution yet
            None => json!({ "status": StepStatus::Pending.as_str(), "output": null, "error": null, "attempts": 0 }),
        });
    }
    // k sits in a loop that does not enclose `at`: its output is the list of
    // its outputs, in that loop's item order.
    let l = plan.loops[k][shared];
    let loop_path = format!("{}{}", truncate_prefix(prefix, shared), plan.rows[l].key);
    let loop_row = tx.step(run.id, &loop_path).await?;
    let outputs = outputs_by_item(tx, run.id, plan, (&loop_path, shared), k).await?;
    let status = loop_row.map(|r| r.status).unwrap_or(StepStatus::Pending);
    Ok(json!({ "status": status.as_str(), "output": outputs, "error": Value::Null, "attempts": 0 }))
}

/// The outputs of step `k` under the loop at `loop_path` (which `shared`
/// loops enclose), in that loop's item order: a `k` in the loop's body gives
/// one output per item; a `k` nested in further loops, per item the list of
/// its outputs in their items' (numeric) order. The iteration rows of a loop
/// `k` are not its outputs.
pub(crate) async fn outputs_by_item(
    tx: &mut dyn Tx,
    run_id: uuid::Uuid,
    plan: &Plan,
    (loop_path, shared): (&str, usize),
    k: Ix,
) -> Result<Vec<Value>> {
    let rows = tx
        .outputs_of_key(run_id, &format!("{loop_path}["), &plan.rows[k].key)
        .await?;
    // k's own rows, keyed by every index of their path from the loop's down
    let mut found: Vec<(Vec<usize>, Value)> = rows
        .into_iter()
        .filter(|r| !StepPath::new(&r.path).is_iteration())
        .map(|r| {
            let at: Vec<usize> = StepPath::new(&r.path).indexes().into_iter().skip(shared).collect();
            (at, r.output.unwrap_or(Value::Null))
        })
        .filter(|(at, _)| at.len() == plan.loops[k].len() - shared)
        .collect();
    found.sort_by(|a, b| a.0.cmp(&b.0));
    let mut outputs: Vec<Value> = Vec::new();
    let mut last: Option<usize> = None;
    for (at, v) in found {
        if at.len() == 1 {
            outputs.push(v);
        } else if last == at.first().copied() {
            if let Some(Value::Array(group)) = outputs.last_mut() {
                group.push(v);
            }
        } else {
            outputs.push(Value::Array(vec![v]));
        }
        last = at.first().copied();
    }
    Ok(outputs)
}
