//! The shape check and the located reader: every wrong type the shape check
//! knows, with its path, code, message and line/column; keys that are not
//! strings.

mod support;

use orbflow_model::Diagnostic;
use orbflow_model::dsl::located::{Pos, parse_yaml};
use orbflow_model::dsl::{self, Format};
use support::{check, wf};

const A: &str = "{key: a, action: TRANSFORM, config: {value: 1}}";

/// One diagnostic as (path, code, message, line, column).
type Parsed = (String, &'static str, String, Option<usize>, Option<usize>);

/// The diagnostics `dsl::parse` gives, as (path, code, message, line, column).
fn parse_errors(yaml: &str) -> Vec<Parsed> {
    match dsl::parse(yaml, Format::Yaml) {
        Ok(_) => Vec::new(),
        Err(d) => {
            d.0.into_iter()
                .map(|d: Diagnostic| (d.path, d.code, d.message, d.line, d.column))
                .collect()
        }
    }
}

#[track_caller]
fn one(yaml: &str) -> (String, &'static str, String, Option<usize>, Option<usize>) {
    let mut e = parse_errors(yaml);
    assert_eq!(e.len(), 1, "{e:#?}");
    e.remove(0)
}

fn err(
    path: &str,
    code: &'static str,
    msg: &str,
    line: usize,
    col: usize,
) -> (String, &'static str, String, Option<usize>, Option<usize>) {
    (path.to_owned(), code, msg.to_owned(), Some(line), Some(col))
}

#[test]
fn a_bool_field_takes_only_true_or_false() {
    let yaml =
        wf("  - key: a\n    action: TRANSFORM\n    config: {value: 1}\n    retry: { maxAttempts: 2, jitter: 'yes' }\n");
    assert_eq!(
        one(&yaml),
        err(
            "steps[0].retry.jitter",
            "invalid-type",
            "expected true or false, got a string",
            7,
            38
        )
    );
}

#[test]
fn whole_numbers_name_what_they_got() {
    let step = |n: &str| {
        wf(&format!(
            "  - key: a\n    action: TRANSFORM\n    config: {{value: 1}}\n    retry: {{ maxAttempts: {n} }}\n"
        ))
    };
    assert_eq!(
        one(&step("1.5")),
        err(
            "steps[0].retry.maxAttempts",
            "invalid-type",
            "expected a whole number, got `1.5`",
            7,
            27
        )
    );
    assert_eq!(
        one(&step("-2")).2,
        "expected a whole number, got `-2`",
        "a negative number is not a whole number here"
    );
    assert_eq!(one(&step("'3'")).2, "expected a whole number, got a string");
    assert_eq!(one(&step("true")).2, "expected a whole number, got a bool");
    assert_eq!(one(&step("4294967296")).2, "4294967296 is too large");
}

#[test]
fn depends_on_holds_step_keys() {
    let yaml = wf(&format!(
        "  - {A}\n  - key: b\n    dependsOn: [a, 7, null]\n    action: TRANSFORM\n    config: {{value: 1}}\n"
    ));
    assert_eq!(
        parse_errors(&yaml),
        vec![
            err(
                "steps[1].dependsOn[1]",
                "invalid-type",
                "expected a step key, got a number",
                6,
                20
            ),
            err(
                "steps[1].dependsOn[2]",
                "invalid-type",
                "expected a step key, got null",
                6,
                23
            ),
        ]
    );
    let yaml = wf("  - key: b\n    dependsOn: a\n    action: TRANSFORM\n    config: {value: 1}\n");
    assert_eq!(
        one(&yaml),
        err(
            "steps[0].dependsOn",
            "invalid-type",
            "expected a list of step keys, got a string",
            5,
            16
        )
    );
}

#[test]
fn an_enum_field_must_be_a_string() {
    let yaml = wf("  - key: a\n    action: TRANSFORM\n    config: {value: 1}\n    onError: 1\n");
    assert_eq!(
        one(&yaml),
        err(
            "steps[0].onError",
            "invalid-type",
            "expected one of `fail`, `continue`, got a number",
            7,
            14
        )
    );
}

#[test]
fn nested_parts_must_be_mappings() {
    let yaml = wf("  - key: s\n    type: switch\n    on: input.x\n    cases: [1]\n");
    assert_eq!(
        one(&yaml),
        err(
            "steps[0].cases[0]",
            "invalid-type",
            "a case must be a mapping with `value` and `steps`, got a number",
            7,
            13
        )
    );
    let yaml = wf("  - key: a\n    action: TRANSFORM\n    config: {value: 1}\n    retry: 3\n");
    assert_eq!(
        one(&yaml),
        err(
            "steps[0].retry",
            "invalid-type",
            "`retry` must be a mapping, got a number",
            7,
            12
        )
    );
    let hook = format!(
        "schemaVersion: 1\nname: t\ntriggers:\n  - type: webhook\n    key: k\n    verify: none\nsteps: [{A}]\n"
    );
    assert_eq!(
        one(&hook),
        err(
            "triggers[0].verify",
            "invalid-type",
            "`verify` must be a mapping, got a string",
            6,
            13
        )
    );
    let step = wf("  - just-a-string\n");
    assert_eq!(
        one(&step),
        err(
            "steps[0]",
            "invalid-type",
            "a step must be a mapping, got a string",
            4,
            5
        )
    );
}

#[test]
fn broken_triggers_are_reported_and_dropped() {
    let yaml = format!(
        "schemaVersion: 1\nname: t\ntriggers:\n  - manual\n  - type: 3\n  - {{}}\n  - type: manual\nsteps: [{A}]\n"
    );
    assert_eq!(
        parse_errors(&yaml),
        vec![
            err(
                "triggers[0]",
                "invalid-type",
                "a trigger must be a mapping, got a string",
                4,
                5
            ),
            err(
                "triggers[1].type",
                "invalid-type",
                "expected one of `manual`, `schedule`, `webhook`, `event`, got a number",
                5,
                11
            ),
            err(
                "triggers[2]",
                "missing-field",
                "missing required field `type` (`manual`, `schedule`, `webhook`, `event`)",
                6,
                5
            ),
        ]
    );
    // the rest is still validated: only these three are reported
    assert_eq!(check(&yaml).len(), 3);
    let yaml =
        "schemaVersion: 1\nname: t\ntriggers: manual\nsteps: [{key: a, action: TRANSFORM, config: {value: 1}}]\n";
    assert_eq!(
        one(yaml),
        err(
            "triggers",
            "invalid-type",
            "`triggers` must be a list, got a string",
            3,
            11
        )
    );
}

#[test]
fn a_step_type_of_the_wrong_kind_is_the_only_problem_reported() {
    let yaml = wf("  - key: a\n    type: true\n    action: TRANSFORM\n");
    assert_eq!(
        one(&yaml),
        err(
            "steps[0].type",
            "invalid-type",
            "expected one of `action`, `condition`, `switch`, `loop`, got a bool",
            5,
            11
        )
    );
    // an unknown type: the fields of the type meant are not reported as unknown
    let yaml = wf(&format!(
        "  - key: c\n    type: cond\n    if: 'true'\n    then: [{A}]\n"
    ));
    let (path, code, msg, ..) = one(&yaml);
    assert_eq!((path.as_str(), code), ("steps[0].type", "invalid-value"));
    assert!(msg.ends_with("(did you mean `condition`?)"), "{msg}");
    // a field of no step type still is
    let yaml = wf("  - key: c\n    type: 1\n    iff: x\n");
    assert_eq!(parse_errors(&yaml)[1].2, "unknown field `iff` (did you mean `if`?)");
}

#[test]
fn keys_that_are_not_strings_are_read_as_their_text() {
    let (v, locs) = parse_yaml("1: a\n1.5: b\n-3: c\n~: d\ntrue: e\n").unwrap();
    assert_eq!(
        v,
        serde_json::json!({"1": "a", "1.5": "b", "-3": "c", "null": "d", "true": "e"})
    );
    assert_eq!(locs.key("[\"1.5\"]"), Some(Pos { line: 2, column: 1 }));
    for (text, got) in [("[a, b]: x\n", "sequence"), ("{a: 1}: x\n", "map")] {
        let e = parse_yaml(text).unwrap_err();
        assert_eq!(e.code, "syntax");
        assert_eq!(
            e.message,
            format!("invalid type: {got}, expected a scalar mapping key at line 1, column 1")
        );
        assert_eq!(e.pos, Some(Pos { line: 1, column: 1 }));
    }
}

#[test]
fn non_finite_numbers_are_syntax_errors() {
    let d = dsl::parse("schemaVersion: 1\nname: t\nsteps: []\nui: { x: .nan }\n", Format::Yaml).unwrap_err();
    assert_eq!(d.0.len(), 1, "{d:?}");
    assert_eq!((d.0[0].code, d.0[0].line, d.0[0].column), ("syntax", Some(4), Some(10)));
    assert!(d.0[0].message.contains("non-finite float `.nan`"), "{}", d.0[0].message);
}
