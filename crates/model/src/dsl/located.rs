//! Reading YAML and JSON into a `serde_json::Value` plus a map from each
//! node's path (`steps[3].then[0].config.url`) to its line and column.

use std::cell::Cell;
use std::collections::HashMap;
use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};
use serde_saphyr::Spanned;

/// A position in the source text, 1-based.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Pos {
    /// Line, from 1.
    pub line: usize,
    /// Column, from 1.
    pub column: usize,
}

/// Where each node of a document was written.
#[derive(Debug, Clone, Default)]
pub struct Locations {
    values: HashMap<String, Pos>,
    keys: HashMap<String, Pos>,
}

impl Locations {
    /// Position of the value at `path`, or of its nearest ancestor that has one.
    pub fn value(&self, path: &str) -> Option<Pos> {
        let mut p = path;
        loop {
            if let Some(pos) = self.values.get(p) {
                return Some(*pos);
            }
            p = parent_path(p)?;
        }
    }

    /// Position of the key naming the value at `path` (for unknown-field
    /// errors), falling back to the value's position.
    pub fn key(&self, path: &str) -> Option<Pos> {
        self.keys.get(path).copied().or_else(|| self.value(path))
    }
}

/// `a.b[2].c` → `a.b[2]` → `a.b` → `a` → `` → None.
pub(crate) fn parent_path(p: &str) -> Option<&str> {
    if p.is_empty() {
        return None;
    }
    let cut = p.rfind(['.', '[']).unwrap_or(0);
    Some(&p[..cut])
}

/// Appends a field to a path.
pub(crate) fn join_field(base: &str, field: &str) -> String {
    let simple = !field.is_empty() && field.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    match (base.is_empty(), simple) {
        (true, true) => field.to_owned(),
        (false, true) => format!("{base}.{field}"),
        (_, false) => format!("{base}[{}]", serde_json::Value::String(field.to_owned())),
    }
}

/// Appends an index to a path.
pub(crate) fn join_index(base: &str, i: usize) -> String {
    format!("{base}[{i}]")
}

/// A YAML node with its location, used only while reading.
enum Node {
    Null,
    Bool(bool),
    Number(Number),
    String(String),
    Seq(Vec<Spanned<Node>>),
    Map(Vec<(Spanned<KeyNode>, Spanned<Node>)>),
}

/// A mapping key: YAML allows any scalar; the DSL needs strings.
struct KeyNode(String);

impl<'de> Deserialize<'de> for KeyNode {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = KeyNode;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a scalar mapping key")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<KeyNode, E> {
                Ok(KeyNode(v.to_owned()))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<KeyNode, E> {
                Ok(KeyNode(v.to_string()))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<KeyNode, E> {
                Ok(KeyNode(v.to_string()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<KeyNode, E> {
                Ok(KeyNode(v.to_string()))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<KeyNode, E> {
                Ok(KeyNode(v.to_string()))
            }
            fn visit_unit<E: de::Error>(self) -> Result<KeyNode, E> {
                Ok(KeyNode("null".to_owned()))
            }
        }
        d.deserialize_any(V)
    }
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Node;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any YAML value")
            }
            fn visit_unit<E: de::Error>(self) -> Result<Node, E> {
                charge(4)?;
                Ok(Node::Null)
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Node, E> {
                charge(if v { 4 } else { 5 })?;
                Ok(Node::Bool(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Node, E> {
                charge(v.to_string().len())?;
                Ok(Node::Number(v.into()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Node, E> {
                charge(v.to_string().len())?;
                Ok(Node::Number(v.into()))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Node, E> {
                charge(v.to_string().len())?;
                Number::from_f64(v)
                    .map(Node::Number)
                    .ok_or_else(|| E::custom("NaN and infinite numbers are not allowed"))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Node, E> {
                charge(json_str_bytes(v))?;
                Ok(Node::String(v.to_owned()))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Node, E> {
                charge(json_str_bytes(&v))?;
                Ok(Node::String(v))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut a: A) -> Result<Node, A::Error> {
                charge(2)?;
                let mut out = Vec::new();
                while let Some(n) = a.next_element::<Spanned<Node>>()? {
                    charge(1)?;
                    out.push(n);
                }
                Ok(Node::Seq(out))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut a: A) -> Result<Node, A::Error> {
                charge(2)?;
                let mut out = Vec::new();
                while let Some((k, v)) = a.next_entry::<Spanned<KeyNode>, Spanned<Node>>()? {
                    // the key, its quotes, the colon and a comma
                    charge(json_str_bytes(&k.value.0) + 2)?;
                    out.push((k, v));
                }
                Ok(Node::Map(out))
            }
        }
        d.deserialize_any(V)
    }
}

fn pos(l: &serde_saphyr::Location) -> Pos {
    Pos {
        line: usize::try_from(l.line()).unwrap_or(usize::MAX),
        column: usize::try_from(l.column()).unwrap_or(usize::MAX),
    }
}

fn to_value(node: Spanned<Node>, path: String, locs: &mut Locations) -> Value {
    locs.values.insert(path.clone(), pos(&node.referenced));
    match node.value {
        Node::Null => Value::Null,
        Node::Bool(b) => Value::Bool(b),
        Node::Number(n) => Value::Number(n),
        Node::String(s) => Value::String(s),
        Node::Seq(items) => Value::Array(
            items
                .into_iter()
                .enumerate()
                .map(|(i, n)| to_value(n, join_index(&path, i), locs))
                .collect(),
        ),
        Node::Map(entries) => {
            let mut m = Map::new();
            for (k, v) in entries {
                let child = join_field(&path, &k.value.0);
                locs.keys.insert(child.clone(), pos(&k.referenced));
                let v = to_value(v, child, locs);
                m.insert(k.value.0, v);
            }
            Value::Object(m)
        }
    }
}

/// A syntax error with its position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntaxError {
    /// Diagnostic code: `syntax`, or `too-large` for a document over
    /// [`MAX_DOCUMENT_BYTES`] (as written or with its aliases expanded).
    pub code: &'static str,
    /// What is wrong.
    pub message: String,
    /// Where, if known.
    pub pos: Option<Pos>,
}

/// Largest document accepted, in bytes: both the text as written and the
/// document once its YAML aliases are expanded (measured as compact JSON,
/// the form a version is stored in), so that a few aliases of one large
/// value cannot turn a small text into a huge workflow.
pub const MAX_DOCUMENT_BYTES: usize = 4 * 1024 * 1024;

thread_local! {
    /// Bytes the document being read may still take once its aliases are
    /// expanded (`None`: it went over). Only [`parse_yaml`] sets it; the
    /// visitor of [`Node`] charges every value it builds, and aliases are
    /// replayed through that visitor, so each is charged at its full size.
    static ROOM: Cell<Option<usize>> = const { Cell::new(Some(usize::MAX)) };
}

/// Sets the expanded-size budget for one parse and puts the previous one
/// back when dropped (parses do not nest today, but this keeps it safe).
struct Budget(Option<usize>);

impl Budget {
    fn set(room: usize) -> Self {
        Self(ROOM.with(|r| r.replace(Some(room))))
    }

    /// Whether the document went over the budget.
    fn exceeded(&self) -> bool {
        ROOM.with(Cell::get).is_none()
    }
}

impl Drop for Budget {
    fn drop(&mut self) {
        ROOM.with(|r| r.set(self.0));
    }
}

/// Takes `n` bytes from the expanded-size budget, or fails the parse.
fn charge<E: de::Error>(n: usize) -> Result<(), E> {
    ROOM.with(|r| match r.get().and_then(|left| left.checked_sub(n)) {
        Some(left) => {
            r.set(Some(left));
            Ok(())
        }
        None => {
            r.set(None);
            Err(E::custom(format!(
                "document is larger than {MAX_DOCUMENT_BYTES} bytes once its aliases are expanded"
            )))
        }
    })
}

/// Length of `s` as a JSON string: quotes plus escapes.
fn json_str_bytes(s: &str) -> usize {
    2 + s
        .bytes()
        .map(|b| match b {
            b'"' | b'\\' | b'\n' | b'\r' | b'\t' | 0x08 | 0x0c => 2,
            0..0x20 => 6,
            _ => 1,
        })
        .sum::<usize>()
}

/// Parses YAML (or JSON, which is YAML) into a value and its locations.
///
/// Refused: a text over [`MAX_DOCUMENT_BYTES`], and a document that grows
/// over it once its aliases are expanded (the error is located where the
/// limit was crossed).
pub fn parse_yaml(text: &str) -> Result<(Value, Locations), SyntaxError> {
    if text.len() > MAX_DOCUMENT_BYTES {
        return Err(SyntaxError {
            code: "too-large",
            message: format!("document is larger than {MAX_DOCUMENT_BYTES} bytes"),
            pos: None,
        });
    }
    let mut options = serde_saphyr::Options::default();
    options.strict_booleans = true;
    options.with_snippet = false;
    let node: Spanned<Node> = {
        let budget = Budget::set(MAX_DOCUMENT_BYTES);
        serde_saphyr::from_str_with_options(text, options).map_err(|e| SyntaxError {
            code: if budget.exceeded() { "too-large" } else { "syntax" },
            message: first_line(&e.to_string()),
            pos: e.location().map(|l| pos(&l)),
        })?
    };
    let mut locs = Locations::default();
    let value = to_value(node, String::new(), &mut locs);
    Ok((value, locs))
}

/// Parses JSON into a value; locations come from reading the same text as
/// YAML (JSON is YAML 1.2), best effort.
pub fn parse_json(text: &str) -> Result<(Value, Locations), SyntaxError> {
    if text.len() > MAX_DOCUMENT_BYTES {
        return Err(SyntaxError {
            code: "too-large",
            message: format!("document is larger than {MAX_DOCUMENT_BYTES} bytes"),
            pos: None,
        });
    }
    let value: Value = serde_json::from_str(text).map_err(|e| SyntaxError {
        code: "syntax",
        message: e.to_string(),
        pos: Some(Pos {
            line: e.line(),
            column: e.column(),
        }),
    })?;
    let locs = parse_yaml(text).map(|(_, l)| l).unwrap_or_default();
    Ok((value, locs))
}

fn first_line(s: &str) -> String {
    s.lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("invalid YAML")
        .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yaml_values_carry_locations() {
        let text = "a: 1\nsteps:\n  - key: x\n    on: input.p\n    config: { url: \"u\" }\n";
        let (v, locs) = parse_yaml(text).unwrap();
        assert_eq!(v["steps"][0]["on"], "input.p", "`on` stays a string key");
        assert_eq!(v["a"], 1);
        assert_eq!(locs.value("steps[0].key"), Some(Pos { line: 3, column: 10 }));
        assert_eq!(locs.key("steps[0].on"), Some(Pos { line: 4, column: 5 }));
        assert_eq!(locs.value("steps[0].config.url"), Some(Pos { line: 5, column: 20 }));
        // an unknown path falls back to its nearest located ancestor
        assert_eq!(locs.value("steps[0].config.nope"), locs.value("steps[0].config"));
    }

    #[test]
    fn syntax_errors_have_a_position() {
        let e = parse_yaml("a: [1, 2\nb: 3\n").unwrap_err();
        assert!(e.pos.is_some(), "{e:?}");
        let e = parse_json("{\"a\": }").unwrap_err();
        assert_eq!(e.pos, Some(Pos { line: 1, column: 7 }));
    }

    #[test]
    fn json_gets_locations_too() {
        let (v, locs) = parse_json("{\n  \"name\": \"x\",\n  \"steps\": []\n}").unwrap();
        assert_eq!(v["name"], "x");
        assert_eq!(locs.key("steps").map(|p| p.line), Some(3));
    }

    /// A document whose text is small but which names one large string
    /// many times through aliases.
    fn alias_bomb(string_bytes: usize, aliases: usize) -> String {
        let big = "x".repeat(string_bytes);
        let copies = vec!["*big"; aliases].join(", ");
        format!("name: t\nbig: &big \"{big}\"\ncopies: [{copies}]\n")
    }

    #[test]
    fn aliases_count_at_their_expanded_size() {
        let text = alias_bomb(600 * 1024, 99);
        assert!(text.len() < 700 * 1024, "the text itself is small");
        let e = parse_yaml(&text).unwrap_err();
        assert_eq!(e.code, "too-large", "{e:?}");
        assert!(e.message.contains("once its aliases are expanded"), "{e:?}");
        assert!(e.message.contains(&MAX_DOCUMENT_BYTES.to_string()), "{e:?}");
        assert_eq!(e.pos.map(|p| p.line), Some(3), "located at the aliases: {e:?}");
        let (v, _) = parse_yaml(&alias_bomb(1024, 99)).unwrap();
        assert_eq!(v["copies"].as_array().map(Vec::len), Some(99), "small aliases are fine");
    }

    #[test]
    fn the_expanded_size_bounds_the_compact_json_size() {
        for text in [
            "a: 1\nb: [true, false, null, -12, 3.5]\nc: { d: \"q\\\"uote\\n\" }\n",
            "s: &s { k: [1, 2] }\nt: [*s, *s]\nu: \"\\u0001\"\n",
        ] {
            let mut options = serde_saphyr::Options::default();
            options.strict_booleans = true;
            let budget = Budget::set(MAX_DOCUMENT_BYTES);
            let node: Spanned<Node> = serde_saphyr::from_str_with_options(text, options).unwrap();
            let used = MAX_DOCUMENT_BYTES - ROOM.with(Cell::get).unwrap();
            drop(budget);
            let v = to_value(node, String::new(), &mut Locations::default());
            let exact = serde_json::to_string(&v).unwrap().len();
            // one byte too many per collection (its last separator)
            assert!(
                (exact..=exact + 8).contains(&used),
                "{text}: counted {used}, JSON {exact}"
            );
        }
    }

    #[test]
    fn texts_over_the_limit_are_refused_before_parsing() {
        let text = format!("name: \"{}\"\n", "x".repeat(MAX_DOCUMENT_BYTES));
        for e in [parse_yaml(&text).unwrap_err(), parse_json(&text).unwrap_err()] {
            assert_eq!(e.code, "too-large", "{e:?}");
        }
        let e = parse_yaml("a: [1, 2\n").unwrap_err();
        assert_eq!(e.code, "syntax");
    }

    #[test]
    fn integers_beyond_64_bits_are_doubles_in_yaml_and_json() {
        let yaml =
            "a: 18446744073709551615\nb: -9223372036854775808\nc: 18446744073709551616\nd: -9223372036854775809\n";
        let json = "{\"a\": 18446744073709551615, \"b\": -9223372036854775808, \"c\": 18446744073709551616, \"d\": -9223372036854775809}";
        for (v, _) in [parse_yaml(yaml).unwrap(), parse_json(json).unwrap()] {
            assert_eq!(v["a"].as_u64(), Some(u64::MAX), "the largest uint stays exact: {v}");
            assert_eq!(v["b"].as_i64(), Some(i64::MIN), "the smallest int stays exact: {v}");
            // past the 64-bit range: a double, as JSON parsers read it
            assert_eq!(v["c"].as_f64(), Some(18_446_744_073_709_551_616.0), "{v}");
            assert!(v["c"].is_f64() && v["d"].is_f64(), "{v}");
            assert_eq!(v["d"].as_f64(), Some(-9_223_372_036_854_775_809.0), "{v}");
        }
        // a binary-tagged scalar is decoded, and must be text
        let (v, _) = parse_yaml("b: !!binary aGVsbG8=\n").unwrap();
        assert_eq!(v["b"], "hello");
        let e = parse_yaml("b: !!binary /w==\n").unwrap_err();
        assert_eq!((e.code, e.pos.map(|p| p.line)), ("syntax", Some(1)), "{e:?}");
    }

    #[test]
    fn paths_quote_odd_keys() {
        assert_eq!(join_field("", "a"), "a");
        assert_eq!(join_field("a", "b c"), "a[\"b c\"]");
        assert_eq!(
            parent_path("steps[3].then[0].config.url"),
            Some("steps[3].then[0].config")
        );
        assert_eq!(parent_path("steps[3]"), Some("steps"));
        assert_eq!(parent_path("steps"), Some(""));
    }
}
