//! A workspace's stored email templates on `workspace_email_templates`.

use orbflow_engine::Result as EngineResult;
use orbflow_engine::admin::EmailTemplateRecord;
use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::OnConflict;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use uuid::Uuid;

use crate::SeaStore;
use crate::entity::workspace_email_templates as we;
use crate::repo::db;

fn record(m: we::Model) -> EmailTemplateRecord {
    EmailTemplateRecord {
        name: m.name,
        subject: m.subject,
        text: m.text,
        html: m.html,
        created_at: m.created_at,
        updated_at: m.updated_at,
    }
}

pub(crate) async fn get(s: &SeaStore, workspace_id: Uuid, name: &str) -> EngineResult<Option<EmailTemplateRecord>> {
    let m = we::Entity::find()
        .filter(we::Column::WorkspaceId.eq(workspace_id))
        .filter(we::Column::Name.eq(name))
        .one(s.connection())
        .await
        .map_err(db)?;
    Ok(m.map(record))
}

pub(crate) async fn put(s: &SeaStore, workspace_id: Uuid, t: &EmailTemplateRecord) -> EngineResult<bool> {
    let existed = get(s, workspace_id, &t.name).await?.is_some();
    let now = crate::now();
    we::Entity::insert(we::ActiveModel {
        id: Set(crate::new_id()),
        workspace_id: Set(workspace_id),
        name: Set(t.name.clone()),
        subject: Set(t.subject.clone()),
        text: Set(t.text.clone()),
        html: Set(t.html.clone()),
        created_at: Set(now),
        updated_at: Set(now),
    })
    .on_conflict(
        OnConflict::columns([we::Column::WorkspaceId, we::Column::Name])
            .update_columns([
                we::Column::Subject,
                we::Column::Text,
                we::Column::Html,
                we::Column::UpdatedAt,
            ])
            .to_owned(),
    )
    .exec_without_returning(s.connection())
    .await
    .map_err(db)?;
    Ok(!existed)
}

pub(crate) async fn list(s: &SeaStore, workspace_id: Uuid) -> EngineResult<Vec<EmailTemplateRecord>> {
    let rows = we::Entity::find()
        .filter(we::Column::WorkspaceId.eq(workspace_id))
        .order_by_asc(we::Column::Name)
        .all(s.connection())
        .await
        .map_err(db)?;
    Ok(rows.into_iter().map(record).collect())
}

pub(crate) async fn delete(s: &SeaStore, workspace_id: Uuid, name: &str) -> EngineResult<bool> {
    let r = we::Entity::delete_many()
        .filter(we::Column::WorkspaceId.eq(workspace_id))
        .filter(we::Column::Name.eq(name))
        .exec(s.connection())
        .await
        .map_err(db)?;
    Ok(r.rows_affected > 0)
}
