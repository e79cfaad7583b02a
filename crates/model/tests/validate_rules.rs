//! One failing input per DSL rule (DESIGN.md §5), with the exact path,
//! code and, for YAML, line and column asserted.

mod support;

use support::{check, expect_error, wf};

#[test]
fn a_valid_workflow_has_no_errors() {
    let yaml = r#"
schemaVersion: 1
name: mention-triage
inputs:
  type: object
  required: [text]
  properties: { text: { type: string }, platform: { type: string } }
triggers:
  - type: manual
  - type: schedule
    cron: "0 9 * * 1-5"
    timezone: Europe/London
    input: { text: "daily digest", platform: none }
  - type: webhook
    key: crm
    verify: { scheme: standard-webhooks, secret: CRM_SECRET }
  - type: event
    event: mention.received
    filter: "event.data.platform == 'mastodon'"
steps:
  - key: sentiment
    action: ANALYZE_SENTIMENT
    config: { text: "{{ input.text }}" }
  - key: triage
    type: condition
    if: "steps.sentiment.output.score < -0.3"
    then:
      - key: alert
        action: SEND_SLACK_MESSAGE
        config: { webhookUrl: "{{ secrets.SLACK_WEBHOOK }}", text: "Negative: {{ input.text }}" }
    else:
      - key: note
        action: TRANSFORM
        config: { value: { ok: true } }
  - key: route
    type: switch
    dependsOn: [sentiment]
    on: "input.platform"
    cases:
      - value: mastodon
        steps: [ { key: m, action: TRANSFORM, config: { value: "m" } } ]
    default:
      - { key: other, action: TRANSFORM, config: { value: "other" } }
  - key: each
    type: loop
    dependsOn: [triage, route]
    forEach: "[1, 2, 3]"
    as: n
    maxConcurrency: 2
    steps:
      - { key: double, action: TRANSFORM, config: { value: "{{ n * 2 }}" } }
  - key: wait
    action: DELAY
    config: { duration: "10m" }
    retry: { maxAttempts: 3, backoff: exponential, initialInterval: 1s, maxInterval: 1m }
    timeout: 30s
    onError: fail
output: "{ 'doubled': steps.double.output }"
"#;
    assert_eq!(check(yaml), vec![]);
}

#[test]
fn unknown_fields_are_reported_with_suggestion_and_key_location() {
    let yaml = wf("  - key: a\n    action: TRANSFORM\n    config: { value: 1 }\n    dependson: []\n");
    let d = expect_error(
        &yaml,
        "steps[0].dependson",
        "unknown-field",
        "did you mean `dependsOn`?",
    );
    assert_eq!((d.line, d.column), (Some(7), Some(5)));
    // a field of another step type says where it belongs
    let yaml = wf("  - key: a\n    action: TRANSFORM\n    config: { value: 1 }\n    forEach: \"[1]\"\n");
    expect_error(
        &yaml,
        "steps[0].forEach",
        "unknown-field",
        "belongs to `type: loop` steps",
    );
    // top level and triggers
    let yaml = "schemaVersion: 1\nname: t\nstpes: []\nsteps: [{key: a, action: TRANSFORM, config: {value: 1}}]\n";
    expect_error(yaml, "stpes", "unknown-field", "did you mean `steps`?");
    let yaml = "schemaVersion: 1\nname: t\ntriggers: [{type: schedule, cron: '* * * * *', tz: UTC}]\nsteps: [{key: a, action: TRANSFORM, config: {value: 1}}]\n";
    expect_error(yaml, "triggers[0].tz", "unknown-field", "unknown field `tz`");
}

#[test]
fn unknown_fields_do_not_hide_other_errors() {
    let yaml = wf(
        "  - key: a\n    action: TRANSFROM\n    bogus: 1\n  - key: b\n    dependsOn: [zzz]\n    action: TRANSFORM\n    config: { value: 1 }\n",
    );
    let diags = check(&yaml);
    let codes: Vec<_> = diags.iter().map(|d| (d.path.as_str(), d.code)).collect();
    assert!(codes.contains(&("steps[0].bogus", "unknown-field")), "{codes:?}");
    assert!(codes.contains(&("steps[0].action", "unknown-action")), "{codes:?}");
    assert!(
        codes.contains(&("steps[1].dependsOn[0]", "unknown-dependency")),
        "{codes:?}"
    );
}

#[test]
fn schema_version_is_required_and_future_versions_are_named() {
    expect_error(
        "name: t\nsteps: []\n",
        "schemaVersion",
        "missing-field",
        "`schemaVersion` is required",
    );
    let d = expect_error(
        "schemaVersion: 2\nname: t\nsteps: []\n",
        "schemaVersion",
        "unsupported-version",
        "schemaVersion 2 is not supported",
    );
    assert_eq!((d.line, d.column), (Some(1), Some(16)));
    expect_error(
        "schemaVersion: \"1\"\nname: t\nsteps: []\n",
        "schemaVersion",
        "invalid-type",
        "must be the integer 1",
    );
}

#[test]
fn required_fields_and_types() {
    expect_error(
        "schemaVersion: 1\nsteps: []\n",
        "",
        "missing-field",
        "missing required field `name`",
    );
    expect_error(&wf("  - action: TRANSFORM\n"), "steps[0]", "missing-field", "`key`");
    expect_error(&wf("  - key: a\n"), "steps[0]", "missing-field", "`action`");
    expect_error(
        &wf("  - key: a\n    action: [TRANSFORM]\n"),
        "steps[0].action",
        "invalid-type",
        "expected a string",
    );
    expect_error(
        &wf("  - key: a\n    action: TRANSFORM\n    config: {value: 1}\n    dependsOn: a\n"),
        "steps[0].dependsOn",
        "invalid-type",
        "list of step keys",
    );
    expect_error(
        "schemaVersion: 1\nname: t\nsteps: {}\n",
        "steps",
        "invalid-type",
        "must be a list",
    );
    expect_error("[]", "", "invalid-type", "must be a mapping");
}

#[test]
fn step_keys_are_formatted_and_unique_across_nesting() {
    expect_error(
        &wf("  - key: Bad-Key\n    action: TRANSFORM\n    config: {value: 1}\n"),
        "steps[0].key",
        "invalid-key",
        "[a-z][a-z0-9_]*",
    );
    let yaml = wf(
        "  - key: a\n    action: TRANSFORM\n    config: {value: 1}\n  - key: c\n    type: condition\n    if: 'true'\n    then:\n      - key: a\n        action: TRANSFORM\n        config: {value: 2}\n",
    );
    let d = expect_error(
        &yaml,
        "steps[1].then[0].key",
        "duplicate-key",
        "already used at steps[0]",
    );
    assert_eq!(d.line, Some(11));
}

#[test]
fn depends_on_targets_must_exist_and_be_earlier() {
    let yaml = wf(
        "  - key: sentiment\n    action: TRANSFORM\n    config: {value: 1}\n  - key: b\n    dependsOn: [sentimnt]\n    action: TRANSFORM\n    config: {value: 1}\n",
    );
    expect_error(
        &yaml,
        "steps[1].dependsOn[0]",
        "unknown-dependency",
        "did you mean `sentiment`?",
    );
    let yaml = wf(
        "  - key: a\n    dependsOn: []\n    action: TRANSFORM\n    config: {value: 1}\n  - key: b\n    dependsOn: [c]\n    action: TRANSFORM\n    config: {value: 1}\n  - key: c\n    dependsOn: []\n    action: TRANSFORM\n    config: {value: 1}\n",
    );
    expect_error(&yaml, "steps[1].dependsOn[0]", "forward-dependency", "comes later");
    let yaml = wf("  - key: a\n    dependsOn: [a]\n    action: TRANSFORM\n    config: {value: 1}\n");
    expect_error(&yaml, "steps[0].dependsOn[0]", "cycle", "`a` depends on itself");
}

#[test]
fn cycles_are_named() {
    // a waits for b, a later step (which itself follows a): the documented
    // forward-dependency, not the cycle it implies, and only that
    let yaml = wf(
        "  - key: a\n    dependsOn: [b]\n    action: TRANSFORM\n    config: {value: 1}\n  - key: b\n    action: TRANSFORM\n    config: {value: 1}\n",
    );
    expect_error(&yaml, "steps[0].dependsOn[0]", "forward-dependency", "`b` comes later");
    assert_eq!(check(&yaml).len(), 1, "{:?}", check(&yaml));
    // two explicit edges, one forward: reported as forward, no cycle
    let yaml = wf(
        "  - key: d\n    dependsOn: [e]\n    action: TRANSFORM\n    config: {value: 1}\n  - key: e\n    dependsOn: [d]\n    action: TRANSFORM\n    config: {value: 1}\n",
    );
    expect_error(&yaml, "steps[0].dependsOn[0]", "forward-dependency", "`e` comes later");
    assert_eq!(check(&yaml).iter().filter(|x| x.code == "cycle").count(), 0);
    // a step inside a block depending on the block itself can never start
    let yaml = wf(
        "  - key: blk\n    type: condition\n    if: 'true'\n    then:\n      - key: inner\n        dependsOn: [blk]\n        action: TRANSFORM\n        config: {value: 1}\n",
    );
    expect_error(&yaml, "steps[0].then[0].dependsOn[0]", "cycle", "inner → blk → inner");
}

#[test]
fn depending_into_a_loop_body_from_outside_is_rejected() {
    let yaml = wf(
        "  - key: each\n    type: loop\n    forEach: '[1]'\n    steps:\n      - key: body\n        action: TRANSFORM\n        config: {value: 1}\n  - key: after\n    dependsOn: [body]\n    action: TRANSFORM\n    config: {value: 1}\n",
    );
    expect_error(
        &yaml,
        "steps[1].dependsOn[0]",
        "invalid-dependency",
        "depend on the loop `each` instead",
    );
}

#[test]
fn blocks_need_their_parts() {
    expect_error(
        &wf("  - key: c\n    type: condition\n    then: []\n"),
        "steps[0]",
        "missing-field",
        "`if`",
    );
    expect_error(
        &wf("  - key: c\n    type: condition\n    if: 'true'\n"),
        "steps[0]",
        "missing-field",
        "`then`",
    );
    expect_error(
        &wf("  - key: c\n    type: condition\n    if: 'true'\n    then: []\n"),
        "steps[0].then",
        "empty-block",
        "at least one step",
    );
    expect_error(
        &wf("  - key: s\n    type: switch\n    on: input.x\n"),
        "steps[0]",
        "missing-field",
        "`cases`",
    );
    expect_error(
        &wf("  - key: s\n    type: switch\n    cases: []\n"),
        "steps[0]",
        "missing-field",
        "`on`",
    );
    expect_error(
        &wf("  - key: s\n    type: switch\n    on: input.x\n    cases: []\n"),
        "steps[0].cases",
        "empty-block",
        "at least one case",
    );
    expect_error(
        &wf("  - key: l\n    type: loop\n    steps: []\n"),
        "steps[0]",
        "missing-field",
        "`forEach`",
    );
    expect_error(
        &wf("  - key: l\n    type: loop\n    forEach: '[1]'\n"),
        "steps[0]",
        "missing-field",
        "`steps`",
    );
    expect_error(
        &wf("  - key: c\n    if: 'true'\n    then: []\n"),
        "steps[0]",
        "missing-field",
        "missing `type: condition`",
    );
    expect_error(
        &wf("  - key: c\n    type: cond\n"),
        "steps[0].type",
        "invalid-value",
        "did you mean `condition`?",
    );
    let yaml = wf(
        "  - key: s\n    type: switch\n    on: input.x\n    cases:\n      - value: 1\n        steps: [{key: a, action: TRANSFORM, config: {value: 1}}]\n      - value: 1\n        steps: [{key: b, action: TRANSFORM, config: {value: 1}}]\n",
    );
    expect_error(&yaml, "steps[0].cases[1].value", "duplicate-key", "appears twice");
}

#[test]
fn actions_must_exist_and_blocks_are_not_actions() {
    expect_error(
        &wf("  - key: a\n    action: TRANSFROM\n"),
        "steps[0].action",
        "unknown-action",
        "did you mean `TRANSFORM`?",
    );
    expect_error(
        &wf("  - key: a\n    action: LOOP\n"),
        "steps[0].action",
        "unknown-action",
        "write a `type: loop` step",
    );
}

#[test]
fn configs_are_checked_against_the_action_schema() {
    let d = expect_error(
        &wf("  - key: call\n    action: TRIGGER_WEBHOOK\n    config:\n      method: PUT\n"),
        "steps[0].config",
        "invalid-config",
        "missing required config field `url`",
    );
    assert_eq!(d.line, Some(7));
    expect_error(
        &wf("  - key: call\n    action: TRIGGER_WEBHOOK\n    config:\n      url: http://x\n      method: PUT\n"),
        "steps[0].config.method",
        "invalid-config",
        "PUT",
    );
    expect_error(
        &wf("  - key: call\n    action: TRIGGER_WEBHOOK\n    config:\n      url: http://x\n      methd: GET\n"),
        "steps[0].config.methd",
        "unknown-field",
        "did you mean `method`?",
    );
    expect_error(
        &wf(
            "  - key: call\n    action: TRIGGER_WEBHOOK\n    config:\n      url: http://x\n      headers: { x-n: 5 }\n",
        ),
        "steps[0].config.headers.x-n",
        "invalid-config",
        "not of type",
    );
    // nested under a block, the full path is given
    let yaml = wf(
        "  - key: c\n    type: condition\n    if: 'true'\n    then:\n      - key: call\n        action: TRIGGER_WEBHOOK\n        config: { url: 5 }\n",
    );
    expect_error(&yaml, "steps[0].then[0].config.url", "invalid-config", "not of type");
}

#[test]
fn templates_are_accepted_where_the_schema_wants_another_type() {
    let yaml = wf(
        "  - key: call\n    action: TRIGGER_WEBHOOK\n    config:\n      url: \"{{ input.url }}\"\n      timeout: \"{{ input.timeout }}\"\n      method: \"{{ input.method }}\"\n",
    );
    assert_eq!(check(&yaml), vec![]);
}

#[test]
fn expressions_must_compile_and_read_only_what_is_in_scope() {
    expect_error(
        &wf(
            "  - key: c\n    type: condition\n    if: 'steps.x.output >'\n    then: [{key: a, action: TRANSFORM, config: {value: 1}}]\n",
        ),
        "steps[0].if",
        "invalid-expression",
        "does not compile",
    );
    expect_error(
        &wf("  - key: a\n    action: TRANSFORM\n    config: { value: \"{{ 1 + }}\" }\n"),
        "steps[0].config.value",
        "invalid-expression",
        "does not compile",
    );
    expect_error(
        &wf("  - key: a\n    action: TRANSFORM\n    config: { value: { deep: [\"x {{ inptu.text }}\"] } }\n"),
        "steps[0].config.value.deep[0]",
        "unknown-variable",
        "did you mean `input`?",
    );
    expect_error(
        &wf(
            "  - key: c\n    type: condition\n    if: \"secrets.X == 'a'\"\n    then: [{key: a, action: TRANSFORM, config: {value: 1}}]\n",
        ),
        "steps[0].if",
        "unknown-variable",
        "only available inside action `config`",
    );
    expect_error(
        &wf("  - key: a\n    action: TRANSFORM\n    config: { value: \"{{ n }}\" }\n"),
        "steps[0].config.value",
        "unknown-variable",
        "unknown variable `n`",
    );
    expect_error(
        &wf("  - key: a\n    action: TRANSFORM\n    config: { value: \"{{ index }}\" }\n"),
        "steps[0].config.value",
        "unknown-variable",
        "only bound inside a loop body",
    );
    expect_error(
        &wf("  - key: a\n    action: TRANSFORM\n    config: { value: \"{{ steps.nope.output }}\" }\n"),
        "steps[0].config.value",
        "unknown-step",
        "no step has key `nope`",
    );
    expect_error(
        &wf("  - key: a\n    action: TRANSFORM\n    config: { value: \"{{ event.x }}\" }\n"),
        "steps[0].config.value",
        "unknown-variable",
        "only available in event trigger filters",
    );
    let yaml = format!(
        "{}output: 'steps.a.output +'\n",
        wf("  - key: a\n    action: TRANSFORM\n    config: { value: 1 }\n")
    );
    expect_error(&yaml, "output", "invalid-expression", "does not compile");
    // loop variables are in scope in the body
    let yaml = wf(
        "  - key: l\n    type: loop\n    forEach: '[1]'\n    as: n\n    steps: [{key: a, action: TRANSFORM, config: {value: \"{{ n + index }}\"}}]\n",
    );
    assert_eq!(check(&yaml), vec![]);
    expect_error(
        &wf(
            "  - key: l\n    type: loop\n    forEach: '[1]'\n    as: input\n    steps: [{key: a, action: TRANSFORM, config: {value: 1}}]\n",
        ),
        "steps[0].as",
        "invalid-value",
        "hide a built-in",
    );
}

#[test]
fn triggers_are_checked() {
    let base = |t: &str| {
        format!(
            "schemaVersion: 1\nname: t\ntriggers:\n{t}steps: [{{key: a, action: TRANSFORM, config: {{value: 1}}}}]\n"
        )
    };
    expect_error(
        &base("  - type: schedule\n    cron: '61 * * * *'\n"),
        "triggers[0].cron",
        "invalid-cron",
        "61 * * * *",
    );
    expect_error(
        &base("  - type: schedule\n    cron: '0 9 * * *'\n    timezone: Europe/Londn\n"),
        "triggers[0].timezone",
        "invalid-timezone",
        "Europe/Londn",
    );
    expect_error(
        &base("  - type: webhook\n    key: crm\n"),
        "triggers[0]",
        "missing-field",
        "`verify`",
    );
    expect_error(
        &base("  - type: webhook\n    key: crm\n    verify: { scheme: github }\n"),
        "triggers[0].verify",
        "missing-field",
        "`secret`",
    );
    expect_error(
        &base("  - type: webhook\n    key: crm\n    verify: { scheme: gitlab, secret: S }\n"),
        "triggers[0].verify.scheme",
        "invalid-value",
        "`gitlab` is not one of",
    );
    expect_error(
        &base("  - type: webhook\n    key: CRM\n    verify: { scheme: none }\n"),
        "triggers[0].key",
        "invalid-key",
        "[a-z][a-z0-9_-]*",
    );
    expect_error(
        &base("  - type: event\n    event: x\n    filter: \"input.a == 1\"\n"),
        "triggers[0].filter",
        "unknown-variable",
        "can read only `event`",
    );
    expect_error(
        &base("  - type: webhook\n    key: crm\n    verify: { scheme: github, secret: S, timestampHeader: x-ts }\n"),
        "triggers[0].verify.timestampHeader",
        "invalid-value",
        "only to `scheme: hmac-sha256`",
    );
    expect_error(
        &base(
            "  - type: webhook\n    key: crm\n    verify: { scheme: hmac-sha256, secret: S, timestampHeader: \"x ts\" }\n",
        ),
        "triggers[0].verify.timestampHeader",
        "invalid-value",
        "not an HTTP header name",
    );
    expect_error(
        &base(
            "  - type: webhook\n    key: crm\n    verify: { scheme: hmac-sha256, secret: S, timestampHeader: x-signature-256 }\n",
        ),
        "triggers[0].verify.timestampHeader",
        "invalid-value",
        "must differ",
    );
    expect_error(
        &base("  - type: webhook\n    key: crm\n    verify: { scheme: hmac-sha256, secret: S, tolerance: 1m }\n"),
        "triggers[0].verify.tolerance",
        "invalid-value",
        "`timestampHeader`",
    );
    expect_error(
        &base("  - type: cron\n"),
        "triggers[0].type",
        "invalid-value",
        "unknown trigger type `cron`",
    );
    expect_error(
        &base("  - type: schedule\n    cron: '0 9 * * *'\n    catchUp: some\n"),
        "triggers[0].catchUp",
        "invalid-value",
        "not one of",
    );
}

#[test]
fn durations_and_retry_bounds() {
    let step = |extra: &str| {
        wf(&format!(
            "  - key: a\n    action: TRANSFORM\n    config: {{value: 1}}\n{extra}"
        ))
    };
    expect_error(
        &step("    timeout: 30 seconds\n"),
        "steps[0].timeout",
        "invalid-duration",
        "invalid duration `30 seconds`",
    );
    expect_error(
        &step("    timeout: 30\n"),
        "steps[0].timeout",
        "invalid-duration",
        "duration string",
    );
    expect_error(
        &step("    retry: { maxAttempts: 0 }\n"),
        "steps[0].retry.maxAttempts",
        "invalid-value",
        "at least 1",
    );
    expect_error(
        &step("    retry: { maxAttempts: 3, initialInterval: 10m, maxInterval: 1s }\n"),
        "steps[0].retry.maxInterval",
        "invalid-value",
        "shorter than",
    );
    expect_error(
        &step("    retry: { maxAttempts: 3, backoff: linear }\n"),
        "steps[0].retry.backoff",
        "invalid-value",
        "`linear` is not one of",
    );
    expect_error(
        &step("    retry: { maxAttempts: 3, initialInterval: 1x }\n"),
        "steps[0].retry.initialInterval",
        "invalid-duration",
        "unit",
    );
    expect_error(
        &step("    onError: ignore\n"),
        "steps[0].onError",
        "invalid-value",
        "`fail`, `continue`",
    );
    expect_error(
        &wf(
            "  - key: l\n    type: loop\n    forEach: '[1]'\n    timeout: 1s\n    steps: [{key: a, action: TRANSFORM, config: {value: 1}}]\n",
        ),
        "steps[0].timeout",
        "invalid-value",
        "only to action steps",
    );
    expect_error(
        &wf(
            "  - key: l\n    type: loop\n    forEach: '[1]'\n    maxConcurrency: 0\n    steps: [{key: a, action: TRANSFORM, config: {value: 1}}]\n",
        ),
        "steps[0].maxConcurrency",
        "invalid-value",
        "at least 1",
    );
}

#[test]
fn inputs_must_be_a_json_schema() {
    let yaml = "schemaVersion: 1\nname: t\ninputs: { type: objet }\nsteps: [{key: a, action: TRANSFORM, config: {value: 1}}]\n";
    expect_error(yaml, "inputs", "invalid-schema", "not a valid JSON Schema");
}

#[test]
fn every_error_is_reported_at_once_in_document_order() {
    let yaml = wf(
        "  - key: A\n    action: NOPE\n  - key: b\n    dependsOn: [zz]\n    action: TRANSFORM\n    config: { value: \"{{ inptu }}\" }\n    timeout: 0s\n",
    );
    let diags = check(&yaml);
    let codes: Vec<_> = diags.iter().map(|d| d.code).collect();
    assert_eq!(
        codes,
        [
            "invalid-key",
            "unknown-action",
            "unknown-dependency",
            "unknown-variable",
            "invalid-value"
        ],
        "{diags:#?}"
    );
    let lines: Vec<_> = diags.iter().map(|d| d.line.unwrap()).collect();
    assert!(lines.windows(2).all(|w| w[0] <= w[1]), "{lines:?}");
}

#[test]
fn syntax_errors_have_line_and_column() {
    let diags = check("schemaVersion: 1\nname: [unclosed\nsteps: []\n");
    assert_eq!(diags.len(), 1);
    assert_eq!(diags[0].code, "syntax");
    assert!(diags[0].line.is_some() && diags[0].column.is_some(), "{diags:?}");
    let diags = check("a: 1\na: 2\n");
    assert_eq!(diags[0].code, "syntax", "duplicate YAML keys are rejected: {diags:?}");
}

#[test]
fn yaml_aliases_count_at_their_expanded_size() {
    // 600 KB of text that names one 600 KB string a hundred times
    let big = "x".repeat(600 * 1024);
    let copies = vec!["*big"; 99].join(", ");
    let yaml = wf(&format!(
        "  - key: a\n    action: TRANSFORM\n    config:\n      value:\n        big: &big \"{big}\"\n        copies: [{copies}]\n"
    ));
    assert!(yaml.len() < 700 * 1024);
    let d = expect_error(&yaml, "", "too-large", "once its aliases are expanded");
    assert_eq!(d.line, Some(9), "{d:?}");
    assert!(d.column.is_some(), "{d:?}");
    // the same shape within the limit is a valid workflow
    let small = wf(&format!(
        "  - key: a\n    action: TRANSFORM\n    config:\n      value:\n        big: &big \"{}\"\n        copies: [{copies}]\n",
        "x".repeat(1024)
    ));
    assert_eq!(check(&small), vec![]);
}

#[test]
fn a_workflow_timeout_is_a_positive_duration() {
    let with = |t: &str| {
        format!(
            "schemaVersion: 1\nname: t\ntimeout: {t}\nsteps:\n  - {{key: a, action: TRANSFORM, config: {{value: 1}}}}\n"
        )
    };
    assert!(check(&with("10m")).is_empty(), "{:#?}", check(&with("10m")));
    let d = expect_error(&with("0s"), "timeout", "invalid-value", "longer than 0s");
    assert_eq!((d.line, d.column), (Some(3), Some(10)));
    expect_error(&with("soon"), "timeout", "invalid-duration", "invalid duration `soon`");
}

#[test]
fn one_pass_reports_shape_and_semantic_problems_together() {
    let yaml = "schemaVersion: 1\nname: probe\ntriggers:\n  - type: schedule\n    cron: '61 * * * *'\n    timezone: Mars/Olympus\n  - type: cronjob\nsteps:\n  - key: a\n    action: TRANSFORM\n    retry: { maxAttempt: 3 }\n    timeout: soon\n    config: { value: 1 }\n  - key: b\n    action: LOG_EVENT\n    config: { message: hi, level: warning }\n  - key: c\n    action: TRANSFORM\n    config: { value: '{{ steps.zz.output }}' }\n";
    let found: Vec<(String, String)> = check(yaml).into_iter().map(|d| (d.path, d.code.to_owned())).collect();
    for want in [
        ("triggers[0].cron", "invalid-cron"),
        ("triggers[0].timezone", "invalid-timezone"),
        ("triggers[1].type", "invalid-value"),
        ("steps[0].retry", "missing-field"),
        ("steps[0].retry.maxAttempt", "unknown-field"),
        ("steps[0].timeout", "invalid-duration"),
        // (the test catalog's LOG_EVENT has no `level`)
        ("steps[1].config.level", "unknown-field"),
        ("steps[2].config.value", "unknown-step"),
    ] {
        assert!(
            found.iter().any(|(p, c)| p == want.0 && c == want.1),
            "{want:?} missing from {found:#?}"
        );
    }
    // a step without `action` cannot be set aside: the rules do not run
    let broken = "schemaVersion: 1\nname: probe\nsteps:\n  - key: a\n  - key: c\n    action: TRANSFORM\n    config: { value: '{{ steps.zz.output }}' }\n";
    let found = check(broken);
    assert!(found.iter().any(|d| d.code == "missing-field"), "{found:?}");
    assert!(!found.iter().any(|d| d.code == "unknown-step"), "{found:?}");
}

#[test]
fn reading_a_step_that_may_not_have_finished_is_an_unordered_read() {
    let yaml = wf(
        "  - key: a\n    action: TRANSFORM\n    config: {value: 1}\n  - key: f\n    dependsOn: []\n    action: TRANSFORM\n    config: {value: '{{ steps.a.output }}'}\n  - key: blk\n    type: condition\n    if: 'steps.inner.output == 1'\n    then:\n      - key: inner\n        action: TRANSFORM\n        config: {value: '{{ steps.f.output }}'}\n    else:\n      - key: other\n        action: TRANSFORM\n        config: {value: '{{ steps.inner.status }}'}\n  - key: after\n    dependsOn: [blk, a]\n    action: TRANSFORM\n    config: {value: '{{ steps.inner.output }} {{ steps.other.status }} {{ steps.a.output }} {{ steps.f.output }}'}\n",
    );
    let found: Vec<(String, String)> = check(&yaml)
        .into_iter()
        .filter(|d| d.code == "unordered-read")
        .map(|d| (d.path, d.message))
        .collect();
    let paths: Vec<&str> = found.iter().map(|(p, _)| p.as_str()).collect();
    assert_eq!(
        paths,
        ["steps[1].config.value", "steps[2].if", "steps[2].else[0].config.value"],
        "{found:#?}"
    );
    assert!(
        found[0]
            .1
            .contains("`a` is not sure to have finished when `f` starts; add it to `dependsOn`")
    );
    assert!(
        found[1]
            .1
            .contains("`inner` is inside `blk`, which reads this before its steps run")
    );
    // a body step reading its loop, and a step reading its own block
    let yaml = wf(
        "  - key: each\n    type: loop\n    forEach: '[1, 2]'\n    steps:\n      - key: body\n        action: TRANSFORM\n        config: {value: '{{ steps.each.output }}'}\n",
    );
    let found = check(&yaml);
    assert!(
        found
            .iter()
            .any(|d| d.code == "unordered-read" && d.message.contains("`each` encloses `body`")),
        "{found:?}"
    );
}
