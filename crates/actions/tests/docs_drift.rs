//! docs/WORKFLOW_ACTIONS.md is generated from the catalog; this test fails
//! when it drifts. Regenerate with
//! `ORBFLOW_UPDATE_DOCS=1 cargo test -p orbflow-actions --test docs_drift`.

use std::path::PathBuf;

use orbflow_actions::Registry;
use orbflow_actions::docs::{REGENERATE_COMMAND, render_markdown};

#[test]
fn workflow_actions_md_matches_the_catalog() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/WORKFLOW_ACTIONS.md");
    let rendered = render_markdown(&Registry::specs_only().expect("catalog"));
    if std::env::var("ORBFLOW_UPDATE_DOCS").is_ok_and(|v| v == "1") {
        std::fs::write(&path, &rendered).unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
        return;
    }
    let on_disk = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "cannot read {}: {e}\nGenerate it with `{REGENERATE_COMMAND}`.",
            path.display()
        )
    });
    if on_disk.replace("\r\n", "\n") != rendered {
        let line = on_disk
            .lines()
            .zip(rendered.lines())
            .position(|(a, b)| a != b)
            .unwrap_or_else(|| on_disk.lines().count().min(rendered.lines().count()))
            + 1;
        panic!(
            "docs/WORKFLOW_ACTIONS.md is out of date with the action catalog (first difference at line {line}).\n\
             Run `{REGENERATE_COMMAND}` and commit the result."
        );
    }
}
