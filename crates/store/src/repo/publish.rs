//! Publishing a version: the version row, its steps in relational shape,
//! the workflow's schedules and intake triggers synced, the active version
//! moved; and `ensure_version` (`orbflow run`/`dev`), which publishes a
//! document once per checksum.

use chrono::{DateTime, Utc};
use orbflow_engine::store::VersionRecord;
use orbflow_engine::{Error as EngineError, Result as EngineResult};
use orbflow_model::WorkflowStatus;
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{ActiveValue::Set, ColumnTrait, DatabaseTransaction, EntityTrait, QueryFilter, QueryOrder};
use uuid::Uuid;

use super::{SeaStore, sql, write_tx};
use crate::entity::{
    workflow_schedules as schedules, workflow_steps, workflow_versions as versions, workflows, workspaces,
};

impl SeaStore {
    pub(super) async fn try_ensure_version(
        &self,
        workspace: &str,
        workflow: &str,
        name: &str,
        document: &str,
    ) -> EngineResult<VersionRecord> {
        let tx = write_tx(&self.db).await?;
        let now = crate::now();
        workspaces::Entity::insert(workspaces::ActiveModel {
            id: Set(crate::new_id()),
            slug: Set(workspace.to_owned()),
            name: Set(workspace.to_owned()),
            created_at: Set(now),
        })
        .on_conflict(OnConflict::column(workspaces::Column::Slug).do_nothing().to_owned())
        .exec_without_returning(&tx)
        .await
        .map_err(sql)?;
        let ws = workspaces::Entity::find()
            .filter(workspaces::Column::Slug.eq(workspace))
            .one(&tx)
            .await
            .map_err(sql)?
            .ok_or(EngineError::NotFound("workspace"))?
            .id;
        workflows::Entity::insert(workflows::ActiveModel {
            id: Set(crate::new_id()),
            workspace_id: Set(ws),
            slug: Set(workflow.to_owned()),
            name: Set(name.to_owned()),
            status: Set(WorkflowStatus::Active.as_str().into()),
            active_version: Set(None),
            draft_document: Set(document.to_owned()),
            draft_format: Set("json".into()),
            draft_revision: Set(1),
            description: Set(document_description(document)),
            // `orbflow run` / `dev`: no token, no one to record
            created_by: Set(None),
            updated_by: Set(None),
            created_at: Set(now),
            updated_at: Set(now),
        })
        .on_conflict(
            OnConflict::columns([workflows::Column::WorkspaceId, workflows::Column::Slug])
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(&tx)
        .await
        .map_err(sql)?;
        let wf_id = workflows::Entity::find()
            .filter(workflows::Column::WorkspaceId.eq(ws))
            .filter(workflows::Column::Slug.eq(workflow))
            .one(&tx)
            .await
            .map_err(sql)?
            .ok_or(EngineError::NotFound("workflow"))?
            .id;
        let checksum = sha256_hex(document);
        let record = |v: versions::Model| VersionRecord {
            id: v.id,
            workflow_id: wf_id,
            workspace_id: ws,
            number: v.number,
            document: v.document,
        };
        let existing = versions::Entity::find()
            .filter(versions::Column::WorkflowId.eq(wf_id))
            .filter(versions::Column::Checksum.eq(checksum.clone()))
            .one(&tx)
            .await
            .map_err(sql)?;
        if let Some(v) = existing {
            tx.commit().await.map_err(sql)?;
            return Ok(record(v));
        }
        let model = publish_in(&tx, wf_id, document, None).await?;
        tx.commit().await.map_err(sql)?;
        Ok(record(model))
    }
}

/// The `description` of a canonical JSON workflow document, if it has one.
fn document_description(document: &str) -> Option<String> {
    serde_json::from_str::<serde_json::Value>(document)
        .ok()?
        .get("description")?
        .as_str()
        .map(str::to_owned)
}

/// Inserts `document` as version n + 1 of `wf_id`, materializes its steps,
/// replaces the workflow's triggers with the version's and makes it the
/// active version. [`EngineError::Conflict`] when another publisher took the
/// number first (the caller retries).
pub(crate) async fn publish_in(
    tx: &DatabaseTransaction,
    wf_id: Uuid,
    document: &str,
    by: Option<&orbflow_engine::admin::Actor>,
) -> EngineResult<versions::Model> {
    let now = crate::now();
    // the document was validated before it got here; a version that is not
    // a workflow is refused rather than stored half-materialized
    let parsed: orbflow_model::Workflow =
        serde_json::from_str(document).map_err(|e| EngineError::InvalidWorkflow(format!("version document: {e}")))?;
    let latest = versions::Entity::find()
        .filter(versions::Column::WorkflowId.eq(wf_id))
        .order_by_desc(versions::Column::Number)
        .one(tx)
        .await
        .map_err(sql)?;
    let model = versions::Model {
        id: crate::new_id(),
        workflow_id: wf_id,
        number: latest.map_or(1, |v| v.number + 1),
        document: document.to_owned(),
        checksum: sha256_hex(document),
        published_at: now,
        published_by: by.map(|a| a.label.clone()),
    };
    let inserted = versions::Entity::insert(versions::ActiveModel {
        id: Set(model.id),
        workflow_id: Set(wf_id),
        number: Set(model.number),
        document: Set(model.document.clone()),
        checksum: Set(model.checksum.clone()),
        published_at: Set(now),
        published_by: Set(model.published_by.clone()),
    })
    .on_conflict(
        OnConflict::columns([versions::Column::WorkflowId, versions::Column::Number])
            .do_nothing()
            .to_owned(),
    )
    .exec_without_returning(tx)
    .await
    .map_err(sql)?;
    if inserted == 0 {
        return Err(EngineError::Conflict(format!(
            "version {} of workflow {wf_id}",
            model.number
        )));
    }
    materialize_steps(tx, model.id, &parsed).await?;
    sync_schedules(tx, wf_id, model.id, &parsed, now).await?;
    crate::triggers::sync_intake(tx, wf_id, model.id, &parsed, now).await?;
    let mut update = workflows::Entity::update_many();
    if let Some(by) = by {
        update = update.col_expr(workflows::Column::UpdatedBy, Expr::value(by.id.clone()));
    }
    update
        .col_expr(workflows::Column::ActiveVersion, Expr::value(model.number))
        .col_expr(workflows::Column::Status, Expr::value(WorkflowStatus::Active.as_str()))
        .col_expr(workflows::Column::UpdatedAt, Expr::value(now))
        .filter(workflows::Column::Id.eq(wf_id))
        .exec(tx)
        .await
        .map_err(sql)?;
    Ok(model)
}

/// Writes the version's steps in their relational shape (`workflow_steps`,
/// one row per step: sequence, dependencies, parent, branch type and
/// condition), as `orbflow_model::plan::flatten` gives them.
async fn materialize_steps(
    tx: &DatabaseTransaction,
    version_id: Uuid,
    wf: &orbflow_model::Workflow,
) -> EngineResult<()> {
    let rows: Vec<workflow_steps::ActiveModel> = orbflow_model::plan::flatten(&wf.steps)
        .into_iter()
        .map(|r| workflow_steps::ActiveModel {
            id: Set(crate::new_id()),
            version_id: Set(version_id),
            key: Set(r.key),
            step_type: Set(r.step_type.as_str().to_owned()),
            action: Set(r.action),
            config: Set(r.config),
            sequence: Set(i32::try_from(r.sequence).unwrap_or(i32::MAX)),
            position: Set(i32::try_from(r.position).unwrap_or(i32::MAX)),
            dependencies: Set(serde_json::json!(r.dependencies)),
            depends_on: Set(r.depends_on.map(|d| serde_json::json!(d))),
            parent_key: Set(r.parent_key),
            branch_type: Set(r.branch_type.map(|b| b.as_str().to_owned())),
            branch_condition: Set(r.branch_condition),
            branch_index: Set(r.branch_index.and_then(|i| i32::try_from(i).ok())),
            name: Set(r.name),
            description: Set(r.description),
            retry: Set(r.retry.and_then(|p| serde_json::to_value(p).ok())),
            timeout_ms: Set(r.timeout.and_then(|t| i64::try_from(t.as_millis()).ok())),
            on_error: Set(r.on_error.map(|o| {
                if o == orbflow_model::OnError::Continue {
                    "continue"
                } else {
                    "fail"
                }
                .to_owned()
            })),
        })
        .collect();
    for chunk in rows.chunks(200) {
        workflow_steps::Entity::insert_many(chunk.to_vec())
            .exec_without_returning(tx)
            .await
            .map_err(sql)?;
    }
    Ok(())
}

/// Replaces the workflow's schedules with the schedule triggers of
/// `version_id`'s document, each with its first tick after `now`.
async fn sync_schedules(
    tx: &DatabaseTransaction,
    workflow_id: Uuid,
    version_id: Uuid,
    wf: &orbflow_model::Workflow,
    now: DateTime<Utc>,
) -> EngineResult<()> {
    schedules::Entity::delete_many()
        .filter(schedules::Column::WorkflowId.eq(workflow_id))
        .exec(tx)
        .await
        .map_err(sql)?;
    for (i, t) in wf.triggers.iter().enumerate() {
        let orbflow_model::Trigger::Schedule {
            cron,
            timezone,
            input,
            catch_up,
        } = t
        else {
            continue;
        };
        let next = orbflow_model::cron::Schedule::parse(cron, timezone.as_deref())
            .ok()
            .and_then(|s| s.next_after(now))
            .map(|t| crate::truncate_to_micros(t.with_timezone(&Utc)));
        let catch_up = catch_up.unwrap_or(orbflow_model::CatchUp::Skip).as_str();
        schedules::Entity::insert(schedules::ActiveModel {
            id: Set(crate::new_id()),
            workflow_id: Set(workflow_id),
            version_id: Set(version_id),
            trigger_index: Set(i32::try_from(i).unwrap_or(i32::MAX)),
            cron: Set(cron.clone()),
            timezone: Set(timezone.clone().unwrap_or_else(|| "UTC".into())),
            input: Set(input.clone()),
            catch_up: Set(catch_up.into()),
            enabled: Set(true),
            next_fire_at: Set(next),
            last_fired_at: Set(None),
            created_at: Set(now),
        })
        .exec_without_returning(tx)
        .await
        .map_err(sql)?;
    }
    Ok(())
}

fn sha256_hex(s: &str) -> String {
    use sha2::Digest;
    let d = sha2::Sha256::digest(s.as_bytes());
    d.iter().map(|b| format!("{b:02x}")).collect()
}
