//! `{{ expr }}` templates in action configs.
//!
//! A config string that is exactly one `{{ expr }}` (surrounding whitespace
//! allowed) becomes the expression's typed JSON value; any other string with
//! `{{ }}` interpolates: strings are inserted as they are, other values as
//! JSON. There is no escape syntax: write `{{ '{{' }}` for a literal `{{`.

use serde_json::Value;

use super::{Compiled, EvalContext, ExprError, MAX_RESULT_BYTES, compile};

/// One piece of a template string.
#[derive(Debug)]
pub enum Segment {
    /// Literal text.
    Text(String),
    /// A compiled expression.
    Expr(Compiled),
}

/// A parsed template string.
#[derive(Debug)]
pub struct Template {
    segments: Vec<Segment>,
    whole: bool,
}

/// Whether `s` contains template syntax at all.
pub fn is_templated(s: &str) -> bool {
    s.contains("{{")
}

impl Template {
    /// Parses and compiles every `{{ }}` of `s`.
    pub fn parse(s: &str) -> Result<Self, ExprError> {
        let mut segments = Vec::new();
        let mut rest = s;
        while let Some(start) = rest.find("{{") {
            if start > 0 {
                segments.push(Segment::Text(rest[..start].to_owned()));
            }
            let after = &rest[start + 2..];
            let end = find_close(after).ok_or_else(|| ExprError {
                expression: s.to_owned(),
                reason: "`{{` without a matching `}}`".to_owned(),
            })?;
            segments.push(Segment::Expr(compile(after[..end].trim())?));
            rest = &after[end + 2..];
        }
        if !rest.is_empty() {
            segments.push(Segment::Text(rest.to_owned()));
        }
        let exprs = segments.iter().filter(|s| matches!(s, Segment::Expr(_))).count();
        let texts_blank = segments
            .iter()
            .all(|s| matches!(s, Segment::Expr(_)) || matches!(s, Segment::Text(t) if t.trim().is_empty()));
        Ok(Self {
            whole: exprs == 1 && texts_blank,
            segments,
        })
    }

    /// The compiled expressions, in order.
    pub fn expressions(&self) -> impl Iterator<Item = &Compiled> {
        self.segments.iter().filter_map(|s| match s {
            Segment::Expr(c) => Some(c),
            Segment::Text(_) => None,
        })
    }

    /// Renders: a whole-string template keeps the value's JSON type.
    pub fn render(&self, ctx: &EvalContext) -> Result<Value, ExprError> {
        if self.whole
            && let Some(c) = self.expressions().next()
        {
            return c.eval(ctx);
        }
        let mut out = String::new();
        for s in &self.segments {
            match s {
                Segment::Text(t) => out.push_str(t),
                Segment::Expr(c) => match c.eval(ctx)? {
                    Value::String(v) => out.push_str(&v),
                    other => out.push_str(&other.to_string()),
                },
            }
            if out.len() > MAX_RESULT_BYTES {
                return Err(ExprError {
                    expression: self.expressions().map(Compiled::source).collect::<Vec<_>>().join(" "),
                    reason: format!("rendered text is longer than {MAX_RESULT_BYTES} bytes"),
                });
            }
        }
        Ok(Value::String(out))
    }
}

/// Index of the `}}` closing a template, skipping `}}` inside CEL string
/// literals (so `{{ {'a': {'b': 1}} }}`-style maps need a space: `} }`).
fn find_close(s: &str) -> Option<usize> {
    let b = s.as_bytes();
    let mut quote: Option<u8> = None;
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        match quote {
            Some(q) => {
                if c == b'\\' {
                    i += 1;
                } else if c == q {
                    quote = None;
                }
            }
            None => {
                if c == b'\'' || c == b'"' {
                    quote = Some(c);
                } else if c == b'}' && b.get(i + 1) == Some(&b'}') {
                    return Some(i);
                }
            }
        }
        i += 1;
    }
    None
}

/// Whether every template of `config` compiles to a [`Compiled::is_cheap`]
/// expression (a config without templates is cheap).
pub fn is_cheap(config: &Value) -> bool {
    template_strings(config)
        .into_iter()
        .all(|(_, s)| Template::parse(s).is_ok_and(|t| t.expressions().all(Compiled::is_cheap)))
}

/// [`render_value`] with one budget for every expression of `config`.
pub fn render_value_with(
    config: &Value,
    ctx: &EvalContext,
    limits: &super::budget::Limits,
) -> Result<Value, ExprError> {
    match super::budget::scope(limits, || render_value(config, ctx)) {
        Ok(r) => r,
        Err(reason) => Err(ExprError {
            expression: template_strings(config)
                .into_iter()
                .map(|(_, s)| s)
                .collect::<Vec<_>>()
                .join(" "),
            reason,
        }),
    }
}

/// Renders every template string inside `config`, recursively. Object keys
/// are not templated.
pub fn render_value(config: &Value, ctx: &EvalContext) -> Result<Value, ExprError> {
    Ok(match config {
        Value::String(s) if is_templated(s) => Template::parse(s)?.render(ctx)?,
        Value::Array(a) => Value::Array(a.iter().map(|v| render_value(v, ctx)).collect::<Result<_, _>>()?),
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, v)| Ok((k.clone(), render_value(v, ctx)?)))
                .collect::<Result<_, ExprError>>()?,
        ),
        other => other.clone(),
    })
}

/// Every template string inside `value` with its path suffix (`.url`,
/// `.headers.x`, `[0]`), for validation.
pub fn template_strings(value: &Value) -> Vec<(String, &str)> {
    fn go<'a>(v: &'a Value, path: String, out: &mut Vec<(String, &'a str)>) {
        match v {
            Value::String(s) if is_templated(s) => out.push((path, s)),
            Value::Array(a) => {
                for (i, x) in a.iter().enumerate() {
                    go(x, format!("{path}[{i}]"), out);
                }
            }
            Value::Object(m) => {
                for (k, x) in m {
                    go(x, crate::dsl::located::join_field(&path, k), out);
                }
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    go(value, String::new(), &mut out);
    out
}
