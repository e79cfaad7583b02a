//! Shared harness of the API's tests: the real server on 127.0.0.1 over a
//! real database (SQLite, or a fresh Postgres schema), the engine and an
//! in-process worker executing the real actions (wired by `Embedded`), and a
//! real HTTP client.

#![allow(dead_code, unreachable_pub, missing_docs)]

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use orbflow_actions::{CatalogConfig, net::HttpPolicy};
use orbflow_api::{AppState, Config, Services};
use orbflow_engine::EngineConfig;
use orbflow_engine::admin::Admin;
pub use orbflow_testkit::TestDb;
use orbflow_worker::Embedded;
use reqwest::Method;
use serde_json::Value;
use tokio_util::sync::CancellationToken;

/// A workflow with a webhook `in` (no signature) that outputs `input.n`.
pub const CRM: &str = "schemaVersion: 1\nname: crm\ntriggers:\n  - { type: webhook, key: in, verify: { scheme: none } }\nsteps:\n  - { key: a, action: TRANSFORM, config: { value: \"{{ input.n }}\" } }\n";

/// Runs a scenario taking a [`Harness`] (started with the default
/// [`Setup`]) on SQLite and on Postgres (one test each).
#[macro_export]
macro_rules! both {
    ($name:ident) => {
        orbflow_testkit::both!($name, |db| {
            super::common::Harness::start(db, Default::default()).await
        });
    };
}

/// What a test may change about the server.
#[derive(Debug, Clone, Default)]
pub struct Setup {
    pub config: Option<Config>,
    pub secrets: HashMap<String, String>,
    /// Start without a secrets key (workspace secrets off).
    pub no_secrets_key: bool,
}

pub struct Harness {
    pub base: String,
    pub http: reqwest::Client,
    /// A token with every permission in workspace `acme`.
    pub token: String,
    pub store: Arc<orbflow_store::SeaStore>,
    pub workspace: uuid::Uuid,
    pub shutdown: CancellationToken,
    _embedded: Embedded,
    _db: TestDb,
}

/// A response, read.
#[derive(Debug)]
pub struct Res {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
    pub text: String,
}

impl Res {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

impl Harness {
    pub async fn start(db: TestDb, setup: Setup) -> Self {
        orbflow_actions::net::ensure_crypto_provider();
        let keys = (!setup.no_secrets_key).then(|| {
            orbflow_store::sealing::SecretKeys::new(&orbflow_store::sealing::SecretKeys::generate(), &[]).unwrap()
        });
        let embedded = Embedded::builder()
            .database_url(&db.url)
            .secret_keys(keys)
            .engine(EngineConfig {
                secrets: setup.secrets.clone(),
                ..EngineConfig::default()
            })
            .catalog(CatalogConfig {
                http: HttpPolicy { allow_private: true },
            })
            .concurrency(4)
            .build()
            .await
            .unwrap();
        let store = embedded.store().clone();
        let shutdown = embedded.shutdown_token();
        let state = AppState::new(
            Services {
                admin: store.clone(),
                engine: embedded.engine().clone(),
                dispatch: embedded.dispatch(),
                registry: embedded.registry().clone(),
                secrets: setup.secrets,
                ready: None,
            },
            setup.config.unwrap_or_default(),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(orbflow_api::serve(listener, state, shutdown.clone()));
        let ws = store.create_workspace("acme", "Acme").await.unwrap();
        let (_, token) = orbflow_api::auth::issue_token(store.as_ref(), ws.id, "test", &["*".to_owned()])
            .await
            .unwrap();
        Self {
            base,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .unwrap(),
            token,
            store,
            workspace: ws.id,
            shutdown,
            _embedded: embedded,
            _db: db,
        }
    }

    /// A token in `workspace` (created if missing) with `permissions`.
    pub async fn token_in(&self, workspace: &str, permissions: &[&str]) -> String {
        let ws = self.store.ensure_workspace(workspace).await.unwrap();
        let perms: Vec<String> = permissions.iter().map(|p| (*p).to_owned()).collect();
        orbflow_api::auth::issue_token(self.store.as_ref(), ws.id, "t", &perms)
            .await
            .unwrap()
            .1
    }

    pub fn req(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.token)
    }

    pub async fn send(&self, req: reqwest::RequestBuilder) -> Res {
        let r = req.send().await.expect("request");
        let status = r.status().as_u16();
        let headers = r.headers().clone();
        let text = r.text().await.unwrap();
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Res {
            status,
            headers,
            body,
            text,
        }
    }

    pub async fn get(&self, path: &str) -> Res {
        self.send(self.req(Method::GET, path)).await
    }

    pub async fn post_json(&self, path: &str, body: Value) -> Res {
        self.send(self.req(Method::POST, path).json(&body)).await
    }

    pub async fn post_yaml(&self, path: &str, yaml: &str) -> Res {
        self.send(
            self.req(Method::POST, path)
                .header("content-type", "application/yaml")
                .body(yaml.to_owned()),
        )
        .await
    }

    /// Creates `slug` from `yaml` and publishes it; returns the version number.
    pub async fn publish(&self, slug: &str, yaml: &str) -> i64 {
        let r = self.post_yaml(&format!("/v1/workflows?slug={slug}"), yaml).await;
        assert_eq!(r.status, 201, "create {slug}: {}", r.text);
        let r = self
            .post_json(&format!("/v1/workflows/{slug}/versions"), Value::Null)
            .await;
        assert_eq!(r.status, 201, "publish {slug}: {}", r.text);
        r.body["number"].as_i64().unwrap()
    }

    /// Waits (bounded) until the run is terminal and returns its record.
    pub async fn wait_run(&self, id: &str) -> Value {
        for _ in 0..600 {
            let r = self.get(&format!("/v1/runs/{id}")).await;
            assert_eq!(r.status, 200, "{}", r.text);
            if matches!(r.body["status"].as_str(), Some("COMPLETED" | "FAILED" | "CANCELLED")) {
                return r.body;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("run {id} did not finish in 30 s");
    }

    /// Starts a run and waits for it.
    pub async fn run(&self, slug: &str, input: Value) -> Value {
        let r = self
            .post_json(
                &format!("/v1/workflows/{slug}/runs"),
                serde_json::json!({ "input": input }),
            )
            .await;
        assert_eq!(r.status, 201, "start: {}", r.text);
        self.wait_run(r.body["id"].as_str().unwrap()).await
    }
}

/// Asserts a problem document with `status` and `code`.
pub fn problem(r: &Res, status: u16, code: &str) {
    assert_eq!(r.status, status, "{}", r.text);
    assert_eq!(r.header("content-type"), Some("application/problem+json"), "{}", r.text);
    assert_eq!(r.body["code"], code, "{}", r.text);
    assert_eq!(r.body["status"], status);
    assert!(r.body["type"].as_str().unwrap().ends_with(code));
}

pub const HELLO: &str = r#"
schemaVersion: 1
name: hello
inputs:
  type: object
  required: [name]
  properties: { name: { type: string } }
triggers: [ { type: manual } ]
steps:
  - key: greet
    action: TRANSFORM
    config: { value: "Hello, {{ input.name }}!" }
"#;
