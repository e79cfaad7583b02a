//! Statements that write many rows at once.
//!
//! `insert_logs` (Postgres): a transaction's run-log lines as one `jsonb`
//! array, inserted in order (`WITH ORDINALITY … ORDER BY`, so the lines' ids
//! follow the order they were logged in).
//!
//! `update_steps`: one `UPDATE … FROM` for a batch of step rows, each row a
//! compare-and-set on its own expected status, attempt and lease token. On
//! Postgres the rows travel as one `jsonb` array (`jsonb_array_elements`), so
//! the statement's text is the same for any number of rows and is prepared
//! once per connection; on SQLite (3.33+ has `UPDATE … FROM`) as a `VALUES`
//! list whose columns are named `column1`, `column2`, …, with values bound as
//! the entity writes bind them. Either way the stored values are exactly what
//! a single `update_step` writes: timestamps at microsecond precision, SQL
//! NULL for an absent value and JSON `null` for a JSON column holding null.

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

/// One statement writing `rows`: on Postgres one JSON parameter whatever
/// their number (so the statement's text, prepared once, never changes); on
/// SQLite a `VALUES` list (at most a few hundred rows: 22 parameters each).
pub(crate) fn update_steps(backend: DbBackend, rows: &[(StepRecord, Expect)], now: DateTime<Utc>) -> Statement {
    if backend == DbBackend::Postgres {
        update_steps_json(rows, now)
    } else {
        update_steps_values(backend, rows, now)
    }
}

/// A timestamp as Postgres reads it back exactly (microseconds, UTC).
fn stamp(t: DateTime<Utc>) -> serde_json::Value {
    serde_json::Value::String(crate::truncate_to_micros(t).to_rfc3339_opts(chrono::SecondsFormat::Micros, true))
}

/// One row as a JSON object: a field that is `None` is left out (SQL NULL);
/// a JSON column holding `null` keeps it (JSON `null`), as a single write does.
fn row_json(s: &StepRecord, expect: &Expect) -> serde_json::Value {
    let mut o = serde_json::Map::new();
    let mut put = |k: &str, v: Option<serde_json::Value>| {
        if let Some(v) = v {
            o.insert(k.to_owned(), v);
        }
    };
    put("id", Some(s.id.to_string().into()));
    put("status", Some(s.status.as_str().into()));
    put("attempt", Some(s.attempt.into()));
    put("max_attempts", Some(s.max_attempts.into()));
    put("pending_deps", Some(s.pending_deps.into()));
    put("pending_children", Some(s.pending_children.into()));
    put("satisfied_deps", Some(s.satisfied_deps.into()));
    put("skipped_deps", Some(s.skipped_deps.into()));
    put("output", s.output.clone());
    put("error", s.error.clone());
    put("wait_output", s.wait_output.clone());
    put("queued_at", s.queued_at.map(stamp));
    put("started_at", s.started_at.map(stamp));
    put("ended_at", s.ended_at.map(stamp));
    put("next_attempt_at", s.next_attempt_at.map(stamp));
    put("lease_owner", s.lease_owner.clone().map(Into::into));
    put("lease_token", s.lease_token.map(Into::into));
    put("lease_expires_at", s.lease_expires_at.map(stamp));
    put("exp_status", Some(expect.status.as_str().into()));
    put("exp_attempt", Some(expect.attempt.into()));
    put("exp_token", expect.lease_token.map(Into::into));
    serde_json::Value::Object(o)
}

fn update_steps_json(rows: &[(StepRecord, Expect)], now: DateTime<Utc>) -> Statement {
    let set: Vec<String> = SET
        .iter()
        .filter(|(c, _)| *c != "updated_at")
        .map(|(c, t)| match *t {
            "jsonb" => format!("{c} = v.doc->'{c}'"),
            "text" => format!("{c} = v.doc->>'{c}'"),
            _ => format!("{c} = (v.doc->>'{c}')::{t}"),
        })
        .collect();
    let sql = format!(
        "UPDATE step_executions SET {}, updated_at = $2 FROM jsonb_array_elements($1::jsonb) AS v(doc) \
         WHERE step_executions.id = (v.doc->>'id')::uuid AND step_executions.status = v.doc->>'exp_status' \
         AND step_executions.attempt = (v.doc->>'exp_attempt')::int4 \
         AND step_executions.lease_token IS NOT DISTINCT FROM (v.doc->>'exp_token')::int8",
        set.join(", ")
    );
    let doc = serde_json::Value::Array(rows.iter().map(|(s, e)| row_json(s, e)).collect());
    Statement::from_sql_and_values(
        DbBackend::Postgres,
        sql,
        [Value::from(doc), crate::truncate_to_micros(now).into()],
    )
}

/// SQLite: one `VALUES` tuple of 22 parameters a row.
fn update_steps_values(backend: DbBackend, rows: &[(StepRecord, Expect)], now: DateTime<Utc>) -> Statement {
    let width = 1 + SET.len() + 3;
    let tuple = format!("({})", vec!["?"; width].join(", "));
    let mut values = Vec::with_capacity(rows.len() * width);
    for (s, expect) in rows {
        values.extend(row_values(s, expect, now));
    }
    let set: Vec<String> = SET
        .iter()
        .enumerate()
        .map(|(i, (c, _))| format!("{c} = v.column{}", i + 2))
        .collect();
    let (st, at, tok) = (SET.len() + 2, SET.len() + 3, SET.len() + 4);
    let sql = format!(
        "UPDATE step_executions SET {} FROM (VALUES {}) AS v \
         WHERE step_executions.id = v.column1 AND step_executions.status = v.column{st} \
         AND step_executions.attempt = v.column{at} AND step_executions.lease_token IS v.column{tok}",
        set.join(", "),
        vec![tuple; rows.len()].join(", "),
    );
    Statement::from_sql_and_values(backend, sql, values)
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
                o.insert("level".into(), l.level.clone().into());
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
