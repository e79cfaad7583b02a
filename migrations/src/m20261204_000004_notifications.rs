//! `workspace_notifications`: a workspace's in-app inbox (CREATE_NOTIFICATION
//! writes, `GET /v1/notifications` reads); one notification per step of a run
//! (a retried attempt finds the one it made).

use sea_orm_migration::prelude::*;

/// Creates (up) or drops (down) `workspace_notifications`.
#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[derive(DeriveIden)]
enum WorkspaceNotifications {
    Table,
    Id,
    WorkspaceId,
    Recipient,
    Title,
    Body,
    Level,
    Link,
    Data,
    RunId,
    StepPath,
    DedupKey,
    ReadAt,
    CreatedAt,
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
        use WorkspaceNotifications as N;
        manager
            .create_table(
                Table::create()
                    .table(N::Table)
                    .col(ColumnDef::new(N::Id).uuid().not_null().primary_key())
                    .col(ColumnDef::new(N::WorkspaceId).uuid().not_null())
                    .col(ColumnDef::new(N::Recipient).text().not_null())
                    .col(ColumnDef::new(N::Title).text().not_null())
                    .col(ColumnDef::new(N::Body).text().not_null())
                    .col(ColumnDef::new(N::Level).text().not_null())
                    .col(ColumnDef::new(N::Link).text().null())
                    .col(ColumnDef::new(N::Data).json_binary().null())
                    .col(ColumnDef::new(N::RunId).uuid().null())
                    .col(ColumnDef::new(N::StepPath).text().null())
                    .col(ColumnDef::new(N::DedupKey).text().not_null())
                    .col(ColumnDef::new(N::ReadAt).timestamp_with_time_zone().null())
                    .col(ColumnDef::new(N::CreatedAt).timestamp_with_time_zone().not_null())
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_workspace_notifications_workspace_id")
                            .from(N::Table, N::WorkspaceId)
                            .to(Workspaces::Table, Workspaces::Id)
                            .on_delete(ForeignKeyAction::NoAction),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("uq_workspace_notifications_workspace_id_dedup_key")
                    .table(N::Table)
                    .col(N::WorkspaceId)
                    .col(N::DedupKey)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_workspace_notifications_workspace_id_recipient_id")
                    .table(N::Table)
                    .col(N::WorkspaceId)
                    .col(N::Recipient)
                    .col(N::Id)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(
                Table::drop()
                    .table(WorkspaceNotifications::Table)
                    .if_exists()
                    .to_owned(),
            )
            .await
    }
}
