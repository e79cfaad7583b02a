//! `orbflow graph FILE [--format mermaid|dot]`: the step graph, with
//! conditions, switch cases and loops visible.
//!
//! Step keys are not used bare as node ids: a step may be called `end`
//! (Mermaid's block closer) or `node` (a dot keyword). Mermaid ids are
//! `s_{key}`; dot ids are quoted.

use std::fmt::Write as _;

use orbflow_model::plan::{StepRow, flatten};
use orbflow_model::{BranchType, StepType};

use crate::output;

/// Graph output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum GraphFormat {
    /// Mermaid flowchart.
    Mermaid,
    /// Graphviz dot.
    Dot,
}

/// Arguments of `graph`.
#[derive(Debug, clap::Args)]
pub(crate) struct GraphArgs {
    /// Workflow file.
    file: String,
    /// Output format.
    #[arg(long, value_enum, default_value_t = GraphFormat::Mermaid)]
    format: GraphFormat,
}

pub(crate) fn run(args: &GraphArgs) -> anyhow::Result<i32> {
    let parsed = match output::load(&args.file) {
        Ok(p) => p,
        Err(d) => {
            output::print_human(&args.file, &d);
            return Ok(2);
        }
    };
    let rows = flatten(&parsed.workflow.steps);
    let text = match args.format {
        GraphFormat::Mermaid => mermaid(&rows),
        GraphFormat::Dot => dot(&rows),
    };
    print!("{text}");
    Ok(0)
}

fn block_param(r: &StepRow, name: &str) -> String {
    r.config
        .as_ref()
        .and_then(|c| c.get(name))
        .and_then(|v| v.as_str())
        .unwrap_or_default()
        .to_owned()
}

fn label(r: &StepRow) -> String {
    match r.step_type {
        StepType::Action => format!("{}\n{}", r.key, r.action),
        StepType::Condition => format!("{}\nif {}", r.key, block_param(r, "if")),
        StepType::Switch => format!("{}\nswitch {}", r.key, block_param(r, "on")),
        StepType::Loop => {
            let var = r
                .config
                .as_ref()
                .and_then(|c| c.get("as"))
                .and_then(|v| v.as_str())
                .unwrap_or("item");
            format!("{}\nfor {var} in {}", r.key, block_param(r, "forEach"))
        }
    }
}

/// Label of the edge from a block to the first step of one of its branches.
fn branch_label(r: &StepRow) -> String {
    match r.branch_type {
        Some(BranchType::IfTrue) => "then".to_owned(),
        Some(BranchType::IfFalse) => "else".to_owned(),
        Some(BranchType::SwitchCase) => r.branch_condition.as_ref().map(|v| v.to_string()).unwrap_or_default(),
        Some(BranchType::Default) => "default".to_owned(),
        Some(BranchType::LoopBody) => "each".to_owned(),
        None => String::new(),
    }
}

/// Edges: (from, to, label).
fn edges(rows: &[StepRow]) -> Vec<(String, String, Option<String>)> {
    let mut out = Vec::new();
    for r in rows {
        if let Some(p) = &r.parent_key
            && r.depends_on.is_none()
            && r.position == 0
        {
            out.push((p.clone(), r.key.clone(), Some(branch_label(r))));
        }
        for d in &r.dependencies {
            out.push((d.clone(), r.key.clone(), None));
        }
    }
    out
}

/// A step's Mermaid node id (no Mermaid keyword starts with `s_`).
fn mid(key: &str) -> String {
    format!("s_{key}")
}

fn mermaid_text(s: &str) -> String {
    s.replace('"', "#quot;").replace('\n', "<br/>")
}

fn mermaid(rows: &[StepRow]) -> String {
    let mut s = String::from("flowchart TD\n");
    // loops become subgraphs holding their body
    fn nodes(rows: &[StepRow], parent: Option<&str>, indent: usize, s: &mut String) {
        let pad = " ".repeat(indent);
        for r in rows.iter().filter(|r| r.parent_key.as_deref() == parent) {
            let l = mermaid_text(&label(r));
            let _ = match r.step_type {
                StepType::Action => writeln!(s, "{pad}{}[\"{l}\"]", mid(&r.key)),
                StepType::Condition | StepType::Switch => writeln!(s, "{pad}{}{{\"{l}\"}}", mid(&r.key)),
                StepType::Loop => writeln!(s, "{pad}{}([\"{l}\"])", mid(&r.key)),
            };
            if r.step_type == StepType::Loop {
                let _ = writeln!(s, "{pad}subgraph {}_body [\"{} body\"]", mid(&r.key), r.key);
                nodes(rows, Some(&r.key), indent + 2, s);
                let _ = writeln!(s, "{pad}end");
            } else {
                nodes(rows, Some(&r.key), indent, s);
            }
        }
    }
    nodes(rows, None, 2, &mut s);
    for (from, to, l) in edges(rows) {
        let _ = match l {
            Some(l) => writeln!(s, "  {} -- \"{}\" --> {}", mid(&from), mermaid_text(&l), mid(&to)),
            None => writeln!(s, "  {} --> {}", mid(&from), mid(&to)),
        };
    }
    s
}

fn dot_text(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

fn dot(rows: &[StepRow]) -> String {
    let mut s = String::from("digraph workflow {\n  rankdir=TB;\n  node [shape=box, fontname=\"Helvetica\"];\n");
    fn nodes(rows: &[StepRow], parent: Option<&str>, indent: usize, s: &mut String) {
        let pad = " ".repeat(indent);
        for r in rows.iter().filter(|r| r.parent_key.as_deref() == parent) {
            let shape = match r.step_type {
                StepType::Action => "box",
                StepType::Condition | StepType::Switch => "diamond",
                StepType::Loop => "hexagon",
            };
            let _ = writeln!(
                s,
                "{pad}\"{}\" [shape={shape}, label=\"{}\"];",
                r.key,
                dot_text(&label(r))
            );
            if r.step_type == StepType::Loop {
                let _ = writeln!(
                    s,
                    "{pad}subgraph \"cluster_{}\" {{\n{pad}  label=\"{} body\";\n{pad}  style=dashed;",
                    r.key, r.key
                );
                nodes(rows, Some(&r.key), indent + 2, s);
                let _ = writeln!(s, "{pad}}}");
            } else {
                nodes(rows, Some(&r.key), indent, s);
            }
        }
    }
    nodes(rows, None, 2, &mut s);
    for (from, to, l) in edges(rows) {
        let _ = match l {
            Some(l) => writeln!(s, "  \"{from}\" -> \"{to}\" [label=\"{}\"];", dot_text(&l)),
            None => writeln!(s, "  \"{from}\" -> \"{to}\";"),
        };
    }
    s.push_str("}\n");
    s
}
