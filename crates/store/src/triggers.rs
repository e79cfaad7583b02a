//! The webhook and event triggers of a workflow's active version, kept as
//! rows (`workflow_webhooks`, `workflow_event_subscriptions`) so that intake
//! finds them by index instead of parsing documents. Rewritten whenever a
//! version becomes active; removed when the workflow is archived.

use chrono::{DateTime, Utc};
use orbflow_engine::{Error as EngineError, Result as EngineResult};
use orbflow_model::{Trigger, Workflow};
use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::OnConflict;
use sea_orm::{ColumnTrait, DatabaseTransaction, EntityTrait, QueryFilter};
use uuid::Uuid;

use crate::entity::{
    workflow_event_subscriptions as subs, workflow_schedules as schedules, workflow_webhooks as hooks, workflows,
};
use crate::repo::db;

/// Replaces the workflow's webhook and event rows with `wf`'s triggers.
///
/// Every webhook row also claims the short URL `/hooks/{slug}/{key}`: the
/// unique index on (`short_url_slug`, `key`) lets one workflow across all
/// workspaces hold it. The workflow's own old rows are deleted first (in
/// this transaction), so re-publishing keeps its claims and a version
/// without a webhook releases that one. While another workspace's workflow
/// holds the claim, the publish still succeeds but its webhook is served at
/// the full URL `/hooks/{workspace}/{slug}/{key}` only (its row has no
/// `short_url_slug`): one tenant cannot block another's publish, and a
/// claim never moves by itself. Concurrent publishes of the same (slug,
/// key) serialize on the index: exactly one takes the claim.
pub(crate) async fn sync_intake(
    tx: &DatabaseTransaction,
    workflow_id: Uuid,
    version_id: Uuid,
    wf: &Workflow,
    now: DateTime<Utc>,
) -> EngineResult<()> {
    remove_intake(tx, workflow_id).await?;
    let slug = workflows::Entity::find_by_id(workflow_id)
        .one(tx)
        .await
        .map_err(db)?
        .ok_or(EngineError::NotFound("workflow"))?
        .slug;
    for t in &wf.triggers {
        match t {
            Trigger::Webhook { key, verify } => {
                let row = |short: Option<String>| hooks::ActiveModel {
                    id: Set(crate::new_id()),
                    workflow_id: Set(workflow_id),
                    version_id: Set(version_id),
                    key: Set(key.clone()),
                    scheme: Set(verify.scheme.as_str().to_owned()),
                    secret_name: Set(verify.secret.clone()),
                    tolerance_ms: Set(verify.tolerance.and_then(|d| i64::try_from(d.as_millis()).ok())),
                    header: Set(verify.header.clone()),
                    short_url_slug: Set(short),
                    timestamp_header: Set(verify.timestamp_header.clone()),
                    created_at: Set(now),
                };
                let claimed = hooks::Entity::insert(row(Some(slug.clone())))
                    .on_conflict(
                        OnConflict::columns([hooks::Column::ShortUrlSlug, hooks::Column::Key])
                            .do_nothing()
                            .to_owned(),
                    )
                    .exec_without_returning(tx)
                    .await
                    .map_err(db)?;
                if claimed == 0 {
                    // held elsewhere: served at the full URL only
                    hooks::Entity::insert(row(None))
                        .exec_without_returning(tx)
                        .await
                        .map_err(db)?;
                }
            }
            Trigger::Event { event, filter } => {
                subs::Entity::insert(subs::ActiveModel {
                    id: Set(crate::new_id()),
                    workflow_id: Set(workflow_id),
                    version_id: Set(version_id),
                    event_type: Set(event.clone()),
                    filter: Set(filter.clone()),
                    created_at: Set(now),
                })
                .exec_without_returning(tx)
                .await
                .map_err(db)?;
            }
            Trigger::Manual {} | Trigger::Schedule { .. } => {}
        }
    }
    Ok(())
}

/// Removes the workflow's webhook and event rows.
async fn remove_intake(tx: &DatabaseTransaction, workflow_id: Uuid) -> EngineResult<()> {
    hooks::Entity::delete_many()
        .filter(hooks::Column::WorkflowId.eq(workflow_id))
        .exec(tx)
        .await
        .map_err(db)?;
    subs::Entity::delete_many()
        .filter(subs::Column::WorkflowId.eq(workflow_id))
        .exec(tx)
        .await
        .map_err(db)?;
    Ok(())
}

/// Removes every trigger row of the workflow (archive): no schedule fires,
/// no webhook or event starts a run.
pub(crate) async fn remove_all(tx: &DatabaseTransaction, workflow_id: Uuid) -> EngineResult<()> {
    remove_intake(tx, workflow_id).await?;
    schedules::Entity::delete_many()
        .filter(schedules::Column::WorkflowId.eq(workflow_id))
        .exec(tx)
        .await
        .map_err(db)?;
    Ok(())
}
