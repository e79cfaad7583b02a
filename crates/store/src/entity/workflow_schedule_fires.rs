//! The `workflow_schedule_fires` table. One claimed cron tick: the primary key (schedule_id, fire_time) makes a tick start exactly one run.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// A row of `workflow_schedule_fires`. One claimed cron tick: the primary key (schedule_id, fire_time) makes a tick start exactly one run.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "workflow_schedule_fires")]
pub struct Model {
    /// The schedule.
    #[sea_orm(primary_key, auto_increment = false)]
    pub schedule_id: Uuid,
    /// The tick (the scheduled instant, not the time it was processed).
    #[sea_orm(primary_key, auto_increment = false)]
    pub fire_time: DateTimeUtc,
    /// The run the tick started.
    pub run_id: Option<Uuid>,
    /// When the tick was claimed.
    pub created_at: DateTimeUtc,
}

/// Foreign-key relations of `workflow_schedule_fires`.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    /// `workflow_schedule_fires.schedule_id` → `workflow_schedules.id`.
    #[sea_orm(
        belongs_to = "super::workflow_schedules::Entity",
        from = "Column::ScheduleId",
        to = "super::workflow_schedules::Column::Id",
        on_delete = "Cascade"
    )]
    Schedule,
    /// `workflow_schedule_fires.run_id` → `workflow_runs.id`.
    #[sea_orm(
        belongs_to = "super::workflow_runs::Entity",
        from = "Column::RunId",
        to = "super::workflow_runs::Column::Id",
        on_delete = "SetNull"
    )]
    Run,
}

impl Related<super::workflow_schedules::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Schedule.def()
    }
}

impl Related<super::workflow_runs::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Run.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
