//! The `workspace_record_writes` table: what each run step's write did, so
//! that a retried attempt returns it instead of writing again.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// A row of `workspace_record_writes`.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "workspace_record_writes")]
pub struct Model {
    /// Row id.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// The workspace written to.
    pub workspace_id: Uuid,
    /// `run_id:step_path`; unique per workspace.
    #[sea_orm(column_type = "Text")]
    pub dedup_key: String,
    /// The write's result (the step's output).
    #[sea_orm(column_type = "JsonBinary")]
    pub result: Json,
    /// When it was written.
    pub created_at: DateTimeUtc,
}

/// Foreign-key relations of `workspace_record_writes`.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    /// `workspace_record_writes.workspace_id` → `workspaces.id`.
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
