//! The `workspace_secrets` table. A workspace's secret, sealed (AES-256-GCM) under the
//! operator's key; the value is never stored in the clear.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// A row of `workspace_secrets`.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "workspace_secrets")]
pub struct Model {
    /// Row id (UUIDv7).
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// The workspace it belongs to.
    pub workspace_id: Uuid,
    /// Its name (`secrets.NAME` in templates); unique in the workspace.
    #[sea_orm(column_type = "Text")]
    pub name: String,
    /// `v1.{key id}.{base64 of nonce and ciphertext}` (see `crate::sealing`).
    #[sea_orm(column_type = "Text")]
    pub sealed: String,
    /// When it was first set.
    pub created_at: DateTimeUtc,
    /// When it was last set (or re-sealed under a new key).
    pub updated_at: DateTimeUtc,
}

/// Foreign-key relations of `workspace_secrets`.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    /// `workspace_secrets.workspace_id` → `workspaces.id`.
    #[sea_orm(
        belongs_to = "super::workspaces::Entity",
        from = "Column::WorkspaceId",
        to = "super::workspaces::Column::Id",
        on_delete = "NoAction"
    )]
    Workspace,
}

impl Related<super::workspaces::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Workspace.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
