//! The `api_tokens` table. An API bearer token, stored only as a hash, scoped to one workspace.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// A row of `api_tokens`. An API bearer token, stored only as a hash, scoped to one workspace.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "api_tokens")]
pub struct Model {
    /// Token id (UUIDv7).
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// Workspace the token acts in.
    pub workspace_id: Uuid,
    /// Human label.
    #[sea_orm(column_type = "Text")]
    pub name: String,
    /// SHA-256 hex of the secret token; unique. The token itself is never stored.
    #[sea_orm(column_type = "Text", unique)]
    pub token_hash: String,
    /// First characters of the token, shown to identify it.
    #[sea_orm(column_type = "Text")]
    pub token_prefix: String,
    /// Granted permissions: a JSON list of strings.
    #[sea_orm(column_type = "JsonBinary")]
    pub permissions: Json,
    /// When the token was issued.
    pub created_at: DateTimeUtc,
    /// Last successful authentication with the token.
    pub last_used_at: Option<DateTimeUtc>,
    /// When the token was revoked; a revoked token authenticates nothing.
    pub revoked_at: Option<DateTimeUtc>,
}

/// Foreign-key relations of `api_tokens`.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    /// `api_tokens.workspace_id` → `workspaces.id`.
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
