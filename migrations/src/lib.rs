//! The orbflow database schema as one [SeaORM migration](sea_orm_migration) set that runs
//! unchanged on SQLite and on Postgres.
//!
//! The schema is written with the SeaQuery schema builder only (no backend-specific SQL), so
//! each backend gets its own column types from one definition:
//!
//! | SeaQuery type              | Postgres                   | SQLite (declared type → storage)              |
//! | -------------------------- | -------------------------- | --------------------------------------------- |
//! | `uuid`                     | `uuid`                     | `uuid_text` → 16-byte BLOB (sqlx binds `Uuid` as bytes) |
//! | `json_binary`              | `jsonb`                    | `jsonb_text` → TEXT (serialized JSON)         |
//! | `timestamp_with_time_zone` | `timestamp with time zone` | `timestamp_with_timezone_text` → RFC 3339 TEXT |
//! | `boolean`                  | `boolean`                  | `boolean` → INTEGER 0/1                       |
//! | `integer` / `big_integer`  | `integer` / `bigint`       | `integer`                                     |
//! | `text`                     | `text`                     | `text`                                        |
//!
//! Module map:
//! - [`Migrator`]: the [`MigratorTrait`] implementation
//!   listing every migration in order (`Migrator::up`, `Migrator::down`).
//! - `m20261125_000001_initial`: the initial schema (every table, index and foreign key);
//!   docs/DATABASE_SCHEMA.md describes it column by column.
//! - `m20261201_000001_events`: `workflow_events`, the accepted events (an event id is
//!   accepted once per workspace).
//! - `m20261203_000001_run_deadline`: `workflow_runs.deadline_at` (a workflow's `timeout`).
//! - `m20261203_000002_webhook_claims`: `workflow_webhooks.short_url_slug` (the short
//!   webhook URL as a claim, unique with `key`) and `timestamp_header`.
//! - `m20261204_000001_run_trace`: `workflow_runs.trace_context` and
//!   `trace_parent_span_id` (a run's own span and the span it started under).
//! - `m20261204_000002_workspace_secrets`: `workspace_secrets`, a workspace's secrets sealed
//!   with AES-256-GCM (unique by workspace and name).
//! - `m20261204_000003_workspace_connections`: `workspace_connections`, a workspace's
//!   providers (kind, settings, default flag; unique by workspace and name).
//! - `m20261204_000004_notifications`: `workspace_notifications`, the in-app inbox (one per
//!   run step by its dedup key; listed by recipient).
//! - `m20261204_000005_data_store`: `workspace_records` (JSON records in named collections)
//!   and `workspace_record_writes` (one per run step that wrote, with its result).
//! - `m20261204_000006_email_templates`: `workspace_email_templates` (subject, text, HTML;
//!   unique by workspace and name).
//! - `m20261205_000001_workflow_audit`: `workflows.description`, `created_by` and
//!   `updated_by` (nullable), and the index of a workspace's runs by trigger type and time.

mod m20261125_000001_initial;
mod m20261201_000001_events;
mod m20261203_000001_run_deadline;
mod m20261203_000002_webhook_claims;
mod m20261204_000001_run_trace;
mod m20261204_000002_workspace_secrets;
mod m20261204_000003_workspace_connections;
mod m20261204_000004_notifications;
mod m20261204_000005_data_store;
mod m20261204_000006_email_templates;
mod m20261205_000001_workflow_audit;
mod migrator;

pub use migrator::Migrator;
pub use sea_orm_migration::MigratorTrait;
