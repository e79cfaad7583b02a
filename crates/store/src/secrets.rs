//! Workspace secrets on `workspace_secrets`: set (sealed), listed (names
//! only), deleted, opened for a run's workspace, re-sealed under a new key,
//! and the start-up check that the key opens what is stored.

use std::collections::{BTreeSet, HashMap};

use orbflow_engine::admin::SecretRecord;
use orbflow_engine::{Error as EngineError, Result as EngineResult};
use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use uuid::Uuid;

use crate::SeaStore;
use crate::entity::workspace_secrets as ws;
use crate::repo::db;
use crate::sealing::SecretKeys;

/// What a call needs when the store has no key.
fn no_key() -> EngineError {
    EngineError::State(
        "workspace secrets need a key: set ORBFLOW_SECRETS_KEY (or ORBFLOW_SECRETS_KEY_FILE) on the API and the workers"
            .into(),
    )
}

fn keys(s: &SeaStore) -> EngineResult<&SecretKeys> {
    s.secret_keys().ok_or_else(no_key)
}

pub(crate) async fn put(s: &SeaStore, workspace_id: Uuid, name: &str, value: &str) -> EngineResult<bool> {
    let sealed = keys(s)?
        .seal(workspace_id, name, value)
        .map_err(|e| EngineError::Store(e.to_string()))?;
    let existed = ws::Entity::find()
        .filter(ws::Column::WorkspaceId.eq(workspace_id))
        .filter(ws::Column::Name.eq(name))
        .one(s.connection())
        .await
        .map_err(db)?
        .is_some();
    let now = crate::now();
    ws::Entity::insert(ws::ActiveModel {
        id: Set(crate::new_id()),
        workspace_id: Set(workspace_id),
        name: Set(name.to_owned()),
        sealed: Set(sealed),
        created_at: Set(now),
        updated_at: Set(now),
    })
    .on_conflict(
        OnConflict::columns([ws::Column::WorkspaceId, ws::Column::Name])
            .update_columns([ws::Column::Sealed, ws::Column::UpdatedAt])
            .to_owned(),
    )
    .exec_without_returning(s.connection())
    .await
    .map_err(db)?;
    Ok(!existed)
}

pub(crate) async fn list(s: &SeaStore, workspace_id: Uuid) -> EngineResult<Vec<SecretRecord>> {
    let rows: Vec<(String, chrono::DateTime<chrono::Utc>, chrono::DateTime<chrono::Utc>)> = ws::Entity::find()
        .select_only()
        .columns([ws::Column::Name, ws::Column::CreatedAt, ws::Column::UpdatedAt])
        .filter(ws::Column::WorkspaceId.eq(workspace_id))
        .order_by_asc(ws::Column::Name)
        .into_tuple()
        .all(s.connection())
        .await
        .map_err(db)?;
    Ok(rows
        .into_iter()
        .map(|(name, created_at, updated_at)| SecretRecord {
            name,
            created_at,
            updated_at,
        })
        .collect())
}

pub(crate) async fn delete(s: &SeaStore, workspace_id: Uuid, name: &str) -> EngineResult<bool> {
    let r = ws::Entity::delete_many()
        .filter(ws::Column::WorkspaceId.eq(workspace_id))
        .filter(ws::Column::Name.eq(name))
        .exec(s.connection())
        .await
        .map_err(db)?;
    Ok(r.rows_affected > 0)
}

/// The workspace's secrets, opened; empty without a key.
pub(crate) async fn open_all(s: &SeaStore, workspace_id: Uuid) -> EngineResult<HashMap<String, String>> {
    let Some(keys) = s.secret_keys() else {
        return Ok(HashMap::new());
    };
    let rows: Vec<(String, String)> = ws::Entity::find()
        .select_only()
        .columns([ws::Column::Name, ws::Column::Sealed])
        .filter(ws::Column::WorkspaceId.eq(workspace_id))
        .into_tuple()
        .all(s.connection())
        .await
        .map_err(db)?;
    rows.into_iter()
        .map(|(name, sealed)| {
            let value = keys
                .open(workspace_id, &name, &sealed)
                .map_err(|e| EngineError::Store(e.to_string()))?;
            Ok((name, value))
        })
        .collect()
}

impl SeaStore {
    /// Checks that the key opens what is stored: every key id the sealed
    /// values name must be the current key or an old one. A start-up error
    /// (naming the missing key ids) beats a failure at the first step.
    pub async fn check_secret_keys(&self) -> crate::Result<()> {
        let sealed: Vec<String> = ws::Entity::find()
            .select_only()
            .column(ws::Column::Sealed)
            .into_tuple()
            .all(self.connection())
            .await?;
        let ids: BTreeSet<&str> = sealed.iter().filter_map(|s| s.split('.').nth(1)).collect();
        if ids.is_empty() {
            return Ok(());
        }
        let Some(keys) = self.secret_keys() else {
            return Err(crate::Error::Secrets(format!(
                "the database holds workspace secrets sealed under key(s) {}: set ORBFLOW_SECRETS_KEY",
                ids.into_iter().collect::<Vec<_>>().join(", ")
            )));
        };
        let missing: Vec<&str> = ids.into_iter().filter(|id| !keys.knows(id)).collect();
        if missing.is_empty() {
            Ok(())
        } else {
            Err(crate::Error::Secrets(format!(
                "ORBFLOW_SECRETS_KEY (key {}) does not open the workspace secrets sealed under key(s) {}: set the key they were sealed with, or list it in ORBFLOW_SECRETS_OLD_KEYS",
                keys.current_id(),
                missing.join(", ")
            )))
        }
    }

    /// Re-seals under the current key every value sealed under an old one
    /// (`orbflow secrets rotate`); returns how many.
    pub async fn reseal_secrets(&self) -> crate::Result<usize> {
        let Some(keys) = self.secret_keys() else {
            return Err(crate::Error::Secrets(no_key().to_string()));
        };
        let rows = ws::Entity::find().all(self.connection()).await?;
        let mut n = 0;
        for r in rows.into_iter().filter(|r| !keys.is_current(&r.sealed)) {
            let value = keys.open(r.workspace_id, &r.name, &r.sealed)?;
            let sealed = keys.seal(r.workspace_id, &r.name, &value)?;
            ws::Entity::update_many()
                .col_expr(ws::Column::Sealed, Expr::value(sealed))
                .col_expr(ws::Column::UpdatedAt, Expr::value(crate::now()))
                .filter(ws::Column::Id.eq(r.id))
                .filter(ws::Column::Sealed.eq(r.sealed.clone()))
                .exec(self.connection())
                .await?;
            n += 1;
        }
        Ok(n)
    }
}
