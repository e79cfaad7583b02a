//! The `workflow_event_subscriptions` table. An event trigger: runs the workflow when a matching event is published.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// A row of `workflow_event_subscriptions`. An event trigger: runs the workflow when a matching event is published.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "workflow_event_subscriptions")]
pub struct Model {
    /// Subscription id (UUIDv7).
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// The workflow.
    pub workflow_id: Uuid,
    /// The version the trigger comes from.
    pub version_id: Uuid,
    /// Event type, e.g. `mention.received`.
    #[sea_orm(column_type = "Text")]
    pub event_type: String,
    /// CEL filter over `event` (`None`: every event of the type).
    #[sea_orm(column_type = "Text")]
    pub filter: Option<String>,
    /// When the row was created.
    pub created_at: DateTimeUtc,
}

/// Foreign-key relations of `workflow_event_subscriptions`.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    /// `workflow_event_subscriptions.workflow_id` → `workflows.id`.
    #[sea_orm(
        belongs_to = "super::workflows::Entity",
        from = "Column::WorkflowId",
        to = "super::workflows::Column::Id",
        on_delete = "Cascade"
    )]
    Workflow,
    /// `workflow_event_subscriptions.version_id` → `workflow_versions.id`.
    #[sea_orm(
        belongs_to = "super::workflow_versions::Entity",
        from = "Column::VersionId",
        to = "super::workflow_versions::Column::Id",
        on_delete = "Cascade"
    )]
    Version,
}

impl Related<super::workflows::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Workflow.def()
    }
}

impl Related<super::workflow_versions::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Version.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
