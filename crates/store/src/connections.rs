//! Workspace connections on `workspace_connections`: set (a default one
//! takes over its kind's default in the same transaction, writers of one
//! workspace's default taking turns), listed, deleted, and found for an
//! attempt by name or as its kind's default.

use orbflow_engine::Result as EngineResult;
use orbflow_engine::admin::ConnectionRecord;
use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, QueryFilter, QueryOrder, Statement};
use uuid::Uuid;

use crate::SeaStore;
use crate::entity::workspace_connections as wc;
use crate::repo::db;

fn record(m: wc::Model) -> ConnectionRecord {
    ConnectionRecord {
        name: m.name,
        kind: m.kind,
        settings: m.settings,
        is_default: m.is_default,
        created_at: m.created_at,
        updated_at: m.updated_at,
    }
}

pub(crate) async fn put(s: &SeaStore, workspace_id: Uuid, c: &ConnectionRecord) -> EngineResult<bool> {
    let tx = crate::repo::write_tx(s.connection()).await?;
    if c.is_default && tx.get_database_backend() == DbBackend::Postgres {
        // one default per kind: writers of a workspace's default take turns
        // (SQLite's IMMEDIATE transaction already serializes them)
        tx.execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))",
            [format!("orbflow:connection-default:{workspace_id}:{}", c.kind).into()],
        ))
        .await
        .map_err(db)?;
    }
    let existed = wc::Entity::find()
        .filter(wc::Column::WorkspaceId.eq(workspace_id))
        .filter(wc::Column::Name.eq(&c.name))
        .one(&tx)
        .await
        .map_err(db)?
        .is_some();
    let now = crate::now();
    if c.is_default {
        wc::Entity::update_many()
            .col_expr(wc::Column::IsDefault, Expr::value(false))
            .filter(wc::Column::WorkspaceId.eq(workspace_id))
            .filter(wc::Column::Kind.eq(&c.kind))
            .filter(wc::Column::Name.ne(&c.name))
            .filter(wc::Column::IsDefault.eq(true))
            .exec(&tx)
            .await
            .map_err(db)?;
    }
    wc::Entity::insert(wc::ActiveModel {
        id: Set(crate::new_id()),
        workspace_id: Set(workspace_id),
        name: Set(c.name.clone()),
        kind: Set(c.kind.clone()),
        settings: Set(c.settings.clone()),
        is_default: Set(c.is_default),
        created_at: Set(now),
        updated_at: Set(now),
    })
    .on_conflict(
        OnConflict::columns([wc::Column::WorkspaceId, wc::Column::Name])
            .update_columns([
                wc::Column::Kind,
                wc::Column::Settings,
                wc::Column::IsDefault,
                wc::Column::UpdatedAt,
            ])
            .to_owned(),
    )
    .exec_without_returning(&tx)
    .await
    .map_err(db)?;
    tx.commit().await.map_err(db)?;
    Ok(!existed)
}

pub(crate) async fn list(s: &SeaStore, workspace_id: Uuid) -> EngineResult<Vec<ConnectionRecord>> {
    let rows = wc::Entity::find()
        .filter(wc::Column::WorkspaceId.eq(workspace_id))
        .order_by_asc(wc::Column::Name)
        .all(s.connection())
        .await
        .map_err(db)?;
    Ok(rows.into_iter().map(record).collect())
}

pub(crate) async fn delete(s: &SeaStore, workspace_id: Uuid, name: &str) -> EngineResult<bool> {
    let r = wc::Entity::delete_many()
        .filter(wc::Column::WorkspaceId.eq(workspace_id))
        .filter(wc::Column::Name.eq(name))
        .exec(s.connection())
        .await
        .map_err(db)?;
    Ok(r.rows_affected > 0)
}

pub(crate) async fn find(
    s: &SeaStore,
    workspace_id: Uuid,
    kind: &str,
    name: Option<&str>,
) -> EngineResult<Option<ConnectionRecord>> {
    let q = wc::Entity::find()
        .filter(wc::Column::WorkspaceId.eq(workspace_id))
        .filter(wc::Column::Kind.eq(kind));
    let q = match name {
        Some(n) => q.filter(wc::Column::Name.eq(n)),
        None => q.filter(wc::Column::IsDefault.eq(true)),
    };
    Ok(q.one(s.connection()).await.map_err(db)?.map(record))
}
