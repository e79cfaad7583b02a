//! A worker's metrics move as a known run says they must.

use crate::common;

use common::Harness;
use serde_json::json;

both!(a_runs_attempts_are_counted_by_action_and_outcome);
async fn a_runs_attempts_are_counted_by_action_and_outcome(h: Harness) {
    // two completed TRANSFORMs (one in a slot, one run ahead) and one whose
    // template cannot render: a fatal error that fails the run
    let yaml = "schemaVersion: 1\nname: m\nsteps:\n  - {key: a, action: TRANSFORM, config: {value: 1}}\n  - {key: b, action: TRANSFORM, config: {value: 2}}\n  - {key: c, action: TRANSFORM, config: {value: '{{ 1 / \"x\" }}'}}\n";
    let id = h.start(yaml, json!({})).await;
    let r = h.wait(id).await;
    assert_eq!(r["status"], "FAILED", "{r:#}");
    let text = h.handle.metrics().render();
    for line in [
        "orbflow_step_attempts_total{action=\"TRANSFORM\",outcome=\"completed\"} 2",
        "orbflow_step_attempts_total{action=\"TRANSFORM\",outcome=\"fatal_error\"} 1",
        "orbflow_step_duration_seconds_count{action=\"TRANSFORM\"} 3",
        "orbflow_step_duration_seconds_bucket{action=\"TRANSFORM\",le=\"+Inf\"} 3",
        "orbflow_step_attempts_running 0",
    ] {
        assert!(text.lines().any(|l| l == line), "missing `{line}` in\n{text}");
    }
    assert!(!text.contains("retryable_error"), "{text}");
}
