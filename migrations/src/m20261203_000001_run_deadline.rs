//! `workflow_runs.deadline_at`: when a run with a workflow-level `timeout`
//! must have finished; the reconciler fails the runs past it.

use sea_orm_migration::prelude::*;

/// Adds (up) or drops (down) `workflow_runs.deadline_at` and its index.
#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[derive(DeriveIden)]
enum WorkflowRuns {
    Table,
    DeadlineAt,
}

const INDEX: &str = "idx_workflow_runs_deadline_at";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(WorkflowRuns::Table)
                    .add_column(
                        ColumnDef::new(WorkflowRuns::DeadlineAt)
                            .timestamp_with_time_zone()
                            .null(),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name(INDEX)
                    .table(WorkflowRuns::Table)
                    .col(WorkflowRuns::DeadlineAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(Index::drop().name(INDEX).table(WorkflowRuns::Table).to_owned())
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(WorkflowRuns::Table)
                    .drop_column(WorkflowRuns::DeadlineAt)
                    .to_owned(),
            )
            .await
    }
}
