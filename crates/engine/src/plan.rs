//! A workflow version prepared for execution: the flattened steps with
//! dependency, dependent, child and loop indexes, built once per version.

use std::collections::HashMap;

use orbflow_model::expr::template::{Template, is_cheap, template_strings};
use orbflow_model::plan::{StepRow, flatten};
use orbflow_model::{BranchType, StepType, Workflow};
use serde_json::Value;

/// Index of a step in [`Plan::rows`].
pub type Ix = usize;

/// A prepared version.
#[derive(Debug)]
pub struct Plan {
    /// The workflow.
    pub workflow: Workflow,
    /// Steps in document order.
    pub rows: Vec<StepRow>,
    /// Key → index.
    pub by_key: HashMap<String, Ix>,
    /// Resolved dependencies of each step.
    pub deps: Vec<Vec<Ix>>,
    /// Steps that depend on each step.
    pub dependents: Vec<Vec<Ix>>,
    /// Direct children of each block, in document order.
    pub children: Vec<Vec<Ix>>,
    /// Parent block of each step.
    pub parent: Vec<Option<Ix>>,
    /// Enclosing loops of each step, outermost first.
    pub loops: Vec<Vec<Ix>>,
    /// Top-level steps.
    pub top: Vec<Ix>,
    /// What each step's config templates need, parsed once per version.
    pub templates: Vec<Templates>,
}

/// The `{{ }}` templates of a step's config, as the claim and the render
/// need them (so an attempt never parses them to find out).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Templates {
    /// The config has at least one template.
    pub any: bool,
    /// Step keys they read (only those outputs are loaded at claim).
    pub keys: Vec<String>,
    /// Every expression is cheap ([`orbflow_model::expr::Compiled::is_cheap`]):
    /// the render may run inline rather than on a blocking thread.
    pub cheap: bool,
}

impl Templates {
    /// The templates of `config`.
    pub fn of(config: Option<&Value>) -> Self {
        let strings = config.map(template_strings).unwrap_or_default();
        let mut out = Self {
            any: !strings.is_empty(),
            keys: Vec::new(),
            cheap: config.is_none_or(is_cheap),
        };
        // a template that does not parse reads nothing: it fails when rendered
        for t in strings.into_iter().filter_map(|(_, s)| Template::parse(s).ok()) {
            for c in t.expressions() {
                out.keys.extend(c.references().step_keys);
            }
        }
        out.keys.sort();
        out.keys.dedup();
        out
    }
}

impl Plan {
    /// The row of step `key`: a key the version lacks comes from a corrupt
    /// row ([`crate::Error::Corrupt`]).
    pub(crate) fn ix(&self, key: &str) -> crate::Result<Ix> {
        self.by_key
            .get(key)
            .copied()
            .ok_or_else(|| crate::Error::Corrupt(format!("step `{key}` is not in its version")))
    }

    /// Prepares `workflow` (which must be valid).
    pub fn new(workflow: Workflow) -> Self {
        let rows = flatten(&workflow.steps);
        let by_key: HashMap<String, Ix> = rows.iter().enumerate().map(|(i, r)| (r.key.clone(), i)).collect();
        let n = rows.len();
        let mut deps = vec![Vec::new(); n];
        let mut dependents = vec![Vec::new(); n];
        let mut children = vec![Vec::new(); n];
        let mut parent = vec![None; n];
        let mut top = Vec::new();
        for (i, r) in rows.iter().enumerate() {
            for d in &r.dependencies {
                if let Some(&j) = by_key.get(d) {
                    deps[i].push(j);
                    dependents[j].push(i);
                }
            }
            match r.parent_key.as_ref().and_then(|p| by_key.get(p)) {
                Some(&p) => {
                    parent[i] = Some(p);
                    children[p].push(i);
                }
                None => top.push(i),
            }
        }
        let mut loops = vec![Vec::new(); n];
        for i in 0..n {
            let mut chain = Vec::new();
            let mut p = parent[i];
            while let Some(x) = p {
                if rows[x].step_type == StepType::Loop {
                    chain.push(x);
                }
                p = parent[x];
            }
            chain.reverse();
            loops[i] = chain;
        }
        let templates = rows.iter().map(|r| Templates::of(r.config.as_ref())).collect();
        Self {
            workflow,
            rows,
            templates,
            by_key,
            deps,
            dependents,
            children,
            parent,
            loops,
            top,
        }
    }

    /// The children of block `b` in `branch` (and switch case `case`).
    pub fn branch(&self, b: Ix, branch: BranchType, case: Option<u32>) -> Vec<Ix> {
        self.children[b]
            .iter()
            .copied()
            .filter(|&c| {
                self.rows[c].branch_type == Some(branch) && (case.is_none() || self.rows[c].branch_index == case)
            })
            .collect()
    }

    /// The last step of a loop's body (its output is the loop's output).
    pub fn last_body_step(&self, l: Ix) -> Option<Ix> {
        self.children[l].last().copied()
    }

    /// Number of loop levels around step `i`.
    pub fn depth(&self, i: Ix) -> usize {
        self.loops[i].len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_are_summarised_once() {
        use serde_json::json;
        assert_eq!(
            Templates::of(None),
            Templates {
                any: false,
                keys: vec![],
                cheap: true
            }
        );
        assert!(!Templates::of(Some(&json!({"value": 1}))).any);
        let t = Templates::of(Some(
            &json!({"a": "{{ steps.b.output + steps.a.output }}", "c": ["x {{ steps.b.output }}"]}),
        ));
        assert_eq!(
            t,
            Templates {
                any: true,
                keys: vec!["a".into(), "b".into()],
                cheap: true
            }
        );
        assert!(!Templates::of(Some(&json!({"a": "{{ input.l.map(x, x) }}"}))).cheap);
        let broken = Templates::of(Some(&json!({"a": "{{ (( }}"})));
        assert!(broken.any && !broken.cheap);
    }
}
