//! `workflow_runs.trace_context` and `workflow_runs.trace_parent_span_id`:
//! the W3C `traceparent` of a run's own span and the span it was started
//! under. `trace_id` (in the table since the start) holds the trace id
//! alone, for lookups.

use sea_orm_migration::prelude::*;

/// Adds (up) or drops (down) the two columns. SQLite takes one column per
/// `ALTER TABLE`, so each is its own statement.
#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[derive(DeriveIden)]
enum WorkflowRuns {
    Table,
    TraceContext,
    TraceParentSpanId,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for col in [WorkflowRuns::TraceContext, WorkflowRuns::TraceParentSpanId] {
            manager
                .alter_table(
                    Table::alter()
                        .table(WorkflowRuns::Table)
                        .add_column(ColumnDef::new(col).text().null())
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for col in [WorkflowRuns::TraceParentSpanId, WorkflowRuns::TraceContext] {
            manager
                .alter_table(Table::alter().table(WorkflowRuns::Table).drop_column(col).to_owned())
                .await?;
        }
        Ok(())
    }
}
