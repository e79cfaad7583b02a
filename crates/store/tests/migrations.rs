//! The schema on both backends: migrations up, down and up again; a round trip of one row
//! of every table (UUIDs, JSON, timestamps); the unique constraints the engine relies on.
//!
//! Postgres tests read `ORBFLOW_TEST_DATABASE_URL` (e.g.
//! `postgres://postgres@127.0.0.1:5432/test`) and run in a schema of their own, dropped at
//! the end. Unset: they print that they were skipped, unless `CI=true`, where an unset or
//! unreachable database fails them.

use std::path::PathBuf;
use std::time::Duration;

use chrono::{DateTime, Utc};
use orbflow_store::entity::*;
use orbflow_store::{Migrator, MigratorTrait, StoreOptions, connect, connect_with, new_id};
use sea_orm::prelude::*;
use sea_orm::{
    ActiveValue::NotSet, ActiveValue::Set, ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbBackend,
    IntoActiveModel, SqlErr, Statement, TransactionTrait, TryInsertResult,
};
use serde_json::json;

// ---------------------------------------------------------------------------------------
// Harness

const TABLES: &[&str] = &[
    "api_tokens",
    "lease_tokens",
    "step_executions",
    "workflow_event_subscriptions",
    "workflow_events",
    "workflow_run_logs",
    "workflow_runs",
    "workflow_schedule_fires",
    "workflow_schedules",
    "workflow_steps",
    "workflow_versions",
    "workflow_webhooks",
    "workflows",
    "workspace_connections",
    "workspace_email_templates",
    "workspace_notifications",
    "workspace_record_writes",
    "workspace_records",
    "workspace_secrets",
    "workspaces",
];

const INDEXES: &[&str] = &[
    "idx_api_tokens_workspace_id",
    "idx_step_executions_run_id_status",
    "idx_step_executions_status_lease_expires_at",
    "idx_step_executions_status_next_attempt_at",
    "idx_step_executions_status_queued_at",
    "idx_workflow_event_subscriptions_event_type",
    "idx_workflow_run_logs_run_id_id",
    "idx_workflow_runs_deadline_at",
    "idx_workflow_runs_status_updated_at",
    "idx_workflow_runs_workflow_id_created_at",
    "idx_workflow_runs_workspace_id_created_at",
    "idx_workflow_runs_workspace_id_trigger_type_created_at",
    "idx_workflow_schedules_enabled_next_fire_at",
    "idx_workflow_steps_version_id_sequence",
    "idx_workflow_versions_workflow_id_checksum",
    "idx_workflows_workspace_id_status",
    "idx_workspace_notifications_workspace_id_recipient_id",
    "idx_workspace_records_workspace_id_collection_id",
    "uq_step_executions_run_id_path",
    "uq_workflow_events_workspace_id_event_id",
    "uq_workflow_runs_workflow_id_idempotency_key",
    "uq_workflow_schedules_version_id_trigger_index",
    "uq_workflow_steps_version_id_key",
    "uq_workflow_versions_workflow_id_number",
    "uq_workflow_webhooks_short_url_slug_key",
    "uq_workflow_webhooks_workflow_id_key",
    "uq_workflows_workspace_id_slug",
    "uq_workspace_connections_workspace_id_name",
    "uq_workspace_email_templates_workspace_id_name",
    "uq_workspace_notifications_workspace_id_dedup_key",
    "uq_workspace_record_writes_workspace_id_dedup_key",
    "uq_workspace_secrets_workspace_id_name",
];

/// A SQLite database file in the temp directory, removed (with its WAL and SHM files) on drop.
struct TempSqlite {
    path: PathBuf,
}

impl TempSqlite {
    fn new() -> Self {
        let path = std::env::temp_dir().join(format!("orbflow-store-test-{}.db", new_id().simple()));
        Self { path }
    }

    fn url(&self) -> String {
        format!("sqlite://{}?mode=rwc", self.path.display())
    }
}

impl Drop for TempSqlite {
    fn drop(&mut self) {
        for suffix in ["", "-wal", "-shm"] {
            let mut p = self.path.clone().into_os_string();
            p.push(suffix);
            let _ = std::fs::remove_file(p);
        }
    }
}

fn ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

/// The Postgres server URL, or `None` (after printing the skip line) when it is not set
/// outside CI.
fn postgres_base_url() -> Option<String> {
    match std::env::var("ORBFLOW_TEST_DATABASE_URL") {
        Ok(url) if !url.trim().is_empty() => Some(url),
        _ if ci() => panic!("ORBFLOW_TEST_DATABASE_URL must be set when CI=true"),
        _ => {
            println!("skipped: ORBFLOW_TEST_DATABASE_URL not set");
            None
        }
    }
}

/// `base` with every pooled connection's `search_path` set to `schema`.
fn with_search_path(base: &str, schema: &str) -> String {
    let sep = if base.contains('?') { '&' } else { '?' };
    format!("{base}{sep}options=-csearch_path%3D{schema}")
}

/// Runs `body` with the URL of a fresh Postgres schema, and drops the schema afterwards
/// (also when `body` panics). Returns without running `body` when Postgres is not
/// configured (see [`postgres_base_url`]).
async fn with_postgres<F, Fut>(body: F)
where
    F: FnOnce(String) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let Some(base) = postgres_base_url() else { return };
    let mut admin_opts = ConnectOptions::new(base.as_str());
    admin_opts
        .max_connections(1)
        .acquire_timeout(Duration::from_secs(5))
        .connect_timeout(Duration::from_secs(5))
        .sqlx_logging(false);
    let admin = Database::connect(admin_opts)
        .await
        .unwrap_or_else(|e| panic!("ORBFLOW_TEST_DATABASE_URL is set but unreachable ({base}): {e}"));
    let schema = format!("orbflow_test_{}", new_id().simple());
    admin
        .execute_unprepared(&format!("CREATE SCHEMA {schema}"))
        .await
        .unwrap();
    let outcome = tokio::spawn(body(with_search_path(&base, &schema))).await;
    admin
        .execute_unprepared(&format!("DROP SCHEMA {schema} CASCADE"))
        .await
        .unwrap();
    admin.close().await.unwrap();
    if let Err(e) = outcome {
        std::panic::resume_unwind(e.into_panic());
    }
}

async fn strings(db: &impl ConnectionTrait, sql: &str) -> Vec<String> {
    let rows = db
        .query_all_raw(Statement::from_string(db.get_database_backend(), sql))
        .await
        .unwrap();
    rows.iter().map(|r| r.try_get::<String>("", "name").unwrap()).collect()
}

async fn tables(db: &DatabaseConnection) -> Vec<String> {
    let sql = match db.get_database_backend() {
        DbBackend::Sqlite => {
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' \
             AND name <> 'seaql_migrations' ORDER BY name"
        }
        _ => {
            "SELECT table_name::text AS name FROM information_schema.tables \
             WHERE table_schema = current_schema() AND table_name <> 'seaql_migrations' ORDER BY table_name"
        }
    };
    strings(db, sql).await
}

async fn indexes(db: &DatabaseConnection) -> Vec<String> {
    let sql = match db.get_database_backend() {
        DbBackend::Sqlite => {
            "SELECT name FROM sqlite_master WHERE type = 'index' \
             AND (name LIKE 'idx\\_%' ESCAPE '\\' OR name LIKE 'uq\\_%' ESCAPE '\\') ORDER BY name"
        }
        _ => {
            "SELECT indexname::text AS name FROM pg_indexes WHERE schemaname = current_schema() \
             AND (indexname LIKE 'idx\\_%' OR indexname LIKE 'uq\\_%') ORDER BY indexname"
        }
    };
    strings(db, sql).await
}

// ---------------------------------------------------------------------------------------
// Checks shared by both backends

async fn up_down_up(db: &DatabaseConnection) {
    assert_eq!(tables(db).await, TABLES, "after connect (up)");
    assert_eq!(indexes(db).await, INDEXES, "after connect (up)");

    Migrator::down(db, None).await.expect("down");
    assert!(tables(db).await.is_empty(), "after down: {:?}", tables(db).await);
    assert!(indexes(db).await.is_empty(), "after down");

    orbflow_store::migrate(db).await.expect("up again");
    assert_eq!(tables(db).await, TABLES, "after up again");
    assert_eq!(indexes(db).await, INDEXES, "after up again");

    // Nothing is pending any more: a second run is a no-op.
    orbflow_store::migrate(db).await.expect("idempotent up");
}

fn t(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

/// Inserts `$model` (every column set), checks that the insert returns it unchanged, reads
/// it back by primary key and checks that too. Evaluates to the model.
macro_rules! round_trip {
    ($db:expr, $module:ident, $model:expr) => {{
        let model: $module::Model = $model;
        let am = $module::ActiveModel::from(model.clone()).reset_all();
        let inserted = am.insert($db).await.expect(concat!("insert ", stringify!($module)));
        assert_eq!(inserted, model, concat!("insert returned ", stringify!($module)));
        let read = $module::Entity::find_by_id(model.id)
            .one($db)
            .await
            .unwrap()
            .expect(concat!("read back ", stringify!($module)));
        assert_eq!(read, model, concat!("read back ", stringify!($module)));
        model
    }};
}

/// The ids that the constraint checks build on.
struct Seed {
    workflow_id: Uuid,
    version_id: Uuid,
    workspace_id: Uuid,
    run: workflow_runs::Model,
    step: step_executions::Model,
    schedule_id: Uuid,
    fire_time: DateTime<Utc>,
}

async fn round_trip_every_table(db: &DatabaseConnection) -> Seed {
    // Microsecond fractions, a DST-gap instant in Europe/London, and a whole second: all
    // must come back unchanged.
    let t0 = t("2026-03-29T01:30:00.123456Z");
    let t1 = t("2026-10-25T01:30:00Z");
    let t2 = orbflow_store::now();
    let doc = json!({
        "nested": { "list": [1, 2.5, -3, null, true, "ünïcödé ✓"], "empty": {} },
        "big": 9_007_199_254_740_993_i64,
        "quote": "a \"b\" \\ c",
    });

    let ws = round_trip!(
        db,
        workspaces,
        workspaces::Model {
            id: new_id(),
            slug: "acme".into(),
            name: "Acme".into(),
            created_at: t0
        }
    );
    round_trip!(
        db,
        api_tokens,
        api_tokens::Model {
            id: new_id(),
            workspace_id: ws.id,
            name: "ci".into(),
            token_hash: "ab".repeat(32),
            token_prefix: "orb_abcd".into(),
            permissions: json!(["workflows:read", "runs:write"]),
            created_at: t0,
            last_used_at: Some(t2),
            revoked_at: None,
        }
    );
    round_trip!(
        db,
        workspace_secrets,
        workspace_secrets::Model {
            id: new_id(),
            workspace_id: ws.id,
            name: "SLACK_TOKEN".into(),
            sealed: "v1.0123456789abcdef.AAAA".into(),
            created_at: t0,
            updated_at: t2,
        }
    );
    round_trip!(
        db,
        workspace_connections,
        workspace_connections::Model {
            id: new_id(),
            workspace_id: ws.id,
            name: "slack-main".into(),
            kind: "slack".into(),
            settings: json!({ "token": "{{ secrets.SLACK_BOT_TOKEN }}", "channel": "#alerts" }),
            is_default: true,
            created_at: t0,
            updated_at: t2,
        }
    );
    round_trip!(
        db,
        workspace_notifications,
        workspace_notifications::Model {
            id: new_id(),
            workspace_id: ws.id,
            recipient: "user_42".into(),
            title: "Post published".into(),
            body: "Your post is live".into(),
            level: "warning".into(),
            link: Some("/posts/42".into()),
            data: Some(doc.clone()),
            run_id: Some(new_id()),
            step_path: Some("each[3].tell".into()),
            dedup_key: "run:each[3].tell".into(),
            read_at: Some(t2),
            created_at: t0,
        }
    );
    round_trip!(
        db,
        workspace_records,
        workspace_records::Model {
            id: new_id(),
            workspace_id: ws.id,
            collection: "leads".into(),
            data: doc.clone(),
            created_at: t0,
            updated_at: t2,
        }
    );
    round_trip!(
        db,
        workspace_record_writes,
        workspace_record_writes::Model {
            id: new_id(),
            workspace_id: ws.id,
            dedup_key: "run:save".into(),
            result: json!({ "affected": 1, "records": [] }),
            created_at: t1,
        }
    );
    round_trip!(
        db,
        workspace_email_templates,
        workspace_email_templates::Model {
            id: new_id(),
            workspace_id: ws.id,
            name: "welcome".into(),
            subject: "Welcome, {{ data.name }}".into(),
            text: Some("Hi".into()),
            html: None,
            created_at: t0,
            updated_at: t1,
        }
    );
    let wf = round_trip!(
        db,
        workflows,
        workflows::Model {
            id: new_id(),
            workspace_id: ws.id,
            slug: "mention-triage".into(),
            name: "Mention triage".into(),
            status: "ACTIVE".into(),
            active_version: Some(1),
            draft_document: "schemaVersion: 1\nname: mention-triage\n".into(),
            draft_format: "yaml".into(),
            draft_revision: 7,
            description: Some("Route new mentions by sentiment".into()),
            created_by: Some("0191d0c6-0000-7000-8000-000000000001".into()),
            updated_by: None,
            created_at: t0,
            updated_at: t1,
        }
    );
    let version = round_trip!(
        db,
        workflow_versions,
        workflow_versions::Model {
            id: new_id(),
            workflow_id: wf.id,
            number: 1,
            document: doc.to_string(),
            checksum: "0".repeat(64),
            published_at: t1,
            published_by: Some("ci".into()),
        }
    );
    round_trip!(
        db,
        workflow_steps,
        workflow_steps::Model {
            id: new_id(),
            version_id: version.id,
            key: "double".into(),
            step_type: "action".into(),
            action: "TRANSFORM".into(),
            config: Some(json!({ "value": "{{ n * 2 }}" })),
            sequence: 3,
            position: 0,
            dependencies: json!(["each"]),
            depends_on: Some(json!([])),
            parent_key: Some("each".into()),
            branch_type: Some("LOOP_BODY".into()),
            branch_condition: Some(json!(false)),
            branch_index: Some(0),
            name: Some("Double".into()),
            description: None,
            retry: Some(json!({ "maxAttempts": 3, "backoff": "exponential" })),
            timeout_ms: Some(30_000),
            on_error: Some("continue".into()),
        }
    );
    let schedule = round_trip!(
        db,
        workflow_schedules,
        workflow_schedules::Model {
            id: new_id(),
            workflow_id: wf.id,
            version_id: version.id,
            trigger_index: 1,
            cron: "0 9 * * 1-5".into(),
            timezone: "Europe/London".into(),
            input: Some(doc.clone()),
            catch_up: "latest".into(),
            enabled: true,
            next_fire_at: Some(t1),
            last_fired_at: None,
            created_at: t0,
        }
    );
    round_trip!(
        db,
        workflow_webhooks,
        workflow_webhooks::Model {
            id: new_id(),
            workflow_id: wf.id,
            version_id: version.id,
            key: "crm".into(),
            scheme: "standard-webhooks".into(),
            secret_name: Some("CRM_SECRET".into()),
            tolerance_ms: Some(300_000),
            header: None,
            short_url_slug: Some("crm".into()),
            timestamp_header: Some("X-Timestamp".into()),
            created_at: t0,
        }
    );
    round_trip!(
        db,
        workflow_event_subscriptions,
        workflow_event_subscriptions::Model {
            id: new_id(),
            workflow_id: wf.id,
            version_id: version.id,
            event_type: "mention.received".into(),
            filter: Some("event.data.platform == 'mastodon'".into()),
            created_at: t0,
        }
    );
    let run = round_trip!(
        db,
        workflow_runs,
        workflow_runs::Model {
            id: new_id(),
            workspace_id: ws.id,
            workflow_id: wf.id,
            version_id: version.id,
            version_number: 1,
            status: "RUNNING".into(),
            trigger_type: "schedule".into(),
            trigger_data: Some(json!({ "firedAt": "2026-10-25T01:30:00Z" })),
            input: doc.clone(),
            output: None,
            error: Some(json!({ "code": "x", "message": "y" })),
            idempotency_key: Some("delivery-1".into()),
            trace_id: Some("4bf92f3577b34da6a3ce929d0e0e4736".into()),
            trace_context: Some("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".into()),
            trace_parent_span_id: Some("b7ad6b7169203331".into()),
            total_steps: 10_000,
            finished_steps: 3,
            created_at: t0,
            started_at: Some(t1),
            ended_at: None,
            deadline_at: Some(t2),
            updated_at: t2,
        }
    );

    // Composite primary key: read back by (schedule_id, fire_time).
    let fire = workflow_schedule_fires::Model {
        schedule_id: schedule.id,
        fire_time: t1,
        run_id: Some(run.id),
        created_at: t2,
    };
    let inserted = workflow_schedule_fires::ActiveModel::from(fire.clone())
        .reset_all()
        .insert(db)
        .await
        .unwrap();
    assert_eq!(inserted, fire);
    let read = workflow_schedule_fires::Entity::find_by_id((schedule.id, t1))
        .one(db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(read, fire);

    let step = round_trip!(
        db,
        step_executions,
        step_executions::Model {
            id: new_id(),
            run_id: run.id,
            path: "each[3].double".into(),
            step_key: "double".into(),
            parent_path: Some("each[3]".into()),
            loop_index: Some(3),
            status: "RUNNING".into(),
            attempt: 2,
            max_attempts: 3,
            pending_deps: 0,
            pending_children: 0,
            satisfied_deps: 1,
            skipped_deps: 0,
            output: Some(json!(6)),
            error: Some(json!({ "retryable": true })),
            wait_output: Some(json!({ "until": "2026-12-01T09:00:00Z" })),
            created_at: t0,
            queued_at: Some(t0),
            started_at: Some(t1),
            ended_at: None,
            next_attempt_at: Some(t2),
            lease_owner: Some("host-1234-abcd".into()),
            lease_token: Some(i64::MAX - 1),
            lease_expires_at: Some(t2),
            updated_at: t2,
        }
    );

    // Auto-increment key: ids are assigned in insertion order.
    let mut log_ids = Vec::new();
    for message in ["first", "second"] {
        let log = workflow_run_logs::ActiveModel {
            id: NotSet,
            run_id: Set(run.id),
            step_path: Set(Some(step.path.clone())),
            attempt: Set(Some(2)),
            level: Set("info".into()),
            message: Set(message.into()),
            data: Set(Some(doc.clone())),
            created_at: Set(t2),
        }
        .insert(db)
        .await
        .unwrap();
        let read = workflow_run_logs::Entity::find_by_id(log.id)
            .one(db)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(read, log);
        assert_eq!(read.message, message);
        assert_eq!(read.data.as_ref(), Some(&doc));
        log_ids.push(log.id);
    }
    assert!(log_ids[0] < log_ids[1], "{log_ids:?}");

    let lease = lease_tokens::Model {
        name: "scheduler-leader".into(),
        value: 41,
    };
    lease_tokens::ActiveModel::from(lease.clone())
        .reset_all()
        .insert(db)
        .await
        .unwrap();
    let read = lease_tokens::Entity::find_by_id("scheduler-leader".to_owned())
        .one(db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(read, lease);

    // Timestamps compare in time order in SQL on both backends (SQLite stores text).
    let due = step_executions::Entity::find()
        .filter(step_executions::Column::NextAttemptAt.lte(t2))
        .filter(step_executions::Column::NextAttemptAt.gt(t1))
        .all(db)
        .await
        .unwrap();
    assert_eq!(due.len(), 1);
    // UUIDs filter as bound values.
    let by_run = step_executions::Entity::find()
        .filter(step_executions::Column::RunId.eq(run.id))
        .count(db)
        .await
        .unwrap();
    assert_eq!(by_run, 1);

    Seed {
        workflow_id: wf.id,
        version_id: version.id,
        workspace_id: ws.id,
        run,
        step,
        schedule_id: schedule.id,
        fire_time: t1,
    }
}

fn assert_unique_violation(err: DbErr, what: &str) {
    assert!(
        matches!(err.sql_err(), Some(SqlErr::UniqueConstraintViolation(_))),
        "{what}: expected a unique violation, got {err:?}"
    );
}

async fn constraints(db: &DatabaseConnection, seed: &Seed) {
    // (run_id, path) is unique.
    let dup_step = step_executions::Model {
        id: new_id(),
        ..seed.step.clone()
    };
    let err = step_executions::ActiveModel::from(dup_step.clone())
        .reset_all()
        .insert(db)
        .await
        .unwrap_err();
    assert_unique_violation(err, "step_executions (run_id, path)");
    // The same path in another loop iteration is a different row.
    step_executions::ActiveModel::from(step_executions::Model {
        path: "each[4].double".into(),
        loop_index: Some(4),
        ..dup_step
    })
    .reset_all()
    .insert(db)
    .await
    .unwrap();

    // (schedule_id, fire_time) is the primary key: a second claim of a tick fails...
    let fire = workflow_schedule_fires::Model {
        schedule_id: seed.schedule_id,
        fire_time: seed.fire_time,
        run_id: None,
        created_at: orbflow_store::now(),
    };
    let err = workflow_schedule_fires::ActiveModel::from(fire.clone())
        .reset_all()
        .insert(db)
        .await
        .unwrap_err();
    assert_unique_violation(err, "workflow_schedule_fires (schedule_id, fire_time)");
    // ...and `ON CONFLICT DO NOTHING` reports it as a conflict (how a scheduler replica
    // learns that another one took the tick).
    let claim = |fire: workflow_schedule_fires::Model| async move {
        workflow_schedule_fires::Entity::insert(workflow_schedule_fires::ActiveModel::from(fire).reset_all())
            .on_conflict_do_nothing_on([
                workflow_schedule_fires::Column::ScheduleId,
                workflow_schedule_fires::Column::FireTime,
            ])
            .exec(db)
            .await
            .unwrap()
    };
    assert!(
        matches!(claim(fire.clone()).await, TryInsertResult::Conflicted),
        "same tick"
    );
    let next = workflow_schedule_fires::Model {
        fire_time: t("2026-10-26T09:00:00Z"),
        ..fire
    };
    assert!(matches!(claim(next).await, TryInsertResult::Inserted(_)), "next tick");

    // (workflow_id, idempotency_key): duplicates rejected, any number of NULLs allowed.
    let other_run = |key: Option<&str>| workflow_runs::Model {
        id: new_id(),
        idempotency_key: key.map(str::to_owned),
        ..seed.run.clone()
    };
    let err = workflow_runs::ActiveModel::from(other_run(Some("delivery-1")))
        .reset_all()
        .insert(db)
        .await
        .unwrap_err();
    assert_unique_violation(err, "workflow_runs (workflow_id, idempotency_key)");
    for _ in 0..2 {
        workflow_runs::ActiveModel::from(other_run(None))
            .reset_all()
            .insert(db)
            .await
            .unwrap();
    }

    // Foreign keys are enforced (on SQLite only when `foreign_keys = ON`).
    let orphan = step_executions::Model {
        id: new_id(),
        run_id: new_id(),
        ..seed.step.clone()
    };
    let err = step_executions::ActiveModel::from(orphan)
        .reset_all()
        .insert(db)
        .await
        .unwrap_err();
    assert!(
        matches!(err.sql_err(), Some(SqlErr::ForeignKeyConstraintViolation(_))),
        "expected a foreign key violation, got {err:?}"
    );

    // Other uniques: (workspace_id, slug), (workflow_id, number), (workflow_id, key)…
    let dup_version = workflow_versions::Model {
        id: new_id(),
        workflow_id: seed.workflow_id,
        number: 1,
        document: "{}".into(),
        checksum: "1".repeat(64),
        published_at: orbflow_store::now(),
        published_by: None,
    };
    let err = workflow_versions::ActiveModel::from(dup_version)
        .reset_all()
        .insert(db)
        .await
        .unwrap_err();
    assert_unique_violation(err, "workflow_versions (workflow_id, number)");
    let _ = (seed.version_id, seed.workspace_id);

    // Deleting a run deletes its step executions and logs, and unlinks its schedule fire.
    let txn = db.begin().await.unwrap();
    workflow_runs::Entity::delete_by_id(seed.run.id)
        .exec(&txn)
        .await
        .unwrap();
    txn.commit().await.unwrap();
    let steps_left = step_executions::Entity::find()
        .filter(step_executions::Column::RunId.eq(seed.run.id))
        .count(db)
        .await
        .unwrap();
    assert_eq!(steps_left, 0);
    let logs_left = workflow_run_logs::Entity::find()
        .filter(workflow_run_logs::Column::RunId.eq(seed.run.id))
        .count(db)
        .await
        .unwrap();
    assert_eq!(logs_left, 0);
    let fire = workflow_schedule_fires::Entity::find_by_id((seed.schedule_id, seed.fire_time))
        .one(db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(fire.run_id, None);
}

/// Relations resolve in both directions (the `Related` impls).
async fn relations(db: &DatabaseConnection) {
    let rows = workflow_runs::Entity::find()
        .find_with_related(step_executions::Entity)
        .all(db)
        .await
        .unwrap();
    assert!(!rows.is_empty());
    let versions = workflows::Entity::find()
        .find_with_related(workflow_versions::Entity)
        .all(db)
        .await
        .unwrap();
    assert_eq!(versions.len(), 1);
    assert_eq!(versions[0].1.len(), 1);
    let steps = workflow_versions::Entity::find()
        .find_also_related(workflows::Entity)
        .all(db)
        .await
        .unwrap();
    assert!(steps.iter().all(|(_, w)| w.is_some()));
}

async fn conformance(db: DatabaseConnection) {
    up_down_up(&db).await;
    let seed = round_trip_every_table(&db).await;
    relations(&db).await;
    constraints(&db, &seed).await;
    // Down drops everything even with data in every table.
    Migrator::down(&db, None).await.expect("down with data");
    assert!(tables(&db).await.is_empty());
    db.close().await.unwrap();
}

// ---------------------------------------------------------------------------------------
// SQLite

#[tokio::test]
async fn sqlite_file_conformance() {
    let file = TempSqlite::new();
    let db = connect(&file.url()).await.expect("connect");
    conformance(db).await;
}

#[tokio::test]
async fn sqlite_memory_conformance() {
    let db = connect("sqlite::memory:").await.expect("connect");
    conformance(db).await;
}

#[tokio::test]
async fn sqlite_pragmas_on_every_pooled_connection() {
    let file = TempSqlite::new();
    let db = connect_with(
        &file.url(),
        &StoreOptions {
            max_connections: Some(3),
            migrate: true,
        },
    )
    .await
    .unwrap();
    // Three open transactions hold three distinct pooled connections.
    let mut txns = Vec::new();
    for _ in 0..3 {
        txns.push(db.begin().await.unwrap());
    }
    for txn in &txns {
        let pragma = |name: &'static str| async move {
            txn.query_one_raw(Statement::from_string(DbBackend::Sqlite, format!("PRAGMA {name}")))
                .await
                .unwrap()
                .unwrap()
        };
        let jm: String = pragma("journal_mode").await.try_get_by_index(0).unwrap();
        assert_eq!(jm, "wal");
        let sync: i32 = pragma("synchronous").await.try_get_by_index(0).unwrap();
        assert_eq!(sync, 1, "synchronous = NORMAL");
        let fk: i32 = pragma("foreign_keys").await.try_get_by_index(0).unwrap();
        assert_eq!(fk, 1);
        let busy: i32 = pragma("busy_timeout").await.try_get_by_index(0).unwrap();
        assert_eq!(busy, 5000);
    }
    for txn in txns {
        txn.rollback().await.unwrap();
    }
    db.close().await.unwrap();
}

#[tokio::test]
async fn sqlite_reopen_keeps_data_and_skips_applied_migrations() {
    let file = TempSqlite::new();
    let db = connect(&file.url()).await.unwrap();
    let ws = workspaces::Model {
        id: new_id(),
        slug: "a".into(),
        name: "A".into(),
        created_at: orbflow_store::now(),
    };
    ws.clone().into_active_model().reset_all().insert(&db).await.unwrap();
    db.close().await.unwrap();

    let db = connect(&file.url()).await.unwrap();
    let read = workspaces::Entity::find_by_id(ws.id).one(&db).await.unwrap();
    assert_eq!(read, Some(ws));
    db.close().await.unwrap();
}

#[tokio::test]
async fn sqlite_uuid_is_stored_as_16_byte_blob() {
    let db = connect("sqlite::memory:").await.unwrap();
    let id = new_id();
    workspaces::Model {
        id,
        slug: "s".into(),
        name: "n".into(),
        created_at: orbflow_store::now(),
    }
    .into_active_model()
    .reset_all()
    .insert(&db)
    .await
    .unwrap();
    let row = db
        .query_one_raw(Statement::from_string(
            DbBackend::Sqlite,
            "SELECT typeof(id) AS ty, length(id) AS len, typeof(created_at) AS ts FROM workspaces",
        ))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.try_get::<String>("", "ty").unwrap(), "blob");
    assert_eq!(row.try_get::<i32>("", "len").unwrap(), 16);
    assert_eq!(row.try_get::<String>("", "ts").unwrap(), "text");
}

#[tokio::test]
async fn unsupported_url_is_an_error() {
    let err = connect("mysql://root@127.0.0.1/x").await.unwrap_err();
    assert!(matches!(err, orbflow_store::Error::UnsupportedUrl(_)), "{err}");
}

// ---------------------------------------------------------------------------------------
// Postgres

#[tokio::test]
async fn postgres_conformance() {
    with_postgres(|url| async move {
        let db = connect(&url).await.expect("connect");
        conformance(db).await;
    })
    .await;
}

#[tokio::test]
async fn postgres_search_path_applies_to_every_pooled_connection() {
    with_postgres(|url| async move {
        let db = connect_with(
            &url,
            &StoreOptions {
                max_connections: Some(3),
                migrate: true,
            },
        )
        .await
        .unwrap();
        let expected = url.rsplit("%3D").next().unwrap().to_owned();
        let mut txns = Vec::new();
        for _ in 0..3 {
            txns.push(db.begin().await.unwrap());
        }
        for txn in &txns {
            let row = txn
                .query_one_raw(Statement::from_string(
                    DbBackend::Postgres,
                    "SELECT current_schema()::text AS s",
                ))
                .await
                .unwrap()
                .unwrap();
            assert_eq!(row.try_get::<String>("", "s").unwrap(), expected);
        }
        for txn in txns {
            txn.rollback().await.unwrap();
        }
        db.close().await.unwrap();
    })
    .await;
}

#[tokio::test]
async fn postgres_column_types() {
    with_postgres(|url| async move {
        let db = connect(&url).await.unwrap();
        let rows = db
            .query_all_raw(Statement::from_string(
                DbBackend::Postgres,
                "SELECT column_name::text AS c, data_type::text AS t FROM information_schema.columns \
                 WHERE table_schema = current_schema() AND table_name = 'step_executions' \
                 AND column_name IN ('id', 'output', 'created_at', 'lease_token', 'attempt')",
            ))
            .await
            .unwrap();
        let mut got: Vec<(String, String)> = rows
            .iter()
            .map(|r| (r.try_get("", "c").unwrap(), r.try_get("", "t").unwrap()))
            .collect();
        got.sort();
        let want = [
            ("attempt", "integer"),
            ("created_at", "timestamp with time zone"),
            ("id", "uuid"),
            ("lease_token", "bigint"),
            ("output", "jsonb"),
        ];
        let want: Vec<(String, String)> = want.iter().map(|(a, b)| (String::from(*a), String::from(*b))).collect();
        assert_eq!(got, want);
        db.close().await.unwrap();
    })
    .await;
}

#[tokio::test]
async fn postgres_concurrent_migrations_serialize() {
    with_postgres(|url| async move {
        let opts = StoreOptions {
            max_connections: Some(2),
            migrate: true,
        };
        let (a, b, c) = tokio::join!(
            connect_with(&url, &opts),
            connect_with(&url, &opts),
            connect_with(&url, &opts)
        );
        for db in [a.unwrap(), b.unwrap(), c.unwrap()] {
            assert_eq!(tables(&db).await, TABLES);
            db.close().await.unwrap();
        }
    })
    .await;
}
