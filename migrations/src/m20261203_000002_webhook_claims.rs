//! Webhooks: the short URL `/hooks/{slug}/{key}` becomes a claim, and
//! `hmac-sha256` may sign a timestamp.
//!
//! - `workflow_webhooks.short_url_slug`: the workflow's slug while this
//!   webhook holds the short URL; unique with `key` across every workspace
//!   (`uq_workflow_webhooks_short_url_slug_key`), so the first workspace to
//!   publish an active workflow with that slug and key owns it, exactly once
//!   under concurrency. The rows already there are backfilled: the oldest
//!   row of each (slug, key) claims it, later duplicates keep NULL (their
//!   full URL still works; their next publish is refused until the owner
//!   releases the claim).
//! - `workflow_webhooks.timestamp_header`: `verify.timestampHeader`.

use sea_orm_migration::prelude::*;

/// Adds (up) or drops (down) the two columns and the unique index.
#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[derive(DeriveIden)]
enum WorkflowWebhooks {
    Table,
    Key,
    ShortUrlSlug,
    TimestampHeader,
}

const INDEX: &str = "uq_workflow_webhooks_short_url_slug_key";

/// The oldest webhook of each (workflow slug, key) claims the short URL (ids
/// are UUIDv7, so the smallest is the oldest on both backends).
const BACKFILL: &str = "UPDATE workflow_webhooks \
     SET short_url_slug = (SELECT w.slug FROM workflows w WHERE w.id = workflow_webhooks.workflow_id) \
     WHERE NOT EXISTS (\
       SELECT 1 FROM workflow_webhooks h2 \
       JOIN workflows w2 ON w2.id = h2.workflow_id \
       JOIN workflows w1 ON w1.id = workflow_webhooks.workflow_id \
       WHERE h2.key = workflow_webhooks.key AND w2.slug = w1.slug AND h2.id < workflow_webhooks.id)";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // one column per statement: SQLite alters one thing at a time
        for column in [WorkflowWebhooks::ShortUrlSlug, WorkflowWebhooks::TimestampHeader] {
            manager
                .alter_table(
                    Table::alter()
                        .table(WorkflowWebhooks::Table)
                        .add_column(ColumnDef::new(column).text().null())
                        .to_owned(),
                )
                .await?;
        }
        manager.get_connection().execute_unprepared(BACKFILL).await?;
        manager
            .create_index(
                Index::create()
                    .name(INDEX)
                    .table(WorkflowWebhooks::Table)
                    .col(WorkflowWebhooks::ShortUrlSlug)
                    .col(WorkflowWebhooks::Key)
                    .unique()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(Index::drop().name(INDEX).table(WorkflowWebhooks::Table).to_owned())
            .await?;
        for column in [WorkflowWebhooks::ShortUrlSlug, WorkflowWebhooks::TimestampHeader] {
            manager
                .alter_table(
                    Table::alter()
                        .table(WorkflowWebhooks::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}
