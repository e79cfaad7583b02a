//! CEL expressions and `{{ }}` templates (DESIGN.md §5).
//!
//! - [`compile`] parses an expression once, enforcing the static limits;
//! - [`Compiled::references`] lists the variables and step keys it reads (the
//!   validator checks them against the scope);
//! - [`EvalContext`] holds `input`, `trigger`, `steps`, `run`, loop variables,
//!   `event` and `secrets`; [`Compiled::eval`] evaluates to JSON;
//! - [`template`] renders configs: a string that is exactly `"{{ expr }}"`
//!   becomes the expression's typed value, other strings interpolate.
//!
//! Limits (so a workflow cannot exhaust a worker): an expression is at most
//! [`MAX_EXPRESSION_LEN`] bytes, nests at most [`MAX_COMPREHENSION_DEPTH`]
//! macros (`map`, `filter`, `all`, `exists`), and its result, once converted
//! to JSON, is at most [`MAX_RESULT_BYTES`]. Every evaluation runs under a
//! cost budget and a time limit ([`budget`]). JSON integers are CEL `int`
//! (`uint` only above `i64::MAX`), other numbers `double`.

pub mod budget;
pub mod template;

use std::collections::HashMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, OnceLock};

use serde::Serialize;
use serde_json::{Map, Value};

/// Longest expression source accepted, in bytes.
pub const MAX_EXPRESSION_LEN: usize = 4096;
/// Deepest nesting of comprehension macros.
pub const MAX_COMPREHENSION_DEPTH: usize = 2;
/// Largest result of one evaluation, as JSON bytes.
pub const MAX_RESULT_BYTES: usize = 1024 * 1024;
/// Deepest nesting of `(`, `[` and `{`.
pub const MAX_NESTING: usize = 32;
/// Most operators in one expression.
pub const MAX_OPERATORS: usize = 256;
/// Stack the CEL parser and interpreter run on: their recursion is deep per
/// level, so they get a segment of their own rather than the caller's stack.
const EXPR_STACK: usize = 64 * 1024 * 1024;

/// Nesting depth and operator count of `src`, outside string literals.
fn shape_of(src: &str) -> (usize, usize) {
    let (mut depth, mut max_depth, mut ops) = (0usize, 0usize, 0usize);
    let mut quote: Option<char> = None;
    let mut escaped = false;
    for c in src.chars() {
        if let Some(q) = quote {
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == q {
                quote = None;
            }
            continue;
        }
        match c {
            '\'' | '"' => quote = Some(c),
            '(' | '[' | '{' => {
                depth += 1;
                max_depth = max_depth.max(depth);
            }
            ')' | ']' | '}' => depth = depth.saturating_sub(1),
            '+' | '-' | '*' | '/' | '%' | '&' | '|' | '=' | '<' | '>' | '!' | '?' | ',' | '.' => ops += 1,
            _ => {}
        }
    }
    (max_depth, ops)
}

/// A failed compile or evaluation, recordable on a step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("{reason} (in `{expression}`)")]
pub struct ExprError {
    /// The expression source.
    pub expression: String,
    /// Why it failed.
    pub reason: String,
}

impl ExprError {
    fn new(expression: &str, reason: impl Into<String>) -> Self {
        Self {
            expression: expression.to_owned(),
            reason: reason.into(),
        }
    }
}

fn env() -> Arc<cel::Env> {
    static ENV: OnceLock<Arc<cel::Env>> = OnceLock::new();
    ENV.get_or_init(|| {
        let mut env = cel::Env::stdlib();
        // The extensions only add functions; failure to add one leaves the
        // standard library, which is still correct.
        let _ = env.add_extension(cel::extensions::strings);
        let _ = env.add_extension(cel::extensions::lists);
        let _ = env.add_extension(cel::extensions::math);
        budget::register(&mut env);
        Arc::new(env)
    })
    .clone()
}

/// A compiled expression.
#[derive(Debug)]
pub struct Compiled {
    source: String,
    program: cel::Program,
    /// The program's expression with the budget's checkpoints.
    instrumented: cel::common::ast::IdedExpr,
    /// Whether it has no checkpoint at all (see [`Compiled::is_cheap`]).
    cheap: bool,
}

/// Compiles `source`, enforcing the static limits.
pub fn compile(source: &str) -> Result<Compiled, ExprError> {
    if source.len() > MAX_EXPRESSION_LEN {
        return Err(ExprError::new(
            &source[..source.floor_char_boundary(60)],
            format!("expression is longer than {MAX_EXPRESSION_LEN} bytes"),
        ));
    }
    if source.trim().is_empty() {
        return Err(ExprError::new(source, "expression is empty"));
    }
    let (nesting, ops) = shape_of(source);
    if nesting > MAX_NESTING {
        return Err(ExprError::new(
            source,
            format!("nests brackets {nesting} deep; at most {MAX_NESTING} are allowed"),
        ));
    }
    if ops > MAX_OPERATORS {
        return Err(ExprError::new(
            source,
            format!("has {ops} operators; at most {MAX_OPERATORS} are allowed"),
        ));
    }
    let env = env();
    let program = stacker::grow(EXPR_STACK, || catch_unwind(AssertUnwindSafe(|| env.compile(source))))
        .map_err(|_| ExprError::new(source, "the expression parser crashed on this input"))?
        .map_err(|e| ExprError::new(source, format!("does not compile: {}", one_line(&e.to_string()))))?;
    let depth = comprehension_depth(&program.expression().expr);
    if depth > MAX_COMPREHENSION_DEPTH {
        return Err(ExprError::new(
            source,
            format!("nests {depth} list macros (map/filter/all/exists); at most {MAX_COMPREHENSION_DEPTH} are allowed"),
        ));
    }
    let (instrumented, cheap) = budget::instrument(program.expression());
    Ok(Compiled {
        source: source.to_owned(),
        program,
        instrumented,
        cheap,
    })
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The interpreter's "Unsupported binary operator 'rem': Float(1.5),
/// Int(19)" in the DSL's words: the operator as written, the CEL type
/// names, and how to convert where numbers are involved.
fn readable(reason: String) -> String {
    const TYPES: [(&str, &str); 8] = [
        ("Float", "double"),
        ("Int", "int"),
        ("UInt", "uint"),
        ("String", "string"),
        ("Bool", "bool"),
        ("List", "list"),
        ("Map", "map"),
        ("Null", "null"),
    ];
    fn symbol(op: &str) -> &str {
        match op {
            "add" => "+",
            "sub" => "-",
            "mul" => "*",
            "div" => "/",
            "rem" => "%",
            _ => op,
        }
    }
    if let Some(rest) = reason.strip_prefix("Overflow from binary operator '")
        && let Some((op, values)) = rest.split_once("': ")
    {
        let range = if values.starts_with("UInt(") { "uint" } else { "int" };
        return format!(
            "`{}` overflows: the result is outside the {range} range (write double(…) around one side for a double result)",
            symbol(op)
        );
    }
    let Some(rest) = reason.strip_prefix("Unsupported binary operator '") else {
        return reason;
    };
    let Some((op, values)) = rest.split_once("': ") else {
        return reason;
    };
    let symbol = symbol(op);
    // a value prints as `Type(…)`, or as `Null`
    let kind = |v: &str| {
        TYPES
            .iter()
            .find(|(k, _)| v.starts_with(&format!("{k}(")) || v == *k)
            .map(|(_, t)| *t)
    };
    // the second operand starts at the last ", Type(" of the text (or is a final ", Null")
    let split = TYPES
        .iter()
        .filter_map(|(k, _)| values.rfind(&format!(", {k}(")))
        .chain(values.strip_suffix(", Null").map(str::len))
        .max();
    let Some(at) = split else { return reason };
    let (left, right) = (&values[..at], &values[at + 2..]);
    let (Some(a), Some(b)) = (kind(left), kind(right)) else {
        return reason;
    };
    let numbers = ["int", "uint", "double"];
    let hint = if !(numbers.contains(&a) && numbers.contains(&b)) {
        ""
    } else if a == "double" || b == "double" {
        // an int and a double are promoted (budget::Op) except under `%`
        "; `%` takes ints: write int(…) around the double"
    } else {
        "; an int and a uint are not converted implicitly: write int(…) or uint(…) around one side"
    };
    format!(
        "`{symbol}` cannot combine {} {a} and {} {b}{hint}",
        article(a),
        article(b)
    )
}

fn article(t: &str) -> &'static str {
    if t.starts_with(['a', 'e', 'i', 'o']) { "an" } else { "a" }
}

/// What an expression reads.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct References {
    /// Free variables (`input`, `steps`, a loop variable, …), sorted.
    pub variables: Vec<String>,
    /// Keys `k` of every `steps.k` (or `steps['k']`), sorted.
    pub step_keys: Vec<String>,
}

impl Compiled {
    /// The source text.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Whether evaluating costs at most a small multiple of the expression's
    /// size and of the values it reads: no comprehension, no list builder,
    /// no `replace`. Such an expression may be evaluated inline; any other
    /// belongs on a blocking thread.
    pub fn is_cheap(&self) -> bool {
        self.cheap
    }

    /// The variables and step keys the expression reads.
    pub fn references(&self) -> References {
        let mut r = References::default();
        collect_refs(&self.program.expression().expr, &mut Vec::new(), &mut r);
        r.variables.sort();
        r.variables.dedup();
        r.step_keys.sort();
        r.step_keys.dedup();
        r
    }

    /// Evaluates to JSON under the default [`budget::Limits`].
    pub fn eval(&self, ctx: &EvalContext) -> Result<Value, ExprError> {
        self.eval_with(ctx, &budget::Limits::default())
    }

    /// Evaluates to JSON under `limits` (or under the budget of an
    /// enclosing [`budget::scope`], such as a whole template render).
    pub fn eval_with(&self, ctx: &EvalContext, limits: &budget::Limits) -> Result<Value, ExprError> {
        match budget::scope(limits, || self.eval_in_scope(ctx)) {
            Ok(r) => r,
            Err(reason) => Err(ExprError::new(&self.source, reason)),
        }
    }

    fn eval_in_scope(&self, ctx: &EvalContext) -> Result<Value, ExprError> {
        let cel_ctx = ctx.cel_context();
        let result = stacker::grow(EXPR_STACK, || {
            catch_unwind(AssertUnwindSafe(|| budget::resolve(&self.instrumented, &cel_ctx)))
        })
        .map_err(|_| ExprError::new(&self.source, "evaluation crashed"))?
        .map_err(|e| ExprError::new(&self.source, readable(one_line(&e.to_string()))))?;
        let mut room = MAX_RESULT_BYTES;
        to_json_within(&result, &mut room).map_err(|r| ExprError::new(&self.source, r))
    }

    /// Evaluates a condition, which must be a bool.
    pub fn eval_bool(&self, ctx: &EvalContext) -> Result<bool, ExprError> {
        match self.eval(ctx)? {
            Value::Bool(b) => Ok(b),
            other => Err(ExprError::new(
                &self.source,
                format!("a condition must be a bool, got {}", type_name(&other)),
            )),
        }
    }
}

/// The JSON type name of a value, for messages.
pub fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(n) if n.is_f64() => "double",
        Value::Number(_) => "int",
        Value::String(_) => "string",
        Value::Array(_) => "list",
        Value::Object(_) => "map",
    }
}

fn comprehension_depth(e: &cel::common::ast::Expr) -> usize {
    use cel::common::ast::{EntryExpr, Expr};
    let max = |it: &mut dyn Iterator<Item = &cel::common::ast::Expr>| it.map(comprehension_depth).max().unwrap_or(0);
    match e {
        Expr::Comprehension(c) => {
            1 + max(&mut [
                &c.iter_range.expr,
                &c.accu_init.expr,
                &c.loop_cond.expr,
                &c.loop_step.expr,
                &c.result.expr,
            ]
            .into_iter())
        }
        Expr::Call(c) => max(&mut c.target.iter().map(|t| &t.expr).chain(c.args.iter().map(|a| &a.expr))),
        Expr::List(l) => max(&mut l.elements.iter().map(|x| &x.expr)),
        Expr::Map(m) => max(&mut m.entries.iter().flat_map(|en| match &en.expr {
            EntryExpr::MapEntry(me) => vec![&me.key.expr, &me.value.expr],
            EntryExpr::StructField(sf) => vec![&sf.value.expr],
        })),
        Expr::Select(s) => comprehension_depth(&s.operand.expr),
        Expr::Struct(s) => max(&mut s.entries.iter().map(|en| match &en.expr {
            EntryExpr::MapEntry(me) => &me.value.expr,
            EntryExpr::StructField(sf) => &sf.value.expr,
        })),
        Expr::Ident(_) | Expr::Literal(_) | Expr::Unspecified => 0,
    }
}

/// Prefixes of the extension functions (`math.least`, `lists.range`, …).
const FUNCTION_NAMESPACES: &[&str] = &["math", "lists", "strings", "base64", "sets"];

fn collect_refs(e: &cel::common::ast::Expr, bound: &mut Vec<String>, r: &mut References) {
    use cel::common::ast::{EntryExpr, Expr, LiteralValue};
    match e {
        Expr::Ident(name) => {
            // a type name (`int`, `uint`, `map`, …) is a value, not a variable
            if !bound.iter().any(|b| b == name) && env().types().find_type(name).is_none() {
                r.variables.push(name.clone());
            }
        }
        Expr::Select(s) => {
            if let Expr::Ident(root) = &s.operand.expr
                && root == "steps"
                && !bound.iter().any(|b| b == "steps")
            {
                r.step_keys.push(s.field.clone());
            }
            collect_refs(&s.operand.expr, bound, r);
        }
        Expr::Call(c) => {
            // steps['key'] is an index call on `steps` with a string literal.
            if c.func_name == "_[_]"
                && let [target, key] = c.args.as_slice()
                && let (Expr::Ident(root), Expr::Literal(LiteralValue::String(k))) = (&target.expr, &key.expr)
                && root == "steps"
                && !bound.iter().any(|b| b == "steps")
            {
                r.step_keys.push(k.to_string());
            }
            // `math.greatest(…)`, `lists.range(…)`: a namespace, not a variable
            let namespaced = matches!(&c.target, Some(t) if matches!(&t.expr, Expr::Ident(ns)
                if FUNCTION_NAMESPACES.contains(&ns.as_str()) && !bound.iter().any(|b| b == ns)));
            if let Some(t) = &c.target
                && !namespaced
            {
                collect_refs(&t.expr, bound, r);
            }
            for a in &c.args {
                collect_refs(&a.expr, bound, r);
            }
        }
        Expr::Comprehension(c) => {
            collect_refs(&c.iter_range.expr, bound, r);
            collect_refs(&c.accu_init.expr, bound, r);
            let n = bound.len();
            bound.push(c.iter_var.clone());
            if let Some(v2) = &c.iter_var2 {
                bound.push(v2.clone());
            }
            bound.push(c.accu_var.clone());
            collect_refs(&c.loop_cond.expr, bound, r);
            collect_refs(&c.loop_step.expr, bound, r);
            collect_refs(&c.result.expr, bound, r);
            bound.truncate(n);
        }
        Expr::List(l) => l.elements.iter().for_each(|x| collect_refs(&x.expr, bound, r)),
        Expr::Map(m) => {
            for en in &m.entries {
                match &en.expr {
                    EntryExpr::MapEntry(me) => {
                        collect_refs(&me.key.expr, bound, r);
                        collect_refs(&me.value.expr, bound, r);
                    }
                    EntryExpr::StructField(sf) => collect_refs(&sf.value.expr, bound, r),
                }
            }
        }
        Expr::Struct(s) => {
            for en in &s.entries {
                if let EntryExpr::StructField(sf) = &en.expr {
                    collect_refs(&sf.value.expr, bound, r);
                }
            }
        }
        Expr::Literal(_) | Expr::Unspecified => {}
    }
}

/// Everything an expression can see. Absent parts are simply not bound
/// (reading them is an evaluation error naming the variable).
#[derive(Debug, Clone, Default)]
pub struct EvalContext {
    vars: Vec<(String, Value)>,
}

impl EvalContext {
    /// An empty context.
    pub fn new() -> Self {
        Self::default()
    }

    /// Binds `name` to `value` (later bindings shadow earlier ones).
    pub fn with(mut self, name: &str, value: Value) -> Self {
        self.set(name, value);
        self
    }

    /// Binds `name` to `value` in place.
    pub fn set(&mut self, name: &str, value: Value) {
        self.vars.retain(|(n, _)| n != name);
        self.vars.push((name.to_owned(), value));
    }

    /// The value bound to `name`.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.vars.iter().find(|(n, _)| n == name).map(|(_, v)| v)
    }

    /// This context without `secrets` (for everything outside action configs).
    pub fn without_secrets(&self) -> Self {
        Self {
            vars: self.vars.iter().filter(|(n, _)| n != "secrets").cloned().collect(),
        }
    }

    fn cel_context(&self) -> cel::Context<'static, 'static> {
        let mut c = cel::Context::with_env(env());
        for (n, v) in &self.vars {
            c.add_variable_from_value(n.clone(), to_cel(v));
        }
        c
    }
}

/// JSON → CEL: integers are `int` (or `uint` above `i64::MAX`), other numbers `double`.
pub fn to_cel(v: &Value) -> cel::Value {
    match v {
        Value::Null => cel::Value::Null,
        Value::Bool(b) => cel::Value::Bool(*b),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                cel::Value::Int(i)
            } else if let Some(u) = n.as_u64() {
                cel::Value::UInt(u)
            } else {
                cel::Value::Float(n.as_f64().unwrap_or(f64::NAN))
            }
        }
        Value::String(s) => cel::Value::String(Arc::new(s.clone())),
        Value::Array(a) => cel::Value::List(Arc::new(a.iter().map(to_cel).collect())),
        Value::Object(m) => {
            let map: HashMap<String, cel::Value> = m.iter().map(|(k, v)| (k.clone(), to_cel(v))).collect();
            cel::Value::from(map)
        }
    }
}

/// CEL → JSON. Maps with non-string keys get their keys printed.
pub fn to_json(v: &cel::Value) -> Result<Value, String> {
    let mut room = usize::MAX;
    to_json_within(v, &mut room)
}

/// [`to_json`], failing as soon as the JSON would be larger than `room`
/// bytes (so a huge result is refused before it is built).
fn to_json_within(v: &cel::Value, room: &mut usize) -> Result<Value, String> {
    fn take(room: &mut usize, n: usize) -> Result<(), String> {
        if n > *room {
            return Err(format!("result is larger than {MAX_RESULT_BYTES} bytes"));
        }
        *room -= n;
        Ok(())
    }
    Ok(match v {
        cel::Value::Null => {
            take(room, 4)?;
            Value::Null
        }
        cel::Value::Bool(b) => {
            take(room, 5)?;
            Value::Bool(*b)
        }
        cel::Value::Int(i) => {
            take(room, 8)?;
            Value::from(*i)
        }
        cel::Value::UInt(u) => {
            take(room, 8)?;
            Value::from(*u)
        }
        cel::Value::Float(f) => {
            take(room, 8)?;
            serde_json::Number::from_f64(*f)
                .map(Value::Number)
                .ok_or_else(|| format!("the result {f} is not a finite number"))?
        }
        cel::Value::String(s) => {
            take(room, s.len() + 2)?;
            Value::String(s.to_string())
        }
        cel::Value::List(l) => {
            take(room, 2 + l.len())?;
            let mut out = Vec::with_capacity(l.len().min(4096));
            for x in l.iter() {
                out.push(to_json_within(x, room)?);
            }
            Value::Array(out)
        }
        cel::Value::Map(m) => {
            take(room, 2)?;
            let mut entries: Vec<(String, Value)> = Vec::with_capacity(m.map.len().min(4096));
            for (k, v) in m.map.iter() {
                let key = match cel::Value::from(k) {
                    cel::Value::String(s) => s.to_string(),
                    other => to_json_within(&other, room)?.to_string(),
                };
                take(room, key.len() + 4)?;
                entries.push((key, to_json_within(v, room)?));
            }
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            Value::Object(entries.into_iter().collect::<Map<_, _>>())
        }
        other => {
            let j = other
                .json()
                .map_err(|_| format!("a {:?} value cannot be turned into JSON", other.type_of()))?;
            // timestamps, durations and bytes: short JSON strings
            take(room, j.to_string().len())?;
            j
        }
    })
}

#[cfg(test)]
mod tests;
