//! `workspace_connections`: a workspace's providers (an SMTP server, a Slack
//! bot or webhook), each a kind and its settings, whose credentials are
//! `{{ secrets.NAME }}` templates; one row per name and workspace, and at
//! most one default per kind.

use sea_orm_migration::prelude::*;

/// Creates (up) or drops (down) `workspace_connections`.
#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[derive(DeriveIden)]
enum WorkspaceConnections {
    Table,
    Id,
    WorkspaceId,
    Name,
    Kind,
    Settings,
    IsDefault,
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
                    .table(WorkspaceConnections::Table)
                    .col(ColumnDef::new(WorkspaceConnections::Id).uuid().not_null().primary_key())
                    .col(ColumnDef::new(WorkspaceConnections::WorkspaceId).uuid().not_null())
                    .col(ColumnDef::new(WorkspaceConnections::Name).text().not_null())
                    .col(ColumnDef::new(WorkspaceConnections::Kind).text().not_null())
                    .col(ColumnDef::new(WorkspaceConnections::Settings).json_binary().not_null())
                    .col(
                        ColumnDef::new(WorkspaceConnections::IsDefault)
                            .boolean()
                            .not_null()
                            .default(false),
                    )
                    .col(
                        ColumnDef::new(WorkspaceConnections::CreatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(WorkspaceConnections::UpdatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_workspace_connections_workspace_id")
                            .from(WorkspaceConnections::Table, WorkspaceConnections::WorkspaceId)
                            .to(Workspaces::Table, Workspaces::Id)
                            .on_delete(ForeignKeyAction::NoAction),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("uq_workspace_connections_workspace_id_name")
                    .table(WorkspaceConnections::Table)
                    .col(WorkspaceConnections::WorkspaceId)
                    .col(WorkspaceConnections::Name)
                    .unique()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(WorkspaceConnections::Table).if_exists().to_owned())
            .await
    }
}
