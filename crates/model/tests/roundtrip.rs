//! YAML → model → JSON → model → YAML is the identity, and flattening to
//! step rows and back loses nothing, for generated workflows.

use orbflow_model::dsl::{self, Format};
use orbflow_model::plan::{flatten, unflatten};
use orbflow_model::{
    Backoff, CatchUp, Duration, OnError, RetryPolicy, Step, StepKind, SwitchCase, Trigger, VerifyScheme, WebhookVerify,
    Workflow,
};
use proptest::prelude::*;
use serde_json::{Map, Value, json};

/// Strings that tempt a YAML emitter into ambiguity.
fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z][a-z0-9 ]{0,12}",
        Just("on".to_owned()),
        Just("yes".to_owned()),
        Just("null".to_owned()),
        Just("~".to_owned()),
        Just("123".to_owned()),
        Just("1e3".to_owned()),
        Just("true".to_owned()),
        Just("- item".to_owned()),
        Just("key: value".to_owned()),
        Just("#not a comment".to_owned()),
        Just("{{ input.text }}".to_owned()),
        Just("line one\nline two".to_owned()),
        Just("  padded  ".to_owned()),
        Just("quote ' and \" mix".to_owned()),
        Just("émoji ✓ 🚀".to_owned()),
        Just(String::new()),
        Just("*alias".to_owned()),
        Just("&anchor".to_owned()),
        Just("@at".to_owned()),
        Just("%percent".to_owned()),
        Just("back\\slash".to_owned()),
        Just("tab\there".to_owned()),
    ]
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        (-1.0e9f64..1.0e9).prop_map(Value::from),
        text().prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec(("[a-zA-Z_][a-zA-Z0-9_ .-]{0,8}", inner), 0..4)
                .prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
}

/// `null` and absent are the same for optional values.
fn some_json() -> impl Strategy<Value = Value> {
    json_value().prop_filter("null is absent", |v| !v.is_null())
}

fn duration() -> impl Strategy<Value = Duration> {
    prop_oneof![
        (0u64..100_000).prop_map(Duration::from_millis),
        (1u64..1000).prop_map(Duration::from_secs),
        (1u64..48).prop_map(|h| Duration::from_secs(h * 3600)),
    ]
}

fn retry() -> impl Strategy<Value = Option<RetryPolicy>> {
    prop::option::of(
        (
            1u32..10,
            prop::option::of(prop_oneof![Just(Backoff::Fixed), Just(Backoff::Exponential)]),
            prop::option::of(duration()),
            prop::option::of(duration()),
            prop::option::of(any::<bool>()),
        )
            .prop_map(
                |(max_attempts, backoff, initial_interval, max_interval, jitter)| RetryPolicy {
                    max_attempts,
                    backoff,
                    initial_interval,
                    max_interval,
                    jitter,
                },
            ),
    )
}

/// Canvas metadata: any JSON mapping (the engine ignores it).
fn ui() -> impl Strategy<Value = Option<Map<String, Value>>> {
    prop::option::of(
        prop::collection::vec(("[a-zA-Z_][a-zA-Z0-9_ .-]{0,8}", json_value()), 0..4)
            .prop_map(|kv| kv.into_iter().collect::<Map<String, Value>>()),
    )
}

type Common = (
    Option<String>,
    Option<String>,
    Option<Vec<String>>,
    Option<OnError>,
    Option<Map<String, Value>>,
);

fn common() -> impl Strategy<Value = Common> {
    (
        prop::option::of(text()),
        prop::option::of(text()),
        prop::option::of(prop::collection::vec("[a-z]{1,4}", 0..3)),
        prop::option::of(prop_oneof![Just(OnError::Fail), Just(OnError::Continue)]),
        ui(),
    )
}

fn action_step() -> impl Strategy<Value = Step> {
    (
        common(),
        "[A-Z_]{3,12}",
        prop::option::of(some_json()),
        retry(),
        prop::option::of(duration()),
    )
        .prop_map(
            |((name, description, depends_on, on_error, ui), action, config, retry, timeout)| Step {
                key: String::new(),
                name,
                description,
                depends_on,
                kind: StepKind::Action { action, config },
                retry,
                timeout,
                on_error,
                ui,
            },
        )
}

fn step() -> impl Strategy<Value = Step> {
    action_step().prop_recursive(3, 30, 4, |inner| {
        let list = prop::collection::vec(inner.clone(), 0..3);
        let nonempty = prop::collection::vec(inner, 1..3);
        prop_oneof![
            (common(), text(), nonempty.clone(), list.clone()).prop_map(
                |((n, d, dep, oe, ui), condition, then, otherwise)| Step {
                    key: String::new(),
                    name: n,
                    description: d,
                    depends_on: dep,
                    kind: StepKind::Condition {
                        condition,
                        then,
                        otherwise
                    },
                    retry: None,
                    timeout: None,
                    on_error: oe,
                    ui,
                }
            ),
            (
                common(),
                text(),
                prop::collection::vec((json_value(), nonempty.clone()), 1..3),
                list.clone()
            )
                .prop_map(|((n, d, dep, oe, ui), on, cases, default)| Step {
                    key: String::new(),
                    name: n,
                    description: d,
                    depends_on: dep,
                    kind: StepKind::Switch {
                        on,
                        cases: cases
                            .into_iter()
                            .map(|(value, steps)| SwitchCase { value, steps })
                            .collect(),
                        default,
                    },
                    retry: None,
                    timeout: None,
                    on_error: oe,
                    ui,
                }),
            (
                common(),
                text(),
                prop::option::of("[a-z]{1,5}"),
                prop::option::of(1u32..50),
                nonempty
            )
                .prop_map(
                    |((n, d, dep, oe, ui), for_each, item_var, max_concurrency, steps)| Step {
                        key: String::new(),
                        name: n,
                        description: d,
                        depends_on: dep,
                        kind: StepKind::Loop {
                            for_each,
                            item_var,
                            max_concurrency,
                            steps
                        },
                        retry: None,
                        timeout: None,
                        on_error: oe,
                        ui,
                    }
                ),
        ]
    })
}

fn trigger() -> impl Strategy<Value = Trigger> {
    prop_oneof![
        Just(Trigger::Manual {}),
        (
            text(),
            prop::option::of(text()),
            prop::option::of(some_json()),
            prop::option::of(prop_oneof![
                Just(CatchUp::Skip),
                Just(CatchUp::Latest),
                Just(CatchUp::All)
            ])
        )
            .prop_map(|(cron, timezone, input, catch_up)| Trigger::Schedule {
                cron,
                timezone,
                input,
                catch_up
            }),
        (
            text(),
            prop_oneof![
                Just(VerifyScheme::StandardWebhooks),
                Just(VerifyScheme::Github),
                Just(VerifyScheme::Stripe),
                Just(VerifyScheme::HmacSha256),
                Just(VerifyScheme::None)
            ],
            prop::option::of(text()),
            prop::option::of(duration()),
            prop::option::of(text()),
            prop::option::of(text())
        )
            .prop_map(
                |(key, scheme, secret, tolerance, header, timestamp_header)| Trigger::Webhook {
                    key,
                    verify: WebhookVerify {
                        scheme,
                        secret,
                        tolerance,
                        header,
                        timestamp_header,
                    }
                }
            ),
        (text(), prop::option::of(text())).prop_map(|(event, filter)| Trigger::Event { event, filter }),
    ]
}

fn number_keys(steps: &mut [Step], next: &mut usize) {
    for s in steps {
        s.key = format!("s{next}");
        *next += 1;
        match &mut s.kind {
            StepKind::Action { .. } => {}
            StepKind::Condition { then, otherwise, .. } => {
                number_keys(then, next);
                number_keys(otherwise, next);
            }
            StepKind::Switch { cases, default, .. } => {
                for c in cases {
                    number_keys(&mut c.steps, next);
                }
                number_keys(default, next);
            }
            StepKind::Loop { steps, .. } => number_keys(steps, next),
        }
    }
}

/// `steps` with every `ui` removed, at every depth.
fn without_ui(steps: &[Step]) -> Vec<Step> {
    steps
        .iter()
        .map(|s| {
            let mut s = s.clone();
            s.ui = None;
            match &mut s.kind {
                StepKind::Action { .. } => {}
                StepKind::Condition { then, otherwise, .. } => {
                    *then = without_ui(then);
                    *otherwise = without_ui(otherwise);
                }
                StepKind::Switch { cases, default, .. } => {
                    for c in cases.iter_mut() {
                        c.steps = without_ui(&c.steps);
                    }
                    *default = without_ui(default);
                }
                StepKind::Loop { steps, .. } => *steps = without_ui(steps),
            }
            s
        })
        .collect()
}

fn workflow() -> impl Strategy<Value = Workflow> {
    (
        text(),
        prop::option::of(text()),
        prop::option::of(json_value().prop_map(|v| json!({ "type": "object", "x": v }))),
        prop::collection::vec(trigger(), 0..4),
        prop::collection::vec(step(), 1..5),
        prop::option::of(text()),
        prop::option::of(duration()),
        ui(),
    )
        .prop_map(
            |(name, description, inputs, triggers, mut steps, output, timeout, ui)| {
                number_keys(&mut steps, &mut 0);
                Workflow {
                    schema_version: 1,
                    name,
                    description,
                    inputs,
                    triggers,
                    steps,
                    output,
                    timeout,
                    ui,
                }
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn yaml_json_yaml_is_identity(wf in workflow()) {
        let yaml = dsl::to_yaml(&wf).unwrap();
        let from_yaml = dsl::parse(&yaml, Format::Yaml).map_err(|d| TestCaseError::fail(format!("{d}\n---\n{yaml}")))?.workflow;
        prop_assert_eq!(&from_yaml, &wf, "YAML:\n{}", yaml);
        let json = dsl::to_json(&from_yaml).unwrap();
        let from_json = dsl::parse(&json, Format::Json).map_err(|d| TestCaseError::fail(format!("{d}\n---\n{json}")))?.workflow;
        prop_assert_eq!(&from_json, &wf);
        prop_assert_eq!(dsl::to_yaml(&from_json).unwrap(), yaml);
    }

    #[test]
    fn flatten_then_unflatten_is_identity(wf in workflow()) {
        let rows = flatten(&wf.steps);
        prop_assert_eq!(rows.len(), orbflow_model::plan::count(&wf.steps));
        // `ui` is not part of the plan: the rows are those of the steps
        // without it, and the rebuilt steps have none
        let plain = without_ui(&wf.steps);
        prop_assert_eq!(&rows, &flatten(&plain));
        let back = unflatten(&rows).unwrap();
        prop_assert_eq!(&back, &plain);
        // rows in any order rebuild the same steps
        let mut reversed = rows.clone();
        reversed.reverse();
        prop_assert_eq!(unflatten(&reversed).unwrap(), plain);
    }
}

#[test]
fn flatten_resolves_ordering_and_branches() {
    let yaml = "schemaVersion: 1\nname: t\nsteps:\n  - {key: a, action: X}\n  - {key: b, action: X}\n  - key: c\n    type: switch\n    dependsOn: [a]\n    on: input.p\n    cases:\n      - {value: m, steps: [{key: d, action: X}, {key: e, action: X}]}\n    default: [{key: f, action: X}]\n";
    let wf = dsl::parse(yaml, Format::Yaml).unwrap().workflow;
    let rows = flatten(&wf.steps);
    let by = |k: &str| rows.iter().find(|r| r.key == k).unwrap();
    assert_eq!(by("a").dependencies, Vec::<String>::new());
    assert_eq!(by("b").dependencies, ["a"]);
    assert_eq!(by("c").dependencies, ["a"]);
    assert_eq!(by("c").action, "CONDITIONAL_BRANCH");
    assert_eq!(by("c").config, Some(json!({"on": "input.p"})));
    assert_eq!(by("d").parent_key.as_deref(), Some("c"));
    assert_eq!(by("d").branch_condition, Some(json!("m")));
    assert_eq!(by("e").dependencies, ["d"]);
    assert_eq!(by("f").branch_type, Some(orbflow_model::BranchType::Default));
    assert_eq!(rows.iter().map(|r| r.sequence).collect::<Vec<_>>(), [0, 1, 2, 3, 4, 5]);
}

#[test]
fn corrupt_rows_are_an_error_not_a_panic() {
    let wf = dsl::parse(
        "schemaVersion: 1\nname: t\nsteps:\n  - {key: l, type: loop, forEach: '[1]', steps: [{key: b, action: X}]}\n",
        Format::Yaml,
    )
    .unwrap()
    .workflow;
    let mut rows = flatten(&wf.steps);
    rows[1].parent_key = Some("ghost".into());
    assert!(unflatten(&rows).unwrap_err().to_string().contains("parent"));
    let mut rows = flatten(&wf.steps);
    rows[0].config = None;
    assert!(unflatten(&rows).unwrap_err().to_string().contains("forEach"));
}

#[test]
fn rows_nested_deeper_than_any_document_are_refused() {
    let leaf = |key: &str| Step {
        key: key.to_owned(),
        name: None,
        description: None,
        depends_on: None,
        kind: StepKind::Action {
            action: "X".into(),
            config: None,
        },
        retry: None,
        timeout: None,
        on_error: None,
        ui: None,
    };
    let nest = |levels: usize| {
        let mut step = leaf("body");
        for i in 0..levels {
            step = Step {
                kind: StepKind::Loop {
                    for_each: "[1]".into(),
                    item_var: None,
                    max_concurrency: None,
                    steps: vec![step],
                },
                ..leaf(&format!("l{i}"))
            };
        }
        vec![step]
    };
    // 65 blocks: the innermost step sits at depth 65
    let ok = nest(64);
    assert_eq!(unflatten(&flatten(&ok)).unwrap(), ok);
    let e = unflatten(&flatten(&nest(66))).unwrap_err();
    assert_eq!(
        e.to_string(),
        "cannot rebuild steps from rows: blocks nest deeper than 64 levels (a parent cycle?)"
    );
}

#[test]
fn a_case_row_without_its_case_index_is_an_error() {
    let wf = dsl::parse(
        "schemaVersion: 1\nname: t\nsteps:\n  - {key: s, type: switch, on: input.p, cases: [{value: m, steps: [{key: d, action: X}]}]}\n",
        Format::Yaml,
    )
    .unwrap()
    .workflow;
    let mut rows = flatten(&wf.steps);
    assert_eq!(unflatten(&rows).unwrap(), wf.steps);
    rows[1].branch_index = None;
    assert_eq!(
        unflatten(&rows).unwrap_err().to_string(),
        "cannot rebuild steps from rows: case step `d` has no case index"
    );
}
