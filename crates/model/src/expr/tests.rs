use serde_json::json;

use super::template::{Template, render_value};
use super::*;

fn ctx() -> EvalContext {
    EvalContext::new()
        .with(
            "input",
            json!({"text": "hello", "count": 3, "ratio": 0.5, "platform": "mastodon"}),
        )
        .with(
            "steps",
            json!({"sentiment": {"status": "COMPLETED", "output": {"score": -0.6}, "error": null, "attempts": 1}}),
        )
        .with("secrets", json!({"TOKEN": "s3cr3t"}))
}

#[test]
fn json_integers_are_cel_ints_and_others_doubles() {
    let c = ctx();
    assert_eq!(compile("input.count + 1").unwrap().eval(&c).unwrap(), json!(4));
    assert_eq!(
        compile("type(input.count) == int").unwrap().eval(&c).unwrap(),
        json!(true)
    );
    assert_eq!(
        compile("type(input.ratio) == double").unwrap().eval(&c).unwrap(),
        json!(true)
    );
    assert_eq!(
        compile("steps.sentiment.output.score < -0.3").unwrap().eval_bool(&c),
        Ok(true)
    );
}

#[test]
fn evaluation_errors_name_expression_and_reason() {
    let c = ctx();
    let e = compile("input.missing.deeper").unwrap().eval(&c).unwrap_err();
    assert_eq!(e.expression, "input.missing.deeper");
    assert!(e.reason.contains("missing"), "{e}");
    let e = compile("input.text + 1").unwrap().eval(&c).unwrap_err();
    assert!(e.reason.contains("Unsupported binary operator"), "{e}");
    let e = compile("input.count").unwrap().eval_bool(&c).unwrap_err();
    assert_eq!(e.reason, "a condition must be a bool, got int");
    let e = compile("nope").unwrap().eval(&c).unwrap_err();
    assert!(e.reason.contains("nope"), "{e}");
}

#[test]
fn compile_errors_and_limits() {
    assert!(compile("1 +").unwrap_err().reason.starts_with("does not compile"));
    assert_eq!(compile("  ").unwrap_err().reason, "expression is empty");
    let long = "1 + ".repeat(2000) + "1";
    assert!(compile(&long).unwrap_err().reason.contains("longer than 4096"));
    let nested = "[1].map(a, [1].map(b, [1].map(c, c)))";
    assert!(compile(nested).unwrap_err().reason.contains("nests 3 list macros"));
    assert!(compile("[1].map(a, [1].map(b, b))").is_ok());
}

#[test]
fn results_are_bounded() {
    let c = EvalContext::new().with("big", json!("x".repeat(600_000)));
    let e = compile("[big, big]").unwrap().eval(&c).unwrap_err();
    assert!(e.reason.contains("larger than"), "{e}");
    let t = Template::parse("{{ big }}{{ big }}").unwrap();
    assert!(t.render(&c).unwrap_err().reason.contains("longer than"));
}

#[test]
fn references_list_variables_and_step_keys() {
    let r = compile("steps.a.output + steps['b'].output + [1].map(x, x + input.n).size() + index")
        .unwrap()
        .references();
    assert_eq!(r.variables, ["index", "input", "steps"]);
    assert_eq!(r.step_keys, ["a", "b"]);
    let r = compile("math.greatest([1, input.n]) + lists.range(3).size()")
        .unwrap()
        .references();
    assert_eq!(r.variables, ["input"], "namespaces are not variables");
}

#[test]
fn whole_templates_are_typed_others_interpolate() {
    let c = ctx();
    let cfg = json!({
        "n": "{{ input.count * 2 }}",
        "s": " {{ input.text }} ",
        "mixed": "count={{ input.count }} text={{ input.text }} map={{ {'a': 1} }}",
        "list": ["{{ input.ratio }}", 7],
        "plain": "no templates",
        "secret": "Bearer {{ secrets.TOKEN }}",
        "quoted": "{{ '}}' + input.text }}",
    });
    let out = render_value(&cfg, &c).unwrap();
    assert_eq!(
        out,
        json!({
            "n": 6,
            "s": "hello",
            "mixed": "count=3 text=hello map={\"a\":1}",
            "list": [0.5, 7],
            "plain": "no templates",
            "secret": "Bearer s3cr3t",
            "quoted": "}}hello",
        })
    );
    assert!(
        Template::parse("{{ input.text")
            .unwrap_err()
            .reason
            .contains("without a matching")
    );
    assert!(Template::parse("{{ 1 + }}").is_err());
}

#[test]
fn secrets_can_be_removed_from_a_context() {
    let c = ctx().without_secrets();
    assert!(c.get("secrets").is_none());
    assert!(compile("secrets.TOKEN").unwrap().eval(&c).is_err());
}

#[test]
fn deep_or_long_expressions_are_rejected_or_evaluated_without_crashing() {
    let ctx = EvalContext::new().with("a", serde_json::json!({"b": {}}));
    for n in [10, 31, 33, 100, 1000] {
        for src in [
            format!("{}1{}", "(".repeat(n), ")".repeat(n)),
            format!("{}1{}", "[".repeat(n), "]".repeat(n)),
            format!("{}1", "-".repeat(n)),
            format!("{}true", "!".repeat(n)),
            format!("a{}", ".b".repeat(n)),
            format!("1{}", "+1".repeat(n)),
            format!("true{}", " && true".repeat(n)),
            format!("{}1", "true ? 1 : ".repeat(n)),
            format!("{}1{}", "size(".repeat(n), ")".repeat(n)),
        ] {
            match compile(&src) {
                Ok(c) => {
                    let _ = c.eval(&ctx);
                }
                Err(e) => assert!(!e.reason.is_empty()),
            }
        }
    }
    assert!(
        compile(&format!("{}1{}", "(".repeat(40), ")".repeat(40)))
            .unwrap_err()
            .reason
            .contains("nests brackets 40 deep")
    );
    assert!(
        compile(&format!("1{}", "+1".repeat(300)))
            .unwrap_err()
            .reason
            .contains("operators")
    );
    assert_eq!(
        compile(&format!("{}1{}", "(".repeat(32), ")".repeat(32)))
            .unwrap()
            .eval(&ctx)
            .unwrap(),
        serde_json::json!(1)
    );
    assert_eq!(
        compile(&format!("1{}", "+1".repeat(200))).unwrap().eval(&ctx).unwrap(),
        serde_json::json!(201)
    );
    // string literals do not count
    assert!(compile(&format!("'{}'", "(".repeat(100))).is_ok());
}

#[test]
fn standard_library_and_extensions_are_available() {
    let c = EvalContext::new().with("s", serde_json::json!("Hello World"));
    for (src, want) in [
        ("s.matches('^H.*d$')", serde_json::json!(true)),
        ("s.lowerAscii()", serde_json::json!("hello world")),
        ("s.split(' ').size()", serde_json::json!(2)),
        ("s.startsWith('He') && s.contains('lo W')", serde_json::json!(true)),
        ("[3, 1, 2].map(x, x * 2)", serde_json::json!([6, 2, 4])),
        ("[1, 2, 3].filter(x, x > 1).size()", serde_json::json!(2)),
        ("has({'a': 1}.a)", serde_json::json!(true)),
        ("math.greatest([1, 5, 3])", serde_json::json!(5)),
        ("int('42') + 1", serde_json::json!(43)),
        ("string(3.5)", serde_json::json!("3.5")),
    ] {
        assert_eq!(compile(src).unwrap().eval(&c).unwrap(), want, "{src}");
    }
}
