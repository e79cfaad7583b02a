//! `workflows.description`, `workflows.created_by`, `workflows.updated_by`
//! (the draft document's description; who created the workflow and who last
//! wrote its draft), and `idx_workflow_runs_workspace_id_trigger_type_created_at`
//! (a workspace's runs of one trigger type, by time).
//!
//! The three columns are nullable: rows from before this migration keep
//! their data and get nulls; the description is filled in at the next save
//! of the draft.

use sea_orm_migration::prelude::*;

/// Adds (up) or drops (down) the three columns and the index. SQLite takes
/// one column per `ALTER TABLE`, so each is its own statement.
#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum Workflows {
    Table,
    Description,
    CreatedBy,
    UpdatedBy,
}

#[derive(DeriveIden)]
enum WorkflowRuns {
    Table,
    WorkspaceId,
    TriggerType,
    CreatedAt,
}

const INDEX: &str = "idx_workflow_runs_workspace_id_trigger_type_created_at";

const COLUMNS: [Workflows; 3] = [Workflows::Description, Workflows::CreatedBy, Workflows::UpdatedBy];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for col in COLUMNS {
            manager
                .alter_table(
                    Table::alter()
                        .table(Workflows::Table)
                        .add_column(ColumnDef::new(col).text().null())
                        .to_owned(),
                )
                .await?;
        }
        manager
            .create_index(
                Index::create()
                    .name(INDEX)
                    .table(WorkflowRuns::Table)
                    .col(WorkflowRuns::WorkspaceId)
                    .col(WorkflowRuns::TriggerType)
                    .col(WorkflowRuns::CreatedAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(Index::drop().name(INDEX).table(WorkflowRuns::Table).to_owned())
            .await?;
        for col in COLUMNS.into_iter().rev() {
            manager
                .alter_table(Table::alter().table(Workflows::Table).drop_column(col).to_owned())
                .await?;
        }
        Ok(())
    }
}
