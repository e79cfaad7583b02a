//! Action configs against their catalog JSON Schema, with the formats the
//! catalog uses and readable messages.
//!
//! Formats are asserted (not just annotations), so a rule the runtime
//! enforces on a string can be written in the schema and reported at
//! validation with its path:
//!
//! | format | accepts |
//! | --- | --- |
//! | [`DATE_TIME`] | an RFC 3339 date-time (what `chrono` parses) |
//! | [`DURATION`] | a DSL duration (`500ms`, `30s`, `10m`, `2h`, `1d`) of at most 366 days |
//! | [`POSITIVE_DURATION`] | the same, greater than zero |
//! | [`HTTP_URL`] | an absolute `http` or `https` URL with a host |
//! | [`HTTP_HEADER_NAME`] | an HTTP header name (an RFC 9110 token) |
//! | [`HTTP_HEADER_VALUE`] | an HTTP header value (visible ASCII, spaces and tabs) |
//!
//! A string holding a `{{ }}` template is accepted wherever the schema
//! wants something else: it is typed when the step runs.
//!
//! Messages never repeat the raw `oneOf`/`anyOf` sentence: a failed choice
//! between required fields names them ("needs exactly one of `duration` or
//! `until`"), a choice between constants lists them, and a choice between
//! types reports the branch the value's type fits.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::str::FromStr;

use jsonschema::ValidationError;
use jsonschema::error::ValidationErrorKind as Kind;
use jsonschema::paths::LocationSegment;
use serde_json::Value;

use super::diagnostic::{Diagnostics, suggestion};
use crate::dsl::located::{join_field, join_index};

/// `format` of an RFC 3339 date-time.
pub const DATE_TIME: &str = "date-time";
/// `format` of a DSL duration of at most 366 days.
pub const DURATION: &str = "orbflow-duration";
/// `format` of a DSL duration greater than zero and at most 366 days.
pub const POSITIVE_DURATION: &str = "orbflow-positive-duration";
/// `format` of an absolute http(s) URL.
pub const HTTP_URL: &str = "http-url";
/// `format` of an HTTP header name.
pub const HTTP_HEADER_NAME: &str = "http-header-name";
/// `format` of an HTTP header value.
pub const HTTP_HEADER_VALUE: &str = "http-header-value";

fn is_date_time(s: &str) -> bool {
    chrono::DateTime::parse_from_rfc3339(s).is_ok()
}

fn is_duration(s: &str) -> bool {
    crate::Duration::from_str(s).is_ok()
}

fn is_positive_duration(s: &str) -> bool {
    crate::Duration::from_str(s).is_ok_and(|d| d.as_millis() > 0)
}

fn is_http_url(s: &str) -> bool {
    url::Url::parse(s.trim()).is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some())
}

fn is_header_name(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

fn is_header_value(s: &str) -> bool {
    s.bytes().all(|b| b == b'\t' || (0x20..0x7f).contains(&b))
}

/// Builds the validator of a config schema, with the formats above.
fn validator(schema: &Value) -> Option<jsonschema::Validator> {
    catch_unwind(AssertUnwindSafe(|| {
        jsonschema::options()
            .should_validate_formats(true)
            .with_format(DATE_TIME, is_date_time)
            .with_format(DURATION, is_duration)
            .with_format(POSITIVE_DURATION, is_positive_duration)
            .with_format(HTTP_URL, is_http_url)
            .with_format(HTTP_HEADER_NAME, is_header_name)
            .with_format(HTTP_HEADER_VALUE, is_header_value)
            .build(schema)
    }))
    .ok()?
    .ok()
}

/// Whether a schema error is about a `{{ }}` template string.
fn is_template(err: &ValidationError<'_>) -> bool {
    matches!(err.instance().as_ref(), Value::String(s) if s.contains("{{"))
}

/// Validates `cfg` (at path `cp`) against its action's schema.
pub fn check_config(cfg: &Value, schema: &Value, cp: &str, d: &mut Diagnostics) {
    let Some(validator) = validator(schema) else {
        d.push(cp, "invalid-config", "the action's config schema cannot be loaded");
        return;
    };
    for err in validator.iter_errors(cfg) {
        if is_template(&err) {
            continue;
        }
        let mut path = cp.to_owned();
        for seg in err.instance_path().iter() {
            path = match seg {
                LocationSegment::Property(k) => join_field(&path, &k),
                LocationSegment::Index(i) => join_index(&path, i),
            };
        }
        match err.kind() {
            Kind::AdditionalProperties { unexpected } => {
                let known: Vec<&str> = schema
                    .get("properties")
                    .and_then(Value::as_object)
                    .map(|m| m.keys().map(String::as_str).collect())
                    .unwrap_or_default();
                for u in unexpected {
                    d.push(
                        join_field(&path, u),
                        "unknown-field",
                        format!("unknown config field `{u}`{}", suggestion(u, known.iter().copied())),
                    );
                }
            }
            _ => {
                if let Some(message) = message(&err, schema) {
                    d.push(path, "invalid-config", message);
                }
            }
        }
    }
}

/// The message of one error; `None` when it is about a template (the
/// choice a template string failed is decided when the step runs).
fn message(err: &ValidationError<'_>, schema: &Value) -> Option<String> {
    if is_template(err) {
        return None;
    }
    let branches = || schema.pointer(err.schema_path().as_str()).and_then(Value::as_array);
    let text = match err.kind() {
        Kind::Required { property } => {
            let name = property.as_str().map_or_else(|| property.to_string(), str::to_owned);
            format!("missing required config field `{name}`")
        }
        Kind::Format { format } => format_message(format, err.instance()),
        Kind::PropertyNames { error } => return message(error, schema),
        Kind::OneOfNotValid { context } | Kind::AnyOf { context } => {
            let one = matches!(err.kind(), Kind::OneOfNotValid { .. });
            if let Some(names) = branches().and_then(|b| required_names(b)) {
                let how = if one { "exactly one" } else { "at least one" };
                return Some(format!("needs {how} of {}", listing(&names, "or")));
            }
            if let Some(values) = branches().and_then(|b| constants(b)) {
                return Some(format!(
                    "{} is not one of {}",
                    short(err.instance()),
                    listing(&values, "or")
                ));
            }
            // the branches the value's type fits (the others failed on `type` at its path)
            let fitting: Vec<&Vec<ValidationError<'static>>> = context
                .iter()
                .filter(|errs| {
                    !errs
                        .iter()
                        .any(|e| matches!(e.kind(), Kind::Type { .. }) && e.instance_path() == err.instance_path())
                })
                .collect();
            if let [only] = fitting[..] {
                if only.iter().all(is_template) {
                    return None;
                }
                if let Some(first) = only.first() {
                    return message(first, schema);
                }
            }
            let forms: Vec<String> = branches()
                .map(|b| b.iter().filter_map(describe).collect())
                .unwrap_or_default();
            if forms.is_empty() {
                "does not match any accepted form".to_owned()
            } else {
                format!("must be {}", forms.join(" or "))
            }
        }
        // `not: {required: [a, b]}`: the fields exclude each other
        Kind::Not { schema: not } => match not.get("required").and_then(Value::as_array) {
            Some(names) if names.len() > 1 => {
                let names: Vec<String> = names
                    .iter()
                    .filter_map(Value::as_str)
                    .map(|n| format!("`{n}`"))
                    .collect();
                format!("takes only one of {}", listing(&names, "and"))
            }
            _ => err.to_string(),
        },
        Kind::OneOfMultipleValid { .. } => match branches().and_then(|b| required_names(b)) {
            Some(names) => format!("takes only one of {}", listing(&names, "and")),
            None => "matches more than one of the accepted forms".to_owned(),
        },
        _ => err.to_string(),
    };
    Some(text)
}

/// The fields a choice between `{required: [...]}` branches names, if every
/// branch is of that form (other keys may only narrow those fields).
fn required_names(branches: &[Value]) -> Option<Vec<String>> {
    let mut names = Vec::new();
    for b in branches {
        let o = b.as_object()?;
        if o.keys().any(|k| !matches!(k.as_str(), "required" | "properties")) {
            return None;
        }
        for n in o.get("required")?.as_array()? {
            names.push(format!("`{}`", n.as_str()?));
        }
    }
    (!names.is_empty()).then_some(names)
}

/// The values of a choice between `const` branches (a documented enum).
fn constants(branches: &[Value]) -> Option<Vec<String>> {
    branches
        .iter()
        .map(|b| b.get("const").map(|c| format!("`{}`", plain(c))))
        .collect()
}

/// A branch in words: its type, and its description if it has one.
fn describe(branch: &Value) -> Option<String> {
    let ty = match branch.get("type") {
        Some(Value::String(t)) => Some(a_type(t)),
        _ => None,
    };
    let what = branch
        .get("description")
        .and_then(Value::as_str)
        .map(|d| d.trim_end_matches('.').to_owned());
    match (ty, what) {
        (Some(t), Some(w)) => Some(format!("{t} ({w})")),
        (Some(t), None) => Some(t),
        (None, Some(w)) => Some(w),
        (None, None) => None,
    }
}

fn a_type(t: &str) -> String {
    match t {
        "integer" | "object" | "array" => format!("an {t}"),
        "null" => "null".to_owned(),
        _ => format!("a {t}"),
    }
}

fn plain(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// A value for a message, cut short.
fn short(v: &Value) -> String {
    let s = plain(v);
    if s.chars().count() > 60 {
        format!("`{}…`", s.chars().take(60).collect::<String>())
    } else {
        format!("`{s}`")
    }
}

/// `a`, `a or b`, `a, b or c`.
fn listing(items: &[String], last: &str) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., tail] => format!("{} {last} {tail}", init.join(", ")),
    }
}

fn format_message(format: &str, instance: &Value) -> String {
    match format {
        DATE_TIME => format!(
            "{} is not an RFC 3339 date-time (e.g. `2026-12-01T09:00:00Z`)",
            short(instance)
        ),
        DURATION => format!(
            "{} is not a duration of at most 366 days: a number and a unit (500ms, 30s, 10m, 2h, 1d)",
            short(instance)
        ),
        POSITIVE_DURATION => format!(
            "{} is not a duration greater than 0 and at most 366 days: a number and a unit (500ms, 30s, 10m, 2h, 1d)",
            short(instance)
        ),
        // URLs and header values often carry credentials: not repeated
        HTTP_URL => "must be an absolute http or https URL".to_owned(),
        HTTP_HEADER_NAME => format!("{} is not a valid HTTP header name", short(instance)),
        HTTP_HEADER_VALUE => "is not a valid HTTP header value (visible ASCII characters only)".to_owned(),
        other => format!("is not a valid `{other}`"),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn problems(schema: &Value, cfg: &Value) -> Vec<(String, String)> {
        let mut d = Diagnostics::default();
        check_config(cfg, schema, "c", &mut d);
        d.iter().map(|x| (x.path.clone(), x.message.clone())).collect()
    }

    #[test]
    fn formats_are_asserted() {
        let schema = json!({"type": "object", "properties": {
            "at": {"type": "string", "format": DATE_TIME},
            "d": {"type": "string", "format": DURATION},
            "p": {"type": "string", "format": POSITIVE_DURATION},
            "u": {"type": "string", "format": HTTP_URL},
            "h": {"type": "object", "propertyNames": {"format": HTTP_HEADER_NAME},
                  "additionalProperties": {"type": "string", "format": HTTP_HEADER_VALUE}}
        }});
        let good = json!({"at": "2026-12-01T09:00:00+01:00", "d": "0s", "p": "1ms", "u": "https://example.com/x",
                          "h": {"X-Token": "Bearer abc"}});
        assert_eq!(problems(&schema, &good), vec![]);
        let bad = json!({"at": "tomorrow", "d": "367d", "p": "0s", "u": "ftp://example.com/",
                         "h": {"Bad Name": "x", "X-Secret": "naïve-secret"}});
        let got = problems(&schema, &bad);
        let msg = |p: &str| {
            got.iter()
                .find(|(path, _)| path == p)
                .map(|(_, m)| m.clone())
                .unwrap_or_else(|| panic!("nothing at {p}: {got:?}"))
        };
        assert!(msg("c.at").contains("`tomorrow` is not an RFC 3339 date-time"));
        assert!(msg("c.d").contains("at most 366 days"));
        assert!(msg("c.p").contains("greater than 0"));
        assert_eq!(msg("c.u"), "must be an absolute http or https URL");
        assert!(msg("c.h").contains("`Bad Name` is not a valid HTTP header name"));
        let value = msg("c.h.X-Secret");
        assert!(
            value.contains("not a valid HTTP header value") && !value.contains("secret"),
            "{value}"
        );
        // templates are typed at run time
        let t = json!({"at": "{{ input.when }}", "u": "{{ secrets.URL }}", "h": {"A": "Bearer {{ secrets.T }}"}});
        assert_eq!(problems(&schema, &t), vec![]);
    }

    #[test]
    fn choices_have_readable_messages() {
        let schema = json!({
            "type": "object",
            "properties": {
                "duration": {"anyOf": [
                    {"anyOf": [
                        {"type": "integer", "minimum": 0, "description": "Milliseconds."},
                        {"type": "string", "format": DURATION}
                    ]},
                    {"type": "null"}
                ]},
                "until": {"type": ["string", "null"]},
                "level": {"anyOf": [
                    {"oneOf": [{"type": "string", "const": "info"}, {"type": "string", "const": "warn"}]},
                    {"type": "null"}
                ]}
            },
            "oneOf": [
                {"required": ["duration"], "properties": {"duration": {"not": {"type": "null"}}}},
                {"required": ["until"], "properties": {"until": {"type": "string"}}}
            ]
        });
        let one = |cfg: Value| {
            let p = problems(&schema, &cfg);
            assert_eq!(p.len(), 1, "{cfg}: {p:?}");
            p.into_iter().next().unwrap()
        };
        assert_eq!(
            one(json!({})),
            ("c".into(), "needs exactly one of `duration` or `until`".into())
        );
        assert_eq!(
            one(json!({"duration": null})),
            ("c".into(), "needs exactly one of `duration` or `until`".into())
        );
        assert_eq!(
            one(json!({"duration": 5, "until": "x"})),
            ("c".into(), "takes only one of `duration` and `until`".into())
        );
        let (path, m) = one(json!({"duration": "10 minutes"}));
        assert_eq!(path, "c.duration");
        assert!(m.starts_with("`10 minutes` is not a duration"), "{m}");
        let (_, m) = one(json!({"duration": -1}));
        assert!(m.contains("minimum of 0"), "{m}");
        let (_, m) = one(json!({"duration": true}));
        assert_eq!(m, "must be an integer (Milliseconds) or a string");
        let (path, m) = one(json!({"duration": 1, "level": "loud"}));
        assert_eq!(path, "c.level");
        assert_eq!(m, "`loud` is not one of `info` or `warn`");
        assert_eq!(problems(&schema, &json!({"duration": "{{ input.wait }}"})), vec![]);
    }
    #[test]
    fn a_schema_that_cannot_be_built_is_reported_once() {
        let mut d = Diagnostics::default();
        check_config(&json!({"a": 1}), &json!({"type": 5}), "steps[0].config", &mut d);
        let got: Vec<_> = d
            .iter()
            .map(|x| (x.path.as_str(), x.code, x.message.as_str()))
            .collect();
        assert_eq!(
            got,
            [(
                "steps[0].config",
                "invalid-config",
                "the action's config schema cannot be loaded"
            )]
        );
    }

    #[test]
    fn templates_in_property_names_and_nested_branches_are_left_to_run_time() {
        let names = json!({"type": "object", "propertyNames": {"format": HTTP_HEADER_NAME}});
        assert_eq!(problems(&names, &json!({"{{ input.h }}": "v"})), vec![]);
        assert_eq!(
            problems(&names, &json!({"a b": "v"})),
            vec![("c".to_owned(), "`a b` is not a valid HTTP header name".to_owned())]
        );
        // only the object branch fits an object; what fails in it is a template
        let choice = json!({"anyOf": [
            {"type": "string"},
            {"type": "object", "properties": {"n": {"type": "integer"}}}
        ]});
        assert_eq!(problems(&choice, &json!({"n": "{{ input.n }}"})), vec![]);
        assert_eq!(
            problems(&choice, &json!({"n": "seven"})),
            vec![("c".to_owned(), "\"seven\" is not of type \"integer\"".to_owned())]
        );
    }

    #[test]
    fn choices_without_names_or_types_have_generic_messages() {
        // neither branch is about the value's type: no form to name
        let bounds = json!({"anyOf": [{"minimum": 10}, {"maximum": 1}]});
        assert_eq!(
            problems(&bounds, &json!(5)),
            vec![("c".to_owned(), "does not match any accepted form".to_owned())]
        );
        // branches named by their description, or by a type list they do not print
        let described = json!({"oneOf": [
            {"minimum": 10, "description": "A big number."},
            {"type": ["integer", "null"], "maximum": 1, "description": "A small one"}
        ]});
        assert_eq!(
            problems(&described, &json!(5)),
            vec![("c".to_owned(), "must be A big number or A small one".to_owned())]
        );
        // more than one branch matches, and they are not `required` choices
        let overlap = json!({"oneOf": [{"type": "integer"}, {"minimum": 0}]});
        assert_eq!(
            problems(&overlap, &json!(5)),
            vec![("c".to_owned(), "matches more than one of the accepted forms".to_owned())]
        );
        // `not` of a single field is the validator's own sentence
        let not_one = json!({"not": {"required": ["a"]}});
        assert_eq!(
            problems(&not_one, &json!({"a": 1})),
            vec![(
                "c".to_owned(),
                r#"{"required":["a"]} is not allowed for {"a":1}"#.to_owned()
            )]
        );
    }

    #[test]
    fn constants_and_long_values_are_quoted_short() {
        let levels = json!({"oneOf": [{"const": 1}, {"const": 2}, {"const": "three"}]});
        assert_eq!(
            problems(&levels, &json!(4)),
            vec![("c".to_owned(), "`4` is not one of `1`, `2` or `three`".to_owned())]
        );
        let long = "y".repeat(70);
        let got = problems(&levels, &json!(long));
        assert_eq!(
            got,
            vec![(
                "c".to_owned(),
                format!("`{}…` is not one of `1`, `2` or `three`", "y".repeat(60))
            )]
        );
    }

    #[test]
    fn other_formats_are_named() {
        let schema = json!({"type": "string", "format": "email"});
        assert_eq!(
            problems(&schema, &json!("not an address")),
            vec![("c".to_owned(), "is not a valid `email`".to_owned())]
        );
        assert_eq!(problems(&schema, &json!("a@example.com")), vec![]);
    }
}
