//! Shared set-up: a store on a fresh database, a workspace, a published
//! workflow version, a run, and the records the traits take. Every struct
//! the traits take is built here, in one function each, so a new field is a
//! one-place change.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use orbflow_engine::admin::{
    Admin, ConnectionRecord, EmailTemplateRecord, NewNotification, NewWorkflow, RunFilter, TokenRecord, WorkspaceRecord,
};
use orbflow_engine::store::{LogRecord, RunRecord, StepRecord, Store, VersionRecord};
use orbflow_model::RunStatus;
use orbflow_store::SeaStore;
use orbflow_store::testing::TestDb;
use serde_json::json;
use uuid::Uuid;

/// A migrated store on a database that exists for one test.
pub(crate) struct Db {
    store: Arc<SeaStore>,
    _db: TestDb,
}

impl Db {
    async fn open(db: TestDb) -> Self {
        let conn = orbflow_store::connect(&db.url).await.expect("connect and migrate");
        Self {
            store: SeaStore::new(conn),
            _db: db,
        }
    }

    /// On a temporary SQLite file.
    pub(crate) async fn sqlite() -> Self {
        Self::open(TestDb::sqlite()).await
    }

    /// On a fresh Postgres schema; `None` when none is configured (outside CI).
    pub(crate) async fn postgres() -> Option<Self> {
        Some(Self::open(TestDb::postgres().await?).await)
    }

    /// The store (workspace secrets off).
    pub(crate) fn store(&self) -> Arc<SeaStore> {
        self.store.clone()
    }

    /// The same database through a store that seals secrets under `keys`.
    pub(crate) fn with_keys(&self, keys: &orbflow_store::sealing::SecretKeys) -> Arc<SeaStore> {
        SeaStore::with_secret_keys(self.store.connection().clone(), Some(keys.clone()))
    }
}

impl std::ops::Deref for Db {
    type Target = SeaStore;
    fn deref(&self) -> &SeaStore {
        &self.store
    }
}

/// A fresh secrets key.
pub(crate) fn secret_keys() -> orbflow_store::sealing::SecretKeys {
    use orbflow_store::sealing::SecretKeys;
    SecretKeys::new(&SecretKeys::generate(), &[]).expect("a generated key")
}

/// A workflow document with one TRANSFORM step `a` (of `value`) and these triggers.
pub(crate) fn doc(value: i64, triggers: serde_json::Value) -> String {
    json!({
        "schemaVersion": 1,
        "name": "wf",
        "triggers": triggers,
        "steps": [{"key": "a", "action": "TRANSFORM", "config": {"value": value}}],
    })
    .to_string()
}

/// A workflow document without triggers.
pub(crate) fn plain_doc(value: i64) -> String {
    doc(value, json!([]))
}

/// A schedule trigger.
pub(crate) fn schedule_trigger(cron: &str) -> serde_json::Value {
    json!({"type": "schedule", "cron": cron, "timezone": "Europe/Paris", "input": {"from": "cron"}, "catchUp": "latest"})
}

/// A webhook trigger with every verification field set.
pub(crate) fn webhook_trigger(key: &str) -> serde_json::Value {
    json!({"type": "webhook", "key": key, "verify": {
        "scheme": "hmac-sha256", "secret": "HOOK_KEY", "tolerance": "30s",
        "header": "X-Sig", "timestampHeader": "X-Ts"
    }})
}

/// An event trigger.
pub(crate) fn event_trigger(event: &str, filter: Option<&str>) -> serde_json::Value {
    match filter {
        Some(f) => json!({"type": "event", "event": event, "filter": f}),
        None => json!({"type": "event", "event": event}),
    }
}

/// The workspace `slug` (created if missing).
pub(crate) async fn workspace(s: &Db, slug: &str) -> WorkspaceRecord {
    s.ensure_workspace(slug).await.expect("ensure_workspace")
}

/// Workflow `wf` of workspace `ws` published with a plain document: its version 1.
pub(crate) async fn version(s: &Db, ws: &str, wf: &str) -> VersionRecord {
    s.ensure_version(ws, wf, "Workflow", &plain_doc(1))
        .await
        .expect("ensure_version")
}

/// A new workflow (API side) of the workspace.
pub(crate) fn new_workflow(workspace_id: Uuid, slug: &str) -> NewWorkflow {
    NewWorkflow {
        workspace_id,
        slug: slug.to_owned(),
        name: format!("Workflow {slug}"),
        draft_document: "name: wf\n".into(),
        draft_format: "yaml".into(),
        description: Some(format!("About {slug}")),
        actor: Some("token-creator".into()),
    }
}

/// An API author: id `id-NAME`, label `label-NAME`.
pub(crate) fn actor(name: &str) -> orbflow_engine::admin::Actor {
    orbflow_engine::admin::Actor {
        id: format!("id-{name}"),
        label: format!("label-{name}"),
    }
}

/// Which runs to list: every one (a filter's fields are set on the result).
pub(crate) fn run_filter() -> RunFilter {
    RunFilter::default()
}

/// A PENDING run of version `v`, with a trace, two top-level steps.
pub(crate) fn run_record(v: &VersionRecord) -> RunRecord {
    RunRecord {
        id: Uuid::now_v7(),
        workspace_id: v.workspace_id,
        workflow_id: v.workflow_id,
        version_id: v.id,
        version_number: v.number,
        status: RunStatus::Pending,
        trigger_type: orbflow_model::TriggerType::Manual,
        trigger_data: Some(json!({"k": 1})),
        input: json!({"text": "hi"}),
        output: None,
        error: None,
        total_steps: 2,
        finished_steps: 0,
        created_at: orbflow_store::now(),
        started_at: None,
        ended_at: None,
        deadline_at: None,
        trace: Some(orbflow_engine::trace::RunTrace::start(
            orbflow_engine::trace::TraceContext::parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
        )),
    }
}

/// Inserts `run` (and `steps`) in a committed transaction.
pub(crate) async fn insert_run(s: &Db, run: &RunRecord, steps: &[StepRecord]) {
    let mut tx = s.begin().await.unwrap();
    tx.insert_run(run, None).await.unwrap();
    tx.insert_steps(steps).await.unwrap();
    tx.commit().await.unwrap();
}

/// A run of a new version, inserted: (version, run).
pub(crate) async fn inserted_run(s: &Db, ws: &str, wf: &str) -> (VersionRecord, RunRecord) {
    let v = version(s, ws, wf).await;
    let run = run_record(&v);
    insert_run(s, &run, &[]).await;
    (v, run)
}

/// A PENDING step row.
pub(crate) fn step(run_id: Uuid, path: &str, key: &str) -> StepRecord {
    StepRecord::new(run_id, path.into(), key.into(), orbflow_store::now())
}

/// A log line of `run_id`.
pub(crate) fn log_line(run_id: Uuid, i: i32, at: DateTime<Utc>) -> LogRecord {
    LogRecord {
        run_id,
        step_path: (i % 2 == 0).then(|| format!("s{i}")),
        attempt: (i % 3 == 0).then_some(i),
        level: orbflow_model::LogLevel::Info,
        message: format!("line {i} \u{e9}'\""),
        data: match i % 3 {
            0 => None,
            1 => Some(serde_json::Value::Null),
            _ => Some(json!({"i": i})),
        },
        created_at: at + chrono::Duration::microseconds(i64::from(i)),
    }
}

/// An API token of the workspace (not yet stored).
pub(crate) fn token(workspace_id: Uuid, name: &str) -> TokenRecord {
    TokenRecord {
        id: Uuid::now_v7(),
        workspace_id,
        name: name.to_owned(),
        prefix: format!("orb_{name}"),
        permissions: vec!["runs:read".into(), "workflows:write".into()],
        created_at: orbflow_store::now(),
        last_used_at: None,
        revoked_at: None,
    }
}

/// A connection (its timestamps are the store's).
pub(crate) fn connection(name: &str, kind: &str, is_default: bool) -> ConnectionRecord {
    ConnectionRecord {
        name: name.to_owned(),
        kind: kind.to_owned(),
        settings: json!({"host": format!("{name}.example"), "password": "{{ secrets.PW }}"}),
        is_default,
        created_at: orbflow_store::now(),
        updated_at: orbflow_store::now(),
    }
}

/// An email template (its timestamps are the store's).
pub(crate) fn email_template(name: &str, subject: &str) -> EmailTemplateRecord {
    EmailTemplateRecord {
        name: name.to_owned(),
        subject: subject.to_owned(),
        text: Some("Hello {{ data.name }}".into()),
        html: None,
        created_at: orbflow_store::now(),
        updated_at: orbflow_store::now(),
    }
}

/// A notification for `recipient`, once per `dedup_key`.
pub(crate) fn notification(recipient: &str, dedup_key: &str) -> NewNotification {
    NewNotification {
        recipient: recipient.to_owned(),
        title: format!("title {dedup_key}"),
        body: "body".into(),
        level: orbflow_model::NotificationLevel::Warning,
        link: Some("/runs/1".into()),
        data: Some(json!({"n": [1, null]})),
        run_id: None,
        step_path: Some("notify".into()),
        dedup_key: dedup_key.to_owned(),
    }
}

/// `t` plus 789 nanoseconds: a time finer than the stores keep. Both
/// backends must read back the same instant, truncated to the microsecond.
pub(crate) fn with_nanos(t: DateTime<Utc>) -> DateTime<Utc> {
    t + chrono::Duration::nanoseconds(789)
}
