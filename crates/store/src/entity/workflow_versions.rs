//! The `workflow_versions` table. A published, immutable version of a workflow.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// A row of `workflow_versions`. A published, immutable version of a workflow.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "workflow_versions")]
pub struct Model {
    /// Version id (UUIDv7).
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// The workflow.
    pub workflow_id: Uuid,
    /// Version number, 1, 2, … per workflow.
    pub number: i32,
    /// Canonical JSON of the workflow document.
    #[sea_orm(column_type = "Text")]
    pub document: String,
    /// SHA-256 hex of `document`.
    #[sea_orm(column_type = "Text")]
    pub checksum: String,
    /// When the version was published.
    pub published_at: DateTimeUtc,
    /// Who published it (token or user name).
    #[sea_orm(column_type = "Text")]
    pub published_by: Option<String>,
}

/// Foreign-key relations of `workflow_versions`.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    /// `workflow_versions.workflow_id` → `workflows.id`.
    #[sea_orm(
        belongs_to = "super::workflows::Entity",
        from = "Column::WorkflowId",
        to = "super::workflows::Column::Id",
        on_delete = "NoAction"
    )]
    Workflow,
    /// Rows of `workflow_steps` that reference this row.
    #[sea_orm(has_many = "super::workflow_steps::Entity")]
    WorkflowSteps,
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

impl Related<super::workflows::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Workflow.def()
    }
}

impl Related<super::workflow_steps::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::WorkflowSteps.def()
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
