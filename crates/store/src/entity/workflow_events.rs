//! The `workflow_events` table. An accepted event: its id is accepted once per workspace.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// A row of `workflow_events`.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "workflow_events")]
pub struct Model {
    /// Row id (UUIDv7).
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// Workspace the event was published in.
    pub workspace_id: Uuid,
    /// The publisher's event id (unique per workspace).
    #[sea_orm(column_type = "Text")]
    pub event_id: String,
    /// Event type.
    #[sea_orm(column_type = "Text")]
    pub event_type: String,
    /// The event as accepted (`{id, type, data}`).
    #[sea_orm(column_type = "JsonBinary")]
    pub data: Json,
    /// Ids of the runs it started: a JSON list.
    #[sea_orm(column_type = "JsonBinary")]
    pub run_ids: Json,
    /// When it was accepted.
    pub created_at: DateTimeUtc,
}

/// Foreign-key relations of `workflow_events`.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    /// `workflow_events.workspace_id` → `workspaces.id`.
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
