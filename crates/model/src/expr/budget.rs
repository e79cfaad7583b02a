//! The cost budget and time limit of an evaluation.
//!
//! CEL is not Turing-complete, but it is not cheap either: two nested
//! comprehensions over a 6,000-item input are 36 million iterations, and
//! `s.replace('a', s)` on a long string allocates its square. Every
//! evaluation therefore runs under [`Limits`]:
//!
//! - **cost**: every comprehension charges the size of the range it iterates
//!   each time it starts (so nested comprehensions charge the product of
//!   their sizes), one unit per iteration, `lists.range(n)` charges `n`,
//!   `distinct()` the square of its list, `sort()` its size; `replace`
//!   refuses a result larger than [`super::MAX_RESULT_BYTES`] before
//!   building it;
//! - **time**: the same checkpoints compare the clock with a deadline.
//!
//! The checkpoints are calls to functions whose names start with `@` (which
//! CEL source cannot spell), inserted into the compiled expression by
//! [`instrument`]; they return their argument unchanged, so the result of an
//! evaluation that stays within its limits is the same as without them.
//! Once exceeded, the budget stays exceeded until the evaluation ends, so an
//! error swallowed by `||`/`&&` or by an `exists` still fails the whole
//! evaluation ([`scope`]).

use std::cell::RefCell;
use std::time::{Duration, Instant};

use cel::common::ast::{CallExpr, Expr, IdedExpr, operators};
use cel::common::types::{CelDouble, CelInt, CelString, CelUInt};
use cel::common::value::CowVal;
use cel::{ExecutionError, Value as CelValue};

/// The limits of one evaluation (or of one whole template render).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Most cost units (comprehension iterations, list elements built).
    pub max_cost: u64,
    /// Longest wall-clock time.
    pub time_limit: Duration,
}

/// The default most cost units of one evaluation.
pub const DEFAULT_MAX_COST: u64 = 1_000_000;
/// The default time limit of one evaluation.
pub const DEFAULT_TIME_LIMIT: Duration = Duration::from_secs(1);

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_cost: DEFAULT_MAX_COST,
            time_limit: DEFAULT_TIME_LIMIT,
        }
    }
}

impl Limits {
    /// These limits with a time limit no longer than `cap`.
    pub fn capped(self, cap: Option<Duration>) -> Self {
        match cap {
            Some(c) if c < self.time_limit => Self { time_limit: c, ..self },
            _ => self,
        }
    }
}

struct State {
    cost: u64,
    limits: Limits,
    deadline: Instant,
    exceeded: Option<String>,
}

thread_local! {
    static BUDGET: RefCell<Option<State>> = const { RefCell::new(None) };
}

/// Runs `f` under `limits`. Nested scopes share the outermost one's budget.
/// `Err(reason)` when the budget was exceeded at any point of `f`, whatever
/// `f` returned.
pub fn scope<R>(limits: &Limits, f: impl FnOnce() -> R) -> Result<R, String> {
    let outermost = BUDGET.with(|b| {
        let mut b = b.borrow_mut();
        if b.is_some() {
            return false;
        }
        *b = Some(State {
            cost: 0,
            limits: *limits,
            deadline: Instant::now() + limits.time_limit,
            exceeded: None,
        });
        true
    });
    if !outermost {
        return Ok(f());
    }
    // removes the state even if `f` unwinds
    struct Reset;
    impl Drop for Reset {
        fn drop(&mut self) {
            BUDGET.with(|b| b.borrow_mut().take());
        }
    }
    let reset = Reset;
    let out = f();
    let exceeded = BUDGET.with(|b| b.borrow().as_ref().and_then(|s| s.exceeded.clone()));
    drop(reset);
    match exceeded {
        Some(reason) => Err(reason),
        None => Ok(out),
    }
}

/// Charges `units`; an error once the cost or the time is exceeded.
fn charge(units: u64) -> Result<(), ExecutionError> {
    BUDGET.with(|b| {
        let mut b = b.borrow_mut();
        let Some(s) = b.as_mut() else { return Ok(()) };
        if s.exceeded.is_none() {
            s.cost = s.cost.saturating_add(units);
            if s.cost > s.limits.max_cost {
                s.exceeded = Some(format!(
                    "the expression exceeded its cost budget of {} (comprehension iterations and list elements; nested comprehensions multiply)",
                    s.limits.max_cost
                ));
            } else if Instant::now() > s.deadline {
                s.exceeded = Some(format!(
                    "the expression exceeded its time limit of {}ms",
                    s.limits.time_limit.as_millis()
                ));
            }
        }
        match &s.exceeded {
            Some(reason) => Err(ExecutionError::function_error("budget", reason)),
            None => Ok(()),
        }
    })
}

/// Registers the checkpoint functions on `env`.
pub(super) fn register(env: &mut cel::Env) {
    use cel::common::types::DYN_TYPE;
    let d = || DYN_TYPE;
    // The names cannot clash with a CEL function (`@` is not an identifier
    // character), so adding them cannot fail; if it did, evaluation would
    // report the missing function rather than run unbounded.
    let _ = env.add_overload(ITER, "orbflow_iter", vec![d()], iter);
    let _ = env.add_overload(TICK, "orbflow_tick", vec![d()], tick);
    let _ = env.add_overload(COUNT, "orbflow_count", vec![d()], count);
    let _ = env.add_overload(SQUARE, "orbflow_square", vec![d()], square);
    let _ = env.add_overload(REPLACE, "orbflow_replace", vec![d(), d(), d()], replace);
    let _ = env.add_overload(REPLACE, "orbflow_replace_n", vec![d(), d(), d(), d()], replace);
    let _ = env.add_overload(ADD, "orbflow_add", vec![d(), d()], add);
    let _ = env.add_overload(SUB, "orbflow_sub", vec![d(), d()], sub);
    let _ = env.add_overload(MUL, "orbflow_mul", vec![d(), d()], mul);
    let _ = env.add_overload(DIV, "orbflow_div", vec![d(), d()], div);
}

const ITER: &str = "@orbflow_iter";
const TICK: &str = "@orbflow_tick";
const COUNT: &str = "@orbflow_count";
const SQUARE: &str = "@orbflow_square";
const REPLACE: &str = "@orbflow_replace";
const ADD: &str = "@orbflow_add";
const SUB: &str = "@orbflow_sub";
const MUL: &str = "@orbflow_mul";
const DIV: &str = "@orbflow_div";

fn size_of(v: &CowVal<'_, '_>) -> u64 {
    v.as_sizer()
        .map_or(1, |s| u64::try_from(*s.size().inner()).unwrap_or(0).max(1))
}

fn first<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Result<CowVal<'b, 'v>, ExecutionError> {
    args.into_iter()
        .next()
        .ok_or_else(|| ExecutionError::function_error("budget", "missing argument"))
}

/// A comprehension starts: charges the size of its range.
fn iter<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Result<CowVal<'b, 'v>, ExecutionError> {
    let v = first(args)?;
    charge(size_of(&v))?;
    Ok(v)
}

/// One iteration.
fn tick<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Result<CowVal<'b, 'v>, ExecutionError> {
    charge(1)?;
    first(args)
}

/// A count of elements about to be built (`lists.range(n)`).
fn count<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Result<CowVal<'b, 'v>, ExecutionError> {
    let v = first(args)?;
    let n = v
        .downcast_ref::<CelInt>()
        .map_or(1, |i| u64::try_from(*i.inner()).unwrap_or(0));
    charge(n.max(1))?;
    Ok(v)
}

/// A quadratic operation on a list (`distinct()`).
fn square<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Result<CowVal<'b, 'v>, ExecutionError> {
    let v = first(args)?;
    let n = size_of(&v);
    charge(n.saturating_mul(n))?;
    Ok(v)
}

/// `s.replace(old, new[, n])` with the result's size checked first.
fn replace<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Result<CowVal<'b, 'v>, ExecutionError> {
    let text = |i: usize| -> Result<String, ExecutionError> {
        args.get(i)
            .and_then(|v| v.downcast_ref::<CelString>())
            .map(|s| s.inner().to_string())
            .ok_or_else(|| ExecutionError::function_error("replace", "expects strings"))
    };
    let (s, old, new) = (text(0)?, text(1)?, text(2)?);
    let limit = match args.get(3) {
        None => None,
        Some(v) => match v.downcast_ref::<CelInt>().map(|i| *i.inner()) {
            Some(n) if n < 0 => None,
            Some(n) => Some(usize::try_from(n).unwrap_or(usize::MAX)),
            None => return Err(ExecutionError::function_error("replace", "the count must be an int")),
        },
    };
    let found = if old.is_empty() {
        s.chars().count() + 1
    } else {
        s.matches(old.as_str()).count()
    };
    let n = limit.map_or(found, |l| l.min(found));
    let size = (s.len() + n.saturating_mul(new.len())).saturating_sub(n.saturating_mul(old.len()));
    if size > super::MAX_RESULT_BYTES {
        return Err(ExecutionError::function_error(
            "replace",
            format!(
                "the result would be {size} bytes, more than {}",
                super::MAX_RESULT_BYTES
            ),
        ));
    }
    charge(u64::try_from(n).unwrap_or(u64::MAX))?;
    let out = match limit {
        Some(l) => s.replacen(old.as_str(), &new, l),
        None => s.replace(old.as_str(), &new),
    };
    Ok(CowVal::owned(CelString::from(out)))
}

/// The two operands of an arithmetic operator.
fn operands<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Result<(CowVal<'b, 'v>, CowVal<'b, 'v>), ExecutionError> {
    let mut it = args.into_iter();
    match (it.next(), it.next()) {
        (Some(a), Some(b)) => Ok((a, b)),
        _ => Err(ExecutionError::function_error("arithmetic", "expects two operands")),
    }
}

/// `a` and `b` as doubles when one is a double and the other an int or a
/// uint: the promotion the DSL applies to mixed arithmetic.
fn promoted(a: &CowVal<'_, '_>, b: &CowVal<'_, '_>) -> Option<(f64, f64)> {
    let double = |v: &CowVal<'_, '_>| v.downcast_ref::<CelDouble>().map(|d| *d.inner());
    #[allow(clippy::cast_precision_loss)] // as CEL's own double(int) conversion
    let integer = |v: &CowVal<'_, '_>| {
        v.downcast_ref::<CelInt>()
            .map(|i| *i.inner() as f64)
            .or_else(|| v.downcast_ref::<CelUInt>().map(|u| *u.inner() as f64))
    };
    match (double(a), double(b)) {
        (Some(x), None) => integer(b).map(|y| (x, y)),
        (None, Some(y)) => integer(a).map(|x| (x, y)),
        _ => None,
    }
}

/// An arithmetic operator the DSL promotes.
#[derive(Clone, Copy)]
enum Op {
    Add,
    Sub,
    Mul,
    Div,
}

impl Op {
    fn name(self) -> &'static str {
        match self {
            Op::Add => "add",
            Op::Sub => "sub",
            Op::Mul => "mul",
            Op::Div => "div",
        }
    }

    /// `a op b`: an int (or uint) and a double combine as doubles (so
    /// `7 / 2.0` is `3.5`, while `7 / 2` stays the int `3`); every other pair
    /// as CEL combines it.
    fn apply<'b, 'v>(self, args: Vec<CowVal<'b, 'v>>) -> Result<CowVal<'b, 'v>, ExecutionError> {
        let (a, b) = operands(args)?;
        if let Some((x, y)) = promoted(&a, &b) {
            let r = match self {
                Op::Add => x + y,
                Op::Sub => x - y,
                Op::Mul => x * y,
                Op::Div => x / y,
            };
            return Ok(CowVal::owned(CelDouble::from(r)));
        }
        let unsupported = || {
            ExecutionError::UnsupportedBinaryOperator(
                self.name(),
                CelValue::try_from(a.as_ref()).unwrap_or(CelValue::Null),
                CelValue::try_from(b.as_ref()).unwrap_or(CelValue::Null),
            )
        };
        let out = match self {
            Op::Add => a.as_adder().ok_or_else(unsupported)?.add(b.as_ref())?,
            Op::Sub => a.as_subtractor().ok_or_else(unsupported)?.sub(b.as_ref())?,
            Op::Mul => a.as_multiplier().ok_or_else(unsupported)?.mul(b.as_ref())?,
            Op::Div => a.as_divider().ok_or_else(unsupported)?.div(b.as_ref())?,
        };
        Ok(CowVal::Owned(out.into_owned()))
    }
}

fn add<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Result<CowVal<'b, 'v>, ExecutionError> {
    Op::Add.apply(args)
}

fn sub<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Result<CowVal<'b, 'v>, ExecutionError> {
    Op::Sub.apply(args)
}

fn mul<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Result<CowVal<'b, 'v>, ExecutionError> {
    Op::Mul.apply(args)
}

fn div<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Result<CowVal<'b, 'v>, ExecutionError> {
    Op::Div.apply(args)
}

/// The promoting function for an arithmetic operator call `call` (`_+_`,
/// `_-_`, `_*_`, `_/_`), unless an operand is surely not a number (a string,
/// list or map literal, or a comprehension's accumulator: the map/filter
/// append `@result + [x]` and `exists_one`'s count keep the interpreter's
/// own operator and its fast paths).
fn arithmetic(call: &CallExpr) -> Option<&'static str> {
    use cel::common::ast::LiteralValue;
    if call.target.is_some() || call.args.len() != 2 {
        return None;
    }
    let f = match call.func_name.as_str() {
        operators::ADD => ADD,
        operators::SUBSTRACT => SUB,
        operators::MULTIPLY => MUL,
        operators::DIVIDE => DIV,
        _ => return None,
    };
    let maybe_number = |e: &IdedExpr| match &e.expr {
        Expr::Literal(l) => matches!(
            l,
            LiteralValue::Int(_) | LiteralValue::UInt(_) | LiteralValue::Double(_)
        ),
        Expr::List(_) | Expr::Map(_) | Expr::Struct(_) => false,
        Expr::Ident(n) => !n.starts_with('@'),
        _ => true,
    };
    call.args.iter().all(maybe_number).then_some(f)
}

/// Ids for the nodes [`instrument`] adds (far above the parser's), and
/// whether it added any.
struct Ids(u64, bool);

impl Ids {
    fn call(&mut self, func: &str, args: Vec<IdedExpr>) -> IdedExpr {
        self.0 -= 1;
        self.1 = true;
        IdedExpr {
            id: self.0,
            expr: Expr::Call(CallExpr {
                func_name: func.to_owned(),
                target: None,
                args,
            }),
        }
    }

    fn wrap(&mut self, func: &str, e: &mut IdedExpr) {
        let inner = std::mem::replace(
            e,
            IdedExpr {
                id: 0,
                expr: Expr::Unspecified,
            },
        );
        *e = self.call(func, vec![inner]);
    }
}

/// The expression with the budget's checkpoints inserted, and whether it
/// is *cheap*: it has none (no comprehension, no list builder, no
/// `replace`), so its cost is bounded by its own size and the size of the
/// values it reads.
pub(super) fn instrument(e: &IdedExpr) -> (IdedExpr, bool) {
    let mut out = e.clone();
    let mut ids = Ids(u64::MAX, false);
    walk(&mut out, &mut ids);
    (out, !ids.1)
}

fn walk(e: &mut IdedExpr, ids: &mut Ids) {
    use cel::common::ast::EntryExpr;
    match &mut e.expr {
        Expr::Comprehension(c) => {
            walk(&mut c.iter_range, ids);
            walk(&mut c.accu_init, ids);
            walk(&mut c.loop_cond, ids);
            walk(&mut c.loop_step, ids);
            walk(&mut c.result, ids);
            ids.wrap(ITER, &mut c.iter_range);
            // One tick per iteration, placed where the interpreter's fast
            // paths (append for map/filter, short-circuit folds for
            // all/exists) still recognise the comprehension.
            let accu = c.accu_var.clone();
            if !matches!(c.loop_cond.expr, Expr::Literal(_)) {
                ids.wrap(TICK, &mut c.loop_cond);
            } else if let Some(item) = appended_item(&mut c.loop_step, &accu) {
                ids.wrap(TICK, item);
            } else {
                ids.wrap(TICK, &mut c.loop_step);
            }
        }
        Expr::Call(call) => {
            if let Some(t) = call.target.as_deref_mut() {
                walk(t, ids);
            }
            for a in &mut call.args {
                walk(a, ids);
            }
            let on_lists =
                matches!(call.target.as_deref(), Some(IdedExpr { expr: Expr::Ident(n), .. }) if n == "lists");
            match (call.func_name.as_str(), call.target.is_some(), call.args.len()) {
                ("lists.range", false, 1) => ids.wrap(COUNT, &mut call.args[0]),
                ("range", true, 1) if on_lists => ids.wrap(COUNT, &mut call.args[0]),
                ("distinct", true, 0) => {
                    if let Some(t) = call.target.as_deref_mut() {
                        ids.wrap(SQUARE, t);
                    }
                }
                ("sort" | "reverse" | "flatten", true, _) => {
                    if let Some(t) = call.target.as_deref_mut() {
                        ids.wrap(ITER, t);
                    }
                }
                ("replace", true, 2 | 3) => {
                    if let Some(t) = call.target.take() {
                        let mut args = vec![*t];
                        args.append(&mut call.args);
                        call.func_name = REPLACE.to_owned();
                        ids.1 = true;
                        call.args = args;
                    }
                }
                _ => {
                    // not a cost checkpoint: `cheap` is unchanged
                    if let Some(f) = arithmetic(call) {
                        call.func_name = f.to_owned();
                    }
                }
            }
        }
        Expr::List(l) => l.elements.iter_mut().for_each(|x| walk(x, ids)),
        Expr::Map(m) => {
            for en in &mut m.entries {
                match &mut en.expr {
                    EntryExpr::MapEntry(me) => {
                        walk(&mut me.key, ids);
                        walk(&mut me.value, ids);
                    }
                    EntryExpr::StructField(sf) => walk(&mut sf.value, ids),
                }
            }
        }
        Expr::Select(s) => walk(&mut s.operand, ids),
        Expr::Struct(s) => {
            for en in &mut s.entries {
                match &mut en.expr {
                    EntryExpr::MapEntry(me) => walk(&mut me.value, ids),
                    EntryExpr::StructField(sf) => walk(&mut sf.value, ids),
                }
            }
        }
        Expr::Ident(_) | Expr::Literal(_) | Expr::Unspecified => {}
    }
}

/// The `x` of a `map`/`filter` step `@result + [x]` (or its guarded form
/// `cond ? @result + [x] : @result`, then the guard is ticked instead).
fn appended_item<'a>(step: &'a mut IdedExpr, accu: &str) -> Option<&'a mut IdedExpr> {
    let is_accu = |e: &IdedExpr| matches!(&e.expr, Expr::Ident(n) if n == accu);
    let Expr::Call(call) = &mut step.expr else { return None };
    if call.target.is_some() {
        return None;
    }
    if call.func_name == operators::CONDITIONAL && call.args.len() == 3 {
        // tick the guard: evaluated on every iteration
        if is_accu(&call.args[2]) {
            return call.args.first_mut();
        }
        return None;
    }
    if call.func_name == operators::ADD
        && call.args.len() == 2
        && is_accu(&call.args[0])
        && let Expr::List(l) = &mut call.args[1].expr
    {
        return l.elements.first_mut();
    }
    None
}

/// Evaluates an instrumented expression (keeps the interpreter's type out of
/// the callers).
pub(super) fn resolve(e: &IdedExpr, ctx: &cel::Context<'_, '_>) -> Result<CelValue, ExecutionError> {
    CelValue::resolve(e, ctx)
}
