//! The `workspaces` table. A tenant: every workflow, run and API token belongs to one workspace.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// A row of `workspaces`. A tenant: every workflow, run and API token belongs to one workspace.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "workspaces")]
pub struct Model {
    /// Workspace id (UUIDv7).
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// URL-safe name, unique across the installation.
    #[sea_orm(column_type = "Text", unique)]
    pub slug: String,
    /// Display name.
    #[sea_orm(column_type = "Text")]
    pub name: String,
    /// When the workspace was created.
    pub created_at: DateTimeUtc,
}

/// Foreign-key relations of `workspaces`.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    /// Rows of `api_tokens` that reference this row.
    #[sea_orm(has_many = "super::api_tokens::Entity")]
    ApiTokens,
    /// Rows of `workflows` that reference this row.
    #[sea_orm(has_many = "super::workflows::Entity")]
    Workflows,
    /// Rows of `workflow_runs` that reference this row.
    #[sea_orm(has_many = "super::workflow_runs::Entity")]
    WorkflowRuns,
}

impl Related<super::api_tokens::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::ApiTokens.def()
    }
}

impl Related<super::workflows::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Workflows.def()
    }
}

impl Related<super::workflow_runs::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::WorkflowRuns.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
