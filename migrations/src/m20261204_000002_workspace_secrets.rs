//! `workspace_secrets`: a workspace's secrets, each sealed with AES-256-GCM
//! under the operator's key (the value never reaches the database in the
//! clear); one row per name and workspace.

use sea_orm_migration::prelude::*;

/// Creates (up) or drops (down) `workspace_secrets`.
#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[derive(DeriveIden)]
enum WorkspaceSecrets {
    Table,
    Id,
    WorkspaceId,
    Name,
    Sealed,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Workspaces {
    Table,
    Id,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(WorkspaceSecrets::Table)
                    .col(ColumnDef::new(WorkspaceSecrets::Id).uuid().not_null().primary_key())
                    .col(ColumnDef::new(WorkspaceSecrets::WorkspaceId).uuid().not_null())
                    .col(ColumnDef::new(WorkspaceSecrets::Name).text().not_null())
                    .col(ColumnDef::new(WorkspaceSecrets::Sealed).text().not_null())
                    .col(
                        ColumnDef::new(WorkspaceSecrets::CreatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(WorkspaceSecrets::UpdatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_workspace_secrets_workspace_id")
                            .from(WorkspaceSecrets::Table, WorkspaceSecrets::WorkspaceId)
                            .to(Workspaces::Table, Workspaces::Id)
                            .on_delete(ForeignKeyAction::NoAction),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("uq_workspace_secrets_workspace_id_name")
                    .table(WorkspaceSecrets::Table)
                    .col(WorkspaceSecrets::WorkspaceId)
                    .col(WorkspaceSecrets::Name)
                    .unique()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(WorkspaceSecrets::Table).if_exists().to_owned())
            .await
    }
}
