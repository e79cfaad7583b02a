//! The shape check: before typed deserialization, walk the raw document and
//! report every unknown field (with a did-you-mean), missing required field,
//! wrong type and bad enum value, each at its path. The checked copy is
//! repaired so the rest can still be checked in the same pass: unknown
//! fields are removed, and so is an optional field whose value is wrong
//! (a `retry` with a typo, a bad `timeout`, a trigger of an unknown type);
//! only a problem that no removal can mend (a step without `key` or
//! `action`, a bad `steps` list) stops before the semantic rules.

use serde_json::{Map, Value};

use super::located::{join_field, join_index};
use crate::duration::Duration;
use crate::validate::diagnostic::{Diagnostics, suggestion};
use crate::workflow::SCHEMA_VERSION;

/// Expected type of a field.
#[derive(Clone, Copy)]
enum Kind {
    Str,
    /// Unsigned integer with a minimum.
    UInt(u64),
    Bool,
    Any,
    Object,
    Duration,
    StrList,
    Enum(&'static [&'static str]),
    Steps,
    Triggers,
    Cases,
    Retry,
    Verify,
}

struct Field {
    name: &'static str,
    kind: Kind,
    required: bool,
}

// `f!`/`req!` build the tables' fields. Macros rather than `const fn`s:
// the tables are built at compile time, where no coverage tool sees a
// function run, so the functions counted as never called.
macro_rules! f {
    ($name:expr, $kind:expr $(,)?) => {
        Field {
            name: $name,
            kind: $kind,
            required: false,
        }
    };
}

macro_rules! req {
    ($name:expr, $kind:expr $(,)?) => {
        Field {
            name: $name,
            kind: $kind,
            required: true,
        }
    };
}

const WORKFLOW: &[Field] = &[
    req!("schemaVersion", Kind::UInt(0)),
    req!("name", Kind::Str),
    f!("description", Kind::Str),
    f!("inputs", Kind::Object),
    f!("triggers", Kind::Triggers),
    req!("steps", Kind::Steps),
    f!("output", Kind::Str),
    f!("timeout", Kind::Duration),
    f!("ui", Kind::Object),
];

const TRIGGER_TYPES: &[&str] = &["manual", "schedule", "webhook", "event"];
const STEP_TYPES: &[&str] = &["action", "condition", "switch", "loop"];

fn trigger_fields(t: &str) -> &'static [Field] {
    const MANUAL: &[Field] = &[req!("type", Kind::Str)];
    const SCHEDULE: &[Field] = &[
        req!("type", Kind::Str),
        req!("cron", Kind::Str),
        f!("timezone", Kind::Str),
        f!("input", Kind::Any),
        f!("catchUp", Kind::Enum(&["skip", "latest", "all"])),
    ];
    const WEBHOOK: &[Field] = &[
        req!("type", Kind::Str),
        req!("key", Kind::Str),
        req!("verify", Kind::Verify),
    ];
    const EVENT: &[Field] = &[
        req!("type", Kind::Str),
        req!("event", Kind::Str),
        f!("filter", Kind::Str),
    ];
    match t {
        "schedule" => SCHEDULE,
        "webhook" => WEBHOOK,
        "event" => EVENT,
        _ => MANUAL,
    }
}

const VERIFY: &[Field] = &[
    req!(
        "scheme",
        Kind::Enum(&["standard-webhooks", "github", "stripe", "hmac-sha256", "none"]),
    ),
    f!("secret", Kind::Str),
    f!("tolerance", Kind::Duration),
    f!("header", Kind::Str),
    f!("timestampHeader", Kind::Str),
];

const RETRY: &[Field] = &[
    req!("maxAttempts", Kind::UInt(1)),
    f!("backoff", Kind::Enum(&["fixed", "exponential"])),
    f!("initialInterval", Kind::Duration),
    f!("maxInterval", Kind::Duration),
    f!("jitter", Kind::Bool),
];

const CASE: &[Field] = &[req!("value", Kind::Any), req!("steps", Kind::Steps)];

const STEP_COMMON: &[Field] = &[
    req!("key", Kind::Str),
    f!("name", Kind::Str),
    f!("description", Kind::Str),
    f!("type", Kind::Enum(STEP_TYPES)),
    f!("dependsOn", Kind::StrList),
    f!("retry", Kind::Retry),
    f!("timeout", Kind::Duration),
    f!("onError", Kind::Enum(&["fail", "continue"])),
    f!("ui", Kind::Object),
];

fn step_fields(t: &str) -> &'static [Field] {
    const ACTION: &[Field] = &[req!("action", Kind::Str), f!("config", Kind::Any)];
    const CONDITION: &[Field] = &[
        req!("if", Kind::Str),
        req!("then", Kind::Steps),
        f!("else", Kind::Steps),
    ];
    const SWITCH: &[Field] = &[
        req!("on", Kind::Str),
        req!("cases", Kind::Cases),
        f!("default", Kind::Steps),
    ];
    const LOOP: &[Field] = &[
        req!("forEach", Kind::Str),
        f!("as", Kind::Str),
        f!("maxConcurrency", Kind::UInt(1)),
        req!("steps", Kind::Steps),
    ];
    match t {
        "condition" => CONDITION,
        "switch" => SWITCH,
        "loop" => LOOP,
        _ => ACTION,
    }
}

/// Result of the shape check.
pub(crate) struct Shape {
    /// The document with unknown fields and broken optional values removed.
    pub(crate) cleaned: Value,
    /// Whether a problem was found that removing values cannot mend.
    pub(crate) fatal: bool,
}

/// Checks the raw document; problems go to `d`.
pub(crate) fn check(doc: &Value, d: &mut Diagnostics) -> Shape {
    let mut cleaned = doc.clone();
    let before = d.len();
    let Some(obj) = cleaned.as_object_mut() else {
        d.push(
            "",
            "invalid-type",
            format!("a workflow must be a mapping, got {}", kind_of(doc)),
        );
        return Shape { cleaned, fatal: true };
    };
    // schemaVersion first: a document from another version is not checked further.
    match obj.get("schemaVersion") {
        None => {
            d.push(
                "schemaVersion",
                "missing-field",
                format!("`schemaVersion` is required (this orbflow reads schemaVersion {SCHEMA_VERSION})"),
            );
            return Shape { cleaned, fatal: true };
        }
        Some(Value::Number(n)) if n.as_u64() == Some(u64::from(SCHEMA_VERSION)) => {}
        Some(Value::Number(n)) => {
            d.push(
                "schemaVersion",
                "unsupported-version",
                format!("schemaVersion {n} is not supported: this orbflow reads schemaVersion {SCHEMA_VERSION} (upgrade orbflow to read newer documents)"),
            );
            return Shape { cleaned, fatal: true };
        }
        Some(other) => {
            d.push(
                "schemaVersion",
                "invalid-type",
                format!(
                    "`schemaVersion` must be the integer {SCHEMA_VERSION}, got {}",
                    kind_of(other)
                ),
            );
            return Shape { cleaned, fatal: true };
        }
    }
    let mut c = Checker { d };
    let whole = c.object(obj, "", WORKFLOW, &[]);
    let _ = before;
    Shape { cleaned, fatal: !whole }
}

struct Checker<'a> {
    d: &'a mut Diagnostics,
}

/// Whether a broken value of this kind may be dropped from the checked
/// copy: step lists and cases shape the graph, so dropping them would
/// report what the author did not write.
fn droppable(kind: Kind) -> bool {
    !matches!(kind, Kind::Steps | Kind::Cases)
}

fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a bool",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a mapping",
    }
}

impl Checker<'_> {
    /// Reports a problem; the value it is about is broken (`false`).
    fn error(&mut self, path: &str, code: &'static str, msg: String) -> bool {
        self.d.push(path, code, msg);
        false
    }

    /// Checks `obj` against `fields`; `other` lists fields that belong to
    /// other variants (for a better unknown-field message). Broken optional
    /// values are removed; `false` when the object itself stays broken.
    fn object(
        &mut self,
        obj: &mut Map<String, Value>,
        path: &str,
        fields: &[Field],
        other: &[(&str, &'static [Field])],
    ) -> bool {
        let unknown: Vec<String> = obj
            .keys()
            .filter(|k| !fields.iter().any(|f| f.name == k.as_str()))
            .cloned()
            .collect();
        for k in unknown {
            let p = join_field(path, &k);
            let owner = other.iter().find(|(_, fs)| fs.iter().any(|f| f.name == k));
            let msg = match owner {
                Some((variant, _)) => format!("unknown field `{k}`: it belongs to {variant}"),
                None => format!("unknown field `{k}`{}", suggestion(&k, fields.iter().map(|f| f.name))),
            };
            self.d.push(p, "unknown-field", msg);
            obj.remove(&k);
        }
        let mut whole = true;
        for field in fields {
            let p = join_field(path, field.name);
            match obj.get_mut(field.name) {
                None if field.required => {
                    whole = self.error(
                        path,
                        "missing-field",
                        format!("missing required field `{}`", field.name),
                    );
                }
                None => {}
                Some(v) => {
                    let fine = self.value(v, &p, field.kind);
                    if !fine && (field.required || !droppable(field.kind)) {
                        whole = false;
                    } else if !fine {
                        obj.remove(field.name);
                    }
                }
            }
        }
        whole
    }

    /// Checks one value; `false` when it is broken.
    fn value(&mut self, v: &mut Value, path: &str, kind: Kind) -> bool {
        match kind {
            Kind::Any => true,
            Kind::Str => {
                v.is_string() || self.error(path, "invalid-type", format!("expected a string, got {}", kind_of(v)))
            }
            Kind::Bool => {
                v.is_boolean()
                    || self.error(
                        path,
                        "invalid-type",
                        format!("expected true or false, got {}", kind_of(v)),
                    )
            }
            Kind::UInt(min) => match v.as_u64() {
                Some(n) if n > u64::from(u32::MAX) => self.error(path, "invalid-value", format!("{n} is too large")),
                Some(n) if n < min => self.error(path, "invalid-value", format!("must be at least {min}, got {n}")),
                Some(_) => true,
                None => self.error(
                    path,
                    "invalid-type",
                    format!("expected a whole number, got {}", describe(v)),
                ),
            },
            Kind::Object => {
                v.is_object() || self.error(path, "invalid-type", format!("expected a mapping, got {}", kind_of(v)))
            }
            Kind::Duration => match v.as_str() {
                Some(s) => match s.parse::<Duration>() {
                    Ok(_) => true,
                    Err(e) => self.error(path, "invalid-duration", e.to_string()),
                },
                None => self.error(
                    path,
                    "invalid-duration",
                    format!("expected a duration string like `30s`, got {}", kind_of(v)),
                ),
            },
            Kind::StrList => match v.as_array() {
                Some(items) => {
                    let mut whole = true;
                    for (i, x) in items.iter().enumerate() {
                        if !x.is_string() {
                            whole = self.error(
                                &join_index(path, i),
                                "invalid-type",
                                format!("expected a step key, got {}", kind_of(x)),
                            );
                        }
                    }
                    whole
                }
                None => self.error(
                    path,
                    "invalid-type",
                    format!("expected a list of step keys, got {}", kind_of(v)),
                ),
            },
            Kind::Enum(options) => match v.as_str() {
                Some(s) if options.contains(&s) => true,
                Some(s) => self.error(
                    path,
                    "invalid-value",
                    format!(
                        "`{s}` is not one of {}{}",
                        list(options),
                        suggestion(s, options.iter().copied())
                    ),
                ),
                None => self.error(
                    path,
                    "invalid-type",
                    format!("expected one of {}, got {}", list(options), kind_of(v)),
                ),
            },
            Kind::Steps => self.list(v, path, ("steps", false), Self::step),
            Kind::Triggers => self.list(v, path, ("triggers", true), Self::trigger),
            Kind::Cases => self.list(v, path, ("cases", false), |c, v, p| match v.as_object_mut() {
                Some(o) => c.object(o, p, CASE, &[]),
                None => c.error(
                    p,
                    "invalid-type",
                    format!("a case must be a mapping with `value` and `steps`, got {}", kind_of(v)),
                ),
            }),
            Kind::Retry => match v.as_object_mut() {
                Some(o) => self.object(o, path, RETRY, &[]),
                None => self.error(
                    path,
                    "invalid-type",
                    format!("`retry` must be a mapping, got {}", kind_of(v)),
                ),
            },
            Kind::Verify => match v.as_object_mut() {
                Some(o) => self.object(o, path, VERIFY, &[]),
                None => self.error(
                    path,
                    "invalid-type",
                    format!("`verify` must be a mapping, got {}", kind_of(v)),
                ),
            },
        }
    }

    /// Checks each item of a list; `(what, drop)`: broken items are
    /// removed when `drop` (triggers), else the list is broken.
    fn list(
        &mut self,
        v: &mut Value,
        path: &str,
        (what, drop): (&str, bool),
        item: impl Fn(&mut Self, &mut Value, &str) -> bool,
    ) -> bool {
        match v.as_array_mut() {
            Some(items) => {
                let mut broken = Vec::new();
                for (i, x) in items.iter_mut().enumerate() {
                    if !item(self, x, &join_index(path, i)) {
                        broken.push(i);
                    }
                }
                if drop {
                    for i in broken.iter().rev() {
                        items.remove(*i);
                    }
                }
                drop || broken.is_empty()
            }
            None => self.error(
                path,
                "invalid-type",
                format!("`{what}` must be a list, got {}", kind_of(v)),
            ),
        }
    }

    fn trigger(&mut self, v: &mut Value, path: &str) -> bool {
        let Some(o) = v.as_object_mut() else {
            return self.error(
                path,
                "invalid-type",
                format!("a trigger must be a mapping, got {}", kind_of(v)),
            );
        };
        let t = match o.get("type") {
            None => {
                return self.error(
                    path,
                    "missing-field",
                    format!("missing required field `type` ({})", list(TRIGGER_TYPES)),
                );
            }
            Some(Value::String(t)) if TRIGGER_TYPES.contains(&t.as_str()) => t.clone(),
            Some(Value::String(t)) => {
                let msg = format!(
                    "unknown trigger type `{t}`: expected {}{}",
                    list(TRIGGER_TYPES),
                    suggestion(t, TRIGGER_TYPES.iter().copied())
                );
                return self.error(&join_field(path, "type"), "invalid-value", msg);
            }
            Some(other) => {
                let msg = format!("expected one of {}, got {}", list(TRIGGER_TYPES), kind_of(other));
                return self.error(&join_field(path, "type"), "invalid-type", msg);
            }
        };
        self.object(o, path, trigger_fields(&t), &[])
    }

    fn step(&mut self, v: &mut Value, path: &str) -> bool {
        let Some(o) = v.as_object_mut() else {
            return self.error(
                path,
                "invalid-type",
                format!("a step must be a mapping, got {}", kind_of(v)),
            );
        };
        let t = match o.get("type") {
            None => "action".to_owned(),
            Some(Value::String(t)) if STEP_TYPES.contains(&t.as_str()) => t.clone(),
            // the common-field check reports the bad value; the fields of
            // every step type are known (not required), so that only the
            // `type` is reported, not the fields that go with it
            Some(_) => {
                let fields: Vec<Field> = STEP_COMMON
                    .iter()
                    .map(|fl| (fl, fl.required))
                    .chain(STEP_TYPES.iter().flat_map(|t| step_fields(t)).map(|fl| (fl, false)))
                    .map(|(fl, required)| Field {
                        name: fl.name,
                        kind: fl.kind,
                        required,
                    })
                    .collect();
                self.object(o, path, &fields, &[]);
                return false;
            }
        };
        // A step without `type` that looks like a block: say so.
        if t == "action" && !o.contains_key("action") {
            for (field, ty) in [
                ("if", "condition"),
                ("on", "switch"),
                ("cases", "switch"),
                ("forEach", "loop"),
            ] {
                if o.contains_key(field) {
                    return self.error(path, "missing-field", format!("missing `type: {ty}` (a step with `{field}` is a {ty} block; an action step needs `action`)"));
                }
            }
        }
        let mut fields: Vec<Field> = Vec::new();
        for fl in STEP_COMMON.iter().chain(step_fields(&t)) {
            fields.push(Field {
                name: fl.name,
                kind: fl.kind,
                required: fl.required,
            });
        }
        let others: Vec<(&str, &'static [Field])> = STEP_TYPES
            .iter()
            .filter(|o| **o != t)
            .map(|o| {
                let label: &str = match *o {
                    "action" => "action steps",
                    "condition" => "`type: condition` steps",
                    "switch" => "`type: switch` steps",
                    _ => "`type: loop` steps",
                };
                (label, step_fields(o))
            })
            .collect();
        self.object(o, path, &fields, &others)
    }
}

fn describe(v: &Value) -> String {
    match v {
        Value::Number(n) => format!("`{n}`"),
        other => kind_of(other).to_owned(),
    }
}

fn list(options: &[&str]) -> String {
    options.iter().map(|o| format!("`{o}`")).collect::<Vec<_>>().join(", ")
}
