//! The run semantics of DESIGN.md §3 and §5, end to end on the embedded
//! default's pieces: a real database (SQLite and Postgres), the engine, the
//! in-process queue and the worker executing the real actions.

use crate::common;

use std::time::Duration;

use common::{Harness, status};
use orbflow_actions::Registry;
use orbflow_engine::StartRun;
use orbflow_engine::store::Store;
use orbflow_model::dsl::{self, Format};
use serde_json::json;

both!(a_sequence_runs_in_order_and_templates_see_outputs);
async fn a_sequence_runs_in_order_and_templates_see_outputs(h: Harness) {
    let r = h
        .run(
            "schemaVersion: 1\nname: seq\nsteps:\n  - {key: a, action: TRANSFORM, config: {value: '{{ input.n + 1 }}'}}\n  - {key: b, action: TRANSFORM, config: {value: '{{ steps.a.output * 10 }}'}}\n  - {key: c, action: TRANSFORM, config: {value: 'b={{ steps.b.output }} from {{ trigger.type }}'}}\n",
            json!({"n": 1}),
        )
        .await;
    assert_eq!(r["status"], "COMPLETED", "{r:#}");
    assert_eq!(r["output"], json!({"a": 2, "b": 20, "c": "b=20 from manual"}));
    assert_eq!(r["steps"]["b"]["attempts"], 1);
}

both!(a_join_starts_once_after_all_branches);
async fn a_join_starts_once_after_all_branches(h: Harness) {
    let mut yaml =
        "schemaVersion: 1\nname: fan\nsteps:\n  - {key: root, action: TRANSFORM, config: {value: 0}}\n".to_owned();
    for i in 0..8 {
        yaml.push_str(&format!(
            "  - {{key: f{i}, dependsOn: [root], action: TRANSFORM, config: {{value: {i}}}}}\n"
        ));
    }
    let deps: Vec<String> = (0..8).map(|i| format!("f{i}")).collect();
    yaml.push_str(&format!(
        "  - {{key: join, dependsOn: [{}], action: TRANSFORM, config: {{value: '{{{{ {} }}}}'}}}}\n",
        deps.join(", "),
        deps.iter()
            .map(|d| format!("steps.{d}.output"))
            .collect::<Vec<_>>()
            .join(" + ")
    ));
    let r = h.run(&yaml, json!({})).await;
    assert_eq!(r["status"], "COMPLETED", "{r:#}");
    assert_eq!(r["steps"]["join"]["output"], 28);
    assert_eq!(r["steps"]["join"]["attempts"], 1);
}

both!(untaken_branches_are_skipped_and_skips_propagate);
async fn untaken_branches_are_skipped_and_skips_propagate(h: Harness) {
    let yaml = r#"
schemaVersion: 1
name: branches
steps:
  - key: c
    type: condition
    if: "input.x > 1"
    then:
      - {key: t1, action: TRANSFORM, config: {value: "then"}}
      - {key: t2, action: TRANSFORM, config: {value: "then2"}}
    else:
      - {key: e1, action: TRANSFORM, config: {value: "else"}}
  - key: after_then
    dependsOn: [t2]
    action: TRANSFORM
    config: {value: 1}
  - key: after_both
    dependsOn: [t2, e1]
    action: TRANSFORM
    config: {value: 2}
output: "{ 'c': steps.c.output.branch, 't1': steps.t1.status, 'skipped_out': steps.t1.output }"
"#;
    let r = h.run(yaml, json!({"x": 0})).await;
    assert_eq!(r["status"], "COMPLETED", "{r:#}");
    assert_eq!(status(&r, "t1"), "SKIPPED");
    assert_eq!(status(&r, "t2"), "SKIPPED");
    assert_eq!(status(&r, "e1"), "COMPLETED");
    assert_eq!(status(&r, "after_then"), "SKIPPED", "all dependencies skipped: skipped");
    assert_eq!(
        status(&r, "after_both"),
        "COMPLETED",
        "one completed dependency is enough"
    );
    assert_eq!(r["output"], json!({"c": "else", "t1": "SKIPPED", "skipped_out": null}));
    let r = h.run(yaml, json!({"x": 5})).await;
    assert_eq!(status(&r, "e1"), "SKIPPED");
    assert_eq!(status(&r, "after_then"), "COMPLETED");
}

both!(switch_takes_the_first_equal_case_or_default);
async fn switch_takes_the_first_equal_case_or_default(h: Harness) {
    let yaml = r#"
schemaVersion: 1
name: sw
steps:
  - key: route
    type: switch
    on: "input.p"
    cases:
      - value: mastodon
        steps: [{key: m, action: TRANSFORM, config: {value: "m"}}]
      - value: 2
        steps: [{key: two, action: TRANSFORM, config: {value: 2}}]
    default:
      - {key: other, action: TRANSFORM, config: {value: "other"}}
"#;
    let r = h.run(yaml, json!({"p": "mastodon"})).await;
    assert_eq!(
        (status(&r, "m"), status(&r, "two"), status(&r, "other")),
        ("COMPLETED".into(), "SKIPPED".into(), "SKIPPED".into())
    );
    let r = h.run(yaml, json!({"p": 2.0})).await;
    assert_eq!(
        status(&r, "two"),
        "COMPLETED",
        "JSON equality compares numbers by value"
    );
    let r = h.run(yaml, json!({"p": "x"})).await;
    assert_eq!(status(&r, "other"), "COMPLETED");
    assert_eq!(r["status"], "COMPLETED");
}

both!(loops_collect_outputs_in_item_order);
async fn loops_collect_outputs_in_item_order(h: Harness) {
    let yaml = r#"
schemaVersion: 1
name: loop
steps:
  - key: each
    type: loop
    forEach: "input.items"
    as: n
    maxConcurrency: 3
    steps:
      - {key: double, action: TRANSFORM, config: {value: "{{ n * 2 }}"}}
      - {key: label, action: TRANSFORM, config: {value: "{{ string(index) + ':' + string(steps.double.output) }}"}}
  - key: after
    action: TRANSFORM
    config: {value: "{{ steps.double.output }}"}
output: "{ 'loop': steps.each.output, 'doubles': steps.double.output }"
"#;
    let items: Vec<i64> = (1..=10).collect();
    let r = h.run(yaml, json!({"items": items})).await;
    assert_eq!(r["status"], "COMPLETED", "{r:#}");
    let labels: Vec<String> = (0..10).map(|i| format!("{i}:{}", (i + 1) * 2)).collect();
    assert_eq!(r["output"]["loop"], json!(labels));
    let doubles: Vec<i64> = (1..=10).map(|i| i * 2).collect();
    assert_eq!(r["output"]["doubles"], json!(doubles));
    assert_eq!(r["steps"]["after"]["output"], json!(doubles));
    assert_eq!(status(&r, "each[9].label"), "COMPLETED");
    // an empty list completes the loop at once with an empty output
    let r = h.run(yaml, json!({"items": []})).await;
    assert_eq!(r["status"], "COMPLETED");
    assert_eq!(r["output"], json!({"loop": [], "doubles": []}));
}

both!(a_failed_step_fails_the_run_unless_on_error_continue);
async fn a_failed_step_fails_the_run_unless_on_error_continue(h: Harness) {
    let failing = "schemaVersion: 1\nname: f\nsteps:\n  - {key: a, action: GENERATE_CONTENT, config: {prompt: p}}\n  - {key: b, action: TRANSFORM, config: {value: 1}}\n";
    let r = h.run(failing, json!({})).await;
    assert_eq!(r["status"], "FAILED", "{r:#}");
    assert_eq!(status(&r, "a"), "FAILED");
    assert_eq!(status(&r, "b"), "CANCELLED");
    assert!(
        r["steps"]["a"]["error"]["message"]
            .as_str()
            .unwrap()
            .contains("GENERATE_CONTENT needs an `llm` connection")
    );
    assert_eq!(r["error"]["step"], "a");
    let tolerant = "schemaVersion: 1\nname: f\nsteps:\n  - {key: a, onError: continue, action: GENERATE_CONTENT, config: {prompt: p}}\n  - {key: b, action: TRANSFORM, config: {value: '{{ steps.a.status }}'}}\n";
    let r = h.run(tolerant, json!({})).await;
    assert_eq!(r["status"], "COMPLETED", "{r:#}");
    assert_eq!(r["steps"]["b"]["output"], "FAILED");
}

both!(invalid_input_is_rejected_before_anything_runs);
async fn invalid_input_is_rejected_before_anything_runs(h: Harness) {
    let reg = Registry::specs_only().unwrap();
    let yaml = "schemaVersion: 1\nname: i\ninputs: {type: object, required: [text], properties: {text: {type: string}}}\nsteps:\n  - {key: a, action: TRANSFORM, config: {value: 1}}\n";
    let wf = dsl::load(yaml, Format::Yaml, &reg).unwrap().workflow;
    let version = h
        .store
        .ensure_version("default", "i", "i", &serde_json::to_string(&wf).unwrap())
        .await
        .unwrap();
    let err = h
        .engine
        .start_run(StartRun {
            version,
            input: json!({"text": 5}),
            trigger_type: orbflow_model::TriggerType::Manual,
            trigger_data: None,
            idempotency_key: None,
            trace_parent: None,
        })
        .await
        .unwrap_err();
    assert!(err.to_string().contains("/text"), "{err}");
}

both!(delays_are_durable_timers);
async fn delays_are_durable_timers(h: Harness) {
    let yaml = "schemaVersion: 1\nname: d\nsteps:\n  - {key: wait, action: DELAY, config: {duration: 300ms}}\n  - {key: after, action: TRANSFORM, config: {value: done}}\n";
    let t = std::time::Instant::now();
    let r = h.run(yaml, json!({})).await;
    assert_eq!(r["status"], "COMPLETED", "{r:#}");
    assert!(t.elapsed() >= Duration::from_millis(300));
    assert!(r["steps"]["wait"]["output"]["until"].is_string());
}

both!(template_errors_fail_the_step_with_the_expression);
async fn template_errors_fail_the_step_with_the_expression(h: Harness) {
    let yaml = "schemaVersion: 1\nname: t\nsteps:\n  - {key: a, action: TRANSFORM, config: {value: '{{ input.missing.deeper }}'}}\n";
    let r = h.run(yaml, json!({})).await;
    assert_eq!(r["status"], "FAILED");
    let message = r["steps"]["a"]["error"]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("template failed") && message.contains("input.missing.deeper"),
        "{message}"
    );
    assert_eq!(r["steps"]["a"]["error"]["retryable"], false);
}

both!(cancelling_a_run_stops_further_steps);
async fn cancelling_a_run_stops_further_steps(h: Harness) {
    let yaml = "schemaVersion: 1\nname: c\nsteps:\n  - {key: wait, action: DELAY, config: {duration: 10s}}\n  - {key: after, action: TRANSFORM, config: {value: 1}}\n";
    let id = h.start(yaml, json!({})).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let e = h.engine.cancel(id).await.unwrap();
    h.handle.apply(e).await;
    let r = h.wait(id).await;
    assert_eq!(r["status"], "CANCELLED");
    assert_eq!(status(&r, "wait"), "CANCELLED");
    assert_eq!(status(&r, "after"), "CANCELLED");
}

both!(nested_loops_and_blocks_inside_loop_bodies);
async fn nested_loops_and_blocks_inside_loop_bodies(h: Harness) {
    let yaml = r#"
schemaVersion: 1
name: nested
steps:
  - key: outer
    type: loop
    forEach: "[1, 2, 3]"
    as: a
    maxConcurrency: 2
    steps:
      - key: inner
        type: loop
        forEach: "[10, 20]"
        as: b
        steps:
          - {key: prod, action: TRANSFORM, config: {value: "{{ a * b }}"}}
      - key: parity
        type: condition
        if: "a % 2 == 0"
        then:
          - {key: even, action: TRANSFORM, config: {value: "{{ 'even ' + string(a) }}"}}
        else:
          - {key: odd, action: TRANSFORM, config: {value: "{{ 'odd ' + string(a) }}"}}
      - {key: sum, action: TRANSFORM, config: {value: "{{ steps.prod.output[0] + steps.prod.output[1] }}"}}
output: "{ 'sums': steps.sum.output }"
"#;
    let r = h.run(yaml, json!({})).await;
    assert_eq!(r["status"], "COMPLETED", "{r:#}");
    assert_eq!(r["output"], json!({"sums": [30, 60, 90]}));
    assert_eq!(r["steps"]["outer[1].inner[1].prod"]["output"], 40);
    assert_eq!(status(&r, "outer[1].even"), "COMPLETED");
    assert_eq!(status(&r, "outer[1].odd"), "SKIPPED");
    assert_eq!(status(&r, "outer[0].even"), "SKIPPED");
    assert_eq!(r["steps"]["outer[2].odd"]["output"], "odd 3");
}

// A loop whose last body step is a loop outputs one list per item, not the
// inner loop's iteration rows; a step inside nested loops, read from
// outside them, is one list per outer item, in numeric item order.
both!(nested_loops_output_one_list_per_outer_item);
async fn nested_loops_output_one_list_per_outer_item(h: Harness) {
    let yaml = "schemaVersion: 1\nname: nested\nsteps:\n  - key: outer\n    type: loop\n    forEach: '[1, 2]'\n    steps:\n      - key: inner\n        type: loop\n        forEach: 'lists.range(11)'\n        steps:\n          - {key: x, action: TRANSFORM, config: {value: '{{ item }}'}}\n  - {key: of_inner, dependsOn: [outer], action: TRANSFORM, config: {value: '{{ steps.inner.output }}'}}\n  - {key: of_x, dependsOn: [outer], action: TRANSFORM, config: {value: '{{ steps.x.output }}'}}\n";
    let r = h.run(yaml, json!({})).await;
    assert_eq!(r["status"], "COMPLETED", "{r:#}");
    let eleven: Vec<i64> = (0..11).collect();
    let expected = json!([eleven, eleven]);
    assert_eq!(r["steps"]["outer"]["output"], expected);
    assert_eq!(r["steps"]["of_inner"]["output"], expected);
    assert_eq!(r["steps"]["of_x"]["output"], expected);
}

both!(a_run_with_nothing_to_do_completes_as_it_starts);
/// A condition that takes no branch (false, no `else`) completes at once;
/// when it is the whole workflow, the run completes in the transaction that
/// starts it (no job is enqueued) and still records when it started.
async fn a_run_with_nothing_to_do_completes_as_it_starts(h: Harness) {
    let yaml = "schemaVersion: 1\nname: n\nsteps:\n  - key: c\n    type: condition\n    if: \"input.go\"\n    then:\n      - {key: t, action: TRANSFORM, config: {value: 1}}\n";
    let version = common::register(&h.store, "default", "n", yaml).await;
    let (id, effects) = common::start_manual(&h.engine, version, json!({"go": false})).await;
    assert!(effects.jobs.is_empty(), "{effects:?}");
    assert_eq!(effects.finished.len(), 1, "{effects:?}");
    assert_eq!(effects.finished[0].status.as_str(), "COMPLETED");
    let (run, steps) = h.store.run_view(id).await.unwrap().unwrap();
    assert_eq!(run.status.as_str(), "COMPLETED");
    assert!(run.started_at.is_some() && run.started_at <= run.ended_at, "{run:?}");
    let status_of = |p: &str| steps.iter().find(|s| s.path == p).map(|s| s.status.as_str());
    assert_eq!((status_of("c"), status_of("t")), (Some("COMPLETED"), Some("SKIPPED")));
}

both!(a_step_in_a_loop_body_can_wait_for_a_step_outside_it);
/// A loop body step that depends on a top-level step outside the loop
/// waits for it in every iteration: in iterations created while it runs
/// (counted when it ends), and in those created after it ended.
async fn a_step_in_a_loop_body_can_wait_for_a_step_outside_it(h: Harness) {
    let yaml = r#"
schemaVersion: 1
name: cross
steps:
  - {key: slow, action: DELAY, config: {duration: 300ms}}
  - key: each
    type: loop
    dependsOn: []
    forEach: "input.items"
    as: n
    steps:
      - {key: first, action: TRANSFORM, config: {value: "{{ n }}"}}
      - {key: late, dependsOn: [slow, first], action: TRANSFORM, config: {value: "{{ n * 10 }}"}}
output: "steps.late.output"
"#;
    let id = h.start(yaml, json!({"items": [1, 2, 3]})).await;
    let r = h.wait(id).await;
    assert_eq!(r["status"], "COMPLETED", "{r:#}");
    assert_eq!(r["output"], json!([10, 20, 30]));
    let (_, steps) = h.store.run_view(id).await.unwrap().unwrap();
    let slow_ended = steps
        .iter()
        .find(|s| s.path == "slow")
        .and_then(|s| s.ended_at)
        .expect("slow ended");
    for i in 0..3 {
        let late = steps
            .iter()
            .find(|s| s.path == format!("each[{i}].late"))
            .expect("late");
        assert!(
            late.started_at.is_some_and(|t| t >= slow_ended),
            "each[{i}].late started before slow ended: {late:?}"
        );
    }
    let first0 = steps
        .iter()
        .find(|s| s.path == "each[0].first")
        .and_then(|s| s.ended_at)
        .expect("first");
    assert!(
        first0 < slow_ended,
        "the loop did not wait for slow: only its body step did"
    );
}

both!(steps_that_depend_on_a_skipped_step_are_skipped_blocks_whole);
/// A dependency skipped (its branch was not taken) skips what depends only
/// on it: a loop body step in every iteration, a condition with every step
/// inside it, and a loop, which then starts no iteration.
async fn steps_that_depend_on_a_skipped_step_are_skipped_blocks_whole(h: Harness) {
    let yaml = r#"
schemaVersion: 1
name: skips
steps:
  - key: gate
    type: condition
    if: "input.go"
    then:
      - {key: x, action: TRANSFORM, config: {value: 1}}
  - key: each
    type: loop
    dependsOn: []
    forEach: "[1, 2]"
    as: n
    steps:
      - {key: uses_x, dependsOn: [x], action: TRANSFORM, config: {value: "{{ n }}"}}
  - key: after_x
    type: condition
    dependsOn: [x]
    if: "true"
    then:
      - {key: inner, action: TRANSFORM, config: {value: 2}}
  - key: loop_after_x
    type: loop
    dependsOn: [x]
    forEach: "[1, 2, 3]"
    steps:
      - {key: body, action: TRANSFORM, config: {value: 3}}
"#;
    let r = h.run(yaml, json!({"go": false})).await;
    assert_eq!(r["status"], "COMPLETED", "{r:#}");
    for p in [
        "x",
        "each[0].uses_x",
        "each[1].uses_x",
        "after_x",
        "inner",
        "loop_after_x",
    ] {
        assert_eq!(status(&r, p), "SKIPPED", "{p}: {r:#}");
    }
    assert_eq!(status(&r, "each"), "COMPLETED");
    let steps = r["steps"].as_object().unwrap();
    assert!(
        !steps.keys().any(|k| k.starts_with("loop_after_x[")),
        "a skipped loop has no iterations: {r:#}"
    );
    let r = h.run(yaml, json!({"go": true})).await;
    assert_eq!(r["status"], "COMPLETED", "{r:#}");
    for p in ["x", "each[1].uses_x", "inner", "loop_after_x[2].body"] {
        assert_eq!(status(&r, p), "COMPLETED", "{p}: {r:#}");
    }
}
