//! The in-app inbox on `workspace_notifications`: created once per dedup key
//! (a retried CREATE_NOTIFICATION attempt finds the one it made), listed
//! newest first by recipient and read state, marked read or unread.

use chrono::{DateTime, Utc};
use orbflow_engine::Result as EngineResult;
use orbflow_engine::admin::{NewNotification, NotificationFilter, NotificationRecord, Page};
use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use uuid::Uuid;

use crate::SeaStore;
use crate::entity::workspace_notifications as wn;
use crate::repo::db;

fn record(m: wn::Model) -> EngineResult<NotificationRecord> {
    Ok(NotificationRecord {
        id: m.id,
        recipient: m.recipient,
        title: m.title,
        body: m.body,
        level: crate::repo::status(&m.level)?,
        link: m.link,
        data: m.data,
        run_id: m.run_id,
        step_path: m.step_path,
        read_at: m.read_at,
        created_at: m.created_at,
    })
}

async fn by_key(s: &SeaStore, workspace_id: Uuid, key: &str) -> EngineResult<Option<Uuid>> {
    let id: Option<Uuid> = wn::Entity::find()
        .select_only()
        .column(wn::Column::Id)
        .filter(wn::Column::WorkspaceId.eq(workspace_id))
        .filter(wn::Column::DedupKey.eq(key))
        .into_tuple()
        .one(s.connection())
        .await
        .map_err(db)?;
    Ok(id)
}

pub(crate) async fn create(s: &SeaStore, workspace_id: Uuid, n: &NewNotification) -> EngineResult<(Uuid, bool)> {
    let id = crate::new_id();
    wn::Entity::insert(wn::ActiveModel {
        id: Set(id),
        workspace_id: Set(workspace_id),
        recipient: Set(n.recipient.clone()),
        title: Set(n.title.clone()),
        body: Set(n.body.clone()),
        level: Set(n.level.as_str().to_owned()),
        link: Set(n.link.clone()),
        data: Set(n.data.clone()),
        run_id: Set(n.run_id),
        step_path: Set(n.step_path.clone()),
        dedup_key: Set(n.dedup_key.clone()),
        read_at: Set(None),
        created_at: Set(crate::now()),
    })
    .on_conflict(
        OnConflict::columns([wn::Column::WorkspaceId, wn::Column::DedupKey])
            .do_nothing()
            .to_owned(),
    )
    .exec_without_returning(s.connection())
    .await
    .map_err(db)?;
    match by_key(s, workspace_id, &n.dedup_key).await? {
        Some(found) => Ok((found, found == id)),
        None => Err(orbflow_engine::Error::Store(format!(
            "notification {} missing after it was created",
            n.dedup_key
        ))),
    }
}

pub(crate) async fn list(
    s: &SeaStore,
    workspace_id: Uuid,
    filter: &NotificationFilter,
    page: Page<Uuid>,
) -> EngineResult<Vec<NotificationRecord>> {
    let mut q = wn::Entity::find().filter(wn::Column::WorkspaceId.eq(workspace_id));
    if let Some(r) = &filter.recipient {
        q = q.filter(wn::Column::Recipient.eq(r));
    }
    if filter.unread_only {
        q = q.filter(wn::Column::ReadAt.is_null());
    }
    if let Some(after) = page.after {
        q = q.filter(wn::Column::Id.lt(after));
    }
    let rows = q
        .order_by_desc(wn::Column::Id)
        .limit(page.limit)
        .all(s.connection())
        .await
        .map_err(db)?;
    rows.into_iter().map(record).collect()
}

pub(crate) async fn mark(
    s: &SeaStore,
    workspace_id: Uuid,
    id: Uuid,
    read_at: Option<DateTime<Utc>>,
) -> EngineResult<Option<NotificationRecord>> {
    let mut update = wn::Entity::update_many()
        .col_expr(wn::Column::ReadAt, Expr::value(read_at.map(crate::truncate_to_micros)))
        .filter(wn::Column::WorkspaceId.eq(workspace_id))
        .filter(wn::Column::Id.eq(id));
    if read_at.is_some() {
        // read twice: it keeps the first time it was read
        update = update.filter(wn::Column::ReadAt.is_null());
    }
    update.exec(s.connection()).await.map_err(db)?;
    get(s, workspace_id, id).await
}

pub(crate) async fn get(s: &SeaStore, workspace_id: Uuid, id: Uuid) -> EngineResult<Option<NotificationRecord>> {
    let row = wn::Entity::find_by_id(id)
        .filter(wn::Column::WorkspaceId.eq(workspace_id))
        .one(s.connection())
        .await
        .map_err(db)?;
    row.map(record).transpose()
}
