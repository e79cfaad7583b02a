//! The `workflow_run_logs` table. A log line of a run (engine events and action logs), ordered by `id`.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// A row of `workflow_run_logs`. A log line of a run (engine events and action logs), ordered by `id`.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "workflow_run_logs")]
pub struct Model {
    /// Auto-increment id; orders the lines of a run.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// The run.
    pub run_id: Uuid,
    /// Step path the line belongs to (`None`: the run itself).
    #[sea_orm(column_type = "Text")]
    pub step_path: Option<String>,
    /// Attempt the line belongs to.
    pub attempt: Option<i32>,
    /// `debug`, `info`, `warn` or `error`.
    #[sea_orm(column_type = "Text")]
    pub level: String,
    /// The message.
    #[sea_orm(column_type = "Text")]
    pub message: String,
    /// Structured fields.
    #[sea_orm(column_type = "JsonBinary")]
    pub data: Option<Json>,
    /// When the line was written.
    pub created_at: DateTimeUtc,
}

/// Foreign-key relations of `workflow_run_logs`.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    /// `workflow_run_logs.run_id` → `workflow_runs.id`.
    #[sea_orm(
        belongs_to = "super::workflow_runs::Entity",
        from = "Column::RunId",
        to = "super::workflow_runs::Column::Id",
        on_delete = "Cascade"
    )]
    Run,
}

impl Related<super::workflow_runs::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Run.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
