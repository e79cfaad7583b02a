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
fn an_int_and_a_double_combine_as_doubles() {
    let c = ctx();
    let eval = |src: &str| compile(src).unwrap().eval(&c).unwrap();
    // both orders, every operator, operands read from the input
    assert_eq!(eval("double(input.count) * input.count"), json!(9.0));
    assert_eq!(eval("input.count * input.ratio"), json!(1.5));
    assert_eq!(eval("input.ratio + input.count"), json!(3.5));
    assert_eq!(eval("input.count - input.ratio"), json!(2.5));
    assert_eq!(eval("input.ratio - input.count"), json!(-2.5));
    assert_eq!(eval("input.count / 2.0"), json!(1.5));
    assert_eq!(eval("1.0 / input.count * 3"), json!(1.0));
    assert_eq!(eval("2u * 0.25"), json!(0.5));
    let e = compile("input.ratio / 0").unwrap().eval(&c).unwrap_err();
    assert_eq!(e.reason, "the result inf is not a finite number");
    // same-type arithmetic keeps CEL's meaning
    assert_eq!(eval("input.count / 2"), json!(1));
    assert_eq!(eval("type(input.count * 2) == int"), json!(true));
    assert_eq!(eval("type(input.count * 2.0) == double"), json!(true));
    assert_eq!(eval("'a' + input.text"), json!("ahello"));
    assert_eq!(eval("[1] + [input.count]"), json!([1, 3]));
    assert_eq!(eval("duration('1h') + duration('30m') == duration('90m')"), json!(true));
    let e = compile("9223372036854775807 + input.count")
        .unwrap()
        .eval(&c)
        .unwrap_err();
    assert_eq!(
        e.reason,
        "`+` overflows: the result is outside the int range (write double(…) around one side for a double result)"
    );
    assert_eq!(
        eval("9223372036854775807 + double(input.count)"),
        json!(9.223372036854776e18)
    );
    let e = compile("18446744073709551615u * 2u").unwrap().eval(&c).unwrap_err();
    assert!(
        e.reason
            .starts_with("`*` overflows: the result is outside the uint range"),
        "{e}"
    );
    let e = compile("input.count / 0").unwrap().eval(&c).unwrap_err();
    assert!(e.reason.contains("zero"), "{e}");
    // inside the list macros (whose accumulator append is left alone)
    assert_eq!(eval("[1, 2, 3].map(x, x * 1.5)"), json!([1.5, 3.0, 4.5]));
    assert_eq!(eval("[1, 2, 3].filter(x, x * 0.5 >= 1)"), json!([2, 3]));
    assert_eq!(eval("[1, 2, 3].exists_one(x, x + 0.5 == 2.5)"), json!(true));
    assert_eq!(eval("[0.5, 1.5].all(x, x + 1 > 1)"), json!(true));
    // promotion is not a cost checkpoint: such expressions stay cheap
    assert!(compile("input.count * input.ratio + 1").unwrap().is_cheap());
}

#[test]
fn evaluation_errors_name_expression_and_reason() {
    let c = ctx();
    let e = compile("input.missing.deeper").unwrap().eval(&c).unwrap_err();
    assert_eq!(e.expression, "input.missing.deeper");
    assert!(e.reason.contains("missing"), "{e}");
    let e = compile("input.text + 1").unwrap().eval(&c).unwrap_err();
    assert_eq!(e.reason, "`+` cannot combine a string and an int", "{e}");
    // numbers that do not combine: what to write instead, no interpreter type names
    let e = compile("input.ratio % 2").unwrap().eval(&c).unwrap_err();
    assert_eq!(
        e.reason, "`%` cannot combine a double and an int; `%` takes ints: write int(…) around the double",
        "{e}"
    );
    let e = compile("input.count - 1u").unwrap().eval(&c).unwrap_err();
    assert_eq!(
        e.reason,
        "`-` cannot combine an int and a uint; an int and a uint are not converted implicitly: write int(…) or uint(…) around one side",
        "{e}"
    );
    assert!(!e.reason.contains("Int("), "{e}");
    assert_eq!(readable("something else".into()), "something else");
    assert_eq!(
        readable("Unsupported binary operator 'mul': garbage".into()),
        "Unsupported binary operator 'mul': garbage"
    );
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

fn zeros(n: usize) -> EvalContext {
    EvalContext::new().with("input", json!({ "l": vec![0; n], "s": "a".repeat(1000) }))
}

fn eval_on(src: &str, c: &EvalContext) -> Result<serde_json::Value, ExprError> {
    compile(src).unwrap().eval(c)
}

#[test]
fn a_nested_comprehension_over_a_large_input_exceeds_the_cost_budget() {
    let c = zeros(6_000);
    // without a time limit the cost budget stops it
    let cost_only = budget::Limits {
        max_cost: budget::DEFAULT_MAX_COST,
        time_limit: std::time::Duration::from_secs(3600),
    };
    let nested = compile("input.l.exists(x, input.l.exists(y, x + y == -1))").unwrap();
    let e = nested.eval_with(&c, &cost_only).unwrap_err();
    assert!(e.reason.contains("cost budget of 1000000"), "{e}");
    assert_eq!(e.expression, "input.l.exists(x, input.l.exists(y, x + y == -1))");
    // under the default limits, whichever comes first (debug builds are slow)
    let e = nested.eval(&c).unwrap_err();
    assert!(e.reason.contains("exceeded its"), "{e}");
    // an error swallowed by `||` still fails the evaluation
    let e = compile("input.l.exists(x, input.l.exists(y, x + y == -1)) || true")
        .unwrap()
        .eval_with(&c, &cost_only)
        .unwrap_err();
    assert!(e.reason.contains("cost budget"), "{e}");
    // one level over the same input is within budget
    assert_eq!(eval_on("input.l.exists(x, x == 1)", &c).unwrap(), json!(false));
    assert_eq!(eval_on("input.l.all(x, x == 0)", &c).unwrap(), json!(true));
}

#[test]
fn checkpoints_do_not_change_results() {
    let c = zeros(100);
    let cases = [
        ("input.l.exists(x, input.l.exists(y, x + y == 0))", json!(true)),
        ("input.l.all(x, input.l.all(y, x == y))", json!(true)),
        ("[1, 2, 3].map(x, x * 2)", json!([2, 4, 6])),
        ("[1, 2, 3, 4].filter(x, x % 2 == 0)", json!([2, 4])),
        ("[1, 2, 3].map(x, x > 1, x * 10)", json!([20, 30])),
        ("[1, 2, 3].exists_one(x, x == 2)", json!(true)),
        ("[3, 1, 2].sort()", json!([1, 2, 3])),
        ("[1, 1, 2].distinct()", json!([1, 2])),
        ("lists.range(3)", json!([0, 1, 2])),
        ("'a-b-c'.replace('-', '+')", json!("a+b+c")),
        ("'a-b-c'.replace('-', '+', 1)", json!("a+b-c")),
        ("'ab'.replace('', '.')", json!(".a.b.")),
        ("{'k': [1, 2].map(x, x)}", json!({"k": [1, 2]})),
        ("[[1, 2], [3]].map(l, l.map(x, x + 1))", json!([[2, 3], [4]])),
        ("[1, 2].exists(x, x / 0 == 1) || true", json!(true)),
    ];
    for (src, want) in cases {
        assert_eq!(eval_on(src, &c).unwrap(), want, "{src}");
    }
    // errors keep their CEL meaning
    assert!(
        eval_on("[1, 2].map(x, x / 0)", &c)
            .unwrap_err()
            .reason
            .contains("Division by zero")
    );
}

#[test]
fn builders_of_large_values_are_charged_before_they_build() {
    let c = zeros(10);
    let e = eval_on("size(lists.range(100000000))", &c).unwrap_err();
    assert!(e.reason.contains("cost budget"), "{e}");
    let big = EvalContext::new().with("input", json!({ "l": (0..5_000).collect::<Vec<_>>() }));
    let e = eval_on("size(input.l.distinct())", &big).unwrap_err();
    assert!(e.reason.contains("cost budget"), "{e}");
    // replace refuses a result past the limit without building it
    let e = eval_on("size(input.s.replace('a', input.s + input.s))", &c).unwrap_err();
    assert!(e.reason.contains("would be 2000000 bytes"), "{e}");
    assert_eq!(
        eval_on("size(input.s.replace('a', input.s, 2))", &c).unwrap(),
        json!(2998)
    );
    // a result past the limit is refused while converting
    let wide = zeros(2_000);
    let e = eval_on("input.l.map(x, input.s)", &wide).unwrap_err();
    assert!(e.reason.contains("larger than"), "{e}");
}

#[test]
fn the_time_limit_stops_an_evaluation_within_its_cost() {
    let c = zeros(3_000);
    let limits = budget::Limits {
        max_cost: u64::MAX,
        time_limit: std::time::Duration::from_millis(20),
    };
    let e = compile("input.l.exists(x, input.l.exists(y, x + y == -1))")
        .unwrap()
        .eval_with(&c, &limits)
        .unwrap_err();
    assert!(e.reason.contains("time limit of 20ms"), "{e}");
    // capped() only ever shortens
    let l = budget::Limits::default();
    assert_eq!(l.capped(None), l);
    assert_eq!(l.capped(Some(std::time::Duration::from_secs(60))), l);
    assert_eq!(
        l.capped(Some(std::time::Duration::from_millis(5))).time_limit,
        std::time::Duration::from_millis(5)
    );
}

#[test]
fn a_render_shares_one_budget_across_its_expressions() {
    use super::template::render_value_with;
    let c = zeros(600);
    let limits = budget::Limits {
        max_cost: 2_000,
        time_limit: std::time::Duration::from_secs(5),
    };
    // each expression alone costs about 1,200 (600 items, 600 iterations): two exceed 2,000
    let one = json!({ "a": "{{ input.l.map(x, x) }}" });
    assert!(render_value_with(&one, &c, &limits).is_ok());
    let two = json!({ "a": "{{ input.l.map(x, x) }}", "b": "n={{ size(input.l.filter(x, x == 0)) }}" });
    let e = render_value_with(&two, &c, &limits).unwrap_err();
    assert!(e.reason.contains("cost budget of 2000"), "{e}");
    // outside any scope the default budget applies per evaluation again
    assert!(eval_on("input.l.map(x, x)", &c).is_ok());
}

#[test]
fn cheap_expressions_are_those_without_checkpoints() {
    for src in [
        "input.n + 1",
        "'a' + input.s",
        "{'k': [1, 2]}",
        "has(input.x) ? input.x : 0",
    ] {
        assert!(compile(src).unwrap().is_cheap(), "{src}");
    }
    for src in [
        "input.l.map(x, x)",
        "input.l.exists(x, x == 1)",
        "lists.range(3)",
        "[1, 1].distinct()",
        "[2, 1].sort()",
        "'a'.replace('a', 'b')",
    ] {
        assert!(!compile(src).unwrap().is_cheap(), "{src}");
    }
    use super::template::is_cheap;
    assert!(is_cheap(&json!({"a": "plain", "b": "{{ input.n }} and {{ input.m }}"})));
    assert!(!is_cheap(
        &json!({"a": "ok {{ input.n }}", "b": ["{{ input.l.map(x, x) }}"]})
    ));
    // a template that does not compile is not called cheap (it fails when rendered)
    assert!(!is_cheap(&json!({"a": "{{ (( }}"})));
}

#[test]
fn brackets_inside_strings_do_not_count_even_after_an_escaped_quote() {
    let opens = "(".repeat(MAX_NESTING + 8);
    // the escaped quote does not end the string: the brackets are text
    let src = format!("'it\\'s {opens}' + input.text");
    assert_eq!(
        compile(&src).unwrap().eval(&ctx()).unwrap(),
        json!(format!("it's {opens}hello"))
    );
    let src = format!("\"a \\\\\" + ' \\\" {opens}'");
    assert_eq!(
        compile(&src).unwrap().eval(&ctx()).unwrap(),
        json!(format!("a \\ \" {opens}"))
    );
    // the same brackets outside a string are refused
    let e = compile(&format!("{opens}1{}", ")".repeat(MAX_NESTING + 8))).unwrap_err();
    assert_eq!(e.reason, "nests brackets 40 deep; at most 32 are allowed");
}

#[test]
fn too_many_operators_are_refused_before_parsing() {
    let src = vec!["1"; MAX_OPERATORS + 2].join("+");
    let e = compile(&src).unwrap_err();
    assert_eq!(e.reason, "has 257 operators; at most 256 are allowed");
    assert!(compile(&vec!["1"; MAX_OPERATORS + 1].join("+")).is_ok());
}

#[test]
fn a_condition_names_the_type_it_got() {
    let c = ctx();
    for (src, ty) in [
        ("null", "null"),
        ("'yes'", "string"),
        ("[true]", "list"),
        ("{'ok': true}", "map"),
        ("input.ratio", "double"),
        ("input.count", "int"),
    ] {
        let e = compile(src).unwrap().eval_bool(&c).unwrap_err();
        assert_eq!(e.reason, format!("a condition must be a bool, got {ty}"), "{src}");
    }
    assert_eq!(type_name(&json!(true)), "bool");
}

#[test]
fn operators_without_an_operand_type_name_both_types() {
    let c = ctx();
    for (src, reason) in [
        ("true + 1", "`+` cannot combine a bool and an int"),
        ("input.text - 1", "`-` cannot combine a string and an int"),
        ("'a' * input.count", "`*` cannot combine a string and an int"),
        ("[1] / 2", "`/` cannot combine a list and an int"),
        ("{} + 1", "`+` cannot combine a map and an int"),
        ("null + 1", "`+` cannot combine a null and an int"),
        ("1 + null", "`+` cannot combine an int and a null"),
        ("null * null", "`*` cannot combine a null and a null"),
        // operands read from the context
        ("steps.sentiment.error + 1", "`+` cannot combine a null and an int"),
        ("input.text * input.count", "`*` cannot combine a string and an int"),
        (
            "steps.sentiment.output / input.count",
            "`/` cannot combine a map and an int",
        ),
    ] {
        let e = compile(src).unwrap().eval(&c).unwrap_err();
        assert_eq!(e.reason, reason, "{src}");
    }
    // texts that are not the interpreter's operator messages pass through
    for text in [
        "Overflow from binary operator 'add'",
        "Unsupported binary operator 'add'",
        "Unsupported binary operator 'add': Foo(1), Bar(2)",
    ] {
        assert_eq!(readable(text.into()), text);
    }
    assert_eq!(
        readable("Unsupported binary operator 'pow': Int(1), String(\"x\")".into()),
        "`pow` cannot combine an int and a string"
    );
}

#[test]
fn integers_above_i64_are_uints_both_ways() {
    let c = EvalContext::new().with("input", json!({"big": u64::MAX}));
    assert_eq!(
        compile("type(input.big) == uint").unwrap().eval(&c).unwrap(),
        json!(true)
    );
    assert_eq!(compile("input.big").unwrap().eval(&c).unwrap(), json!(u64::MAX));
    assert_eq!(
        compile("input.big - 1u").unwrap().eval(&c).unwrap(),
        json!(u64::MAX - 1)
    );
    assert_eq!(compile("3u").unwrap().eval(&c).unwrap(), json!(3));
}

#[test]
fn other_cel_values_become_json() {
    let c = ctx();
    let eval = |src: &str| compile(src).unwrap().eval(&c).unwrap();
    // map keys that are not strings are printed
    assert_eq!(
        eval("{1: 'a', true: 'b', 2u: 'c', 'd': input.count}"),
        json!({"1": "a", "true": "b", "2": "c", "d": 3})
    );
    assert_eq!(
        eval("timestamp('2026-01-01T09:30:00Z')"),
        json!("2026-01-01T09:30:00+00:00")
    );
    assert_eq!(eval("b'abc'"), json!("YWJj"), "bytes are base64");
    assert_eq!(eval("type(input.count)"), json!("int"));
    // the size limit holds for these values too
    let big = EvalContext::new().with("big", json!("x".repeat(MAX_RESULT_BYTES - 8)));
    assert!(compile("[big]").unwrap().eval(&big).is_ok());
    let e = compile("[big, bytes(big)]").unwrap().eval(&big).unwrap_err();
    assert_eq!(e.reason, format!("result is larger than {MAX_RESULT_BYTES} bytes"));
    // the unbounded conversion, for callers outside an evaluation
    assert_eq!(to_json(&cel::Value::UInt(7)), Ok(json!(7)));
    assert_eq!(
        to_json(&to_cel(&json!({"a": [1, 2.5, null, "s", true]}))),
        Ok(json!({"a": [1, 2.5, null, "s", true]}))
    );
}

#[test]
fn type_names_are_not_variables() {
    let r = compile("type(input.count) == int && type(steps.a) != map && x == null_type")
        .unwrap()
        .references();
    assert_eq!(r.variables, ["input", "steps", "x"]);
    // a struct literal's fields are read
    let r = compile("Foo{a: input.text}").unwrap().references();
    assert_eq!(r.variables, ["input"]);
    let e = compile("Foo{a: input.text}").unwrap().eval(&ctx()).unwrap_err();
    assert!(e.reason.contains("Foo"), "{e}");
}

#[test]
fn replace_takes_an_int_count() {
    let c = ctx();
    let eval = |src: &str| compile(src).unwrap().eval(&c);
    assert_eq!(eval("'aaa'.replace('a', 'b', 2)"), Ok(json!("bba")));
    assert_eq!(
        eval("'aaa'.replace('a', 'b', -1)"),
        Ok(json!("bbb")),
        "a negative count is all"
    );
    assert_eq!(
        eval("'aaa'.replace('a', 'b', 1.5)").unwrap_err().reason,
        "Error executing function 'replace': the count must be an int"
    );
}

#[test]
fn filter_and_exists_one_are_charged_per_item() {
    let c = zeros(5_000);
    let limits = budget::Limits {
        max_cost: 4_000,
        time_limit: std::time::Duration::from_secs(3600),
    };
    for src in [
        "input.l.filter(x, x == 1)",
        "input.l.exists_one(x, x == 1)",
        "input.l.map(x, x == 1, x)",
    ] {
        let p = compile(src).unwrap();
        assert!(!p.is_cheap(), "{src}");
        let e = p.eval_with(&c, &limits).unwrap_err();
        assert!(e.reason.contains("cost budget of 4000"), "{src}: {e}");
        assert!(p.eval_with(&zeros(100), &limits).is_ok(), "{src}");
    }
}
