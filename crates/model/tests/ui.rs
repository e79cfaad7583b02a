//! `ui` (DESIGN.md §5): canvas layout metadata on the workflow and on every
//! step or block. Free JSON mapping, bounded in size, ignored by the engine,
//! kept unchanged by validation and every YAML↔JSON round trip.

mod support;

use orbflow_model::dsl::{self, Format};
use orbflow_model::plan::flatten;
use orbflow_model::{Step, StepKind, UI_MAX_BYTES, Workflow};
use serde_json::{Map, Value, json};
use support::{TestCatalog, check, expect_error, wf};

/// A workflow with `ui` on the document, an action step, and every kind of
/// block and the steps in each of their branches.
const WITH_UI: &str = r##"schemaVersion: 1
name: canvas
ui:
  zoom: 1.25
  viewport: { x: -40, y: 12.5 }
  notes: [ { text: "draft", colour: "#ffcc00" } ]
steps:
  - key: first
    action: TRANSFORM
    config: { value: 1 }
    ui: { position: { x: 10, y: 20 }, colour: "#ff0000", collapsed: false }
  - key: triage
    type: condition
    if: "steps.first.output == 1"
    ui: { position: { x: 10, y: 120 }, note: "if/else" }
    then:
      - key: yes_branch
        action: TRANSFORM
        config: { value: "y" }
        ui: { position: { x: 0, y: 220 } }
    else:
      - key: no_branch
        action: TRANSFORM
        config: { value: "n" }
        ui: { position: { x: 100, y: 220 }, tags: [a, b, null, 3] }
  - key: route
    type: switch
    on: "input.platform"
    ui: { zeta: 1, alpha: 2, mid: { z: true, a: "" } }
    cases:
      - value: mastodon
        steps:
          - { key: m, action: TRANSFORM, config: { value: "m" }, ui: { lane: 1 } }
    default:
      - { key: other, action: TRANSFORM, config: { value: "o" }, ui: { lane: 2 } }
  - key: each
    type: loop
    forEach: "[1, 2, 3]"
    as: n
    ui: { position: { x: 300, y: 0 }, size: { w: 400, h: 200 } }
    steps:
      - { key: double, action: TRANSFORM, config: { value: "{{ n * 2 }}" }, ui: { position: { x: 20, y: 20 } } }
"##;

/// The same workflow without any `ui`.
fn without_ui_text() -> String {
    let mut out = String::new();
    let mut skip_block = false;
    for line in WITH_UI.lines() {
        if skip_block && line.starts_with("  ") {
            continue;
        }
        skip_block = false;
        if line == "ui:" {
            skip_block = true;
            continue;
        }
        if line.trim_start().starts_with("ui:") {
            continue;
        }
        let line = match line.find(", ui: {") {
            Some(i) => format!("{} }}", &line[..i]),
            None => line.to_owned(),
        };
        out.push_str(&line);
        out.push('\n');
    }
    out
}

fn parse(text: &str, format: Format) -> Workflow {
    match dsl::load(text, format, &TestCatalog::new()) {
        Ok(p) => p.workflow,
        Err(d) => panic!("expected a valid workflow, got:\n{d}\n---\n{text}"),
    }
}

/// Every step's `ui`, by key, depth first.
fn step_uis(wf: &Workflow) -> Vec<(String, Option<Map<String, Value>>)> {
    wf.walk()
        .into_iter()
        .map(|r| (r.step.key.clone(), r.step.ui.clone()))
        .collect()
}

/// The JSON text of a `ui` (keeps key order, unlike `==` on maps).
fn text_of(ui: &Option<Map<String, Value>>) -> String {
    serde_json::to_string(ui).unwrap()
}

fn expected_uis() -> Vec<(&'static str, Value)> {
    vec![
        (
            "first",
            json!({ "position": { "x": 10, "y": 20 }, "colour": "#ff0000", "collapsed": false }),
        ),
        (
            "triage",
            json!({ "position": { "x": 10, "y": 120 }, "note": "if/else" }),
        ),
        ("yes_branch", json!({ "position": { "x": 0, "y": 220 } })),
        (
            "no_branch",
            json!({ "position": { "x": 100, "y": 220 }, "tags": ["a", "b", null, 3] }),
        ),
        ("route", json!({ "zeta": 1, "alpha": 2, "mid": { "z": true, "a": "" } })),
        ("m", json!({ "lane": 1 })),
        ("other", json!({ "lane": 2 })),
        (
            "each",
            json!({ "position": { "x": 300, "y": 0 }, "size": { "w": 400, "h": 200 } }),
        ),
        ("double", json!({ "position": { "x": 20, "y": 20 } })),
    ]
}

#[test]
fn ui_is_accepted_on_the_workflow_and_on_every_step_and_block() {
    assert_eq!(check(WITH_UI), vec![]);
    let wf = parse(WITH_UI, Format::Yaml);
    let doc = json!({ "zoom": 1.25, "viewport": { "x": -40, "y": 12.5 }, "notes": [ { "text": "draft", "colour": "#ffcc00" } ] });
    assert_eq!(wf.ui.clone().map(Value::Object), Some(doc.clone()));
    assert_eq!(text_of(&wf.ui), serde_json::to_string(&doc).unwrap());
    let got = step_uis(&wf);
    let want = expected_uis();
    assert_eq!(got.len(), want.len(), "{got:?}");
    for ((key, ui), (want_key, want_ui)) in got.iter().zip(&want) {
        assert_eq!(key, want_key);
        assert_eq!(ui.clone().map(Value::Object).as_ref(), Some(want_ui), "ui of {key}");
        // the keys keep the order they were written in
        assert_eq!(text_of(ui), serde_json::to_string(want_ui).unwrap(), "ui of {key}");
    }
}

#[test]
fn ui_survives_yaml_to_json_to_yaml() {
    let wf = parse(WITH_UI, Format::Yaml);
    let json = dsl::to_json(&wf).unwrap();
    let v: Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["ui"]["viewport"], json!({ "x": -40, "y": 12.5 }));
    assert_eq!(v["steps"][0]["ui"]["colour"], "#ff0000");
    assert_eq!(v["steps"][1]["else"][0]["ui"]["tags"], json!(["a", "b", null, 3]));
    assert_eq!(v["steps"][2]["cases"][0]["steps"][0]["ui"], json!({ "lane": 1 }));
    assert_eq!(v["steps"][2]["default"][0]["ui"], json!({ "lane": 2 }));
    assert_eq!(
        v["steps"][3]["steps"][0]["ui"],
        json!({ "position": { "x": 20, "y": 20 } })
    );
    let from_json = parse(&json, Format::Json);
    assert_eq!(from_json, wf);
    assert_eq!(text_of(&from_json.ui), text_of(&wf.ui));
    for ((k, a), (_, b)) in step_uis(&from_json).iter().zip(step_uis(&wf).iter()) {
        assert_eq!(text_of(a), text_of(b), "ui of {k}");
    }
    let yaml = dsl::to_yaml(&wf).unwrap();
    assert_eq!(
        dsl::to_yaml(&from_json).unwrap(),
        yaml,
        "YAML -> JSON -> YAML changed the document"
    );
    let again = parse(&yaml, Format::Yaml);
    assert_eq!(again, wf);
    assert_eq!(dsl::to_json(&again).unwrap(), json, "canonical JSON is a fixed point");
}

#[test]
fn documents_without_ui_serialize_without_it() {
    let wf = parse(&without_ui_text(), Format::Yaml);
    assert!(wf.ui.is_none());
    assert!(step_uis(&wf).iter().all(|(_, ui)| ui.is_none()));
    assert!(!dsl::to_json(&wf).unwrap().contains("\"ui\""));
    assert!(!dsl::to_yaml(&wf).unwrap().contains("ui:"));
}

#[test]
fn ui_does_not_change_the_plan() {
    let with = parse(WITH_UI, Format::Yaml);
    let without = parse(&without_ui_text(), Format::Yaml);
    assert!(without.ui.is_none() && step_uis(&without).iter().all(|(_, ui)| ui.is_none()));
    // the same workflow but for `ui`
    let mut stripped = with.clone();
    stripped.ui = None;
    strip(&mut stripped.steps);
    assert_eq!(stripped, without);
    assert_ne!(with, without);
    // and the same plan
    let a = flatten(&with.steps);
    let b = flatten(&without.steps);
    assert_eq!(a.len(), 9);
    assert_eq!(a, b);
    assert_eq!(format!("{a:?}"), format!("{b:?}"));
    let rows = serde_json::to_string(&a).unwrap();
    for ui_only in ["\"ui\"", "lane", "#ff0000", "collapsed", "if/else"] {
        assert!(!rows.contains(ui_only), "{ui_only} in {rows}");
    }
}

fn strip(steps: &mut [Step]) {
    for s in steps {
        s.ui = None;
        match &mut s.kind {
            StepKind::Action { .. } => {}
            StepKind::Condition { then, otherwise, .. } => {
                strip(then);
                strip(otherwise);
            }
            StepKind::Switch { cases, default, .. } => {
                for c in cases {
                    strip(&mut c.steps);
                }
                strip(default);
            }
            StepKind::Loop { steps, .. } => strip(steps),
        }
    }
}

#[test]
fn a_ui_that_is_not_a_mapping_is_rejected_with_its_path() {
    let d = expect_error(
        "schemaVersion: 1\nname: t\nui: \"left\"\nsteps:\n  - { key: a, action: TRANSFORM, config: { value: 1 } }\n",
        "ui",
        "invalid-type",
        "expected a mapping, got a string",
    );
    assert_eq!((d.line, d.column), (Some(3), Some(5)), "{d:?}");
    let d = expect_error(
        &wf("  - key: a\n    action: TRANSFORM\n    config: { value: 1 }\n    ui: [1, 2]\n"),
        "steps[0].ui",
        "invalid-type",
        "expected a mapping, got a list",
    );
    assert_eq!((d.line, d.column), (Some(7), Some(9)), "{d:?}");
    let nested = wf(concat!(
        "  - key: c\n",
        "    type: condition\n",
        "    if: \"true\"\n",
        "    then:\n",
        "      - { key: a, action: TRANSFORM, config: { value: 1 } }\n",
        "    else:\n",
        "      - { key: b, action: TRANSFORM, config: { value: 1 }, ui: 42 }\n",
    ));
    let d = expect_error(&nested, "steps[0].else[0].ui", "invalid-type", "got a number");
    assert_eq!(d.line, Some(10), "{d:?}");
    // a block's own ui, too
    let block = wf(concat!(
        "  - key: l\n",
        "    type: loop\n",
        "    forEach: \"[1]\"\n",
        "    ui: note\n",
        "    steps: [ { key: a, action: TRANSFORM, config: { value: 1 } } ]\n",
    ));
    let d = expect_error(&block, "steps[0].ui", "invalid-type", "expected a mapping");
    assert_eq!((d.line, d.column), (Some(7), Some(9)), "{d:?}");
}

/// `{"note":"xxx…"}` of exactly `bytes` bytes as compact JSON.
fn note_of(bytes: usize) -> String {
    "x".repeat(bytes - r#"{"note":""}"#.len())
}

#[test]
fn an_oversized_ui_is_rejected_with_its_path_and_location() {
    let steps = |note: &str| {
        wf(&format!(
            concat!(
                "  - {{ key: a, action: TRANSFORM, config: {{ value: 1 }} }}\n",
                "  - key: c\n",
                "    type: switch\n",
                "    on: \"input.p\"\n",
                "    cases:\n",
                "      - value: 1\n",
                "        steps:\n",
                "          - key: b\n",
                "            action: TRANSFORM\n",
                "            config: {{ value: 1 }}\n",
                "            ui: {{ note: \"{}\" }}\n",
            ),
            note
        ))
    };
    // exactly the limit is fine
    assert_eq!(check(&steps(&note_of(UI_MAX_BYTES))), vec![]);
    // one byte more is not
    let yaml = steps(&note_of(UI_MAX_BYTES + 1));
    let d = expect_error(
        &yaml,
        "steps[1].cases[0].steps[0].ui",
        "too-large",
        &format!("`ui` is {} bytes", UI_MAX_BYTES + 1),
    );
    assert!(d.message.contains("16384"), "{d:?}");
    assert_eq!((d.line, d.column), (Some(14), Some(17)), "{d:?}");
    assert_eq!(check(&yaml).len(), 1);

    // on the workflow itself, as a block mapping
    let big = format!(
        "schemaVersion: 1\nname: t\nsteps:\n  - {{ key: a, action: TRANSFORM, config: {{ value: 1 }} }}\nui:\n  note: \"{}\"\n",
        note_of(UI_MAX_BYTES + 100)
    );
    let d = expect_error(&big, "ui", "too-large", "over the limit");
    assert_eq!(d.line, Some(6), "{d:?}");
    assert!(d.column.is_some(), "{d:?}");

    // JSON documents are located too
    let json = format!(
        "{{\n  \"schemaVersion\": 1,\n  \"name\": \"t\",\n  \"steps\": [\n    {{\n      \"key\": \"a\",\n      \"action\": \"TRANSFORM\",\n      \"config\": {{ \"value\": 1 }},\n      \"ui\": {{ \"note\": \"{}\" }}\n    }}\n  ]\n}}\n",
        note_of(UI_MAX_BYTES + 1)
    );
    let Err(d) = dsl::load(&json, Format::Json, &TestCatalog::new()) else {
        panic!("an oversized ui in JSON must be rejected");
    };
    let d: Vec<_> = d.0;
    assert_eq!(d.len(), 1, "{d:?}");
    assert_eq!((d[0].path.as_str(), d[0].code), ("steps[0].ui", "too-large"));
    assert_eq!(d[0].line, Some(9), "{d:?}");

    // a workflow built in code is checked the same way
    let mut wf = parse(&steps("short"), Format::Yaml);
    assert!(dsl::check(&wf, &TestCatalog::new()).is_ok());
    wf.ui = Some(Map::from_iter([(
        "note".to_owned(),
        Value::String(note_of(UI_MAX_BYTES + 1)),
    )]));
    let err = dsl::check(&wf, &TestCatalog::new()).unwrap_err().to_string();
    assert!(err.contains("ui: `ui` is"), "{err}");
}

#[test]
fn the_json_schema_allows_a_ui_mapping_on_the_workflow_and_steps_only() {
    let schema = dsl::json_schema();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let (doc, _) = dsl::located::parse_yaml(WITH_UI).unwrap();
    let errors: Vec<String> = validator.iter_errors(&doc).map(|e| e.to_string()).collect();
    assert!(errors.is_empty(), "{errors:?}");
    for bad in [
        json!({ "schemaVersion": 1, "name": "x", "ui": "left", "steps": [{ "key": "a", "action": "X" }] }),
        json!({ "schemaVersion": 1, "name": "x", "steps": [{ "key": "a", "action": "X", "ui": [1] }] }),
        json!({ "schemaVersion": 1, "name": "x", "steps": [{ "key": "a", "action": "X" }], "triggers": [{ "type": "manual", "ui": {} }] }),
    ] {
        assert!(!validator.is_valid(&bad), "{bad}");
    }
}
