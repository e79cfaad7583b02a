//! Accepted events (`POST /v1/events`): one row per event id and workspace, so
//! that an event id is accepted once however often it is published.

use sea_orm_migration::prelude::*;

/// Creates (up) or drops (down) `workflow_events`.
#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[derive(DeriveIden)]
enum WorkflowEvents {
    Table,
    Id,
    WorkspaceId,
    EventId,
    EventType,
    Data,
    RunIds,
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
        manager
            .create_table(
                Table::create()
                    .table(WorkflowEvents::Table)
                    .col(ColumnDef::new(WorkflowEvents::Id).uuid().not_null().primary_key())
                    .col(ColumnDef::new(WorkflowEvents::WorkspaceId).uuid().not_null())
                    .col(ColumnDef::new(WorkflowEvents::EventId).text().not_null())
                    .col(ColumnDef::new(WorkflowEvents::EventType).text().not_null())
                    .col(ColumnDef::new(WorkflowEvents::Data).json_binary().not_null())
                    .col(ColumnDef::new(WorkflowEvents::RunIds).json_binary().not_null())
                    .col(
                        ColumnDef::new(WorkflowEvents::CreatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_workflow_events_workspace_id")
                            .from(WorkflowEvents::Table, WorkflowEvents::WorkspaceId)
                            .to(Workspaces::Table, Workspaces::Id)
                            .on_delete(ForeignKeyAction::NoAction),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("uq_workflow_events_workspace_id_event_id")
                    .table(WorkflowEvents::Table)
                    .col(WorkflowEvents::WorkspaceId)
                    .col(WorkflowEvents::EventId)
                    .unique()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(WorkflowEvents::Table).if_exists().to_owned())
            .await
    }
}
