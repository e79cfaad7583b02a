//! The `workspace_notifications` table: a workspace's in-app inbox.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// A row of `workspace_notifications`.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "workspace_notifications")]
pub struct Model {
    /// Id (UUIDv7: newer ids sort after older ones).
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// The workspace it belongs to.
    pub workspace_id: Uuid,
    /// Who it is for (the workflow's user id).
    #[sea_orm(column_type = "Text")]
    pub recipient: String,
    /// Title.
    #[sea_orm(column_type = "Text")]
    pub title: String,
    /// Body.
    #[sea_orm(column_type = "Text")]
    pub body: String,
    /// `info`, `warning` or `error`.
    #[sea_orm(column_type = "Text")]
    pub level: String,
    /// Where it points.
    #[sea_orm(column_type = "Text", nullable)]
    pub link: Option<String>,
    /// Extra data.
    #[sea_orm(column_type = "JsonBinary", nullable)]
    pub data: Option<Json>,
    /// The run that made it.
    pub run_id: Option<Uuid>,
    /// The step that made it.
    #[sea_orm(column_type = "Text", nullable)]
    pub step_path: Option<String>,
    /// `run_id:step_path` (or the API caller's key): one notification per key.
    #[sea_orm(column_type = "Text")]
    pub dedup_key: String,
    /// When it was read; `None`: unread.
    pub read_at: Option<DateTimeUtc>,
    /// When it was made.
    pub created_at: DateTimeUtc,
}

/// Foreign-key relations of `workspace_notifications`.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    /// `workspace_notifications.workspace_id` → `workspaces.id`.
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
