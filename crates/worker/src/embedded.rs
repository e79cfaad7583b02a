//! The embedded wiring: the store, the engine, the built-in actions, the
//! in-process [`LocalQueue`] and a [`Worker`] running on it, in one process.
//! `orbflow dev`, `orbflow run` (without the fleet), the API's and the
//! worker's test harnesses and the benches all build it here:
//!
//! ```no_run
//! # async fn f() -> Result<(), orbflow_worker::Error> {
//! use orbflow_worker::embedded::Embedded;
//! let embedded = Embedded::builder()
//!     .sqlite("./orbflow.db".as_ref())
//!     .concurrency(8)
//!     .build()
//!     .await?;
//! let engine = embedded.engine(); // start runs, cancel them, …
//! // … hand their effects to `embedded.worker()`
//! embedded.shutdown().await; // in-flight attempts finish and record
//! # Ok(()) }
//! ```
//!
//! Defaults: a temporary SQLite database (removed with the last handle), no
//! secrets key, [`EngineConfig::default`], the built-in actions under
//! [`CatalogConfig::default`] (no private addresses) and
//! [`WorkerConfig::default`]. Nothing is read from the environment here:
//! callers pass what they read.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use orbflow_actions::{CatalogConfig, Registry};
use orbflow_engine::queue::Dispatch;
use orbflow_engine::{Engine, EngineConfig};
use orbflow_store::sealing::SecretKeys;
use orbflow_store::{DatabaseConnection, SeaStore};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::queue::{LocalQueue, Queue};
use crate::worker::{Handle, Worker, WorkerConfig};

/// Where the embedded process keeps its runs.
enum Database {
    /// A temporary SQLite file, removed with the last handle.
    Temporary,
    /// A database URL (`sqlite://…` or `postgres://…`), and how to name it
    /// in messages.
    Url {
        /// The URL.
        url: String,
        /// What an error names (a path, or the URL without its password).
        name: String,
    },
    /// A connection opened by the caller (migrations applied).
    Connection(DatabaseConnection),
}

/// Settings of [`Embedded`]; every one has a default (see the module docs).
pub struct EmbeddedBuilder {
    database: Database,
    secret_keys: Option<SecretKeys>,
    engine: EngineConfig,
    catalog: CatalogConfig,
    worker: WorkerConfig,
}

impl std::fmt::Debug for EmbeddedBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let database = match &self.database {
            Database::Temporary => "temporary SQLite",
            Database::Url { name, .. } => name,
            Database::Connection(_) => "a given connection",
        };
        f.debug_struct("EmbeddedBuilder")
            .field("database", &database)
            .field("secret_keys", &self.secret_keys.is_some())
            .field("engine", &self.engine)
            .field("catalog", &self.catalog)
            .field("worker", &self.worker)
            .finish()
    }
}

impl Default for EmbeddedBuilder {
    fn default() -> Self {
        Self {
            database: Database::Temporary,
            secret_keys: None,
            engine: EngineConfig::default(),
            catalog: CatalogConfig::default(),
            worker: WorkerConfig::default(),
        }
    }
}

impl EmbeddedBuilder {
    /// Keeps the runs in the SQLite file `path` (created if missing).
    #[must_use]
    pub fn sqlite(mut self, path: &Path) -> Self {
        self.database = Database::Url {
            url: format!("sqlite://{}?mode=rwc", path.display()),
            name: path.display().to_string(),
        };
        self
    }

    /// Keeps the runs in the database at `url` (`sqlite://…` or
    /// `postgres://…`; migrations are applied on connect).
    #[must_use]
    pub fn database_url(mut self, url: &str) -> Self {
        self.database = Database::Url {
            url: url.to_owned(),
            name: orbflow_store::redact_url(url),
        };
        self
    }

    /// Keeps the runs behind `connection`, opened (and migrated) by the
    /// caller, e.g. with a metric callback set.
    #[must_use]
    pub fn connection(mut self, connection: DatabaseConnection) -> Self {
        self.database = Database::Connection(connection);
        self
    }

    /// The keys that seal the workspace secrets (`None`: secrets off). The
    /// build fails when the database holds secrets they do not open.
    #[must_use]
    pub fn secret_keys(mut self, keys: Option<SecretKeys>) -> Self {
        self.secret_keys = keys;
        self
    }

    /// The engine's settings.
    #[must_use]
    pub fn engine(mut self, config: EngineConfig) -> Self {
        self.engine = config;
        self
    }

    /// The settings of the built-in actions.
    #[must_use]
    pub fn catalog(mut self, config: CatalogConfig) -> Self {
        self.catalog = config;
        self
    }

    /// The worker's settings.
    #[must_use]
    pub fn worker(mut self, config: WorkerConfig) -> Self {
        self.worker = config;
        self
    }

    /// Attempts executed at once (at least 1).
    #[must_use]
    pub fn concurrency(mut self, n: usize) -> Self {
        self.worker.concurrency = n.max(1);
        self
    }

    /// Opens the store (checking the secrets key against it), builds the
    /// engine and the actions, and starts the worker on the local queue.
    ///
    /// # Errors
    ///
    /// When the database cannot be opened or migrated, when the secrets key
    /// does not open what it holds, or when the actions cannot be built.
    pub async fn build(self) -> Result<Embedded, Error> {
        let (connection, temporary) = open(self.database).await?;
        let store = SeaStore::with_secret_keys(connection, self.secret_keys);
        store.check_secret_keys().await.map_err(Error::SecretKeys)?;
        let registry = Arc::new(Registry::builtin(&self.catalog).map_err(Error::Actions)?);
        let engine = Arc::new(Engine::new(store.clone(), self.engine));
        let queue = Arc::new(LocalQueue::new());
        let worker = Worker::new(engine.clone(), registry.clone(), queue.clone(), self.worker);
        let handle = worker.handle();
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(worker.run(shutdown.clone()));
        Ok(Embedded {
            inner: Arc::new(Inner {
                engine,
                store,
                registry,
                queue,
                worker: handle,
                shutdown,
                task: Mutex::new(Some(task)),
                _temporary: temporary,
            }),
        })
    }
}

/// Opens `database`; the temporary file it made, if any.
async fn open(database: Database) -> Result<(DatabaseConnection, Option<TempDb>), Error> {
    let (url, name, temporary) = match database {
        Database::Connection(c) => return Ok((c, None)),
        Database::Url { url, name } => (url, name, None),
        Database::Temporary => {
            let t = TempDb::new();
            let name = t.path.display().to_string();
            (format!("sqlite://{name}?mode=rwc"), name, Some(t))
        }
    };
    let connection = orbflow_store::connect(&url)
        .await
        .map_err(|source| Error::Open { name, source })?;
    Ok((connection, temporary))
}

/// Why [`EmbeddedBuilder::build`] failed.
#[derive(Debug)]
pub enum Error {
    /// The database could not be opened or migrated.
    Open {
        /// The database, as messages name it (no password).
        name: String,
        /// What went wrong.
        source: orbflow_store::Error,
    },
    /// The secrets key does not open the secrets the database holds.
    SecretKeys(orbflow_store::Error),
    /// The built-in actions could not be built.
    Actions(orbflow_actions::Error),
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Open { name, .. } => write!(f, "opening the database {name}"),
            Self::SecretKeys(e) => write!(f, "{e}"),
            Self::Actions(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Open { source, .. } => Some(source),
            Self::SecretKeys(_) | Self::Actions(_) => None,
        }
    }
}

/// The embedded process, running: a cheap handle (clones share it). When
/// the last clone is dropped the worker is told to stop (without waiting
/// for it) and a temporary database is removed; [`shutdown`](Self::shutdown)
/// stops it and waits for in-flight attempts to record.
#[derive(Debug, Clone)]
pub struct Embedded {
    inner: Arc<Inner>,
}

struct Inner {
    engine: Arc<Engine>,
    store: Arc<SeaStore>,
    registry: Arc<Registry>,
    queue: Arc<LocalQueue>,
    worker: Handle,
    shutdown: CancellationToken,
    task: Mutex<Option<JoinHandle<()>>>,
    /// Dropped last, after the worker was told to stop.
    _temporary: Option<TempDb>,
}

impl std::fmt::Debug for Inner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Embedded")
            .field("worker", &self.worker)
            .field("stopping", &self.shutdown.is_cancelled())
            .finish_non_exhaustive()
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

impl Embedded {
    /// The settings, at their defaults.
    pub fn builder() -> EmbeddedBuilder {
        EmbeddedBuilder::default()
    }

    /// The engine: starts, cancels and resumes runs; hand the effects of
    /// its calls to [`worker`](Self::worker).
    pub fn engine(&self) -> &Arc<Engine> {
        &self.inner.engine
    }

    /// The store, which is also the API's storage
    /// ([`Admin`](orbflow_engine::admin::Admin)).
    pub fn store(&self) -> &Arc<SeaStore> {
        &self.inner.store
    }

    /// The actions the worker executes.
    pub fn registry(&self) -> &Arc<Registry> {
        &self.inner.registry
    }

    /// The in-process queue the worker takes its jobs from (for another
    /// producer in this process, such as the scheduler).
    pub fn queue(&self) -> Arc<dyn Queue> {
        self.inner.queue.clone()
    }

    /// The worker: hands it effects, tells of finished runs, has its
    /// metrics.
    pub fn worker(&self) -> &Handle {
        &self.inner.worker
    }

    /// The worker as the [`Dispatch`] of an engine caller (the API).
    pub fn dispatch(&self) -> Arc<dyn Dispatch> {
        Arc::new(self.inner.worker.clone())
    }

    /// The token the worker stops on: cancelling it stops the worker (and
    /// whatever else the caller stops with it) without waiting.
    pub fn shutdown_token(&self) -> CancellationToken {
        self.inner.shutdown.clone()
    }

    /// Stops the worker: it takes no further job, lets the attempts in
    /// flight finish and record, and returns; then this returns. Jobs not
    /// started stay QUEUED in the database. A second call returns at once.
    pub async fn shutdown(&self) {
        self.inner.shutdown.cancel();
        let task = self.inner.task.lock().ok().and_then(|mut t| t.take());
        if let Some(task) = task
            && let Err(e) = task.await
        {
            tracing::error!(error = %e, "the embedded worker panicked");
        }
    }
}

/// A temporary SQLite file (and its WAL files), removed on drop.
#[derive(Debug)]
struct TempDb {
    path: PathBuf,
}

impl TempDb {
    fn new() -> Self {
        let name = format!(
            "orbflow-run-{}-{}.db",
            std::process::id(),
            uuid::Uuid::now_v7().simple()
        );
        Self {
            path: std::env::temp_dir().join(name),
        }
    }
}

impl Drop for TempDb {
    fn drop(&mut self) {
        for ext in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{ext}", self.path.display()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_default_is_a_temporary_database_removed_with_the_last_handle() {
        let embedded = Embedded::builder().build().await.unwrap();
        let path = embedded.inner._temporary.as_ref().unwrap().path.clone();
        assert!(path.exists(), "{}", path.display());
        let clone = embedded.clone();
        embedded.shutdown().await;
        embedded.shutdown().await; // a second call returns at once
        drop(embedded);
        assert!(path.exists(), "a clone still holds it");
        drop(clone);
        assert!(!path.exists(), "{}", path.display());
    }

    #[tokio::test]
    async fn a_database_that_cannot_be_opened_is_named_without_its_password() {
        let e = Embedded::builder()
            .database_url("mysql://u:secret@127.0.0.1/db")
            .build()
            .await
            .unwrap_err();
        assert_eq!(e.to_string(), "opening the database mysql://u:***@127.0.0.1/db");
        let source = std::error::Error::source(&e).expect("the store's error is the source");
        assert!(!source.to_string().contains("secret"), "{source}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_builder_and_the_process_show_no_password() {
        use orbflow_engine::admin::Admin;
        let b = Embedded::builder()
            .database_url("postgres://u:secret@127.0.0.1/db")
            .secret_keys(None);
        let shown = format!("{b:?}");
        assert!(
            shown.contains("postgres://u:***@127.0.0.1/db") && !shown.contains("secret\""),
            "{shown}"
        );
        assert!(format!("{:?}", Embedded::builder()).contains("\"temporary SQLite\""));
        let file = Embedded::builder().sqlite(Path::new("/var/x/runs.db"));
        assert!(format!("{file:?}").contains("\"/var/x/runs.db\""));
        // a connection the caller opened is used as it is
        let connection = orbflow_store::connect("sqlite::memory:").await.unwrap();
        let b = Embedded::builder().connection(connection).worker(WorkerConfig {
            name: "given".into(),
            ..WorkerConfig::default()
        });
        assert!(format!("{b:?}").contains("\"a given connection\""));
        let embedded = b.build().await.unwrap();
        assert!(embedded.inner._temporary.is_none(), "no file of its own");
        assert!(embedded.store().ensure_workspace("acme").await.is_ok());
        let shown = format!("{embedded:?}");
        assert!(shown.contains("given") && shown.contains("stopping: false"), "{shown}");
        embedded.shutdown().await;
        assert!(format!("{embedded:?}").contains("stopping: true"));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn secrets_sealed_under_another_key_stop_the_build() {
        use orbflow_engine::admin::Admin;
        let file = TempDb::new();
        let key = SecretKeys::generate();
        let keys = |k: &str| Some(SecretKeys::new(k, &[]).unwrap());
        let first = Embedded::builder()
            .sqlite(&file.path)
            .secret_keys(keys(&key))
            .build()
            .await
            .unwrap();
        let ws = first.store().ensure_workspace("acme").await.unwrap();
        assert!(
            first
                .store()
                .put_secret(ws.id, "API_TOKEN", "s3cret-value")
                .await
                .unwrap()
        );
        first.shutdown().await;
        drop(first);
        let e = Embedded::builder()
            .sqlite(&file.path)
            .secret_keys(keys(&SecretKeys::generate()))
            .build()
            .await
            .unwrap_err();
        assert!(matches!(e, Error::SecretKeys(_)), "{e:?}");
        assert!(!e.to_string().contains("s3cret-value"), "{e}");
        assert!(std::error::Error::source(&e).is_none());
        // the key that sealed them still opens the database
        let again = Embedded::builder()
            .sqlite(&file.path)
            .secret_keys(keys(&key))
            .build()
            .await
            .unwrap();
        again.shutdown().await;
    }
}
