//! The `workspace_connections` table. A workspace's provider (SMTP server, Slack
//! bot or webhook): its kind and settings, credentials as `{{ secrets.NAME }}`.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// A row of `workspace_connections`.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "workspace_connections")]
pub struct Model {
    /// Row id (UUIDv7).
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// The workspace it belongs to.
    pub workspace_id: Uuid,
    /// Its name (`config.connection` in steps); unique in the workspace.
    #[sea_orm(column_type = "Text")]
    pub name: String,
    /// Its kind: `smtp`, `slack`.
    #[sea_orm(column_type = "Text")]
    pub kind: String,
    /// Its settings (the kind's schema), credentials as secret templates.
    #[sea_orm(column_type = "JsonBinary")]
    pub settings: Json,
    /// Whether steps of its kind that name no connection use it.
    pub is_default: bool,
    /// When it was first set.
    pub created_at: DateTimeUtc,
    /// When it was last set.
    pub updated_at: DateTimeUtc,
}

/// Foreign-key relations of `workspace_connections`.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    /// `workspace_connections.workspace_id` → `workspaces.id`.
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
