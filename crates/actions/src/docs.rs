//! Renders docs/WORKFLOW_ACTIONS.md from the catalog, so the reference can
//! never disagree with the code (a test fails when the file drifts).

use std::fmt::Write as _;

use serde_json::Value;

use crate::registry::Registry;
use crate::spec::{ActionSpec, Category};

/// Categories in the order the document lists them.
const CATEGORIES: [Category; 5] = [
    Category::Social,
    Category::Notification,
    Category::Ai,
    Category::Data,
    Category::Control,
];

/// The command that regenerates the document.
pub const REGENERATE_COMMAND: &str = "ORBFLOW_UPDATE_DOCS=1 cargo test -p orbflow-actions --test docs_drift";

fn category_title(c: Category) -> &'static str {
    match c {
        Category::Social => "Social",
        Category::Notification => "Notification",
        Category::Ai => "AI",
        Category::Data => "Data",
        Category::Control => "Control flow",
    }
}

/// GitHub's heading anchor for an action name (`POST_TO_SOCIAL` →
/// `post_to_social`).
fn anchor(text: &str) -> String {
    text.chars()
        .filter(|c| c.is_alphanumeric() || *c == '-' || *c == '_' || *c == ' ')
        .map(|c| if c == ' ' { '-' } else { c.to_ascii_lowercase() })
        .collect()
}

fn pretty(v: &Value) -> String {
    serde_json::to_string_pretty(v).unwrap_or_else(|_| v.to_string())
}

/// Text for a Markdown table cell: no line breaks, pipes escaped.
fn cell(text: &str) -> String {
    text.replace('\n', " ").replace('|', "\\|")
}

fn block_syntax(name: &str) -> &'static str {
    match name {
        "CONDITIONAL_BRANCH" => "`type: condition` / `type: switch`",
        "LOOP" => "`type: loop`",
        _ => "a block `type`",
    }
}

fn render_action(out: &mut String, s: &ActionSpec) {
    let _ = writeln!(out, "### {}\n", s.name);
    let _ = writeln!(out, "{}\n", s.description);
    let status = if s.implemented {
        "implemented"
    } else {
        "not configured in this build (every attempt fails with a fatal error)"
    };
    let kind = if s.block {
        format!("control-flow block, written as {}", block_syntax(s.name))
    } else {
        format!("action (`action: {}`)", s.name)
    };
    let permissions = if s.required_permissions.is_empty() {
        "none".to_owned()
    } else {
        s.required_permissions
            .iter()
            .map(|p| format!("`{p}`"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let execution = if s.block {
        "evaluated by the engine in the transaction that readies the block"
    } else if crate::registry::PURE.contains(&s.name) {
        "inline: pure, so the worker runs it inside the transaction that readied it, with no \
         queue hop, and commits it with the steps around it; a crash before that commit runs it again"
    } else {
        "through the queue: claimed under a lease and run outside any transaction, exactly once \
         per attempt"
    };
    out.push_str("| | |\n|---|---|\n");
    let _ = writeln!(out, "| Category | {} |", s.category.as_str());
    let _ = writeln!(out, "| Kind | {} |", cell(&kind));
    let _ = writeln!(out, "| Status | {status} |");
    let _ = writeln!(out, "| Execution | {} |", cell(execution));
    let _ = writeln!(out, "| Required permissions | {} |", cell(&permissions));
    match s.connection {
        Some(c) if c.optional => {
            let _ = writeln!(
                out,
                "| Connection | optional: the workspace's default `{}` connection, when it has one ([Connections](#connections)) |",
                c.kind
            );
        }
        Some(c) if c.kind_of.is_some() && c.name_field == "connection" => {
            let _ = writeln!(
                out,
                "| Connection | only with `provider: llm`: a `{kind}` connection, the one `config.connection` names, else the workspace's default `{kind}` connection ([Connections](#connections)); such a step is not pure and goes through the queue |",
                kind = c.kind
            );
        }
        Some(c) if c.kind_of.is_some() => {
            let _ = writeln!(
                out,
                "| Connection | the connection `config.{}` names, of the kind `platform` gives ({}) ([Connections](#connections)) |",
                c.name_field,
                cell(c.kind)
            );
        }
        Some(c) => {
            let _ = writeln!(
                out,
                "| Connection | a `{kind}` connection: the one `config.{field}` names, else the workspace's default `{kind}` connection ([Connections](#connections)) |",
                kind = c.kind,
                field = c.name_field
            );
        }
        None => {}
    }
    let _ = writeln!(out, "| Output | {} |\n", cell(s.output));

    out.push_str("**Config schema**\n\n```json\n");
    out.push_str(&pretty(&s.config_schema));
    out.push_str("\n```\n\n");

    out.push_str("**Example**\n\n```yaml\n");
    if s.block {
        let _ = writeln!(out, "# parameters of a {} step", block_syntax(s.name).replace('`', ""));
        let _ = writeln!(out, "{}", serde_json::to_string(&s.example).unwrap_or_default());
    } else {
        let _ = writeln!(
            out,
            "schemaVersion: 1\nname: {}-example\ntriggers:\n  - type: manual\nsteps:\n  - key: example\n    action: {}",
            s.name.to_ascii_lowercase().replace('_', "-"),
            s.name
        );
        let _ = writeln!(
            out,
            "    config: {}",
            serde_json::to_string(&s.example).unwrap_or_default()
        );
    }
    out.push_str("```\n\n");

    let _ = writeln!(out, "**Security:** {}\n", s.security);
}

fn render_connections(out: &mut String) {
    out.push_str(
        "## Connections\n\nA workspace configures each provider once, as a named connection \
         (`orbflow connections set NAME --kind KIND --config @settings.json [--default]`, \
         `PUT /v1/connections/NAME`). A step of an action that uses a kind names one in \
         `config.connection`, or gets the workspace's default connection of that kind. \
         Publishing a workflow whose steps need a connection the workspace lacks is a 422 \
         (`unknown-connection`). Credential fields hold only a `{{ secrets.NAME }}` template: the \
         value is the workspace's sealed secret, resolved when an attempt runs and hidden (`***`) \
         from what it returns.\n\n",
    );
    for k in crate::connections::kinds() {
        let _ = writeln!(out, "### `{}`\n\n{}\n", k.name, k.description);
        let creds: Vec<String> = k.credentials.iter().map(|c| format!("`{c}`")).collect();
        let _ = writeln!(out, "Credentials (secret templates only): {}\n", creds.join(", "));
        out.push_str("**Settings schema**\n\n```json\n");
        out.push_str(&pretty(&k.schema));
        out.push_str("\n```\n\n**Example**\n\n```json\n");
        out.push_str(&serde_json::to_string(&k.example).unwrap_or_default());
        out.push_str("\n```\n\n");
    }
}

/// Renders the action reference (docs/WORKFLOW_ACTIONS.md) from `registry`.
/// The output depends only on the catalog, so it is stable across runs.
pub fn render_markdown(registry: &Registry) -> String {
    let mut specs: Vec<&ActionSpec> = registry.specs().collect();
    specs.sort_by(|a, b| (a.category, a.name).cmp(&(b.category, b.name)));

    let mut out = String::new();
    out.push_str("# Workflow actions\n\n");
    out.push_str("<!-- Generated from the action catalog (crates/actions/src/docs.rs). Do not edit by hand. -->\n\n");
    let _ = writeln!(
        out,
        "This reference is generated from orbflow's action catalog: each action's description, \
         config JSON Schema (the schema the validator checks configs against), example, output \
         and security notes come from the code. Do not edit it by hand; after changing an \
         action, regenerate it with:\n\n```sh\n{REGENERATE_COMMAND}\n```\n"
    );
    let total = specs.len();
    let implemented = specs.iter().filter(|s| s.implemented).count();
    let _ = writeln!(
        out,
        "The catalog has {total} entries; {implemented} are implemented in this build. An action \
         marked \"not configured in this build\" is accepted by the validator but every attempt \
         fails with a fatal error naming what it needs. Config strings may use `{{{{ }}}}` \
         templates (see DSL.md); a config is validated against its schema after templates are \
         resolved.\n"
    );

    out.push_str("## Contents\n\n");
    for c in CATEGORIES {
        let in_cat: Vec<&&ActionSpec> = specs.iter().filter(|s| s.category == c).collect();
        if in_cat.is_empty() {
            continue;
        }
        let _ = writeln!(out, "- [{}](#{})", category_title(c), anchor(category_title(c)));
        for s in in_cat {
            let _ = writeln!(out, "  - [{}](#{}): {}", s.name, anchor(s.name), cell(s.description));
        }
    }
    out.push('\n');

    for c in CATEGORIES {
        let in_cat: Vec<&&ActionSpec> = specs.iter().filter(|s| s.category == c).collect();
        if in_cat.is_empty() {
            continue;
        }
        let _ = writeln!(out, "## {}\n", category_title(c));
        for s in in_cat {
            render_action(&mut out, s);
        }
    }
    render_connections(&mut out);
    // Exactly one trailing newline.
    while out.ends_with("\n\n") {
        out.pop();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_actions_example_is_a_workflow_that_validates() {
        let r = Registry::specs_only().unwrap();
        let md = render_markdown(&r);
        let workflows: Vec<&str> = md
            .split("```yaml\n")
            .skip(1)
            .filter_map(|b| b.split("```").next())
            .filter(|b| b.starts_with("schemaVersion: 1"))
            .collect();
        assert_eq!(workflows.len(), r.specs().filter(|s| !s.block).count());
        for w in workflows {
            let loaded = orbflow_model::dsl::load(w, orbflow_model::dsl::Format::Yaml, &r);
            assert!(loaded.is_ok(), "{w}: {:?}", loaded.err());
        }
    }

    #[test]
    fn renders_every_action_once_and_deterministically() {
        let r = Registry::specs_only().unwrap();
        let a = render_markdown(&r);
        assert_eq!(a, render_markdown(&r));
        for s in r.specs() {
            assert_eq!(a.matches(&format!("\n### {}\n", s.name)).count(), 1, "{}", s.name);
        }
        assert!(
            a.contains("The catalog has 16 entries; 16 are implemented"),
            "every action runs"
        );
        assert!(a.contains(REGENERATE_COMMAND));
        assert!(a.ends_with('\n') && !a.ends_with("\n\n"), "one trailing newline");
        let contents = a.find("## Contents").unwrap();
        let social = a.find("\n## Social\n").unwrap();
        let control = a.find("\n## Control flow\n").unwrap();
        assert!(contents < social && social < control);
    }

    #[test]
    fn says_which_actions_run_inline() {
        let r = Registry::specs_only().unwrap();
        let a = render_markdown(&r);
        let section = |name: &str| {
            let start = a.find(&format!("\n### {name}\n")).unwrap();
            let end = a[start + 1..].find("\n### ").map_or(a.len(), |e| start + 1 + e);
            a[start..end].to_owned()
        };
        for s in r.specs().filter(|s| !s.block) {
            let inline = section(s.name).contains("| Execution | inline: pure");
            assert_eq!(inline, r.is_pure(s.name), "{}", s.name);
        }
        assert!(section("TRIGGER_WEBHOOK").contains("| Execution | through the queue"));
        assert!(section("LOOP").contains("| Execution | evaluated by the engine"));
    }

    #[test]
    fn anchors() {
        assert_eq!(anchor("POST_TO_SOCIAL"), "post_to_social");
        assert_eq!(anchor("Control flow"), "control-flow");
    }
}
