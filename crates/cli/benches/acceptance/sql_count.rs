//! SQL statements per step: an engine and worker in this process over
//! Postgres, with SeaORM's metric callback counting every statement the
//! store sends from the run's start to its end (BEGIN and COMMIT are not
//! reported by SeaORM, so not counted).

use std::sync::Arc;
use std::time::Duration;

use orbflow_testkit::TestDb;

use crate::support::inproc::{self, InProc, SqlCounter, SqlCounts};
use crate::support::stats::Outcome;
use crate::support::workloads::Workload;

/// What one workload's run cost in statements.
#[derive(Debug, Clone)]
pub(crate) struct SqlFigures {
    /// Workload name.
    pub(crate) name: String,
    /// Action steps and the statements, by kind; or why not.
    pub(crate) counted: Result<(usize, SqlCounts), String>,
}

/// Runs `workload` once on a fresh Postgres schema, counting statements.
pub(crate) async fn count(workload: &Workload, timeout: Duration) -> SqlFigures {
    let counted = match TestDb::postgres().await {
        None => Err("ORBFLOW_TEST_DATABASE_URL is not set".to_owned()),
        Some(db) => {
            let counter = Arc::new(SqlCounter::default());
            let setup = InProc {
                url: &db.url,
                concurrency: 8,
                timeout,
                sql: Some(counter.clone()),
            };
            match inproc::run(workload, &setup).await {
                Outcome::Done(f) => Ok((f.steps, counter.snapshot())),
                Outcome::Timeout => Err("timeout".into()),
                Outcome::Failed(e) => Err(e),
            }
        }
    };
    SqlFigures {
        name: workload.name.clone(),
        counted,
    }
}
