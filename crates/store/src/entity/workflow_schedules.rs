//! The `workflow_schedules` table. A cron trigger of a version, with its next due time.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// A row of `workflow_schedules`. A cron trigger of a version, with its next due time.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "workflow_schedules")]
pub struct Model {
    /// Schedule id (UUIDv7).
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// The workflow.
    pub workflow_id: Uuid,
    /// The version the trigger comes from.
    pub version_id: Uuid,
    /// Index of the trigger in the document's `triggers` list.
    pub trigger_index: i32,
    /// Cron expression (5 or 6 fields).
    #[sea_orm(column_type = "Text")]
    pub cron: String,
    /// IANA time zone the expression is read in.
    #[sea_orm(column_type = "Text")]
    pub timezone: String,
    /// Run input for fires of this schedule.
    #[sea_orm(column_type = "JsonBinary")]
    pub input: Option<Json>,
    /// What to do with ticks missed while no scheduler ran (policy name).
    #[sea_orm(column_type = "Text")]
    pub catch_up: String,
    /// Whether the schedule fires.
    pub enabled: bool,
    /// Next tick (`None`: no further tick).
    pub next_fire_at: Option<DateTimeUtc>,
    /// Last tick that started a run.
    pub last_fired_at: Option<DateTimeUtc>,
    /// When the row was created.
    pub created_at: DateTimeUtc,
}

/// Foreign-key relations of `workflow_schedules`.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    /// `workflow_schedules.workflow_id` → `workflows.id`.
    #[sea_orm(
        belongs_to = "super::workflows::Entity",
        from = "Column::WorkflowId",
        to = "super::workflows::Column::Id",
        on_delete = "Cascade"
    )]
    Workflow,
    /// `workflow_schedules.version_id` → `workflow_versions.id`.
    #[sea_orm(
        belongs_to = "super::workflow_versions::Entity",
        from = "Column::VersionId",
        to = "super::workflow_versions::Column::Id",
        on_delete = "Cascade"
    )]
    Version,
    /// Rows of `workflow_schedule_fires` that reference this row.
    #[sea_orm(has_many = "super::workflow_schedule_fires::Entity")]
    WorkflowScheduleFires,
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

impl Related<super::workflow_schedule_fires::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::WorkflowScheduleFires.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
