//! The `workspace_records` table: a workspace data store's JSON records.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// A row of `workspace_records`.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "workspace_records")]
pub struct Model {
    /// Id (UUIDv7).
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// The workspace it belongs to.
    pub workspace_id: Uuid,
    /// Its collection.
    #[sea_orm(column_type = "Text")]
    pub collection: String,
    /// The record: a JSON object.
    #[sea_orm(column_type = "JsonBinary")]
    pub data: Json,
    /// When it was made.
    pub created_at: DateTimeUtc,
    /// When it was last written.
    pub updated_at: DateTimeUtc,
}

/// Foreign-key relations of `workspace_records`.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    /// `workspace_records.workspace_id` → `workspaces.id`.
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
