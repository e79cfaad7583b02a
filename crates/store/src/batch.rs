//! Statements that write many rows at once.
//!
//! `insert_logs` (Postgres): a transaction's run-log lines as one `jsonb`
//! array, inserted in order (`WITH ORDINALITY … ORDER BY`, so the lines' ids
//! follow the order they were logged in).
//!
//! `update_steps`: one `UPDATE … FROM (VALUES …)` for a batch of step rows,
//! each row a compare-and-set on its own expected status, attempt and lease
//! token. Both backends name the columns of a `VALUES` list `column1`,
//! `column2`, …; SQLite has `UPDATE … FROM` since 3.33. Values are bound as
//! the entity writes bind them (ids as `Uuid`, JSON as `Json`, timestamps
//! truncated to microseconds), so both backends store exactly what a single
//! `update_step` would. (Sending the rows as one `jsonb` array instead, a
//! constant statement, was tried and reverted: Postgres' generic plan for
//! `jsonb_array_elements` scanned the table, and loop-10000 on the fleet fell
//! from about 1,000 to 113 steps/s.)

use chrono::{DateTime, Utc};
use orbflow_engine::store::{Expect, LogRecord, StepRecord};
use sea_orm::{DbBackend, Statement, Value};

/// The columns a batch writes (in `VALUES` order after the id), with their
/// Postgres types.
const SET: [(&str, &str); 18] = [
    ("status", "text"),
    ("attempt", "int4"),
    ("max_attempts", "int4"),
    ("pending_deps", "int4"),
    ("pending_children", "int4"),
    ("satisfied_deps", "int4"),
    ("skipped_deps", "int4"),
    ("output", "jsonb"),
    ("error", "jsonb"),
    ("wait_output", "jsonb"),
    ("queued_at", "timestamptz"),
    ("started_at", "timestamptz"),
    ("ended_at", "timestamptz"),
    ("next_attempt_at", "timestamptz"),
    ("lease_owner", "text"),
    ("lease_token", "int8"),
    ("lease_expires_at", "timestamptz"),
    ("updated_at", "timestamptz"),
];

/// Postgres types of the values after the written columns: the expected
/// status, attempt and lease token.
const EXPECT: [&str; 3] = ["text", "int4", "int8"];

fn micros(t: Option<DateTime<Utc>>) -> Value {
    t.map(crate::truncate_to_micros).into()
}

/// The values of one row, in `VALUES` order.
fn row_values(s: &StepRecord, expect: &Expect, now: DateTime<Utc>) -> Vec<Value> {
    vec![
        s.id.into(),
        s.status.as_str().into(),
        s.attempt.into(),
        s.max_attempts.into(),
        s.pending_deps.into(),
        s.pending_children.into(),
        s.satisfied_deps.into(),
        s.skipped_deps.into(),
        s.output.clone().into(),
        s.error.clone().into(),
        s.wait_output.clone().into(),
        micros(s.queued_at),
        micros(s.started_at),
        micros(s.ended_at),
        micros(s.next_attempt_at),
        s.lease_owner.clone().into(),
        s.lease_token.into(),
        micros(s.lease_expires_at),
        crate::truncate_to_micros(now).into(),
        expect.status.as_str().into(),
        expect.attempt.into(),
        expect.lease_token.into(),
    ]
}

/// One statement writing `rows` (at most a few hundred: 22 parameters each).
pub(crate) fn update_steps(backend: DbBackend, rows: &[(StepRecord, Expect)], now: DateTime<Utc>) -> Statement {
    let pg = backend == DbBackend::Postgres;
    let types: Vec<&str> = std::iter::once("uuid")
        .chain(SET.iter().map(|(_, t)| *t))
        .chain(EXPECT)
        .collect();
    let mut values = Vec::with_capacity(rows.len() * types.len());
    let mut tuples = Vec::with_capacity(rows.len());
    let mut n = 0;
    for (s, expect) in rows {
        let params: Vec<String> = types
            .iter()
            .map(|t| {
                n += 1;
                if pg { format!("${n}::{t}") } else { "?".to_owned() }
            })
            .collect();
        values.extend(row_values(s, expect, now));
        tuples.push(format!("({})", params.join(", ")));
    }
    let set: Vec<String> = SET
        .iter()
        .enumerate()
        .map(|(i, (c, _))| format!("{c} = v.column{}", i + 2))
        .collect();
    let (st, at, tok) = (SET.len() + 2, SET.len() + 3, SET.len() + 4);
    let same_token = if pg { "IS NOT DISTINCT FROM" } else { "IS" };
    let sql = format!(
        "UPDATE step_executions SET {} FROM (VALUES {}) AS v \
         WHERE step_executions.id = v.column1 AND step_executions.status = v.column{st} \
         AND step_executions.attempt = v.column{at} AND step_executions.lease_token {same_token} v.column{tok}",
        set.join(", "),
        tuples.join(", "),
    );
    Statement::from_sql_and_values(backend, sql, values)
}

/// A timestamp as Postgres reads it back exactly (microseconds, UTC).
fn stamp(t: DateTime<Utc>) -> serde_json::Value {
    serde_json::Value::String(crate::truncate_to_micros(t).to_rfc3339_opts(chrono::SecondsFormat::Micros, true))
}

/// Postgres: inserts `lines` in order, from one JSON parameter.
pub(crate) fn insert_logs(lines: &[LogRecord]) -> Statement {
    let doc = serde_json::Value::Array(
        lines
            .iter()
            .map(|l| {
                let mut o = serde_json::Map::new();
                o.insert("run_id".into(), l.run_id.to_string().into());
                if let Some(p) = &l.step_path {
                    o.insert("step_path".into(), p.clone().into());
                }
                if let Some(a) = l.attempt {
                    o.insert("attempt".into(), a.into());
                }
                o.insert("level".into(), l.level.as_str().into());
                o.insert("message".into(), l.message.clone().into());
                if let Some(d) = &l.data {
                    o.insert("data".into(), d.clone());
                }
                o.insert("created_at".into(), stamp(l.created_at));
                serde_json::Value::Object(o)
            })
            .collect(),
    );
    let sql = "INSERT INTO workflow_run_logs (run_id, step_path, attempt, level, message, data, created_at) \
               SELECT (e.doc->>'run_id')::uuid, e.doc->>'step_path', (e.doc->>'attempt')::int4, \
               e.doc->>'level', e.doc->>'message', e.doc->'data', (e.doc->>'created_at')::timestamptz \
               FROM jsonb_array_elements($1::jsonb) WITH ORDINALITY AS e(doc, n) ORDER BY e.n";
    Statement::from_sql_and_values(DbBackend::Postgres, sql, [Value::from(doc)])
}
