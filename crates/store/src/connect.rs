//! Opening a connection pool and bringing the schema up to date.
//!
//! # SQLite
//!
//! Every pooled connection is opened with these pragmas:
//!
//! | pragma                 | why                                                                  |
//! | ---------------------- | -------------------------------------------------------------------- |
//! | `journal_mode = WAL`   | readers do not block the writer and the writer does not block readers |
//! | `synchronous = NORMAL` | in WAL mode, a commit is not fsynced; the WAL is synced at checkpoints |
//! | `foreign_keys = ON`    | SQLite ignores foreign keys unless told, per connection               |
//! | `busy_timeout = 5000`  | a connection waits up to 5 s for another writer instead of failing    |
//!
//! Durability of `synchronous = NORMAL` with WAL: a committed transaction is in the WAL file
//! in the operating system's page cache, so it **survives the process being killed**
//! (`kill -9`, panic, OOM kill). It **may be lost on an operating-system crash or power
//! loss** (the last transactions before the crash roll back); the database file is never
//! corrupted by it. That is the embedded default's trade: orbflow's invariants are about
//! processes dying, and `FULL` would fsync on every step transition.
//!
//! `sqlite::memory:` (and any `mode=memory` URL) is one shared in-memory database held by a
//! single connection that the pool never closes (closing the last connection would destroy
//! the database); WAL does not apply to it.
//!
//! # Postgres
//!
//! `postgres://` / `postgresql://` URLs are passed to sqlx as they are (no TLS is compiled
//! in: use a loopback or otherwise trusted network). A schema other than `public` is chosen
//! with the URL's `options` parameter, which applies to every pooled connection:
//! `postgres://user@host/db?options=-csearch_path%3Dmy_schema`.
//!
//! # Migrations
//!
//! [`migrate`] applies the pending migrations of [`Migrator`] in one transaction, serialized
//! across processes (a Postgres advisory lock; on SQLite an `IMMEDIATE` transaction), so any
//! number of scheduler, worker and API processes may start at once against a new database.

use std::time::Duration;

use orbflow_migration::{Migrator, MigratorTrait};
use sea_orm::sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};
use sea_orm::{
    ConnectionTrait, Database, DatabaseConnection, DbBackend, SqliteTransactionMode, TransactionOptions,
    TransactionTrait,
};

use crate::error::{Error, Result};

/// `busy_timeout` of every SQLite connection.
pub const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_millis(5000);

/// Pool size for a SQLite database file unless [`StoreOptions::max_connections`] says
/// otherwise: several readers beside the one writer that SQLite allows.
pub const SQLITE_DEFAULT_MAX_CONNECTIONS: u32 = 4;

/// Key of the Postgres advisory lock that serializes migrations (`"orbflowm"` as bytes).
const MIGRATION_LOCK_KEY: i64 = 8_030_589_277_600_446_317;

/// The database kinds orbflow runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// SQLite: the embedded default (`sqlite://PATH?mode=rwc`, `sqlite::memory:`).
    Sqlite,
    /// Postgres: the fleet (`postgres://…`, `postgresql://…`).
    Postgres,
}

impl Backend {
    /// The backend a database URL names, from its scheme.
    pub fn from_url(url: &str) -> Result<Self> {
        if url.starts_with("sqlite:") {
            Ok(Self::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Self::Postgres)
        } else {
            Err(Error::UnsupportedUrl(redact_url(url)))
        }
    }
}

/// How [`connect_with`] opens the pool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreOptions {
    /// Largest number of pooled connections (`None`: [`SQLITE_DEFAULT_MAX_CONNECTIONS`] for a
    /// SQLite file, sqlx's default of 10 for Postgres; always 1 for in-memory SQLite).
    pub max_connections: Option<u32>,
    /// Apply pending migrations after connecting (default `true`).
    pub migrate: bool,
}

impl Default for StoreOptions {
    fn default() -> Self {
        Self {
            max_connections: None,
            migrate: true,
        }
    }
}

/// Opens a pool for `url` (`sqlite://PATH?mode=rwc`, `sqlite::memory:` or `postgres://…`)
/// with the SQLite pragmas described in the [module docs](self), then applies the pending
/// migrations.
pub async fn connect(url: &str) -> Result<DatabaseConnection> {
    connect_with(url, &StoreOptions::default()).await
}

/// [`connect`] with explicit [`StoreOptions`].
pub async fn connect_with(url: &str, options: &StoreOptions) -> Result<DatabaseConnection> {
    let db = match Backend::from_url(url)? {
        Backend::Sqlite => connect_sqlite(url, options).await?,
        Backend::Postgres => connect_postgres(url, options).await?,
    };
    if options.migrate {
        migrate(&db).await?;
    }
    Ok(db)
}

/// Whether a SQLite URL names an in-memory database.
fn sqlite_in_memory(url: &str) -> bool {
    url.contains(":memory:") || url.contains("mode=memory")
}

/// A URL with its password replaced by `***`, for messages
/// (`postgres://u:secret@h/db` → `postgres://u:***@h/db`).
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => match url[s + 3..at].split_once(':') {
            Some((user, _)) => format!("{}{user}:***{}", &url[..s + 3], &url[at..]),
            None => url.to_owned(),
        },
        _ => url.to_owned(),
    }
}

async fn connect_sqlite(url: &str, options: &StoreOptions) -> Result<DatabaseConnection> {
    // Parse once here so that a malformed URL is reported as such, not as a connect error.
    url.parse::<SqliteConnectOptions>()
        .map_err(|_| Error::UnsupportedUrl(redact_url(url)))?;
    let in_memory = sqlite_in_memory(url);

    let mut opts = sea_orm::ConnectOptions::new(url);
    opts.sqlx_logging(false);
    opts.map_sqlx_sqlite_opts(move |o| {
        let o = o
            .foreign_keys(true)
            .busy_timeout(SQLITE_BUSY_TIMEOUT)
            .synchronous(SqliteSynchronous::Normal);
        if in_memory {
            o
        } else {
            o.journal_mode(SqliteJournalMode::Wal)
        }
    });
    if in_memory {
        // One connection that lives as long as the pool: the database dies with it.
        opts.max_connections(1)
            .min_connections(1)
            .idle_timeout(None)
            .max_lifetime(None);
    } else {
        opts.max_connections(options.max_connections.unwrap_or(SQLITE_DEFAULT_MAX_CONNECTIONS));
    }
    Database::connect(opts).await.map_err(Error::Connect)
}

async fn connect_postgres(url: &str, options: &StoreOptions) -> Result<DatabaseConnection> {
    let mut opts = sea_orm::ConnectOptions::new(url);
    opts.sqlx_logging(false);
    if let Some(n) = options.max_connections {
        opts.max_connections(n);
    }
    Database::connect(opts).await.map_err(Error::Connect)
}

/// Applies every pending migration of [`Migrator`] in one transaction. Concurrent callers
/// (several processes starting against a new database) are serialized: on Postgres by a
/// transaction-scoped advisory lock, on SQLite by an `IMMEDIATE` transaction; the later
/// callers then find nothing pending.
pub async fn migrate(db: &DatabaseConnection) -> Result<()> {
    let txn = match db.get_database_backend() {
        DbBackend::Sqlite => {
            db.begin_with_options(TransactionOptions {
                sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
                ..TransactionOptions::default()
            })
            .await?
        }
        _ => {
            let txn = db.begin().await?;
            txn.execute_unprepared(&format!("SELECT pg_advisory_xact_lock({MIGRATION_LOCK_KEY})"))
                .await?;
            txn
        }
    };
    Migrator::up(&txn, None).await.map_err(Error::Migrate)?;
    txn.commit().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backend_from_url() {
        assert_eq!(Backend::from_url("sqlite::memory:").unwrap(), Backend::Sqlite);
        assert_eq!(
            Backend::from_url("sqlite:///tmp/x.db?mode=rwc").unwrap(),
            Backend::Sqlite
        );
        assert_eq!(Backend::from_url("postgres://u@h/db").unwrap(), Backend::Postgres);
        assert_eq!(Backend::from_url("postgresql://u@h/db").unwrap(), Backend::Postgres);
        assert!(matches!(
            Backend::from_url("mysql://u@h/db"),
            Err(Error::UnsupportedUrl(_))
        ));
        // the message names the URL without its password
        let e = Backend::from_url("mysql://u:secret@h/db").unwrap_err();
        assert_eq!(
            e.to_string(),
            "unsupported database URL \"mysql://u:***@h/db\": expected sqlite://PATH?mode=rwc, sqlite::memory: or postgres://…"
        );
        assert_eq!(redact_url("redis://:pw@127.0.0.1:6379"), "redis://:***@127.0.0.1:6379");
        assert_eq!(redact_url("postgres://u@h/db"), "postgres://u@h/db");
        assert_eq!(redact_url("sqlite://x.db"), "sqlite://x.db");
    }

    #[test]
    fn in_memory_urls() {
        assert!(sqlite_in_memory("sqlite::memory:"));
        assert!(sqlite_in_memory("sqlite://?mode=memory"));
        assert!(!sqlite_in_memory("sqlite:///tmp/orbflow.db?mode=rwc"));
    }

    #[tokio::test]
    async fn memory_database_survives_across_queries() {
        let db = connect("sqlite::memory:").await.unwrap();
        // Migrations ran; a second `migrate` finds nothing pending.
        migrate(&db).await.unwrap();
        let row = db
            .query_one_raw(sea_orm::Statement::from_string(
                DbBackend::Sqlite,
                "SELECT count(*) AS n FROM seaql_migrations",
            ))
            .await
            .unwrap()
            .unwrap();
        let n: i64 = row.try_get("", "n").unwrap();
        assert_eq!(n as usize, orbflow_migration::Migrator::migrations().len());
        assert!(
            n >= 4,
            "every migration applied, run_deadline and webhook_claims included: {n}"
        );
    }
}
