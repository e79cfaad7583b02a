//! Blocks: evaluating a condition, switch or loop, creating the taken
//! branch's rows and SKIPPED rows for the others, starting loop iterations.

use std::collections::HashSet;

use orbflow_model::expr::{Compiled, compile};
use orbflow_model::{BranchType, StepStatus, StepType};
use serde_json::{Value, json};

use super::{Advance, BoxFut, json_eq};
use crate::context;
use crate::engine::now;
use crate::step_error::StepError;
use orbflow_model::path::StepPath;

use crate::plan::Ix;
use crate::store::{Expect, StepRecord};
use crate::{Error, Result};

impl Advance<'_> {
    /// Creates SKIPPED rows for every child of a skipped block (recursively
    /// for nested conditions and switches; a skipped loop has no iterations).
    pub(super) fn skip_descendants<'a>(&'a mut self, ix: Ix, path: &'a str) -> BoxFut<'a, Result<()>> {
        Box::pin(async move {
            if self.plan.rows[ix].step_type == StepType::Loop {
                return Ok(());
            }
            let children = self.plan.children[ix].clone();
            self.skip_rows(&children, StepPath::new(path).prefix().to_owned().as_str(), path)
                .await
        })
    }

    pub(super) fn skip_rows<'a>(
        &'a mut self,
        children: &'a [Ix],
        prefix: &'a str,
        parent_path: &'a str,
    ) -> BoxFut<'a, Result<()>> {
        Box::pin(async move {
            let t = now();
            let mut rows = Vec::with_capacity(children.len());
            for &c in children {
                let row = &self.plan.rows[c];
                let mut r = StepRecord::new(self.run.id, format!("{prefix}{}", row.key), row.key.clone(), t);
                r.parent_path = Some(parent_path.to_owned());
                r.loop_index = context::indexes(prefix).last().and_then(|&i| i32::try_from(i).ok());
                r.status = StepStatus::Skipped;
                r.ended_at = Some(t);
                rows.push(r);
            }
            self.tx.insert_steps(&rows).await?;
            for r in rows {
                let ix = self.ix(&r.step_key)?;
                let path = r.path.clone();
                self.queued_paths.insert(path.clone());
                self.queue.push_back((r, false));
                if self.plan.rows[ix].step_type != StepType::Action {
                    self.skip_descendants(ix, &path).await?;
                }
            }
            Ok(())
        })
    }

    /// Compiles `source`, reads the steps it names as seen from `path`, and
    /// evaluates it under the engine's expression budget, on a blocking
    /// thread (not on the runtime's workers) unless it is cheap; an
    /// expression error is the step error.
    pub(super) async fn eval_at(
        &mut self,
        ix: Ix,
        source: &str,
        path: &str,
    ) -> Result<std::result::Result<Value, StepError>> {
        let c = match compile(source) {
            Ok(c) => c,
            Err(e) => return Ok(Err(StepError::expression(e.reason, e.expression))),
        };
        let keys = c.references().step_keys;
        let ctx = context::for_path(self.tx.as_mut(), &self.plan, &self.run, ix, path, &keys).await?;
        Ok(evaluate(self.engine.config.expressions, c, ctx).await)
    }

    pub(super) async fn evaluate_block(&mut self, ix: Ix, r: StepRecord, expect: &Expect) -> Result<()> {
        let param = |name: &str| {
            self.plan.rows[ix]
                .config
                .as_ref()
                .and_then(|c| c.get(name))
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned()
        };
        let kind = self.plan.rows[ix].step_type;
        let source = match kind {
            StepType::Condition => param("if"),
            StepType::Switch => param("on"),
            _ => param("forEach"),
        };
        let value = match self.eval_at(ix, &source, &r.path).await? {
            Ok(v) => v,
            Err(e) => return self.fail(r, expect, e).await,
        };
        let b = Evaluated {
            ix,
            record: r,
            value,
            source,
        };
        match kind {
            StepType::Condition => self.take_condition(b, expect).await,
            StepType::Switch => self.take_switch(b, expect).await,
            _ => self.start_loop(b, expect).await,
        }
    }

    /// A condition's value picks `then` or `else`.
    async fn take_condition(&mut self, b: Evaluated, expect: &Expect) -> Result<()> {
        let Evaluated {
            ix,
            record: mut r,
            value,
            source,
        } = b;
        let Value::Bool(yes) = value else {
            let msg = format!(
                "a condition must be a bool, got {}",
                orbflow_model::expr::type_name(&value)
            );
            return self.fail(r, expect, expression_error(msg, source)).await;
        };
        let (taken, other) = if yes {
            (BranchType::IfTrue, BranchType::IfFalse)
        } else {
            (BranchType::IfFalse, BranchType::IfTrue)
        };
        r.output = Some(json!({ "branch": if yes { "then" } else { "else" } }));
        let taken = self.plan.branch(ix, taken, None);
        let other = self.plan.branch(ix, other, None);
        let prefix = StepPath::new(&r.path).prefix().to_owned();
        self.run_branch(r, expect, &prefix, &taken, &other).await
    }

    /// A switch's value picks the first case equal to it, else `default`.
    async fn take_switch(&mut self, b: Evaluated, expect: &Expect) -> Result<()> {
        let Evaluated {
            ix,
            record: mut r,
            value,
            ..
        } = b;
        let mut case: Option<u32> = None;
        let mut seen = HashSet::new();
        for &c in &self.plan.children[ix] {
            let row = &self.plan.rows[c];
            if row.branch_type == Some(BranchType::SwitchCase)
                && let Some(i) = row.branch_index
                && seen.insert(i)
                && row.branch_condition.as_ref().is_some_and(|v| json_eq(v, &value))
                && case.is_none_or(|c| i < c)
            {
                case = Some(i);
            }
        }
        let taken: Vec<Ix> = match case {
            Some(i) => self.plan.branch(ix, BranchType::SwitchCase, Some(i)),
            None => self.plan.branch(ix, BranchType::Default, None),
        };
        let other: Vec<Ix> = self.plan.children[ix]
            .iter()
            .copied()
            .filter(|c| !taken.contains(c))
            .collect();
        r.output = Some(json!({ "branch": case.map_or(json!("default"), |i| json!(i)), "value": value }));
        let prefix = StepPath::new(&r.path).prefix().to_owned();
        self.run_branch(r, expect, &prefix, &taken, &other).await
    }

    /// A loop's list: every iteration row exists from the start, holding
    /// its item; at most `maxConcurrency` of them run at once.
    async fn start_loop(&mut self, b: Evaluated, expect: &Expect) -> Result<()> {
        let Evaluated {
            ix,
            record: mut r,
            value,
            source,
        } = b;
        let items = match value {
            Value::Array(items) if items.len() <= self.engine.config.max_loop_items => items,
            Value::Array(items) => {
                let msg = format!(
                    "forEach has {} items; at most {} are allowed",
                    items.len(),
                    self.engine.config.max_loop_items
                );
                return self.fail(r, expect, expression_error(msg, source)).await;
            }
            other => {
                let msg = format!("forEach must be a list, got {}", orbflow_model::expr::type_name(&other));
                return self.fail(r, expect, expression_error(msg, source)).await;
            }
        };
        let n = items.len();
        r.pending_children = i32::try_from(n).unwrap_or(i32::MAX);
        r.wait_output = Some(json!({ "count": n }));
        if n == 0 {
            Self::to_terminal(&mut r, StepStatus::Completed)?;
            r.output = Some(json!([]));
            return self.write(r, expect, true).await;
        }
        let path = r.path.clone();
        self.write(r, expect, true).await?;
        let t = now();
        let key = self.plan.rows[ix].key.clone();
        let rows: Vec<StepRecord> = items
            .into_iter()
            .enumerate()
            .map(|(i, item)| {
                let mut it = StepRecord::new(self.run.id, StepPath::new(&path).iteration(i), key.clone(), t);
                it.parent_path = Some(path.clone());
                it.loop_index = i32::try_from(i).ok();
                it.wait_output = Some(item);
                it
            })
            .collect();
        self.tx.insert_steps(&rows).await?;
        let mc = self.max_concurrency(ix);
        for i in 0..mc.min(n) {
            self.start_iteration(ix, &path, i).await?;
        }
        Ok(())
    }

    /// Creates the taken branch's rows (counted) and the other branches'
    /// rows as SKIPPED, then records how many children the block waits for.
    pub(super) async fn run_branch(
        &mut self,
        mut r: StepRecord,
        expect: &Expect,
        prefix: &str,
        taken: &[Ix],
        other: &[Ix],
    ) -> Result<()> {
        let path = r.path.clone();
        // write the block RUNNING first so its children see it
        let mut running = r.clone();
        running.pending_children = i32::try_from(taken.len()).unwrap_or(i32::MAX);
        if taken.is_empty() {
            Self::to_terminal(&mut running, StepStatus::Completed)?;
        }
        self.write(running, expect, true).await?;
        r.status = StepStatus::Running;
        self.skip_rows(other, prefix, &path).await?;
        self.create_children(taken, prefix, Some(&path)).await?;
        Ok(())
    }

    pub(super) fn start_iteration<'a>(&'a mut self, lix: Ix, loop_path: &'a str, i: usize) -> BoxFut<'a, Result<()>> {
        Box::pin(async move {
            let t = now();
            let ipath = StepPath::new(loop_path).iteration(i);
            let Some(mut it) = self.tx.lock_step(self.run.id, &ipath).await? else {
                return Err(Error::Corrupt(format!("iteration `{ipath}` missing")));
            };
            if it.status != StepStatus::Pending {
                return Ok(());
            }
            let expect = Expect::of(&it);
            it.status = it.status.transition(StepStatus::Running)?;
            it.started_at = Some(t);
            let children = self.plan.children[lix].clone();
            it.pending_children = i32::try_from(children.len()).unwrap_or(i32::MAX);
            if children.is_empty() {
                Self::to_terminal(&mut it, StepStatus::Completed)?;
                return self.write(it, &expect, true).await;
            }
            self.write(it, &expect, true).await?;
            self.create_children(&children, &format!("{ipath}."), Some(&ipath))
                .await?;
            Ok(())
        })
    }
}

/// See [`Advance::evaluate`].
async fn evaluate(
    limits: orbflow_model::expr::budget::Limits,
    c: Compiled,
    ctx: orbflow_model::expr::EvalContext,
) -> std::result::Result<Value, StepError> {
    let source = c.source().to_owned();
    match crate::engine::off_runtime(c.is_cheap(), move || c.eval_with(&ctx, &limits)).await {
        Some(r) => r.map_err(|e| StepError::expression(e.reason, e.expression)),
        None => Err(StepError::expression("the expression's evaluation crashed", source)),
    }
}

/// A block whose expression has been evaluated.
struct Evaluated {
    ix: Ix,
    record: StepRecord,
    value: Value,
    source: String,
}

/// A block's step error: what is wrong with its expression's value.
fn expression_error(message: String, expression: String) -> StepError {
    StepError::expression(message, expression)
}
