//! The diagnostic codes docs/DSL.md lists are the ones the validator
//! emits: every code a check pushes is in the table, and every code in the
//! table is pushed somewhere (by the validator, or by the API's publish
//! checks for `unknown-secret` and `unknown-connection`).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn is_code(s: &str) -> bool {
    !s.is_empty()
        && s.split('-')
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase()))
}

/// The codes of the table under `| `code` | Meaning |`.
fn documented() -> BTreeSet<String> {
    let md = std::fs::read_to_string(root().join("docs/DSL.md")).unwrap();
    let start = md.find("| `code` | Meaning |").expect("the code table");
    md[start..]
        .lines()
        .skip(2)
        .take_while(|l| l.starts_with('|'))
        .filter_map(|l| l.split('`').nth(1).map(str::to_owned))
        .collect()
}

fn sources(dir: &Path, out: &mut Vec<String>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            sources(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(std::fs::read_to_string(&p).unwrap());
        }
    }
}

/// The first code-like string literal of each diagnostic a source pushes
/// (`d.push(path, "code", …)`, `self.error(path, "code", …)`, `code: "…"`),
/// looking at the call's line and the two after it.
fn emitted(dir: &Path) -> BTreeSet<String> {
    let mut files = Vec::new();
    sources(dir, &mut files);
    let mut out = BTreeSet::new();
    for f in files {
        let lines: Vec<&str> = f.lines().collect();
        for (i, l) in lines.iter().enumerate() {
            if !(l.contains(".push(") || l.contains(".error(") || l.contains("code: \""))
                || l.trim_start().starts_with("//")
            {
                continue;
            }
            let window = lines[i..(i + 3).min(lines.len())].join(" ");
            let from = window
                .find(".push(")
                .or_else(|| window.find(".error("))
                .or_else(|| window.find("code: "))
                .unwrap_or(0);
            if let Some(code) = window[from..]
                .split('"')
                .skip(1)
                .step_by(2)
                .find(|s| is_code(s) && s.contains('-') || *s == "cycle" || *s == "syntax")
            {
                out.insert(code.to_owned());
            }
        }
    }
    out
}

#[test]
fn the_documented_codes_are_the_emitted_ones() {
    let documented = documented();
    assert!(documented.len() > 20, "{documented:?}");
    let model = emitted(&root().join("crates/model/src"));
    let undocumented: Vec<&String> = model.iter().filter(|c| !documented.contains(*c)).collect();
    assert!(
        undocumented.is_empty(),
        "emitted but not in DSL.md's table: {undocumented:?}"
    );
    let api = std::fs::read_to_string(root().join("crates/api/src/routes/versions.rs")).unwrap();
    let never: Vec<&String> = documented
        .iter()
        .filter(|c| !model.contains(*c) && !api.contains(&format!("\"{c}\"")))
        .collect();
    assert!(never.is_empty(), "in DSL.md's table but never emitted: {never:?}");
}
