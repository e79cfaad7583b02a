//! The `workflow_steps` table. One step of a published version, flattened (`orbflow_model::plan::StepRow`).

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// A row of `workflow_steps`. One step of a published version, flattened (`orbflow_model::plan::StepRow`).
#[derive(Clone, Debug, PartialEq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "workflow_steps")]
pub struct Model {
    /// Row id (UUIDv7).
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// The version.
    pub version_id: Uuid,
    /// Step key, unique in the version.
    #[sea_orm(column_type = "Text")]
    pub key: String,
    /// `action`, `condition`, `switch` or `loop`.
    #[sea_orm(column_type = "Text")]
    pub step_type: String,
    /// Catalog name: the action, or `CONDITIONAL_BRANCH` / `LOOP` for blocks.
    #[sea_orm(column_type = "Text")]
    pub action: String,
    /// Action config, or the block parameters.
    #[sea_orm(column_type = "JsonBinary")]
    pub config: Option<Json>,
    /// Position in document order (depth first), from 0.
    pub sequence: i32,
    /// Position within its own list.
    pub position: i32,
    /// Resolved dependencies: a JSON list of step keys.
    #[sea_orm(column_type = "JsonBinary")]
    pub dependencies: Json,
    /// `dependsOn` as written (`None`: implicit ordering).
    #[sea_orm(column_type = "JsonBinary")]
    pub depends_on: Option<Json>,
    /// Key of the enclosing block.
    #[sea_orm(column_type = "Text")]
    pub parent_key: Option<String>,
    /// `IF_TRUE`, `IF_FALSE`, `SWITCH_CASE`, `DEFAULT` or `LOOP_BODY`.
    #[sea_orm(column_type = "Text")]
    pub branch_type: Option<String>,
    /// `true`/`false` for then/else, the case value for a switch case.
    #[sea_orm(column_type = "JsonBinary")]
    pub branch_condition: Option<Json>,
    /// Index of the switch case.
    pub branch_index: Option<i32>,
    /// Display name.
    #[sea_orm(column_type = "Text")]
    pub name: Option<String>,
    /// Description.
    #[sea_orm(column_type = "Text")]
    pub description: Option<String>,
    /// Retry policy (`{maxAttempts, backoff, initialInterval, maxInterval}`).
    #[sea_orm(column_type = "JsonBinary")]
    pub retry: Option<Json>,
    /// Per-attempt timeout in milliseconds.
    pub timeout_ms: Option<i64>,
    /// `fail` or `continue`.
    #[sea_orm(column_type = "Text")]
    pub on_error: Option<String>,
}

/// Foreign-key relations of `workflow_steps`.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    /// `workflow_steps.version_id` → `workflow_versions.id`.
    #[sea_orm(
        belongs_to = "super::workflow_versions::Entity",
        from = "Column::VersionId",
        to = "super::workflow_versions::Column::Id",
        on_delete = "Cascade"
    )]
    Version,
}

impl Related<super::workflow_versions::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Version.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
