//! orbflow's relational store: the SeaORM entities of every table and the connection setup
//! for SQLite (the embedded default) and Postgres (the fleet). Repositories are written
//! against these entities elsewhere; this crate holds no engine logic.
//!
//! Module map:
//! - [`entity`]: one SeaORM entity per table (`entity::workflow_runs`, `entity::step_executions`,
//!   …) with its relations; [`entity::prelude`] names them all (`WorkflowRuns`, `StepExecutions`).
//! - [`connect`](mod@connect): [`connect()`] / [`connect_with`] open a pool for `sqlite://PATH?mode=rwc`,
//!   `sqlite::memory:` or `postgres://…`, apply the SQLite pragmas, and run the migrations
//!   ([`migrate`]).
//! - [`repo`]: [`SeaStore`], the engine's storage traits on these entities; `batch`: the
//!   statements that write many step rows at once (`UPDATE … FROM (VALUES …)`); `backlog`:
//!   queued steps and unfinished runs, for metrics.
//! - [`sealing`]: workspace secrets sealed with AES-256-GCM under the operator's keys
//!   (rotation: an old key opens, the current one seals); `secrets`: the
//!   `workspace_secrets` rows (set, list, delete, open, re-seal, key check).
//! - `connections`: the `workspace_connections` rows (set with one default per kind, list,
//!   delete, find by name or default).
//! - `email_templates`: a workspace's stored email templates.
//! - `notifications`: the in-app inbox on `workspace_notifications` (once per dedup key,
//!   listed by recipient and read state, marked read or unread).
//! - [`records`]: the workspace data store on `workspace_records` (insert, update, upsert,
//!   delete with an equality `where`, once per run step; size and count limits).
//! - [`admin`]: the API's storage ([`orbflow_engine::admin::Admin`]) on the same store.
//! - `triggers`: webhook and event trigger rows, re-synced when a version becomes active.
//! - [`testing`]: per-test databases (temporary SQLite, or a fresh Postgres schema).
//! - `error`: [`Error`] and [`Result`].
//!
//! How values are stored (the schema is `orbflow-migration`; docs/DATABASE_SCHEMA.md has
//! every column):
//!
//! | Rust (`entity`)                   | Postgres                   | SQLite                                  |
//! | --------------------------------- | -------------------------- | --------------------------------------- |
//! | [`Uuid`](uuid::Uuid) (UUIDv7 ids) | `uuid`                     | 16-byte BLOB (declared `uuid_text`)     |
//! | [`Json`](sea_orm::prelude::Json)  | `jsonb`                    | TEXT (declared `jsonb_text`)            |
//! | [`DateTimeUtc`](sea_orm::prelude::DateTimeUtc) | `timestamp with time zone` | RFC 3339 TEXT in UTC, e.g. `2026-01-02T03:04:05.123456+00:00` |
//! | `bool`                            | `boolean`                  | INTEGER 0/1                             |
//!
//! Rules for code that writes raw SQL against this schema: bind ids as `Uuid` values (on
//! SQLite a hyphenated string never equals the stored BLOB), bind timestamps from Rust and
//! never compare against SQLite's `datetime('now')` (its text format differs), and build
//! timestamps with [`now`] (microsecond precision, which is what Postgres keeps, so both
//! backends read back exactly what was written).
//!
//! On SQLite, a transaction that reads and then writes should start with
//! `SqliteTransactionMode::Immediate` (`TransactionOptions`): a deferred transaction that
//! upgrades to a write after another connection committed fails with `SQLITE_BUSY` at once,
//! without waiting for `busy_timeout`.

pub mod admin;
mod backlog;
mod batch;
pub mod connect;
mod connections;
mod email_templates;
pub mod entity;
mod error;
mod notifications;
pub mod records;
pub mod repo;
pub mod sealing;
mod secrets;
pub mod testing;
mod triggers;

pub use connect::{Backend, StoreOptions, connect, connect_with, migrate, redact_url};
pub use error::{Error, Result};
pub use orbflow_migration::{Migrator, MigratorTrait};
pub use repo::SeaStore;
pub use sea_orm::DatabaseConnection;

/// The current time truncated to whole microseconds: the precision Postgres keeps, so a
/// written timestamp reads back unchanged on both backends.
pub fn now() -> chrono::DateTime<chrono::Utc> {
    truncate_to_micros(chrono::Utc::now())
}

/// `t` truncated to whole microseconds (see [`now`]).
pub fn truncate_to_micros(t: chrono::DateTime<chrono::Utc>) -> chrono::DateTime<chrono::Utc> {
    use chrono::SubsecRound;
    t.trunc_subsecs(6)
}

/// A new UUIDv7 (time-ordered) id, the form of every `id` column.
pub fn new_id() -> uuid::Uuid {
    uuid::Uuid::now_v7()
}
