//! `dependsOn`: targets exist, are in scope and earlier, and no cycle.
//!
//! Cycles are found on an event graph with two nodes per step, *start* and
//! *finish*: a step starts after its dependencies finish and after its
//! enclosing block starts; it finishes after it starts; a block finishes
//! after each of its children finishes. A cycle in that graph is a
//! workflow that could never finish (for example a step depending on its own
//! block), and it is reported with the keys along it.

use std::collections::HashSet;

use super::diagnostic::{Diagnostics, suggestion};
use super::rules::StepIndex;
use crate::workflow::Workflow;

/// An edge "`from` waits for `to`", labelled with the explicit `dependsOn`
/// entry (step, position) that created it, if any.
struct Edge {
    to: usize,
    label: Option<(usize, usize)>,
}

/// Checks every `dependsOn`, then that every `steps.<key>` a step reads is
/// sure to have finished when it starts ([`check_reads`]).
pub fn check_dependencies(_wf: &Workflow, idx: &StepIndex<'_>, d: &mut Diagnostics) {
    let n = idx.entries.len();
    let mut graph: Vec<Vec<Edge>> = (0..2 * n).map(|_| Vec::new()).collect();
    let start = |i: usize| 2 * i;
    let finish = |i: usize| 2 * i + 1;
    // forward references are reported after the cycle search, which leaves them out
    let mut forward: Vec<(usize, usize, usize)> = Vec::new();
    for (i, e) in idx.entries.iter().enumerate() {
        graph[finish(i)].push(Edge {
            to: start(i),
            label: None,
        });
        if let Some(p) = e.parent {
            graph[start(i)].push(Edge {
                to: start(p),
                label: None,
            });
            graph[finish(p)].push(Edge {
                to: finish(i),
                label: None,
            });
        }
        match &e.step.depends_on {
            None => {
                if let Some(prev) = e.prev {
                    graph[start(i)].push(Edge {
                        to: finish(prev),
                        label: None,
                    });
                }
            }
            Some(keys) => {
                let mut seen = HashSet::new();
                for (j, k) in keys.iter().enumerate() {
                    let p = format!("{}.dependsOn[{j}]", e.path);
                    if !seen.insert(k.as_str()) {
                        d.push(p, "duplicate-key", format!("`{k}` is listed twice"));
                        continue;
                    }
                    let Some(&t) = idx.by_key.get(k.as_str()) else {
                        d.push(
                            p,
                            "unknown-dependency",
                            format!("no step has key `{k}`{}", suggestion(k, idx.by_key.keys().copied())),
                        );
                        continue;
                    };
                    if t == i {
                        d.push(p, "cycle", format!("dependency cycle: `{k}` depends on itself"));
                        continue;
                    }
                    if let Some(&lp) = idx.entries[t].loops.iter().find(|l| !idx.entries[i].loops.contains(l)) {
                        let lk = &idx.entries[lp].step.key;
                        d.push(
                            p,
                            "invalid-dependency",
                            format!("`{k}` runs once per item inside loop `{lk}`; depend on the loop `{lk}` instead"),
                        );
                        continue;
                    }
                    // a later step is reported as such, whatever cycle it
                    // makes with the steps in between (they follow their
                    // previous step, so naming a later one always closes one)
                    if t > i && !idx.is_ancestor(i, t) && !idx.is_ancestor(t, i) {
                        forward.push((i, j, t));
                        continue;
                    }
                    graph[start(i)].push(Edge {
                        to: finish(t),
                        label: Some((i, j)),
                    });
                }
            }
        }
    }
    if report_cycles(&graph, idx, d).is_empty() && forward.is_empty() {
        check_reads(&graph, idx, d);
    }
    for (i, j, t) in forward {
        let k = &idx.entries[t].step.key;
        d.push(
            format!("{}.dependsOn[{j}]", idx.entries[i].path),
            "forward-dependency",
            format!("`{k}` comes later in the workflow; `dependsOn` may only name earlier steps or blocks"),
        );
    }
}

/// Finds cycles with an iterative DFS; reports each once; returns the
/// explicit `dependsOn` entries that lie on a cycle.
fn report_cycles(graph: &[Vec<Edge>], idx: &StepIndex<'_>, d: &mut Diagnostics) -> HashSet<(usize, usize)> {
    const WHITE: u8 = 0;
    const GREY: u8 = 1;
    const BLACK: u8 = 2;
    let mut color = vec![WHITE; graph.len()];
    let mut on_cycle = HashSet::new();
    let mut reported: HashSet<Vec<usize>> = HashSet::new();
    for root in 0..graph.len() {
        if color[root] != WHITE {
            continue;
        }
        // stack of (node, next edge index); `path` mirrors the grey nodes with the edge taken
        let mut stack: Vec<(usize, usize)> = vec![(root, 0)];
        color[root] = GREY;
        while let Some(&mut (node, ref mut ei)) = stack.last_mut() {
            if *ei < graph[node].len() {
                let to = graph[node][*ei].to;
                *ei += 1;
                match color[to] {
                    WHITE => {
                        color[to] = GREY;
                        stack.push((to, 0));
                    }
                    GREY => {
                        // cycle: from `to` along the stack back to `node`, then the edge node -> to
                        let pos = stack.iter().position(|(x, _)| *x == to).unwrap_or(0);
                        let mut labels = Vec::new();
                        let mut steps = Vec::new();
                        for w in stack[pos..].iter() {
                            let (x, taken) = *w;
                            let edge = &graph[x][taken - 1];
                            if let Some(l) = edge.label {
                                labels.push(l);
                            }
                            let s = x / 2;
                            if steps.last() != Some(&s) {
                                steps.push(s);
                            }
                        }
                        // the walk may pass a step twice (its start and its finish)
                        while steps.len() > 1 && steps.last() == steps.first() {
                            steps.pop();
                        }
                        let mut key: Vec<usize> = steps.clone();
                        key.sort_unstable();
                        key.dedup();
                        on_cycle.extend(labels.iter().copied());
                        if reported.insert(key) {
                            // start the cycle at the step whose dependsOn is reported
                            if let Some(&(i, _)) = labels.iter().min()
                                && let Some(at) = steps.iter().position(|s| *s == i)
                            {
                                steps.rotate_left(at);
                            }
                            let mut names: Vec<&str> =
                                steps.iter().map(|s| idx.entries[*s].step.key.as_str()).collect();
                            names.dedup();
                            if let Some(first) = names.first().copied() {
                                names.push(first);
                            }
                            let path = labels
                                .iter()
                                .min()
                                .map(|(i, j)| format!("{}.dependsOn[{j}]", idx.entries[*i].path))
                                .unwrap_or_else(|| idx.entries[steps[0]].path.clone());
                            d.push(path, "cycle", format!("dependency cycle: {}", names.join(" → ")));
                        }
                    }
                    _ => {}
                }
            } else {
                color[node] = BLACK;
                stack.pop();
            }
        }
    }
    on_cycle
}

/// The `steps.<key>` a step's own expressions read (its config's
/// templates, `if`, `on`, `forEach`), each with the path it is read at.
fn reads(e: &crate::validate::rules::Entry<'_>) -> Vec<(String, String)> {
    use crate::expr::template::{Template, template_strings};
    use crate::workflow::StepKind;
    let from = |src: &str, path: String, out: &mut Vec<(String, String)>| {
        if let Ok(c) = crate::expr::compile(src) {
            out.extend(c.references().step_keys.iter().map(|k| (path.clone(), k.clone())));
        }
    };
    let mut out = Vec::new();
    match &e.step.kind {
        StepKind::Action { config: Some(cfg), .. } => {
            for (sub, s) in template_strings(cfg) {
                let sep = if sub.starts_with('[') { "" } else { "." };
                let path = format!("{}.config{sep}{sub}", e.path);
                if let Ok(t) = Template::parse(s) {
                    for c in t.expressions() {
                        out.extend(c.references().step_keys.iter().map(|k| (path.clone(), k.clone())));
                    }
                }
            }
        }
        StepKind::Action { config: None, .. } => {}
        StepKind::Condition { condition, .. } => from(condition, format!("{}.if", e.path), &mut out),
        StepKind::Switch { on, .. } => from(on, format!("{}.on", e.path), &mut out),
        StepKind::Loop { for_each, .. } => from(for_each, format!("{}.forEach", e.path), &mut out),
    }
    out
}

/// Reports each `steps.<key>` a step reads where `key` is not sure to have
/// finished when the step starts (not one of its dependencies, direct or
/// through its blocks): it would read `null` or a stale value at run time.
/// `graph` has an edge from each node to what it waits for; "finished
/// before `i` starts" is "`finish(t)` reachable from `start(i)`".
fn check_reads(graph: &[Vec<Edge>], idx: &StepIndex<'_>, d: &mut Diagnostics) {
    let mut seen = vec![0usize; graph.len()];
    let mut stamp = 0usize;
    for (i, e) in idx.entries.iter().enumerate() {
        for (path, key) in reads(e) {
            let Some(&t) = idx.by_key.get(key.as_str()) else {
                continue; // unknown-step, reported already
            };
            // a step reading itself (its own retries' view) is not an ordering question
            if t == i {
                continue;
            }
            stamp += 1;
            let target = 2 * t + 1;
            let mut stack = vec![2 * i];
            let mut found = false;
            while let Some(node) = stack.pop() {
                if node == target {
                    found = true;
                    break;
                }
                if seen[node] == stamp {
                    continue;
                }
                seen[node] = stamp;
                stack.extend(graph[node].iter().map(|edge| edge.to));
            }
            if !found {
                let (k, me) = (&idx.entries[t].step.key, &e.step.key);
                let why = if idx.is_ancestor(i, t) {
                    format!("`{k}` is inside `{me}`, which reads this before its steps run")
                } else if idx.is_ancestor(t, i) {
                    format!("`{k}` encloses `{me}` and finishes only after it")
                } else {
                    format!("`{k}` is not sure to have finished when `{me}` starts; add it to `dependsOn`")
                };
                d.push(path, "unordered-read", format!("`steps.{k}` is read here, but {why}"));
            }
        }
    }
}
