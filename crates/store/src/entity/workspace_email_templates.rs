//! The `workspace_email_templates` table: a workspace's stored email templates.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// A row of `workspace_email_templates`.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "workspace_email_templates")]
pub struct Model {
    /// Row id (UUIDv7).
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// The workspace it belongs to.
    pub workspace_id: Uuid,
    /// Its name (SEND_EMAIL's `templateId`); unique in the workspace.
    #[sea_orm(column_type = "Text")]
    pub name: String,
    /// The subject (may hold `{{ }}` templates).
    #[sea_orm(column_type = "Text")]
    pub subject: String,
    /// The text body.
    #[sea_orm(column_type = "Text", nullable)]
    pub text: Option<String>,
    /// The HTML body.
    #[sea_orm(column_type = "Text", nullable)]
    pub html: Option<String>,
    /// When it was first set.
    pub created_at: DateTimeUtc,
    /// When it was last set.
    pub updated_at: DateTimeUtc,
}

/// Foreign-key relations of `workspace_email_templates`.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    /// `workspace_email_templates.workspace_id` → `workspaces.id`.
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
