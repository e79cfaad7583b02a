//! docs/workflow.schema.json is generated from the Rust types; this test
//! fails when it drifts. Regenerate with
//! `ORBFLOW_UPDATE_DOCS=1 cargo test -p orbflow-model --test schema_drift`.

use std::path::PathBuf;

#[test]
fn workflow_schema_matches_docs() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/workflow.schema.json");
    let generated = serde_json::to_string_pretty(&orbflow_model::dsl::json_schema()).unwrap() + "\n";
    if std::env::var("ORBFLOW_UPDATE_DOCS").as_deref() == Ok("1") {
        std::fs::write(&path, &generated).unwrap();
        return;
    }
    let on_disk = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        on_disk == generated,
        "docs/workflow.schema.json is out of date: run `ORBFLOW_UPDATE_DOCS=1 cargo test -p orbflow-model --test schema_drift`"
    );
}

#[test]
fn schema_accepts_the_examples_and_rejects_unknown_fields() {
    let schema = orbflow_model::dsl::json_schema();
    let validator = jsonschema::validator_for(&schema).expect("the generated schema is a valid JSON Schema");
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples");
    let mut n = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "yaml") {
            let text = std::fs::read_to_string(&path).unwrap();
            let (doc, _) = orbflow_model::dsl::located::parse_yaml(&text).unwrap();
            let errors: Vec<String> = validator.iter_errors(&doc).map(|e| e.to_string()).collect();
            assert!(errors.is_empty(), "{}: {errors:?}", path.display());
            n += 1;
        }
    }
    assert!(n >= 5, "expected at least five examples, found {n}");
    let bad = serde_json::json!({"schemaVersion": 1, "name": "x", "steps": [{"key": "a", "action": "X", "bogus": 1}]});
    assert!(!validator.is_valid(&bad));
}
