//! Per-test databases on both backends, and the macros that run one
//! scenario on each.
//!
//! [`TestDb`] lives in `orbflow_store::testing` (orbflow-store's own tests
//! use it, and the store cannot dev-depend on this crate without a cycle);
//! it is re-exported here.
//!
//! [`both!`](crate::both) takes the scenario and how to build its harness
//! from a `TestDb` named in the macro call; [`on_both!`](crate::on_both)
//! hands the scenario the `TestDb` itself. Each generates a module named
//! after the scenario with a `sqlite` and a `postgres` test; the Postgres
//! one says it was skipped without `ORBFLOW_TEST_DATABASE_URL` (and fails
//! under `CI=true`). The calling crate needs `tokio` (with its test macro).
//!
//! ```ignore
//! // a crate's tests/common/mod.rs plugs its harness in:
//! macro_rules! both {
//!     ($name:ident) => {
//!         orbflow_testkit::both!($name, |db| super::common::harness(db).await);
//!     };
//! }
//! ```

pub use orbflow_store::testing::TestDb;

/// Runs the async scenario `$name` on SQLite and on Postgres (one test
/// each): `$setup` builds its argument from the [`TestDb`] bound to `$db`.
/// Paths in `$setup` resolve inside the generated module `$name` (use
/// `super::…`).
#[macro_export]
macro_rules! both {
    ($name:ident, |$db:ident| $setup:expr) => {
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let $db = $crate::db::TestDb::sqlite();
                super::$name($setup).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                if let Some($db) = $crate::db::TestDb::postgres().await {
                    super::$name($setup).await;
                }
            }
        }
    };
}

/// Runs the async scenario `$name`, which takes a [`TestDb`], on SQLite and
/// on Postgres (one test each).
#[macro_export]
macro_rules! on_both {
    ($name:ident) => {
        $crate::both!($name, |db| db);
    };
}
