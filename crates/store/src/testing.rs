//! Databases for tests: a temporary SQLite file, or a fresh schema on the
//! Postgres server named by `ORBFLOW_TEST_DATABASE_URL` (dropped afterwards).
//!
//! When that variable is unset, Postgres tests print that they were skipped
//! and pass — except under `CI=true`, where an unset or unreachable server
//! is a failure, never a skip.

use std::time::Duration;

use sea_orm::{ConnectOptions, ConnectionTrait, Database};

/// A database that exists for one test.
#[derive(Debug)]
pub struct TestDb {
    /// Connection URL (migrations not yet applied).
    pub url: String,
    cleanup: Cleanup,
}

#[derive(Debug)]
enum Cleanup {
    Dir(std::path::PathBuf),
    Schema { base: String, schema: String },
}

fn ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

impl TestDb {
    /// A SQLite file in a new temporary folder.
    pub fn sqlite() -> Self {
        let dir = std::env::temp_dir().join(format!("orbflow-test-{}", crate::new_id().simple()));
        let _ = std::fs::create_dir_all(&dir);
        Self {
            url: format!("sqlite://{}?mode=rwc", dir.join("test.db").display()),
            cleanup: Cleanup::Dir(dir),
        }
    }

    /// A fresh schema on the test Postgres server, or `None` when none is
    /// configured outside CI.
    ///
    /// # Panics
    /// Under `CI=true` when the server is not configured or not reachable.
    pub async fn postgres() -> Option<Self> {
        let base = match std::env::var("ORBFLOW_TEST_DATABASE_URL") {
            Ok(u) if !u.trim().is_empty() => u,
            _ if ci() => panic!("ORBFLOW_TEST_DATABASE_URL must be set when CI=true"),
            _ => {
                println!("skipped: ORBFLOW_TEST_DATABASE_URL not set");
                return None;
            }
        };
        let schema = format!("orbflow_test_{}", crate::new_id().simple());
        let mut opts = ConnectOptions::new(base.as_str());
        opts.max_connections(1)
            .connect_timeout(Duration::from_secs(5))
            .acquire_timeout(Duration::from_secs(5))
            .sqlx_logging(false);
        let admin = Database::connect(opts)
            .await
            .unwrap_or_else(|e| panic!("ORBFLOW_TEST_DATABASE_URL is set but unreachable: {e}"));
        admin
            .execute_unprepared(&format!("CREATE SCHEMA {schema}"))
            .await
            .unwrap_or_else(|e| panic!("cannot create test schema: {e}"));
        let _ = admin.close().await;
        let sep = if base.contains('?') { '&' } else { '?' };
        Some(Self {
            url: format!("{base}{sep}options=-csearch_path%3D{schema}"),
            cleanup: Cleanup::Schema { base, schema },
        })
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        match &self.cleanup {
            Cleanup::Dir(d) => {
                let _ = std::fs::remove_dir_all(d);
            }
            Cleanup::Schema { base, schema } => {
                let (base, schema) = (base.clone(), schema.clone());
                // Drop runs outside any runtime we may use: a thread of its own.
                let _ = std::thread::spawn(move || {
                    let Ok(rt) = tokio::runtime::Builder::new_current_thread().enable_all().build() else {
                        return;
                    };
                    rt.block_on(async move {
                        if let Ok(admin) = Database::connect(base.as_str()).await {
                            let _ = admin
                                .execute_unprepared(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
                                .await;
                            let _ = admin.close().await;
                        }
                    });
                })
                .join();
            }
        }
    }
}
