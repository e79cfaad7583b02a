//! The workspace data store: `workspace_records`, JSON records in named
//! collections (UPDATE_DATABASE writes, `/v1/collections/{name}/records`
//! reads and writes), and `workspace_record_writes`, one row per step of a
//! run that wrote (a retried attempt returns what the first one did).

use sea_orm_migration::prelude::*;

/// Creates (up) or drops (down) the data store's tables.
#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[derive(DeriveIden)]
enum WorkspaceRecords {
    Table,
    Id,
    WorkspaceId,
    Collection,
    Data,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum WorkspaceRecordWrites {
    Table,
    Id,
    WorkspaceId,
    DedupKey,
    Result,
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
        use WorkspaceRecordWrites as W;
        use WorkspaceRecords as R;
        manager
            .create_table(
                Table::create()
                    .table(R::Table)
                    .col(ColumnDef::new(R::Id).uuid().not_null().primary_key())
                    .col(ColumnDef::new(R::WorkspaceId).uuid().not_null())
                    .col(ColumnDef::new(R::Collection).text().not_null())
                    .col(ColumnDef::new(R::Data).json_binary().not_null())
                    .col(ColumnDef::new(R::CreatedAt).timestamp_with_time_zone().not_null())
                    .col(ColumnDef::new(R::UpdatedAt).timestamp_with_time_zone().not_null())
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_workspace_records_workspace_id")
                            .from(R::Table, R::WorkspaceId)
                            .to(Workspaces::Table, Workspaces::Id)
                            .on_delete(ForeignKeyAction::NoAction),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_workspace_records_workspace_id_collection_id")
                    .table(R::Table)
                    .col(R::WorkspaceId)
                    .col(R::Collection)
                    .col(R::Id)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(W::Table)
                    .col(ColumnDef::new(W::Id).uuid().not_null().primary_key())
                    .col(ColumnDef::new(W::WorkspaceId).uuid().not_null())
                    .col(ColumnDef::new(W::DedupKey).text().not_null())
                    .col(ColumnDef::new(W::Result).json_binary().not_null())
                    .col(ColumnDef::new(W::CreatedAt).timestamp_with_time_zone().not_null())
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_workspace_record_writes_workspace_id")
                            .from(W::Table, W::WorkspaceId)
                            .to(Workspaces::Table, Workspaces::Id)
                            .on_delete(ForeignKeyAction::NoAction),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("uq_workspace_record_writes_workspace_id_dedup_key")
                    .table(W::Table)
                    .col(W::WorkspaceId)
                    .col(W::DedupKey)
                    .unique()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(WorkspaceRecordWrites::Table).if_exists().to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(WorkspaceRecords::Table).if_exists().to_owned())
            .await
    }
}
