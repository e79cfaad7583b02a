//! Upgrading an existing database, on SQLite and on Postgres: a database
//! migrated up to the migration before `m20261205_000001_workflow_audit`,
//! holding a workflow and runs, is migrated to the latest schema. Its rows
//! keep their data, the new workflow columns (`description`, `created_by`,
//! `updated_by`) are null, the runs' trigger-type index exists, and the
//! store reads and filters the old rows.
//!
//! Postgres runs in a schema of its own on `ORBFLOW_TEST_DATABASE_URL`
//! (skipped when unset, outside `CI=true`).

use chrono::{DateTime, Utc};
use orbflow_engine::admin::{Admin, NewWorkflow, Page, RunFilter};
use orbflow_store::entity::{workflow_runs, workflow_versions, workflows, workspaces};
use orbflow_store::testing::TestDb;
use orbflow_store::{Migrator, MigratorTrait, SeaStore, StoreOptions, connect_with, new_id};
use sea_orm::prelude::*;
use sea_orm::sea_query::{Alias, Query};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, IntoActiveModel, Statement};
use serde_json::json;

const NEW_INDEX: &str = "idx_workflow_runs_workspace_id_trigger_type_created_at";

fn t(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

async fn index_names(db: &DatabaseConnection) -> Vec<String> {
    let sql = match db.get_database_backend() {
        DbBackend::Sqlite => "SELECT name FROM sqlite_master WHERE type = 'index' ORDER BY name",
        _ => "SELECT indexname::text AS name FROM pg_indexes WHERE schemaname = current_schema() ORDER BY indexname",
    };
    db.query_all_raw(Statement::from_string(db.get_database_backend(), sql))
        .await
        .unwrap()
        .iter()
        .map(|r| r.try_get::<String>("", "name").unwrap())
        .collect()
}

async fn column_names(db: &DatabaseConnection, table: &str) -> Vec<String> {
    let sql = match db.get_database_backend() {
        DbBackend::Sqlite => format!("SELECT name FROM pragma_table_info('{table}') ORDER BY name"),
        _ => format!(
            "SELECT column_name::text AS name FROM information_schema.columns \
             WHERE table_schema = current_schema() AND table_name = '{table}' ORDER BY column_name"
        ),
    };
    db.query_all_raw(Statement::from_string(db.get_database_backend(), sql))
        .await
        .unwrap()
        .iter()
        .map(|r| r.try_get::<String>("", "name").unwrap())
        .collect()
}

fn run(ws: Uuid, wf: Uuid, version: Uuid, trigger_type: &str, at: DateTime<Utc>) -> workflow_runs::Model {
    workflow_runs::Model {
        id: new_id(),
        workspace_id: ws,
        workflow_id: wf,
        version_id: version,
        version_number: 1,
        status: "COMPLETED".into(),
        trigger_type: trigger_type.into(),
        trigger_data: Some(json!({ "via": trigger_type })),
        input: json!({ "n": 1 }),
        output: Some(json!({ "ok": true })),
        error: None,
        idempotency_key: None,
        trace_id: None,
        trace_context: None,
        trace_parent_span_id: None,
        total_steps: 1,
        finished_steps: 1,
        created_at: at,
        started_at: Some(at),
        ended_at: Some(at),
        deadline_at: None,
        updated_at: at,
    }
}

async fn upgrade(db: TestDb) {
    let conn = connect_with(
        &db.url,
        &StoreOptions {
            max_connections: None,
            migrate: false,
        },
    )
    .await
    .unwrap();
    // every migration but the last: the schema as it was before it
    let before = Migrator::migrations().len() - 1;
    Migrator::up(&conn, Some(u32::try_from(before).unwrap())).await.unwrap();
    assert!(
        !column_names(&conn, "workflows")
            .await
            .contains(&"created_by".to_owned())
    );
    assert!(!index_names(&conn).await.contains(&NEW_INDEX.to_owned()));

    let t0 = t("2026-11-30T08:00:00.123456Z");
    let t1 = t("2026-12-01T09:30:00Z");
    let ws = workspaces::Model {
        id: new_id(),
        slug: "acme".into(),
        name: "Acme".into(),
        created_at: t0,
    };
    ws.clone().into_active_model().reset_all().insert(&conn).await.unwrap();
    // the old `workflows` has no new columns: insert with the old column list
    let wf_id = new_id();
    let draft = "schemaVersion: 1\nname: triage\ndescription: Route mentions\nsteps: []\n";
    let insert = Query::insert()
        .into_table(Alias::new("workflows"))
        .columns(
            [
                "id",
                "workspace_id",
                "slug",
                "name",
                "status",
                "active_version",
                "draft_document",
                "draft_format",
                "draft_revision",
                "created_at",
                "updated_at",
            ]
            .map(Alias::new),
        )
        .values([
            wf_id.into(),
            ws.id.into(),
            "triage".into(),
            "Triage".into(),
            "ACTIVE".into(),
            Some(1_i32).into(),
            draft.into(),
            "yaml".into(),
            4_i64.into(),
            t0.into(),
            t1.into(),
        ])
        .unwrap()
        .to_owned();
    conn.execute_raw(conn.get_database_backend().build(&insert))
        .await
        .unwrap();
    let version = workflow_versions::Model {
        id: new_id(),
        workflow_id: wf_id,
        number: 1,
        document: "{}".into(),
        checksum: "0".repeat(64),
        published_at: t1,
        published_by: Some("ci".into()),
    };
    version
        .clone()
        .into_active_model()
        .reset_all()
        .insert(&conn)
        .await
        .unwrap();
    let mut old_runs = Vec::new();
    for (i, ty) in ["manual", "webhook", "schedule", "webhook", "event"]
        .into_iter()
        .enumerate()
    {
        let at = t1 + chrono::Duration::seconds(i64::try_from(i).unwrap());
        let r = run(ws.id, wf_id, version.id, ty, at);
        r.clone().into_active_model().reset_all().insert(&conn).await.unwrap();
        old_runs.push(r);
    }

    // upgrade: the pending migration only, then nothing more
    orbflow_store::migrate(&conn).await.expect("upgrade");
    assert!(Migrator::get_pending_migrations(&conn).await.unwrap().is_empty());
    let cols = column_names(&conn, "workflows").await;
    for c in ["created_by", "description", "updated_by"] {
        assert!(cols.contains(&c.to_owned()), "{c} in {cols:?}");
    }
    assert!(index_names(&conn).await.contains(&NEW_INDEX.to_owned()));

    // the workflow keeps its data; the new columns are null
    let row = workflows::Entity::find_by_id(wf_id).one(&conn).await.unwrap().unwrap();
    assert_eq!(
        row,
        workflows::Model {
            id: wf_id,
            workspace_id: ws.id,
            slug: "triage".into(),
            name: "Triage".into(),
            status: "ACTIVE".into(),
            active_version: Some(1),
            draft_document: draft.into(),
            draft_format: "yaml".into(),
            draft_revision: 4,
            description: None,
            created_by: None,
            updated_by: None,
            created_at: t0,
            updated_at: t1,
        }
    );
    // the runs are unchanged
    for r in &old_runs {
        let read = workflow_runs::Entity::find_by_id(r.id).one(&conn).await.unwrap();
        assert_eq!(read.as_ref(), Some(r));
    }

    // the store reads the old rows and fills the new columns on the next save
    let store = SeaStore::new(conn.clone());
    let rec = store.workflow(ws.id, "triage").await.unwrap().unwrap();
    assert_eq!((rec.description, rec.created_by, rec.updated_by), (None, None, None));
    let saved = store
        .save_draft(
            wf_id,
            4,
            &NewWorkflow {
                workspace_id: ws.id,
                slug: "triage".into(),
                name: "Triage".into(),
                draft_document: draft.into(),
                draft_format: "yaml".into(),
                description: Some("Route mentions".into()),
                actor: Some("token-a".into()),
            },
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(saved.description.as_deref(), Some("Route mentions"));
    assert_eq!(saved.created_by, None, "who created it is not known");
    assert_eq!(saved.updated_by.as_deref(), Some("token-a"));
    assert_eq!(saved.draft_revision, 5);

    // and filters the old runs by trigger type, newest first, in pages
    let filter = RunFilter {
        trigger_type: Some(orbflow_model::TriggerType::Webhook),
        ..RunFilter::default()
    };
    let first = store
        .runs(ws.id, &filter, Page { after: None, limit: 1 })
        .await
        .unwrap();
    assert_eq!(first.iter().map(|r| r.id).collect::<Vec<_>>(), [old_runs[3].id]);
    let second = store
        .runs(
            ws.id,
            &filter,
            Page {
                after: Some(old_runs[3].id),
                limit: 1,
            },
        )
        .await
        .unwrap();
    assert_eq!(second.iter().map(|r| r.id).collect::<Vec<_>>(), [old_runs[1].id]);
    let rest = store
        .runs(
            ws.id,
            &filter,
            Page {
                after: Some(old_runs[1].id),
                limit: 10,
            },
        )
        .await
        .unwrap();
    assert!(rest.is_empty());
    let all = store
        .runs(ws.id, &RunFilter::default(), Page { after: None, limit: 10 })
        .await
        .unwrap();
    assert_eq!(all.len(), 5);

    // down removes exactly what it added, with the data in place
    Migrator::down(&conn, Some(1)).await.expect("down one");
    assert!(
        !column_names(&conn, "workflows")
            .await
            .contains(&"created_by".to_owned())
    );
    assert!(!index_names(&conn).await.contains(&NEW_INDEX.to_owned()));
    let n = workflow_runs::Entity::find().count(&conn).await.unwrap();
    assert_eq!(n, 5);
    conn.close().await.unwrap();
}

#[tokio::test]
async fn sqlite_database_upgrades_keeping_its_rows() {
    upgrade(TestDb::sqlite()).await;
}

#[tokio::test]
async fn postgres_database_upgrades_keeping_its_rows() {
    if let Some(db) = TestDb::postgres().await {
        upgrade(db).await;
    }
}
