//! The storage contract of the engine (`orbflow_engine::store::{Store, Tx}`)
//! and of the API (`orbflow_engine::admin::Admin`), one test per operation,
//! each run against every implementation: SeaStore on SQLite and on Postgres.
//!
//! Every case is written once with [`conformance!`], which makes a module
//! named after the operation holding a `sqlite` and a `postgres` test
//! (`cargo test -p orbflow-store --test conformance -- sqlite`). Postgres
//! tests use `ORBFLOW_TEST_DATABASE_URL` (a fresh schema each); unset, they
//! print that they were skipped, except under `CI=true`, where they fail.
//!
//! Each case asserts what the trait's doc comment promises: what the
//! operation returns and changes, the not-found and conflict cases, that
//! another workspace's objects stay invisible, ordering and keyset
//! pagination, idempotency and fencing.

/// One conformance case, run on SQLite and on Postgres:
/// `conformance!(name, |s| { ... })`, where `s` is a [`fixtures::Db`] (a
/// migrated store on a database of its own).
macro_rules! conformance {
    ($name:ident, |$s:ident| $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            async fn case($s: $crate::fixtures::Db) $body

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                case($crate::fixtures::Db::sqlite().await).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                if let Some(db) = $crate::fixtures::Db::postgres().await {
                    case(db).await;
                }
            }
        }
    };
}

/// Asserts that `$e` (a `Result`) is an error matching `$pat`.
macro_rules! assert_err {
    ($e:expr, $pat:pat) => {
        match $e {
            Err(e) => assert!(matches!(e, $pat), "unexpected error: {e:?}"),
            Ok(v) => panic!("expected an error, got {v:?}"),
        }
    };
}

mod events_webhooks;
mod fixtures;
mod leases;
mod locks;
mod logs;
mod notifications;
mod records;
mod run_queries;
mod runs;
mod schedules;
mod secrets_connections;
mod step_updates;
mod steps;
mod stored_names;
mod workflows_versions;
mod workspaces_tokens;
