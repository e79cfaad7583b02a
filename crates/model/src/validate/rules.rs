//! The rules of DESIGN.md §5 other than the dependency graph: keys,
//! triggers, actions and their configs, expressions and their scope,
//! retries, timeouts, loops and switches.

use std::collections::{HashMap, HashSet};
use std::panic::{AssertUnwindSafe, catch_unwind};

use serde_json::{Map, Value};

use super::diagnostic::{Diagnostics, suggestion};
use crate::catalog::ActionSchemas;
use crate::cron::{CronError, Schedule};
use crate::dsl::located::join_index;
use crate::expr::template::{Template, template_strings};
use crate::expr::{Compiled, ExprError, compile};
use crate::workflow::{BranchType, Step, StepKind, SwitchCase, Trigger, UI_MAX_BYTES, VerifyScheme, Workflow};

/// Variables every expression may read.
const BASE_VARS: &[&str] = &["input", "trigger", "steps", "run"];
/// Names a loop variable may not take.
const RESERVED: &[&str] = &["input", "trigger", "steps", "run", "secrets", "event", "index", "item"];
/// Largest `maxConcurrency`.
pub const MAX_LOOP_CONCURRENCY: u32 = 1000;
/// Largest `retry.maxAttempts`.
pub const MAX_ATTEMPTS: u32 = 100;
/// Longest step key.
pub const MAX_KEY_LEN: usize = 64;

/// One step of the workflow with where it sits.
#[derive(Debug)]
pub struct Entry<'a> {
    /// The step.
    pub step: &'a Step,
    /// Its path, e.g. `steps[1].then[0]`.
    pub path: String,
    /// Index of the enclosing block in [`StepIndex::entries`].
    pub parent: Option<usize>,
    /// Branch of the parent it sits in.
    pub branch: Option<BranchType>,
    /// Previous step of the same list.
    pub prev: Option<usize>,
    /// Enclosing loops, outermost first.
    pub loops: Vec<usize>,
}

/// Every step in document order, and a key → position map.
#[derive(Debug)]
pub struct StepIndex<'a> {
    /// Steps, depth first in document order.
    pub entries: Vec<Entry<'a>>,
    /// First occurrence of each key.
    pub by_key: HashMap<&'a str, usize>,
}

impl<'a> StepIndex<'a> {
    /// Indexes `wf`.
    pub fn build(wf: &'a Workflow) -> Self {
        let mut idx = Self {
            entries: Vec::new(),
            by_key: HashMap::new(),
        };
        idx.add_list(&wf.steps, "steps", None, None, &[]);
        idx
    }

    fn add_list(
        &mut self,
        steps: &'a [Step],
        base: &str,
        parent: Option<usize>,
        branch: Option<BranchType>,
        loops: &[usize],
    ) {
        let mut prev = None;
        for (i, step) in steps.iter().enumerate() {
            let path = join_index(base, i);
            let me = self.entries.len();
            self.entries.push(Entry {
                step,
                path: path.clone(),
                parent,
                branch,
                prev,
                loops: loops.to_vec(),
            });
            self.by_key.entry(step.key.as_str()).or_insert(me);
            prev = Some(me);
            let mut inner = loops.to_vec();
            if matches!(step.kind, StepKind::Loop { .. }) {
                inner.push(me);
            }
            match &step.kind {
                StepKind::Action { .. } => {}
                StepKind::Condition { then, otherwise, .. } => {
                    self.add_list(
                        then,
                        &format!("{path}.then"),
                        Some(me),
                        Some(BranchType::IfTrue),
                        &inner,
                    );
                    self.add_list(
                        otherwise,
                        &format!("{path}.else"),
                        Some(me),
                        Some(BranchType::IfFalse),
                        &inner,
                    );
                }
                StepKind::Switch { cases, default, .. } => {
                    for (c, case) in cases.iter().enumerate() {
                        self.add_list(
                            &case.steps,
                            &format!("{path}.cases[{c}].steps"),
                            Some(me),
                            Some(BranchType::SwitchCase),
                            &inner,
                        );
                    }
                    self.add_list(
                        default,
                        &format!("{path}.default"),
                        Some(me),
                        Some(BranchType::Default),
                        &inner,
                    );
                }
                StepKind::Loop { steps, .. } => {
                    self.add_list(
                        steps,
                        &format!("{path}.steps"),
                        Some(me),
                        Some(BranchType::LoopBody),
                        &inner,
                    );
                }
            }
        }
    }

    /// Whether `ancestor` encloses `i`.
    pub fn is_ancestor(&self, ancestor: usize, i: usize) -> bool {
        let mut p = self.entries[i].parent;
        while let Some(x) = p {
            if x == ancestor {
                return true;
            }
            p = self.entries[x].parent;
        }
        false
    }

    /// Loop variables bound at step `i` (its enclosing loops' `as` and `index`).
    pub fn loop_vars(&self, i: usize) -> Vec<String> {
        let mut vars = Vec::new();
        for &l in &self.entries[i].loops {
            if let StepKind::Loop { item_var, .. } = &self.entries[l].step.kind {
                vars.push(item_var.clone().unwrap_or_else(|| "item".to_owned()));
                vars.push("index".to_owned());
            }
        }
        vars
    }
}

/// Where an expression sits, which decides what it may read.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Place {
    /// `if`, `on`, `forEach`, `output`.
    Condition,
    /// Inside an action's `config`.
    Config,
    /// An event trigger's `filter`.
    EventFilter,
}

/// Checks everything but the dependency graph.
pub fn check_workflow(wf: &Workflow, idx: &StepIndex<'_>, catalog: &dyn ActionSchemas, d: &mut Diagnostics) {
    if wf.name.trim().is_empty() {
        d.push("name", "invalid-value", "`name` must not be empty");
    }
    if wf.steps.is_empty() {
        d.push("steps", "invalid-value", "a workflow needs at least one step");
    }
    if let Some(schema) = &wf.inputs {
        check_json_schema(schema, "inputs", d);
    }
    check_triggers(wf, idx, d);
    if let Some(t) = wf.timeout
        && t.as_millis() == 0
    {
        d.push("timeout", "invalid-value", "`timeout` must be longer than 0s");
    }
    if let Some(out) = &wf.output {
        check_expr(out, "output", Place::Condition, &[], idx, d);
    }
    if let Some(ui) = &wf.ui {
        check_ui(ui, "ui", d);
    }
    let mut seen: HashMap<&str, &str> = HashMap::new();
    for (i, e) in idx.entries.iter().enumerate() {
        let key = e.step.key.as_str();
        let kp = format!("{}.key", e.path);
        if !valid_key(key) {
            d.push(
                &kp,
                "invalid-key",
                format!("step key `{key}` must match [a-z][a-z0-9_]* and be at most {MAX_KEY_LEN} characters"),
            );
        }
        if let Some(first) = seen.get(key) {
            d.push(
                &kp,
                "duplicate-key",
                format!("step key `{key}` is already used at {first}; keys are unique in the whole workflow"),
            );
        } else {
            seen.insert(key, &e.path);
        }
        check_step(i, idx, catalog, d);
    }
}

/// `ui` is free JSON but bounded: at most [`UI_MAX_BYTES`] as compact JSON.
fn check_ui(ui: &Map<String, Value>, path: &str, d: &mut Diagnostics) {
    let size = crate::compact_json_len(ui);
    if size > UI_MAX_BYTES {
        d.push(
            path,
            "too-large",
            format!(
                "`ui` is {size} bytes as compact JSON, over the limit of {UI_MAX_BYTES} bytes (16 KiB) for one workflow or step"
            ),
        );
    }
}

fn valid_key(k: &str) -> bool {
    let mut chars = k.chars();
    k.len() <= MAX_KEY_LEN
        && chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

fn check_triggers(wf: &Workflow, idx: &StepIndex<'_>, d: &mut Diagnostics) {
    let mut hooks: HashMap<&str, usize> = HashMap::new();
    for (i, t) in wf.triggers.iter().enumerate() {
        let p = join_index("triggers", i);
        match t {
            Trigger::Manual {} => {}
            Trigger::Schedule { cron, timezone, .. } => match Schedule::parse(cron, timezone.as_deref()) {
                Ok(_) => {}
                Err(e @ CronError::Expression { .. }) => {
                    d.push(format!("{p}.cron"), "invalid-cron", e.to_string());
                    // the zone is checked on its own too: one pass tells both
                    if let Err(e @ CronError::TimeZone { .. }) = Schedule::parse("* * * * *", timezone.as_deref()) {
                        d.push(format!("{p}.timezone"), "invalid-timezone", e.to_string());
                    }
                }
                Err(e @ CronError::TimeZone { .. }) => {
                    d.push(format!("{p}.timezone"), "invalid-timezone", e.to_string())
                }
            },
            Trigger::Webhook { key, verify } => {
                let valid = key.len() <= MAX_KEY_LEN
                    && key.starts_with(|c: char| c.is_ascii_lowercase())
                    && key
                        .chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-');
                if !valid {
                    d.push(
                        format!("{p}.key"),
                        "invalid-key",
                        format!("webhook key `{key}` must match [a-z][a-z0-9_-]*"),
                    );
                }
                if let Some(first) = hooks.insert(key.as_str(), i) {
                    d.push(
                        format!("{p}.key"),
                        "duplicate-key",
                        format!("webhook key `{key}` is already used by triggers[{first}]"),
                    );
                }
                let vp = format!("{p}.verify");
                match (verify.scheme, &verify.secret) {
                    (VerifyScheme::None, Some(_)) => d.push(
                        format!("{vp}.secret"),
                        "invalid-value",
                        "`scheme: none` verifies nothing: remove `secret` or choose a scheme",
                    ),
                    (VerifyScheme::None, None) => {}
                    (_, None) => d.push(
                        &vp,
                        "missing-field",
                        "missing required field `secret` (the name of the secret holding the signing key)",
                    ),
                    (_, Some(s)) if !valid_secret_name(s) => d.push(
                        format!("{vp}.secret"),
                        "invalid-value",
                        "`secret` is the NAME of a secret ([A-Za-z_][A-Za-z0-9_]*), not the key itself",
                    ),
                    _ => {}
                }
                if verify.header.is_some() && verify.scheme != VerifyScheme::HmacSha256 {
                    d.push(
                        format!("{vp}.header"),
                        "invalid-value",
                        "`header` applies only to `scheme: hmac-sha256`",
                    );
                }
                if verify.timestamp_header.is_some() && verify.scheme != VerifyScheme::HmacSha256 {
                    d.push(
                        format!("{vp}.timestampHeader"),
                        "invalid-value",
                        "`timestampHeader` applies only to `scheme: hmac-sha256`",
                    );
                }
                for (field, name) in [
                    ("header", &verify.header),
                    ("timestampHeader", &verify.timestamp_header),
                ] {
                    if let Some(name) = name
                        && !valid_header_name(name)
                    {
                        d.push(
                            format!("{vp}.{field}"),
                            "invalid-value",
                            format!("`{name}` is not an HTTP header name (letters, digits and !#$%&'*+-.^_`|~)"),
                        );
                    }
                }
                if let (Some(ts), sig) = (
                    &verify.timestamp_header,
                    verify.header.as_deref().unwrap_or("X-Signature-256"),
                ) && ts.eq_ignore_ascii_case(sig)
                {
                    d.push(
                        format!("{vp}.timestampHeader"),
                        "invalid-value",
                        "`timestampHeader` must differ from the signature header",
                    );
                }
                let signs_timestamp = matches!(verify.scheme, VerifyScheme::StandardWebhooks | VerifyScheme::Stripe)
                    || (verify.scheme == VerifyScheme::HmacSha256 && verify.timestamp_header.is_some());
                if verify.tolerance.is_some() && !signs_timestamp {
                    d.push(
                        format!("{vp}.tolerance"),
                        "invalid-value",
                        "`tolerance` applies only to schemes that sign a timestamp (standard-webhooks, stripe, hmac-sha256 with `timestampHeader`)",
                    );
                }
            }
            Trigger::Event { event, filter } => {
                let valid = !event.is_empty()
                    && event.len() <= 128
                    && event
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | ':' | '/'));
                if !valid {
                    d.push(
                        format!("{p}.event"),
                        "invalid-value",
                        format!("event type `{event}` may hold only letters, digits and . _ - : /"),
                    );
                }
                if let Some(f) = filter {
                    check_expr(f, &format!("{p}.filter"), Place::EventFilter, &[], idx, d);
                }
            }
        }
    }
}

/// An HTTP field name (RFC 9110 token), at most 64 characters.
fn valid_header_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

fn valid_secret_name(s: &str) -> bool {
    let mut c = s.chars();
    c.next().is_some_and(|f| f.is_ascii_alphabetic() || f == '_') && c.all(|x| x.is_ascii_alphanumeric() || x == '_')
}

fn check_step(i: usize, idx: &StepIndex<'_>, catalog: &dyn ActionSchemas, d: &mut Diagnostics) {
    let e = &idx.entries[i];
    let step = e.step;
    let p = &e.path;
    let vars = idx.loop_vars(i);
    if let Some(ui) = &step.ui {
        check_ui(ui, &format!("{p}.ui"), d);
    }
    check_policies(step, p, d);
    match &step.kind {
        StepKind::Action { action, config } => check_action(action, config.as_ref(), p, &vars, idx, catalog, d),
        StepKind::Condition { condition, then, .. } => {
            check_expr(condition, &format!("{p}.if"), Place::Condition, &vars, idx, d);
            if then.is_empty() {
                d.push(format!("{p}.then"), "empty-block", "`then` needs at least one step");
            }
        }
        StepKind::Switch { on, cases, .. } => {
            check_expr(on, &format!("{p}.on"), Place::Condition, &vars, idx, d);
            check_cases(cases, p, d);
        }
        StepKind::Loop {
            for_each,
            item_var,
            max_concurrency,
            steps,
        } => {
            check_expr(for_each, &format!("{p}.forEach"), Place::Condition, &vars, idx, d);
            if let Some(v) = item_var {
                check_loop_var(v, &vars, p, d);
            }
            if let Some(n) = max_concurrency
                && *n > MAX_LOOP_CONCURRENCY
            {
                d.push(
                    format!("{p}.maxConcurrency"),
                    "invalid-value",
                    format!("`maxConcurrency` must be at most {MAX_LOOP_CONCURRENCY}"),
                );
            }
            if steps.is_empty() {
                d.push(format!("{p}.steps"), "empty-block", "a loop needs at least one step");
            }
        }
    }
}

/// `retry` and `timeout`: on action steps only, and within their bounds.
fn check_policies(step: &Step, p: &str, d: &mut Diagnostics) {
    if !matches!(step.kind, StepKind::Action { .. }) {
        if step.retry.is_some() {
            d.push(
                format!("{p}.retry"),
                "invalid-value",
                "`retry` applies only to action steps",
            );
        }
        if step.timeout.is_some() {
            d.push(
                format!("{p}.timeout"),
                "invalid-value",
                "`timeout` applies only to action steps",
            );
        }
    }
    if let Some(r) = &step.retry {
        if r.max_attempts == 0 {
            d.push(
                format!("{p}.retry.maxAttempts"),
                "invalid-value",
                "`maxAttempts` must be at least 1",
            );
        } else if r.max_attempts > MAX_ATTEMPTS {
            d.push(
                format!("{p}.retry.maxAttempts"),
                "invalid-value",
                format!("`maxAttempts` must be at most {MAX_ATTEMPTS}"),
            );
        }
        if let (Some(a), Some(b)) = (r.initial_interval, r.max_interval)
            && a > b
        {
            d.push(
                format!("{p}.retry.maxInterval"),
                "invalid-value",
                format!("`maxInterval` ({b}) is shorter than `initialInterval` ({a})"),
            );
        }
    }
    if let Some(t) = step.timeout
        && t.as_millis() == 0
    {
        d.push(
            format!("{p}.timeout"),
            "invalid-value",
            "`timeout` must be longer than 0s",
        );
    }
}

/// A switch's cases: at least one, no value twice, none empty.
fn check_cases(cases: &[SwitchCase], p: &str, d: &mut Diagnostics) {
    if cases.is_empty() {
        d.push(format!("{p}.cases"), "empty-block", "`cases` needs at least one case");
    }
    let mut seen: Vec<&Value> = Vec::new();
    for (c, case) in cases.iter().enumerate() {
        if seen.contains(&&case.value) {
            d.push(
                format!("{p}.cases[{c}].value"),
                "duplicate-key",
                format!("case value {} appears twice; the second can never match", case.value),
            );
        }
        seen.push(&case.value);
        if case.steps.is_empty() {
            d.push(
                format!("{p}.cases[{c}].steps"),
                "empty-block",
                "a case needs at least one step",
            );
        }
    }
}

/// A loop's `as`: an identifier that hides neither a built-in variable nor
/// an enclosing loop's.
fn check_loop_var(v: &str, enclosing: &[String], p: &str, d: &mut Diagnostics) {
    let ident = v.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && v.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    let problem = if !ident {
        "must be an identifier"
    } else if RESERVED.contains(&v) && v != "item" {
        "would hide a built-in variable"
    } else if enclosing.iter().any(|e| e == v) {
        "is already bound by an enclosing loop"
    } else {
        return;
    };
    d.push(
        format!("{p}.as"),
        "invalid-value",
        format!("loop variable `{v}` {problem}"),
    );
}

fn check_action(
    action: &str,
    config: Option<&Value>,
    p: &str,
    vars: &[String],
    idx: &StepIndex<'_>,
    catalog: &dyn ActionSchemas,
    d: &mut Diagnostics,
) {
    let ap = format!("{p}.action");
    let cp = format!("{p}.config");
    if catalog.is_block(action) {
        let ty = if action == "LOOP" {
            "loop"
        } else {
            "condition` or `type: switch"
        };
        d.push(
            ap,
            "unknown-action",
            format!("{action} is a control-flow block: write a `type: {ty}` step instead of `action: {action}`"),
        );
    } else if let Some(schema) = catalog.config_schema(action) {
        let empty = Value::Object(Default::default());
        let cfg = match config {
            None | Some(Value::Null) => &empty,
            Some(c) => c,
        };
        super::config::check_config(cfg, schema, &cp, d);
    } else {
        d.push(
            ap,
            "unknown-action",
            format!("unknown action `{action}`{}", suggestion(action, catalog.names())),
        );
    }
    if let Some(cfg) = config {
        for (sub, s) in template_strings(cfg) {
            let tp = if sub.starts_with('[') {
                format!("{cp}{sub}")
            } else {
                format!("{cp}.{sub}")
            };
            match Template::parse(s) {
                Ok(t) => {
                    for c in t.expressions() {
                        check_scope(c, &tp, Place::Config, vars, idx, d);
                    }
                }
                Err(e) => d.push(tp, "invalid-expression", e.to_string()),
            }
        }
    }
}

/// Checks that `schema` is itself a valid JSON Schema.
fn check_json_schema(schema: &Value, path: &str, d: &mut Diagnostics) {
    let res = catch_unwind(AssertUnwindSafe(|| {
        jsonschema::validator_for(schema).map(|_| ()).map_err(|e| e.to_string())
    }));
    match res {
        Ok(Ok(())) => {}
        Ok(Err(e)) => d.push(
            path,
            "invalid-schema",
            format!("`inputs` is not a valid JSON Schema: {e}"),
        ),
        Err(_) => d.push(
            path,
            "invalid-schema",
            "`inputs` is not a valid JSON Schema (unknown `$schema`?)",
        ),
    }
}

fn check_expr(src: &str, path: &str, place: Place, vars: &[String], idx: &StepIndex<'_>, d: &mut Diagnostics) {
    match compile(src) {
        Ok(c) => check_scope(&c, path, place, vars, idx, d),
        Err(e) => push_expr_error(e, path, d),
    }
}

fn push_expr_error(e: ExprError, path: &str, d: &mut Diagnostics) {
    d.push(path, "invalid-expression", format!("{}: `{}`", e.reason, e.expression));
}

fn check_scope(c: &Compiled, path: &str, place: Place, vars: &[String], idx: &StepIndex<'_>, d: &mut Diagnostics) {
    let refs = c.references();
    let mut allowed: HashSet<&str> = vars.iter().map(String::as_str).collect();
    match place {
        Place::EventFilter => {
            allowed.insert("event");
        }
        Place::Condition => allowed.extend(BASE_VARS),
        Place::Config => {
            allowed.extend(BASE_VARS);
            allowed.insert("secrets");
        }
    }
    for v in &refs.variables {
        if allowed.contains(v.as_str()) {
            continue;
        }
        let why = match (v.as_str(), place) {
            ("secrets", _) => "`secrets` is only available inside action `config`".to_owned(),
            ("event", _) => {
                "`event` is only available in event trigger filters (use `trigger.data` in steps)".to_owned()
            }
            (_, Place::EventFilter) => format!("unknown variable `{v}`: an event filter can read only `event`"),
            ("index" | "item", _) => format!("`{v}` is only bound inside a loop body"),
            _ => format!("unknown variable `{v}`{}", suggestion(v, allowed.iter().copied())),
        };
        d.push(path, "unknown-variable", format!("{why}: `{}`", c.source()));
    }
    if place != Place::EventFilter {
        for k in &refs.step_keys {
            if !idx.by_key.contains_key(k.as_str()) {
                d.push(
                    path,
                    "unknown-step",
                    format!(
                        "no step has key `{k}`{}: `{}`",
                        suggestion(k, idx.by_key.keys().copied()),
                        c.source()
                    ),
                );
            }
        }
    }
}
