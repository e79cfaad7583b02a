//! The workloads the benches and tests share: workflows as YAML (chains,
//! fan-out with a join, loops, webhook chains), the shape that decides each
//! step's predecessor, the acceptance set of issue 10 and the selection by
//! `ORBFLOW_BENCH`.

/// How a workload's steps depend on each other (for step-to-step latency).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// Steps `s0`, `s1`, … in sequence (in each run).
    Chain,
    /// `root`, then `f0`…`fN` after it, then `join` after all of them.
    /// The `f` steps wait for a free worker slot: their predecessor is the
    /// latest step that ended before they started (as in [`Shape::Loop`]);
    /// the join's is the last `f` step.
    Fan,
    /// Loop iterations under a concurrency cap: an iteration waits for a
    /// free slot, freed by the latest step that ended before it started.
    Loop,
}

/// One workload: a workflow, started `runs` times at once.
#[derive(Debug, Clone)]
pub struct Workload {
    /// Name, the same in the BullMQ bench (`bench/bullmq/bench.mjs`).
    pub name: String,
    /// How steps depend on each other.
    pub shape: Shape,
    /// The workflow.
    pub yaml: String,
    /// Runs started together.
    pub runs: usize,
}

impl Workload {
    fn one(name: &str, shape: Shape, yaml: String) -> Self {
        Self {
            name: name.to_owned(),
            shape,
            yaml,
            runs: 1,
        }
    }
}

/// A sequential chain of `n` TRANSFORM steps.
pub fn chain(n: usize) -> String {
    let mut y = String::from("schemaVersion: 1\nname: chain\nsteps:\n");
    for i in 0..n {
        y.push_str(&format!(
            "  - {{key: s{i}, action: TRANSFORM, config: {{value: {i}}}}}\n"
        ));
    }
    y
}

fn webhook_step(i: usize, url: &str) -> String {
    format!("  - {{key: s{i}, action: TRIGGER_WEBHOOK, config: {{url: '{url}', body: {{i: {i}}}}}}}\n")
}

/// A sequential chain of `n` TRIGGER_WEBHOOK steps POSTing to `url`.
pub fn webhook_chain(n: usize, url: &str) -> String {
    let mut y = String::from("schemaVersion: 1\nname: webhook-chain\nsteps:\n");
    for i in 0..n {
        y.push_str(&webhook_step(i, url));
    }
    y
}

/// A chain of `n` steps: even ones TRANSFORM, odd ones TRIGGER_WEBHOOK to `url`.
pub fn mixed_chain(n: usize, url: &str) -> String {
    let mut y = String::from("schemaVersion: 1\nname: mixed\nsteps:\n");
    for i in 0..n {
        if i % 2 == 1 {
            y.push_str(&webhook_step(i, url));
        } else {
            y.push_str(&format!(
                "  - {{key: s{i}, action: TRANSFORM, config: {{value: {i}}}}}\n"
            ));
        }
    }
    y
}

/// A root, `n` steps after it, and a join after all of them.
pub fn fan(n: usize) -> String {
    let mut y =
        String::from("schemaVersion: 1\nname: fan\nsteps:\n  - {key: root, action: TRANSFORM, config: {value: 0}}\n");
    for i in 0..n {
        y.push_str(&format!(
            "  - {{key: f{i}, dependsOn: [root], action: TRANSFORM, config: {{value: {i}}}}}\n"
        ));
    }
    let deps: Vec<String> = (0..n).map(|i| format!("f{i}")).collect();
    y.push_str(&format!(
        "  - {{key: join, dependsOn: [{}], action: TRANSFORM, config: {{value: done}}}}\n",
        deps.join(", ")
    ));
    y
}

/// A loop over `n` items, 8 at a time, with one templated TRANSFORM each.
pub fn looped(n: usize) -> String {
    format!(
        "schemaVersion: 1\nname: loop\nsteps:\n  - key: each\n    type: loop\n    forEach: 'lists.range({n})'\n    maxConcurrency: 8\n    steps:\n      - {{key: body, action: TRANSFORM, config: {{value: '{{{{ item }}}}'}}}}\n"
    )
}

/// The acceptance workloads of issue 10, TRIGGER_WEBHOOK steps calling `peer`.
pub fn acceptance(peer: &str) -> Vec<Workload> {
    vec![
        Workload::one("chain-1000", Shape::Chain, chain(1000)),
        Workload::one("webhook-chain-200", Shape::Chain, webhook_chain(200, peer)),
        Workload::one("fan-out-1000+join", Shape::Fan, fan(1000)),
        Workload {
            runs: 200,
            ..Workload::one("runs-200x10", Shape::Chain, mixed_chain(10, peer))
        },
        Workload::one("loop-1000", Shape::Loop, looped(1000)),
        Workload::one("loop-10000", Shape::Loop, looped(10_000)),
    ]
}

/// The comma-separated names in `ORBFLOW_BENCH` (empty: everything).
pub fn selection() -> Vec<String> {
    std::env::var("ORBFLOW_BENCH")
        .unwrap_or_default()
        .split(',')
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .collect()
}

/// Whether `name` is selected: no selection, or a selected word that is
/// the name or its first dash-separated part(s) (`loop` selects both loops,
/// `loop-1000` only that one, `chain` only `chain-1000`).
pub fn selected(selection: &[String], name: &str) -> bool {
    selection.is_empty()
        || selection
            .iter()
            .any(|s| name == s || name.strip_prefix(s.as_str()).is_some_and(|rest| rest.starts_with('-')))
}

/// The per-workload timeout: `ORBFLOW_BENCH_TIMEOUT_SECS`, default 240.
pub fn timeout() -> std::time::Duration {
    let secs = std::env::var("ORBFLOW_BENCH_TIMEOUT_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(240);
    std::time::Duration::from_secs(secs)
}
