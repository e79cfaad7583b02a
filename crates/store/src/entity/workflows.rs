//! The `workflows` table. A workflow: one editable draft plus numbered, immutable published versions.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// A row of `workflows`. A workflow: one editable draft plus numbered, immutable published versions.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "workflows")]
pub struct Model {
    /// Workflow id (UUIDv7).
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// Owning workspace.
    pub workspace_id: Uuid,
    /// URL-safe name, unique within the workspace.
    #[sea_orm(column_type = "Text")]
    pub slug: String,
    /// Display name.
    #[sea_orm(column_type = "Text")]
    pub name: String,
    /// `DRAFT`, `ACTIVE` or `ARCHIVED`.
    #[sea_orm(column_type = "Text")]
    pub status: String,
    /// Number of the version whose triggers are live (`None`: never published).
    pub active_version: Option<i32>,
    /// The draft as the user wrote it (YAML or JSON text).
    #[sea_orm(column_type = "Text")]
    pub draft_document: String,
    /// `yaml` or `json`: the format of `draft_document`.
    #[sea_orm(column_type = "Text")]
    pub draft_format: String,
    /// Optimistic-concurrency counter of the draft, incremented on every save.
    pub draft_revision: i64,
    /// The draft document's `description` (null before migration
    /// `m20261205_000001_workflow_audit` until the next save).
    #[sea_orm(column_type = "Text")]
    pub description: Option<String>,
    /// Who created the workflow (the API token's id); null without a token.
    #[sea_orm(column_type = "Text")]
    pub created_by: Option<String>,
    /// Who last wrote the draft (the API token's id); null without a token.
    #[sea_orm(column_type = "Text")]
    pub updated_by: Option<String>,
    /// When the workflow was created.
    pub created_at: DateTimeUtc,
    /// Last change to the row.
    pub updated_at: DateTimeUtc,
}

/// Foreign-key relations of `workflows`.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    /// `workflows.workspace_id` → `workspaces.id`.
    #[sea_orm(
        belongs_to = "super::workspaces::Entity",
        from = "Column::WorkspaceId",
        to = "super::workspaces::Column::Id",
        on_delete = "NoAction"
    )]
    Workspace,
    /// Rows of `workflow_versions` that reference this row.
    #[sea_orm(has_many = "super::workflow_versions::Entity")]
    WorkflowVersions,
    /// Rows of `workflow_schedules` that reference this row.
    #[sea_orm(has_many = "super::workflow_schedules::Entity")]
    WorkflowSchedules,
    /// Rows of `workflow_webhooks` that reference this row.
    #[sea_orm(has_many = "super::workflow_webhooks::Entity")]
    WorkflowWebhooks,
    /// Rows of `workflow_event_subscriptions` that reference this row.
    #[sea_orm(has_many = "super::workflow_event_subscriptions::Entity")]
    WorkflowEventSubscriptions,
    /// Rows of `workflow_runs` that reference this row.
    #[sea_orm(has_many = "super::workflow_runs::Entity")]
    WorkflowRuns,
}

impl Related<super::workspaces::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Workspace.def()
    }
}

impl Related<super::workflow_versions::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::WorkflowVersions.def()
    }
}

impl Related<super::workflow_schedules::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::WorkflowSchedules.def()
    }
}

impl Related<super::workflow_webhooks::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::WorkflowWebhooks.def()
    }
}

impl Related<super::workflow_event_subscriptions::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::WorkflowEventSubscriptions.def()
    }
}

impl Related<super::workflow_runs::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::WorkflowRuns.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
