//! More of the validator's rules (DESIGN.md §5): the webhook, event and
//! block rules not covered by validate_rules.rs, each with its exact path,
//! code, message and, where it matters, line and column.

mod support;

use orbflow_model::dsl::{self, Format};
use orbflow_model::{BranchType, Diagnostic};
use support::{TestCatalog, check, expect_error, wf};

/// The only diagnostic of `yaml`.
#[track_caller]
fn only(yaml: &str) -> Diagnostic {
    let diags = check(yaml);
    assert_eq!(diags.len(), 1, "{diags:#?}");
    diags.into_iter().next().unwrap()
}

fn with_triggers(t: &str) -> String {
    format!("schemaVersion: 1\nname: t\ntriggers:\n{t}steps: [{{key: a, action: TRANSFORM, config: {{value: 1}}}}]\n")
}

const A: &str = "{key: a, action: TRANSFORM, config: {value: 1}}";

#[test]
fn a_blank_name_is_rejected_at_its_value() {
    let d = only("schemaVersion: 1\nname: '  '\nsteps: [{key: a, action: TRANSFORM, config: {value: 1}}]\n");
    assert_eq!(
        (d.path.as_str(), d.code, d.message.as_str()),
        ("name", "invalid-value", "`name` must not be empty")
    );
    assert_eq!((d.line, d.column), (Some(2), Some(7)));
}

#[test]
fn webhook_keys_are_unique_across_triggers() {
    let d = only(&with_triggers(
        "  - type: webhook\n    key: crm\n    verify: { scheme: none }\n  - type: webhook\n    key: crm\n    verify: { scheme: none }\n",
    ));
    assert_eq!(d.path, "triggers[1].key");
    assert_eq!(d.code, "duplicate-key");
    assert_eq!(d.message, "webhook key `crm` is already used by triggers[0]");
    // a duplicate is located at its key
    assert_eq!((d.line, d.column), (Some(8), Some(5)));
}

#[test]
fn webhook_secrets_are_names_and_none_takes_none() {
    let d = only(&with_triggers(
        "  - type: webhook\n    key: crm\n    verify: { scheme: none, secret: S }\n",
    ));
    assert_eq!(
        (d.path.as_str(), d.code, d.message.as_str()),
        (
            "triggers[0].verify.secret",
            "invalid-value",
            "`scheme: none` verifies nothing: remove `secret` or choose a scheme"
        )
    );
    let d = only(&with_triggers(
        "  - type: webhook\n    key: crm\n    verify: { scheme: stripe }\n",
    ));
    assert_eq!(
        (d.path.as_str(), d.code, d.message.as_str()),
        (
            "triggers[0].verify",
            "missing-field",
            "missing required field `secret` (the name of the secret holding the signing key)"
        )
    );
    // a signing key pasted in place of the secret's name
    for secret in ["whsec_abc+def/123=", "1PASSWORD", "''"] {
        let d = only(&with_triggers(&format!(
            "  - type: webhook\n    key: crm\n    verify: {{ scheme: github, secret: {secret} }}\n"
        )));
        assert_eq!(d.path, "triggers[0].verify.secret", "{secret}");
        assert_eq!(d.code, "invalid-value");
        assert_eq!(
            d.message,
            "`secret` is the NAME of a secret ([A-Za-z_][A-Za-z0-9_]*), not the key itself"
        );
    }
    for secret in ["GITHUB_SECRET", "_s1"] {
        assert_eq!(
            check(&with_triggers(&format!(
                "  - type: webhook\n    key: crm\n    verify: {{ scheme: github, secret: {secret} }}\n"
            ))),
            vec![],
            "{secret}"
        );
    }
}

#[test]
fn webhook_header_rules() {
    // `header` is only for hmac-sha256
    let d = only(&with_triggers(
        "  - type: webhook\n    key: crm\n    verify: { scheme: github, secret: S, header: X-Sig }\n",
    ));
    assert_eq!(d.path, "triggers[0].verify.header");
    assert_eq!(d.code, "invalid-value");
    assert!(d.message.contains("only to `scheme: hmac-sha256`"), "{}", d.message);
    // a header name that is not a token
    let d = only(&with_triggers(
        "  - type: webhook\n    key: crm\n    verify: { scheme: hmac-sha256, secret: S, header: \"X Sig\" }\n",
    ));
    assert_eq!(
        (d.path.as_str(), d.code, d.message.as_str()),
        (
            "triggers[0].verify.header",
            "invalid-value",
            "`X Sig` is not an HTTP header name (letters, digits and !#$%&'*+-.^_`|~)"
        )
    );
    let long = "x".repeat(65);
    let d = only(&with_triggers(&format!(
        "  - type: webhook\n    key: crm\n    verify: {{ scheme: hmac-sha256, secret: S, header: {long} }}\n"
    )));
    assert_eq!(d.path, "triggers[0].verify.header");
    // the timestamp header must differ from a custom signature header too
    let d = only(&with_triggers(
        "  - type: webhook\n    key: crm\n    verify: { scheme: hmac-sha256, secret: S, header: X-Sig, timestampHeader: x-sig }\n",
    ));
    assert_eq!(
        (d.path.as_str(), d.message.as_str()),
        (
            "triggers[0].verify.timestampHeader",
            "`timestampHeader` must differ from the signature header"
        )
    );
    // hmac-sha256 with a timestamp header signs a timestamp: tolerance is fine
    assert_eq!(
        check(&with_triggers(
            "  - type: webhook\n    key: crm\n    verify: { scheme: hmac-sha256, secret: S, timestampHeader: X-Ts, tolerance: 5m }\n",
        )),
        vec![]
    );
    let d = only(&with_triggers(
        "  - type: webhook\n    key: crm\n    verify: { scheme: github, secret: S, tolerance: 5m }\n",
    ));
    assert_eq!(d.path, "triggers[0].verify.tolerance");
    assert!(
        d.message
            .starts_with("`tolerance` applies only to schemes that sign a timestamp")
    );
}

#[test]
fn event_types_are_restricted() {
    for (event, shown) in [("\"mention received\"", "mention received"), ("\"\"", "")] {
        let d = only(&with_triggers(&format!("  - type: event\n    event: {event}\n")));
        assert_eq!(
            (d.path.as_str(), d.code, d.message),
            (
                "triggers[0].event",
                "invalid-value",
                format!("event type `{shown}` may hold only letters, digits and . _ - : /")
            )
        );
    }
    let long = "e".repeat(129);
    let d = only(&with_triggers(&format!("  - type: event\n    event: {long}\n")));
    assert_eq!(d.path, "triggers[0].event");
    assert_eq!(
        check(&with_triggers("  - type: event\n    event: \"crm:deal/won.v2_x-y\"\n")),
        vec![]
    );
}

#[test]
fn a_cron_and_a_zone_both_wrong_are_reported_together() {
    let diags = check(&with_triggers(
        "  - type: schedule\n    cron: 'nope'\n    timezone: Mars/Olympus\n",
    ));
    let got: Vec<(&str, &str)> = diags.iter().map(|d| (d.path.as_str(), d.code)).collect();
    assert_eq!(
        got,
        vec![
            ("triggers[0].cron", "invalid-cron"),
            ("triggers[0].timezone", "invalid-timezone")
        ]
    );
    assert!(diags[1].message.contains("Mars/Olympus"), "{}", diags[1].message);
}

#[test]
fn policies_apply_to_action_steps_only() {
    let d = only(&wf(&format!(
        "  - key: c\n    type: condition\n    if: 'true'\n    retry: {{ maxAttempts: 2 }}\n    then: [{A}]\n"
    )));
    assert_eq!(
        (d.path.as_str(), d.code, d.message.as_str()),
        (
            "steps[0].retry",
            "invalid-value",
            "`retry` applies only to action steps"
        )
    );
    let d = only(&wf(
        "  - key: a\n    action: TRANSFORM\n    config: {value: 1}\n    retry: { maxAttempts: 101 }\n",
    ));
    assert_eq!(
        (d.path.as_str(), d.message.as_str()),
        ("steps[0].retry.maxAttempts", "`maxAttempts` must be at most 100")
    );
    assert_eq!(
        check(&wf(
            "  - key: a\n    action: TRANSFORM\n    config: {value: 1}\n    retry: { maxAttempts: 100 }\n"
        )),
        vec![]
    );
    let d = only(&wf(
        "  - key: a\n    action: TRANSFORM\n    config: {value: 1}\n    timeout: 0s\n",
    ));
    assert_eq!(
        (d.path.as_str(), d.message.as_str()),
        ("steps[0].timeout", "`timeout` must be longer than 0s")
    );
}

#[test]
fn block_bodies_and_loop_bounds() {
    let d = only(&wf(&format!(
        "  - key: l\n    type: loop\n    forEach: '[1]'\n    maxConcurrency: 1001\n    steps: [{A}]\n"
    )));
    assert_eq!(
        (d.path.as_str(), d.code, d.message.as_str()),
        (
            "steps[0].maxConcurrency",
            "invalid-value",
            "`maxConcurrency` must be at most 1000"
        )
    );
    let d = only(&wf("  - key: l\n    type: loop\n    forEach: '[1]'\n    steps: []\n"));
    assert_eq!(
        (d.path.as_str(), d.code, d.message.as_str()),
        ("steps[0].steps", "empty-block", "a loop needs at least one step")
    );
    let d = only(&wf(
        "  - key: s\n    type: switch\n    on: input.x\n    cases:\n      - value: 1\n        steps: []\n",
    ));
    assert_eq!(
        (d.path.as_str(), d.code, d.message.as_str()),
        (
            "steps[0].cases[0].steps",
            "empty-block",
            "a case needs at least one step"
        )
    );
}

#[test]
fn loop_variables_are_identifiers_not_already_bound() {
    let body = |var: &str, inner: &str| {
        wf(&format!(
            "  - key: outer\n    type: loop\n    forEach: '[1]'\n    as: x\n    steps:\n      - key: inner\n        type: loop\n        forEach: '[2]'\n        as: {inner}\n        steps: [{A}]\n  - key: l\n    type: loop\n    forEach: '[1]'\n    as: {var}\n    steps: [{{key: b, action: TRANSFORM, config: {{value: 1}}}}]\n"
        ))
    };
    let d = only(&body("ok", "x"));
    assert_eq!(
        (d.path.as_str(), d.code, d.message.as_str()),
        (
            "steps[0].steps[0].as",
            "invalid-value",
            "loop variable `x` is already bound by an enclosing loop"
        )
    );
    let d = only(&body("\"2x\"", "y"));
    assert_eq!(
        (d.path.as_str(), d.message.as_str()),
        ("steps[1].as", "loop variable `2x` must be an identifier")
    );
    // `item` is the default name: writing it is allowed
    assert_eq!(check(&body("item", "y")), vec![]);
}

#[test]
fn configs_of_unknown_actions_still_have_their_templates_checked() {
    let diags = check(&wf(
        "  - key: a\n    action: NOPE\n    config: { x: \"{{ input.a +\" , y: [\"{{ stepz.b }}\"] }\n",
    ));
    let got: Vec<(&str, &str)> = diags.iter().map(|d| (d.path.as_str(), d.code)).collect();
    assert_eq!(
        got,
        vec![
            ("steps[0].action", "unknown-action"),
            ("steps[0].config.x", "invalid-expression"),
            ("steps[0].config.y[0]", "unknown-variable"),
        ],
        "{diags:#?}"
    );
    assert_eq!(diags[0].message, "unknown action `NOPE`");
}

#[test]
fn a_config_of_null_is_an_empty_config() {
    let d = only(&wf("  - key: a\n    action: LOG_EVENT\n    config: null\n"));
    assert_eq!(
        (d.path.as_str(), d.code, d.message.as_str()),
        (
            "steps[0].config",
            "invalid-config",
            "missing required config field `message`"
        )
    );
}

#[test]
fn an_inputs_schema_with_an_unknown_dialect_is_reported() {
    let d = only(&format!(
        "schemaVersion: 1\nname: t\ninputs: {{ $schema: 'https://example.com/not-a-dialect', type: object }}\nsteps: [{A}]\n"
    ));
    assert_eq!(d.path, "inputs");
    assert_eq!(d.code, "invalid-schema");
    assert!(
        d.message.starts_with("`inputs` is not a valid JSON Schema"),
        "{}",
        d.message
    );
}

#[test]
fn an_event_filter_reads_only_event() {
    let d = only(&with_triggers(
        "  - type: event\n    event: x\n    filter: \"secrets.K == ''\"\n",
    ));
    assert_eq!(d.path, "triggers[0].filter");
    assert_eq!(
        d.message,
        "`secrets` is only available inside action `config`: `secrets.K == ''`"
    );
    // step keys are not checked in a filter (it cannot read steps at all)
    let d = only(&with_triggers(
        "  - type: event\n    event: x\n    filter: \"steps.nope.ok\"\n",
    ));
    assert_eq!(d.code, "unknown-variable");
}

#[test]
fn a_dependency_listed_twice_is_reported_at_the_second() {
    let d = only(&wf(&format!(
        "  - {A}\n  - key: b\n    dependsOn: [a, a]\n    action: TRANSFORM\n    config: {{value: 1}}\n"
    )));
    assert_eq!(
        (d.path.as_str(), d.code, d.message.as_str()),
        ("steps[1].dependsOn[1]", "duplicate-key", "`a` is listed twice")
    );
    assert_eq!((d.line, d.column), (Some(6), Some(20)));
}

#[test]
fn a_block_depending_on_its_own_child_is_a_cycle() {
    let yaml = wf(
        "  - key: c\n    type: condition\n    if: 'true'\n    dependsOn: [x]\n    then:\n      - key: x\n        action: TRANSFORM\n        config: {value: 1}\n",
    );
    let d = expect_error(&yaml, "steps[0].dependsOn[0]", "cycle", "dependency cycle: ");
    assert_eq!(d.message, "dependency cycle: c → x → c");
}

#[test]
fn trigger_and_branch_names_are_those_of_the_dsl() {
    let yaml = "schemaVersion: 1\nname: t\ntriggers:\n  - type: manual\n  - type: schedule\n    cron: '0 9 * * *'\n  - type: webhook\n    key: k\n    verify: { scheme: none }\n  - type: event\n    event: e\nsteps: [{key: a, action: TRANSFORM, config: {value: 1}}]\n";
    let wf = dsl::load(yaml, Format::Yaml, &TestCatalog::new())
        .expect("valid")
        .workflow;
    let names: Vec<&str> = wf.triggers.iter().map(|t| t.type_name()).collect();
    assert_eq!(names, ["manual", "schedule", "webhook", "event"]);
    let fields: Vec<&str> = [
        BranchType::IfTrue,
        BranchType::IfFalse,
        BranchType::SwitchCase,
        BranchType::Default,
        BranchType::LoopBody,
    ]
    .into_iter()
    .map(BranchType::field)
    .collect();
    assert_eq!(fields, ["then", "else", "cases", "default", "steps"]);
}

#[test]
fn diagnostics_print_with_their_position() {
    let err = dsl::load(
        &wf("  - key: a\n    action: TRANSFORM\n    config: {value: 1}\n    bogus: 1\n    dependsOn: [zz]\n"),
        Format::Yaml,
        &TestCatalog::new(),
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "7:5: steps[0].bogus: unknown field `bogus`\n8:17: steps[0].dependsOn[0]: no step has key `zz`"
    );
    let err = dsl::parse("[1]", Format::Yaml).unwrap_err();
    assert_eq!(
        err.to_string(),
        "1:1: (document): a workflow must be a mapping, got a list"
    );
}

#[test]
fn conditions_may_compare_types_by_name() {
    // `int`, `map`, … are CEL type values, not unknown variables
    let yaml = wf(&format!(
        "  - key: c\n    type: condition\n    if: \"type(input.n) == int || type(input.n) == map\"\n    then: [{A}]\n"
    ));
    assert_eq!(check(&yaml), vec![]);
    let d = only(&wf(&format!(
        "  - key: c\n    type: condition\n    if: \"type(input.n) == integer\"\n    then: [{A}]\n"
    )));
    assert_eq!(d.code, "unknown-variable");
    assert!(d.message.starts_with("unknown variable `integer`"), "{}", d.message);
}

#[test]
fn template_expressions_may_hold_closing_braces_in_strings() {
    let yaml = wf("  - key: a\n    action: LOG_EVENT\n    config: { message: \"{{ 'it\\\\'s }}' + input.x }}\" }\n");
    assert_eq!(check(&yaml), vec![]);
    let d = only(&wf(
        "  - key: a\n    action: LOG_EVENT\n    config: { message: \"{{ 'it\\\\'s }}' + nope }}\" }\n",
    ));
    assert_eq!(
        (d.path.as_str(), d.code),
        ("steps[0].config.message", "unknown-variable")
    );
    assert!(d.message.ends_with(": `'it\\'s }}' + nope`"), "{}", d.message);
}

#[test]
fn a_retry_needs_at_least_one_attempt() {
    let d = only(&wf(
        "  - key: a\n    action: TRANSFORM\n    config: {value: 1}\n    retry: { maxAttempts: 0 }\n",
    ));
    assert_eq!(
        (d.path.as_str(), d.code, d.message.as_str()),
        (
            "steps[0].retry.maxAttempts",
            "invalid-value",
            "must be at least 1, got 0"
        )
    );
}

#[test]
fn a_branch_block_written_as_an_action_names_the_step_types() {
    let d = only(&wf("  - key: a\n    action: CONDITIONAL_BRANCH\n"));
    assert_eq!((d.path.as_str(), d.code), ("steps[0].action", "unknown-action"));
    assert!(
        d.message.contains("`type: condition` or `type: switch`"),
        "{}",
        d.message
    );
}
