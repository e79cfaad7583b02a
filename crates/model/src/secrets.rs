//! Which secrets a workflow reads: every `secrets.NAME` inside a `{{ }}`
//! template of an action's `config` (the only place templates see
//! `secrets`), with the document path of the string that names it.
//! Publishing checks these names against the workspace's secrets; a step
//! checks them again when it renders.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::dsl::located::{join_field, join_index};
use crate::workflow::Workflow;

/// A secret a workflow reads, and where.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct SecretUse {
    /// Its name.
    pub name: String,
    /// The path of the string naming it: `steps[2].config.headers.Authorization`.
    pub path: String,
}

/// The names `secrets.NAME` inside the `{{ }}` templates of `text`, in order.
pub fn names_in_text(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(open) = rest.find("{{") {
        let inner = &rest[open + 2..];
        let Some(close) = inner.find("}}") else { break };
        names_in_expression(&inner[..close], &mut out);
        rest = &inner[close + 2..];
    }
    out
}

/// `secrets.NAME` in a CEL expression, where `secrets` is a whole identifier
/// (not `mysecrets.x` nor `a.secrets.x`).
fn names_in_expression(expr: &str, out: &mut Vec<String>) {
    for (i, _) in expr.match_indices("secrets.") {
        let before = expr[..i].chars().next_back();
        if before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.') {
            continue;
        }
        let name: String = expr[i + "secrets.".len()..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        if !name.is_empty() && !out.contains(&name) {
            out.push(name);
        }
    }
}

/// The names a config's strings (keys included) read.
pub fn names_in(config: &Value) -> BTreeSet<String> {
    let mut uses = Vec::new();
    collect(config, "", &mut uses);
    uses.into_iter().map(|u| u.name).collect()
}

fn add(text: &str, path: &str, out: &mut Vec<SecretUse>) {
    for name in names_in_text(text) {
        out.push(SecretUse {
            name,
            path: path.to_owned(),
        });
    }
}

fn collect(value: &Value, path: &str, out: &mut Vec<SecretUse>) {
    match value {
        Value::String(s) => add(s, path, out),
        Value::Array(a) => {
            for (i, v) in a.iter().enumerate() {
                collect(v, &join_index(path, i), out);
            }
        }
        Value::Object(o) => {
            for (k, v) in o {
                let p = join_field(path, k);
                add(k, &p, out);
                collect(v, &p, out);
            }
        }
        _ => {}
    }
}

impl Workflow {
    /// Every secret its action configs read, where each is read, in
    /// document order.
    pub fn secret_uses(&self) -> Vec<SecretUse> {
        let mut out = Vec::new();
        for a in self.action_steps() {
            if let Some(c) = a.config {
                collect(c, &format!("{}.config", a.path), &mut out);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn only_names_inside_templates_count() {
        assert_eq!(names_in_text("{{ secrets.A }} and {{secrets.B_2}}"), ["A", "B_2"]);
        assert_eq!(
            names_in_text("see secrets.txt, {{ 'x' + secrets.C }}"),
            ["C"],
            "outside {{ }} it is text"
        );
        assert_eq!(
            names_in_text("{{ mysecrets.D + input.secrets.E }}"),
            Vec::<String>::new()
        );
        assert_eq!(names_in_text("{{ secrets.A + secrets.A }}"), ["A"]);
        assert_eq!(names_in_text("{{ secrets.F"), Vec::<String>::new(), "unclosed");
        assert_eq!(names_in_text("{{ secrets. }}"), Vec::<String>::new());
    }

    #[test]
    fn uses_carry_the_path_of_the_string_that_names_them() {
        let wf: Workflow = serde_json::from_value(json!({
            "schemaVersion": 1,
            "name": "w",
            "steps": [
                { "key": "a", "action": "TRANSFORM", "config": { "value": { "{{ secrets.K }}": ["x", "{{ secrets.L }}"] } } },
                { "key": "b", "type": "condition", "if": "true", "then": [
                    { "key": "c", "action": "HTTP_REQUEST", "config": { "url": "{{ secrets.U }}" } }
                ], "else": [
                    { "key": "d", "type": "loop", "forEach": "[1]", "steps": [
                        { "key": "e", "action": "TRANSFORM", "config": { "value": "{{ secrets.V }}" } }
                    ] }
                ] },
                { "key": "f", "type": "switch", "on": "1", "cases": [ { "value": 1, "steps": [
                    { "key": "g", "action": "TRANSFORM", "config": { "value": "{{ secrets.W }}" } }
                ] } ], "default": [
                    { "key": "h", "action": "TRANSFORM", "config": { "value": "{{ secrets.X }}" } }
                ] }
            ]
        }))
        .unwrap();
        let got: Vec<(String, String)> = wf.secret_uses().into_iter().map(|u| (u.name, u.path)).collect();
        let want = [
            ("K", "steps[0].config.value[\"{{ secrets.K }}\"]"),
            ("L", "steps[0].config.value[\"{{ secrets.K }}\"][1]"),
            ("U", "steps[1].then[0].config.url"),
            ("V", "steps[1].else[0].steps[0].config.value"),
            ("W", "steps[2].cases[0].steps[0].config.value"),
            ("X", "steps[2].default[0].config.value"),
        ];
        let want: Vec<(String, String)> = want.iter().map(|(a, b)| ((*a).into(), (*b).into())).collect();
        assert_eq!(got, want);
        assert_eq!(
            names_in(&json!({ "a": "{{ secrets.B }}", "{{ secrets.A }}": 1 })),
            ["A", "B"].into_iter().map(String::from).collect()
        );
    }
}
