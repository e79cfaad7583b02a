//! The `workflow_webhooks` table. A webhook trigger of a workflow (`POST /hooks/{workspace}/{workflow}/{key}`).

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// A row of `workflow_webhooks`. A webhook trigger of a workflow (`POST /hooks/{workspace}/{workflow}/{key}`).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "workflow_webhooks")]
pub struct Model {
    /// Webhook id (UUIDv7).
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// The workflow.
    pub workflow_id: Uuid,
    /// The version the trigger comes from.
    pub version_id: Uuid,
    /// Webhook key, unique per workflow.
    #[sea_orm(column_type = "Text")]
    pub key: String,
    /// Signature scheme: `standard-webhooks`, `github`, `stripe`, `hmac-sha256` or `none`.
    #[sea_orm(column_type = "Text")]
    pub scheme: String,
    /// Name of the secret holding the signing key.
    #[sea_orm(column_type = "Text")]
    pub secret_name: Option<String>,
    /// Accepted timestamp skew in milliseconds.
    pub tolerance_ms: Option<i64>,
    /// Signature header name (for `hmac-sha256`).
    #[sea_orm(column_type = "Text")]
    pub header: Option<String>,
    /// The workflow's slug while this webhook holds the short URL
    /// `/hooks/{slug}/{key}` (unique with `key` across workspaces); NULL
    /// for a row that lost it to an older one before claims existed.
    #[sea_orm(column_type = "Text")]
    pub short_url_slug: Option<String>,
    /// Header carrying the signed timestamp (for `hmac-sha256`).
    #[sea_orm(column_type = "Text")]
    pub timestamp_header: Option<String>,
    /// When the row was created.
    pub created_at: DateTimeUtc,
}

/// Foreign-key relations of `workflow_webhooks`.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    /// `workflow_webhooks.workflow_id` → `workflows.id`.
    #[sea_orm(
        belongs_to = "super::workflows::Entity",
        from = "Column::WorkflowId",
        to = "super::workflows::Column::Id",
        on_delete = "Cascade"
    )]
    Workflow,
    /// `workflow_webhooks.version_id` → `workflow_versions.id`.
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
