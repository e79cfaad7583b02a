//! Shared harness of the worker's integration tests: a real database
//! (SQLite, or a fresh Postgres schema), the engine, the in-process queue and
//! a worker executing the real actions, wired by [`Embedded`].

#![allow(dead_code, unreachable_pub, missing_docs)]

use std::sync::Arc;
use std::sync::atomic::AtomicUsize;
use std::time::Duration;

use orbflow_actions::{CatalogConfig, Registry, net::HttpPolicy};
use orbflow_engine::store::Store;
use orbflow_engine::{Engine, EngineConfig, StartRun};
use orbflow_model::dsl::{self, Format};
pub use orbflow_testkit::TestDb;
use orbflow_worker::Embedded;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

pub struct Harness {
    pub engine: Arc<Engine>,
    pub store: Arc<orbflow_store::SeaStore>,
    pub handle: orbflow_worker::Handle,
    pub shutdown: CancellationToken,
    _embedded: Embedded,
    _db: TestDb,
}

/// Runs a scenario taking a [`Harness`] on SQLite and on Postgres (one
/// test each).
#[macro_export]
macro_rules! both {
    ($name:ident) => {
        orbflow_testkit::both!($name, |db| super::common::harness(db).await);
    };
}

/// [`both!`] with an engine configured by `$config`.
#[macro_export]
macro_rules! both_with {
    ($name:ident, $config:expr) => {
        orbflow_testkit::both!($name, |db| super::common::harness_with(db, $config).await);
    };
}

/// Runs a scenario taking a `TestDb` on SQLite and on Postgres.
#[macro_export]
macro_rules! on_both {
    ($name:ident) => {
        orbflow_testkit::on_both!($name);
    };
}

pub async fn harness(db: TestDb) -> Harness {
    harness_with(db, EngineConfig::default()).await
}

/// A harness whose engine has `config`.
pub async fn harness_with(db: TestDb, config: EngineConfig) -> Harness {
    let embedded = Embedded::builder()
        .database_url(&db.url)
        .engine(config)
        .catalog(CatalogConfig {
            http: HttpPolicy { allow_private: true },
        })
        .concurrency(4)
        .build()
        .await
        .unwrap();
    Harness {
        engine: embedded.engine().clone(),
        store: embedded.store().clone(),
        handle: embedded.worker().clone(),
        shutdown: embedded.shutdown_token(),
        _embedded: embedded,
        _db: db,
    }
}

/// The engine alone (no worker), so the test plays the workers.
pub async fn engine_only(db: &TestDb, config: EngineConfig) -> (Arc<Engine>, Arc<orbflow_store::SeaStore>) {
    let store = orbflow_store::SeaStore::new(orbflow_store::connect(&db.url).await.unwrap());
    let engine = Arc::new(Engine::new(store.clone(), config));
    (engine, store)
}

/// Registers `yaml` as a version of workflow `slug` in `workspace`.
pub async fn register(
    store: &orbflow_store::SeaStore,
    workspace: &str,
    slug: &str,
    yaml: &str,
) -> orbflow_engine::store::VersionRecord {
    let reg = Registry::specs_only().unwrap();
    let wf = dsl::load(yaml, Format::Yaml, &reg)
        .unwrap_or_else(|d| panic!("invalid test workflow:\n{d}"))
        .workflow;
    let doc = serde_json::to_string(&wf).unwrap();
    store.ensure_version(workspace, slug, &wf.name, &doc).await.unwrap()
}

/// Starts a manual run of `version` with `input` (no worker involved).
pub async fn start_manual(
    engine: &Engine,
    version: orbflow_engine::store::VersionRecord,
    input: Value,
) -> (uuid::Uuid, orbflow_engine::Effects) {
    engine
        .start_run(StartRun {
            version,
            input,
            trigger_type: orbflow_model::TriggerType::Manual,
            trigger_data: None,
            idempotency_key: None,
            trace_parent: None,
        })
        .await
        .unwrap()
}

/// An HTTP server on 127.0.0.1 that answers `ok` (text) to every request
/// after `delay`, counting the requests it received.
pub fn slow_server(delay: Duration) -> (u16, Arc<AtomicUsize>) {
    slow_server_answering(delay, "text/plain", "ok")
}

pub use orbflow_testkit::peer::slow_server_answering;

impl Harness {
    pub async fn start(&self, yaml: &str, input: Value) -> uuid::Uuid {
        self.start_in("default", yaml, input).await
    }

    /// Starts a run of `yaml` in `workspace`.
    pub async fn start_in(&self, workspace: &str, yaml: &str, input: Value) -> uuid::Uuid {
        let version = register(&self.store, workspace, "t", yaml).await;
        let (id, effects) = start_manual(&self.engine, version, input).await;
        self.handle.apply(effects).await;
        id
    }

    /// Waits (bounded) for the run to finish; returns the run record.
    pub async fn wait(&self, id: uuid::Uuid) -> Value {
        for _ in 0..600 {
            let (run, steps) = self.store.run_view(id).await.unwrap().unwrap();
            if run.status.is_terminal() {
                let mut map = serde_json::Map::new();
                for s in steps.iter().filter(|s| !s.path.ends_with(']')) {
                    map.insert(s.path.clone(), orbflow_engine::engine::step_view(s));
                }
                return json!({"status": run.status.as_str(), "output": run.output, "error": run.error, "steps": map});
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("run {id} did not finish in 12s");
    }

    pub async fn run(&self, yaml: &str, input: Value) -> Value {
        let id = self.start(yaml, input).await;
        self.wait(id).await
    }
}

impl Drop for Harness {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

pub fn status(r: &Value, path: &str) -> String {
    r["steps"][path]["status"]
        .as_str()
        .unwrap_or_else(|| panic!("no step {path} in {r:#}"))
        .to_owned()
}
