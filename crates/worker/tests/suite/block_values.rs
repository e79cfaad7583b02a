//! A block whose expression gives a value it cannot use fails as a step,
//! with the reason in the DSL's words and the expression it evaluated, and
//! fails the run naming it; a switch compares lists and maps by value.

use crate::common;

use common::{Harness, status};
use serde_json::json;

const THEN: &str = "[{key: yes, action: TRANSFORM, config: {value: 1}}]";

both!(a_block_value_of_the_wrong_kind_fails_the_block);
async fn a_block_value_of_the_wrong_kind_fails_the_block(h: Harness) {
    for (step, expected) in [
        (
            format!("{{key: gate, type: condition, if: 'input.n', then: {THEN}}}"),
            "a condition must be a bool, got int",
        ),
        (
            format!("{{key: gate, type: loop, forEach: 'input.text', steps: {THEN}}}"),
            "forEach must be a list, got string",
        ),
    ] {
        let r = h
            .run(
                &format!("schemaVersion: 1\nname: b\nsteps:\n  - {step}\n"),
                json!({"n": 1, "text": "abc"}),
            )
            .await;
        assert_eq!(r["status"], "FAILED", "{r:#}");
        assert_eq!(status(&r, "gate"), "FAILED", "{r:#}");
        let error = &r["steps"]["gate"]["error"];
        assert_eq!(error["message"], expected, "{r:#}");
        assert!(error["expression"].as_str().unwrap().starts_with("input."), "{r:#}");
        assert_eq!(r["error"]["step"], "gate", "{r:#}");
        assert_eq!(r["error"]["message"], "step `gate` failed", "{r:#}");
    }
}

both_with!(
    a_loop_over_more_items_than_allowed_fails,
    orbflow_engine::EngineConfig {
        max_loop_items: 3,
        ..orbflow_engine::EngineConfig::default()
    }
);
async fn a_loop_over_more_items_than_allowed_fails(h: Harness) {
    let yaml = format!(
        "schemaVersion: 1\nname: l\nsteps:\n  - {{key: each, type: loop, forEach: 'input.items', steps: {THEN}}}\n"
    );
    let r = h.run(&yaml, json!({"items": [1, 2, 3, 4, 5]})).await;
    assert_eq!(r["status"], "FAILED", "{r:#}");
    assert_eq!(
        r["steps"]["each"]["error"]["message"], "forEach has 5 items; at most 3 are allowed",
        "{r:#}"
    );
    let r = h.run(&yaml, json!({"items": [1, 2, 3]})).await;
    assert_eq!(r["status"], "COMPLETED", "at the limit: {r:#}");
}

both!(a_switch_matches_lists_and_maps_by_value);
async fn a_switch_matches_lists_and_maps_by_value(h: Harness) {
    let yaml = "schemaVersion: 1\nname: s\nsteps:\n  - key: pick\n    type: switch\n    on: input.v\n    cases:\n      - {value: [1, 2], steps: [{key: list, action: TRANSFORM, config: {value: list}}]}\n      - {value: {a: 1, b: [true]}, steps: [{key: map, action: TRANSFORM, config: {value: map}}]}\n    default: [{key: other, action: TRANSFORM, config: {value: other}}]\n";
    for (v, taken) in [
        (json!([1.0, 2]), "list"),
        (json!({"b": [true], "a": 1}), "map"),
        (json!([1, 2, 3]), "other"),
        (json!({"a": 1}), "other"),
        (json!({"a": 1, "b": [false]}), "other"),
    ] {
        let r = h.run(yaml, json!({"v": v})).await;
        assert_eq!(r["status"], "COMPLETED", "{v}: {r:#}");
        assert_eq!(status(&r, taken), "COMPLETED", "{v}: {r:#}");
        for other in ["list", "map", "other"].iter().filter(|o| **o != taken) {
            assert_eq!(status(&r, other), "SKIPPED", "{v}: {r:#}");
        }
    }
}
