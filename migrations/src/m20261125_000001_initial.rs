//! The initial orbflow schema: every table, unique constraint, index and foreign key.
//!
//! Column names are snake_case and match the entities in `orbflow-store`. Unique constraints
//! over several columns are unique indexes (`uq_*`), plain indexes are `idx_*`, foreign keys
//! `fk_*`; the names are unique per database so that both backends accept them.

use sea_orm_migration::prelude::*;

/// Creates (up) or drops (down) the whole schema. Runs in one transaction on every backend
/// (SQLite and Postgres both have transactional DDL), so a failure leaves nothing behind.
#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in tables() {
            manager.create_table(table).await?;
        }
        for index in indexes() {
            manager.create_index(index).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // Children before parents: the reverse of the creation order. Indexes go with
        // their tables.
        for table in TABLES_IN_ORDER.iter().rev() {
            manager
                .drop_table(Table::drop().table(Alias::new(*table)).if_exists().to_owned())
                .await?;
        }
        Ok(())
    }
}

/// Table names in creation order (every table after the tables it references).
const TABLES_IN_ORDER: &[&str] = &[
    "workspaces",
    "api_tokens",
    "workflows",
    "workflow_versions",
    "workflow_steps",
    "workflow_schedules",
    "workflow_webhooks",
    "workflow_event_subscriptions",
    "workflow_runs",
    "workflow_schedule_fires",
    "step_executions",
    "workflow_run_logs",
    "lease_tokens",
];

// ---------------------------------------------------------------------------------------
// Column helpers. Every column is NOT NULL unless its helper ends in `_null`.

fn uuid_pk(col: impl IntoIden) -> ColumnDef {
    ColumnDef::new(col).uuid().not_null().primary_key().take()
}
fn uuid(col: impl IntoIden) -> ColumnDef {
    ColumnDef::new(col).uuid().not_null().take()
}
fn uuid_null(col: impl IntoIden) -> ColumnDef {
    ColumnDef::new(col).uuid().null().take()
}
fn text(col: impl IntoIden) -> ColumnDef {
    ColumnDef::new(col).text().not_null().take()
}
fn text_null(col: impl IntoIden) -> ColumnDef {
    ColumnDef::new(col).text().null().take()
}
fn int(col: impl IntoIden) -> ColumnDef {
    ColumnDef::new(col).integer().not_null().take()
}
fn int_null(col: impl IntoIden) -> ColumnDef {
    ColumnDef::new(col).integer().null().take()
}
fn bigint(col: impl IntoIden) -> ColumnDef {
    ColumnDef::new(col).big_integer().not_null().take()
}
fn bigint_null(col: impl IntoIden) -> ColumnDef {
    ColumnDef::new(col).big_integer().null().take()
}
fn boolean(col: impl IntoIden) -> ColumnDef {
    ColumnDef::new(col).boolean().not_null().take()
}
fn json(col: impl IntoIden) -> ColumnDef {
    ColumnDef::new(col).json_binary().not_null().take()
}
fn json_null(col: impl IntoIden) -> ColumnDef {
    ColumnDef::new(col).json_binary().null().take()
}
fn ts(col: impl IntoIden) -> ColumnDef {
    ColumnDef::new(col).timestamp_with_time_zone().not_null().take()
}
fn ts_null(col: impl IntoIden) -> ColumnDef {
    ColumnDef::new(col).timestamp_with_time_zone().null().take()
}

/// A foreign key `fk_<table>_<column>` from `table.col` to `to.id`.
fn fk(
    table: impl IntoIden + Copy,
    col: impl IntoIden,
    to: impl IntoIden,
    on_delete: ForeignKeyAction,
) -> ForeignKeyCreateStatement {
    let col = col.into_iden();
    let name = format!("fk_{}_{}", table.into_iden(), col);
    ForeignKey::create()
        .name(name)
        .from(table, col)
        .to(to, Alias::new("id"))
        .on_delete(on_delete)
        .on_update(ForeignKeyAction::NoAction)
        .take()
}

/// An index on `table (cols…)`, named `idx_<table>_<cols>` (or `uq_…` when unique).
fn index<T: IntoIden + Copy, C: IntoIden + Copy>(table: T, cols: &[C], unique: bool) -> IndexCreateStatement {
    let names: Vec<String> = cols.iter().map(|c| c.into_iden().to_string()).collect();
    let prefix = if unique { "uq" } else { "idx" };
    let mut stmt = Index::create();
    stmt.name(format!("{prefix}_{}_{}", table.into_iden(), names.join("_")))
        .table(table);
    for c in cols {
        stmt.col(*c);
    }
    if unique {
        stmt.unique();
    }
    stmt
}

// ---------------------------------------------------------------------------------------
// Tables.

fn tables() -> Vec<TableCreateStatement> {
    use ForeignKeyAction::{Cascade, NoAction, SetNull};

    vec![
        Table::create()
            .table(Workspaces::Table)
            .col(uuid_pk(Workspaces::Id))
            .col(text(Workspaces::Slug).unique_key())
            .col(text(Workspaces::Name))
            .col(ts(Workspaces::CreatedAt))
            .take(),
        Table::create()
            .table(ApiTokens::Table)
            .col(uuid_pk(ApiTokens::Id))
            .col(uuid(ApiTokens::WorkspaceId))
            .col(text(ApiTokens::Name))
            .col(text(ApiTokens::TokenHash).unique_key())
            .col(text(ApiTokens::TokenPrefix))
            .col(json(ApiTokens::Permissions))
            .col(ts(ApiTokens::CreatedAt))
            .col(ts_null(ApiTokens::LastUsedAt))
            .col(ts_null(ApiTokens::RevokedAt))
            .foreign_key(&mut fk(
                ApiTokens::Table,
                ApiTokens::WorkspaceId,
                Workspaces::Table,
                NoAction,
            ))
            .take(),
        Table::create()
            .table(Workflows::Table)
            .col(uuid_pk(Workflows::Id))
            .col(uuid(Workflows::WorkspaceId))
            .col(text(Workflows::Slug))
            .col(text(Workflows::Name))
            .col(text(Workflows::Status))
            .col(int_null(Workflows::ActiveVersion))
            .col(text(Workflows::DraftDocument))
            .col(text(Workflows::DraftFormat))
            .col(bigint(Workflows::DraftRevision))
            .col(ts(Workflows::CreatedAt))
            .col(ts(Workflows::UpdatedAt))
            .foreign_key(&mut fk(
                Workflows::Table,
                Workflows::WorkspaceId,
                Workspaces::Table,
                NoAction,
            ))
            .take(),
        Table::create()
            .table(WorkflowVersions::Table)
            .col(uuid_pk(WorkflowVersions::Id))
            .col(uuid(WorkflowVersions::WorkflowId))
            .col(int(WorkflowVersions::Number))
            .col(text(WorkflowVersions::Document))
            .col(text(WorkflowVersions::Checksum))
            .col(ts(WorkflowVersions::PublishedAt))
            .col(text_null(WorkflowVersions::PublishedBy))
            .foreign_key(&mut fk(
                WorkflowVersions::Table,
                WorkflowVersions::WorkflowId,
                Workflows::Table,
                NoAction,
            ))
            .take(),
        Table::create()
            .table(WorkflowSteps::Table)
            .col(uuid_pk(WorkflowSteps::Id))
            .col(uuid(WorkflowSteps::VersionId))
            .col(text(WorkflowSteps::Key))
            .col(text(WorkflowSteps::StepType))
            .col(text(WorkflowSteps::Action))
            .col(json_null(WorkflowSteps::Config))
            .col(int(WorkflowSteps::Sequence))
            .col(int(WorkflowSteps::Position))
            .col(json(WorkflowSteps::Dependencies))
            .col(json_null(WorkflowSteps::DependsOn))
            .col(text_null(WorkflowSteps::ParentKey))
            .col(text_null(WorkflowSteps::BranchType))
            .col(json_null(WorkflowSteps::BranchCondition))
            .col(int_null(WorkflowSteps::BranchIndex))
            .col(text_null(WorkflowSteps::Name))
            .col(text_null(WorkflowSteps::Description))
            .col(json_null(WorkflowSteps::Retry))
            .col(bigint_null(WorkflowSteps::TimeoutMs))
            .col(text_null(WorkflowSteps::OnError))
            .foreign_key(&mut fk(
                WorkflowSteps::Table,
                WorkflowSteps::VersionId,
                WorkflowVersions::Table,
                Cascade,
            ))
            .take(),
        Table::create()
            .table(WorkflowSchedules::Table)
            .col(uuid_pk(WorkflowSchedules::Id))
            .col(uuid(WorkflowSchedules::WorkflowId))
            .col(uuid(WorkflowSchedules::VersionId))
            .col(int(WorkflowSchedules::TriggerIndex))
            .col(text(WorkflowSchedules::Cron))
            .col(text(WorkflowSchedules::Timezone))
            .col(json_null(WorkflowSchedules::Input))
            .col(text(WorkflowSchedules::CatchUp))
            .col(boolean(WorkflowSchedules::Enabled))
            .col(ts_null(WorkflowSchedules::NextFireAt))
            .col(ts_null(WorkflowSchedules::LastFiredAt))
            .col(ts(WorkflowSchedules::CreatedAt))
            .foreign_key(&mut fk(
                WorkflowSchedules::Table,
                WorkflowSchedules::WorkflowId,
                Workflows::Table,
                Cascade,
            ))
            .foreign_key(&mut fk(
                WorkflowSchedules::Table,
                WorkflowSchedules::VersionId,
                WorkflowVersions::Table,
                Cascade,
            ))
            .take(),
        Table::create()
            .table(WorkflowWebhooks::Table)
            .col(uuid_pk(WorkflowWebhooks::Id))
            .col(uuid(WorkflowWebhooks::WorkflowId))
            .col(uuid(WorkflowWebhooks::VersionId))
            .col(text(WorkflowWebhooks::Key))
            .col(text(WorkflowWebhooks::Scheme))
            .col(text_null(WorkflowWebhooks::SecretName))
            .col(bigint_null(WorkflowWebhooks::ToleranceMs))
            .col(text_null(WorkflowWebhooks::Header))
            .col(ts(WorkflowWebhooks::CreatedAt))
            .foreign_key(&mut fk(
                WorkflowWebhooks::Table,
                WorkflowWebhooks::WorkflowId,
                Workflows::Table,
                Cascade,
            ))
            .foreign_key(&mut fk(
                WorkflowWebhooks::Table,
                WorkflowWebhooks::VersionId,
                WorkflowVersions::Table,
                Cascade,
            ))
            .take(),
        Table::create()
            .table(WorkflowEventSubscriptions::Table)
            .col(uuid_pk(WorkflowEventSubscriptions::Id))
            .col(uuid(WorkflowEventSubscriptions::WorkflowId))
            .col(uuid(WorkflowEventSubscriptions::VersionId))
            .col(text(WorkflowEventSubscriptions::EventType))
            .col(text_null(WorkflowEventSubscriptions::Filter))
            .col(ts(WorkflowEventSubscriptions::CreatedAt))
            .foreign_key(&mut fk(
                WorkflowEventSubscriptions::Table,
                WorkflowEventSubscriptions::WorkflowId,
                Workflows::Table,
                Cascade,
            ))
            .foreign_key(&mut fk(
                WorkflowEventSubscriptions::Table,
                WorkflowEventSubscriptions::VersionId,
                WorkflowVersions::Table,
                Cascade,
            ))
            .take(),
        Table::create()
            .table(WorkflowRuns::Table)
            .col(uuid_pk(WorkflowRuns::Id))
            .col(uuid(WorkflowRuns::WorkspaceId))
            .col(uuid(WorkflowRuns::WorkflowId))
            .col(uuid(WorkflowRuns::VersionId))
            .col(int(WorkflowRuns::VersionNumber))
            .col(text(WorkflowRuns::Status))
            .col(text(WorkflowRuns::TriggerType))
            .col(json_null(WorkflowRuns::TriggerData))
            .col(json(WorkflowRuns::Input))
            .col(json_null(WorkflowRuns::Output))
            .col(json_null(WorkflowRuns::Error))
            .col(text_null(WorkflowRuns::IdempotencyKey))
            .col(text_null(WorkflowRuns::TraceId))
            .col(int(WorkflowRuns::TotalSteps))
            .col(int(WorkflowRuns::FinishedSteps))
            .col(ts(WorkflowRuns::CreatedAt))
            .col(ts_null(WorkflowRuns::StartedAt))
            .col(ts_null(WorkflowRuns::EndedAt))
            .col(ts(WorkflowRuns::UpdatedAt))
            .foreign_key(&mut fk(
                WorkflowRuns::Table,
                WorkflowRuns::WorkspaceId,
                Workspaces::Table,
                NoAction,
            ))
            .foreign_key(&mut fk(
                WorkflowRuns::Table,
                WorkflowRuns::WorkflowId,
                Workflows::Table,
                NoAction,
            ))
            .foreign_key(&mut fk(
                WorkflowRuns::Table,
                WorkflowRuns::VersionId,
                WorkflowVersions::Table,
                NoAction,
            ))
            .take(),
        Table::create()
            .table(WorkflowScheduleFires::Table)
            .col(uuid(WorkflowScheduleFires::ScheduleId))
            .col(ts(WorkflowScheduleFires::FireTime))
            .col(uuid_null(WorkflowScheduleFires::RunId))
            .col(ts(WorkflowScheduleFires::CreatedAt))
            .primary_key(
                Index::create()
                    .name("pk_workflow_schedule_fires")
                    .col(WorkflowScheduleFires::ScheduleId)
                    .col(WorkflowScheduleFires::FireTime),
            )
            .foreign_key(&mut fk(
                WorkflowScheduleFires::Table,
                WorkflowScheduleFires::ScheduleId,
                WorkflowSchedules::Table,
                Cascade,
            ))
            .foreign_key(&mut fk(
                WorkflowScheduleFires::Table,
                WorkflowScheduleFires::RunId,
                WorkflowRuns::Table,
                SetNull,
            ))
            .take(),
        Table::create()
            .table(StepExecutions::Table)
            .col(uuid_pk(StepExecutions::Id))
            .col(uuid(StepExecutions::RunId))
            .col(text(StepExecutions::Path))
            .col(text(StepExecutions::StepKey))
            .col(text_null(StepExecutions::ParentPath))
            .col(int_null(StepExecutions::LoopIndex))
            .col(text(StepExecutions::Status))
            .col(int(StepExecutions::Attempt))
            .col(int(StepExecutions::MaxAttempts))
            .col(int(StepExecutions::PendingDeps))
            .col(int(StepExecutions::PendingChildren))
            .col(int(StepExecutions::SatisfiedDeps))
            .col(int(StepExecutions::SkippedDeps))
            .col(json_null(StepExecutions::Output))
            .col(json_null(StepExecutions::Error))
            .col(json_null(StepExecutions::WaitOutput))
            .col(ts(StepExecutions::CreatedAt))
            .col(ts_null(StepExecutions::QueuedAt))
            .col(ts_null(StepExecutions::StartedAt))
            .col(ts_null(StepExecutions::EndedAt))
            .col(ts_null(StepExecutions::NextAttemptAt))
            .col(text_null(StepExecutions::LeaseOwner))
            .col(bigint_null(StepExecutions::LeaseToken))
            .col(ts_null(StepExecutions::LeaseExpiresAt))
            .col(ts(StepExecutions::UpdatedAt))
            .foreign_key(&mut fk(
                StepExecutions::Table,
                StepExecutions::RunId,
                WorkflowRuns::Table,
                Cascade,
            ))
            .take(),
        Table::create()
            .table(WorkflowRunLogs::Table)
            .col(
                ColumnDef::new(WorkflowRunLogs::Id)
                    .big_integer()
                    .not_null()
                    .auto_increment()
                    .primary_key(),
            )
            .col(uuid(WorkflowRunLogs::RunId))
            .col(text_null(WorkflowRunLogs::StepPath))
            .col(int_null(WorkflowRunLogs::Attempt))
            .col(text(WorkflowRunLogs::Level))
            .col(text(WorkflowRunLogs::Message))
            .col(json_null(WorkflowRunLogs::Data))
            .col(ts(WorkflowRunLogs::CreatedAt))
            .foreign_key(&mut fk(
                WorkflowRunLogs::Table,
                WorkflowRunLogs::RunId,
                WorkflowRuns::Table,
                Cascade,
            ))
            .take(),
        Table::create()
            .table(LeaseTokens::Table)
            .col(ColumnDef::new(LeaseTokens::Name).text().not_null().primary_key())
            .col(bigint(LeaseTokens::Value))
            .take(),
    ]
}

fn indexes() -> Vec<IndexCreateStatement> {
    vec![
        index(ApiTokens::Table, &[ApiTokens::WorkspaceId], false),
        index(Workflows::Table, &[Workflows::WorkspaceId, Workflows::Slug], true),
        index(Workflows::Table, &[Workflows::WorkspaceId, Workflows::Status], false),
        index(
            WorkflowVersions::Table,
            &[WorkflowVersions::WorkflowId, WorkflowVersions::Number],
            true,
        ),
        index(
            WorkflowVersions::Table,
            &[WorkflowVersions::WorkflowId, WorkflowVersions::Checksum],
            false,
        ),
        index(
            WorkflowSteps::Table,
            &[WorkflowSteps::VersionId, WorkflowSteps::Key],
            true,
        ),
        index(
            WorkflowSteps::Table,
            &[WorkflowSteps::VersionId, WorkflowSteps::Sequence],
            false,
        ),
        index(
            WorkflowSchedules::Table,
            &[WorkflowSchedules::Enabled, WorkflowSchedules::NextFireAt],
            false,
        ),
        index(
            WorkflowSchedules::Table,
            &[WorkflowSchedules::VersionId, WorkflowSchedules::TriggerIndex],
            true,
        ),
        index(
            WorkflowWebhooks::Table,
            &[WorkflowWebhooks::WorkflowId, WorkflowWebhooks::Key],
            true,
        ),
        index(
            WorkflowEventSubscriptions::Table,
            &[WorkflowEventSubscriptions::EventType],
            false,
        ),
        index(
            WorkflowRuns::Table,
            &[WorkflowRuns::WorkflowId, WorkflowRuns::IdempotencyKey],
            true,
        ),
        index(
            WorkflowRuns::Table,
            &[WorkflowRuns::WorkflowId, WorkflowRuns::CreatedAt],
            false,
        ),
        index(
            WorkflowRuns::Table,
            &[WorkflowRuns::Status, WorkflowRuns::UpdatedAt],
            false,
        ),
        index(
            WorkflowRuns::Table,
            &[WorkflowRuns::WorkspaceId, WorkflowRuns::CreatedAt],
            false,
        ),
        index(
            StepExecutions::Table,
            &[StepExecutions::RunId, StepExecutions::Path],
            true,
        ),
        index(
            StepExecutions::Table,
            &[StepExecutions::Status, StepExecutions::NextAttemptAt],
            false,
        ),
        index(
            StepExecutions::Table,
            &[StepExecutions::Status, StepExecutions::LeaseExpiresAt],
            false,
        ),
        index(
            StepExecutions::Table,
            &[StepExecutions::Status, StepExecutions::QueuedAt],
            false,
        ),
        index(
            StepExecutions::Table,
            &[StepExecutions::RunId, StepExecutions::Status],
            false,
        ),
        index(
            WorkflowRunLogs::Table,
            &[WorkflowRunLogs::RunId, WorkflowRunLogs::Id],
            false,
        ),
    ]
}

// ---------------------------------------------------------------------------------------
// Identifiers. `Table` is the snake_case plural of the enum name.

#[derive(DeriveIden, Clone, Copy)]
enum Workspaces {
    Table,
    Id,
    Slug,
    Name,
    CreatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum ApiTokens {
    Table,
    Id,
    WorkspaceId,
    Name,
    TokenHash,
    TokenPrefix,
    Permissions,
    CreatedAt,
    LastUsedAt,
    RevokedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum Workflows {
    Table,
    Id,
    WorkspaceId,
    Slug,
    Name,
    Status,
    ActiveVersion,
    DraftDocument,
    DraftFormat,
    DraftRevision,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum WorkflowVersions {
    Table,
    Id,
    WorkflowId,
    Number,
    Document,
    Checksum,
    PublishedAt,
    PublishedBy,
}

#[derive(DeriveIden, Clone, Copy)]
enum WorkflowSteps {
    Table,
    Id,
    VersionId,
    Key,
    StepType,
    Action,
    Config,
    Sequence,
    Position,
    Dependencies,
    DependsOn,
    ParentKey,
    BranchType,
    BranchCondition,
    BranchIndex,
    Name,
    Description,
    Retry,
    TimeoutMs,
    OnError,
}

#[derive(DeriveIden, Clone, Copy)]
enum WorkflowSchedules {
    Table,
    Id,
    WorkflowId,
    VersionId,
    TriggerIndex,
    Cron,
    Timezone,
    Input,
    CatchUp,
    Enabled,
    NextFireAt,
    LastFiredAt,
    CreatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum WorkflowScheduleFires {
    Table,
    ScheduleId,
    FireTime,
    RunId,
    CreatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum WorkflowWebhooks {
    Table,
    Id,
    WorkflowId,
    VersionId,
    Key,
    Scheme,
    SecretName,
    ToleranceMs,
    Header,
    CreatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum WorkflowEventSubscriptions {
    Table,
    Id,
    WorkflowId,
    VersionId,
    EventType,
    Filter,
    CreatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum WorkflowRuns {
    Table,
    Id,
    WorkspaceId,
    WorkflowId,
    VersionId,
    VersionNumber,
    Status,
    TriggerType,
    TriggerData,
    Input,
    Output,
    Error,
    IdempotencyKey,
    TraceId,
    TotalSteps,
    FinishedSteps,
    CreatedAt,
    StartedAt,
    EndedAt,
    UpdatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum StepExecutions {
    Table,
    Id,
    RunId,
    Path,
    StepKey,
    ParentPath,
    LoopIndex,
    Status,
    Attempt,
    MaxAttempts,
    PendingDeps,
    PendingChildren,
    SatisfiedDeps,
    SkippedDeps,
    Output,
    Error,
    WaitOutput,
    CreatedAt,
    QueuedAt,
    StartedAt,
    EndedAt,
    NextAttemptAt,
    LeaseOwner,
    LeaseToken,
    LeaseExpiresAt,
    UpdatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum WorkflowRunLogs {
    Table,
    Id,
    RunId,
    StepPath,
    Attempt,
    Level,
    Message,
    Data,
    CreatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum LeaseTokens {
    Table,
    Name,
    Value,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The statements each backend receives; a readable check that the one definition
    /// produces the intended types on both.
    #[test]
    fn renders_on_both_backends() {
        let pg: Vec<String> = tables().iter().map(|t| t.to_string(PostgresQueryBuilder)).collect();
        let lite: Vec<String> = tables().iter().map(|t| t.to_string(SqliteQueryBuilder)).collect();
        assert_eq!(pg.len(), TABLES_IN_ORDER.len());
        for (i, name) in TABLES_IN_ORDER.iter().enumerate() {
            assert!(pg[i].starts_with(&format!("CREATE TABLE \"{name}\"")), "{}", pg[i]);
            assert!(lite[i].starts_with(&format!("CREATE TABLE \"{name}\"")), "{}", lite[i]);
        }
        let runs = &pg[TABLES_IN_ORDER.iter().position(|t| *t == "workflow_runs").unwrap()];
        assert!(runs.contains("\"id\" uuid NOT NULL PRIMARY KEY"), "{runs}");
        assert!(runs.contains("\"input\" jsonb NOT NULL"), "{runs}");
        assert!(
            runs.contains("\"created_at\" timestamp with time zone NOT NULL"),
            "{runs}"
        );
        let logs_pg = &pg[TABLES_IN_ORDER.iter().position(|t| *t == "workflow_run_logs").unwrap()];
        assert!(
            logs_pg.contains("\"id\" bigint GENERATED BY DEFAULT AS IDENTITY"),
            "{logs_pg}"
        );
        let logs_lite = &lite[TABLES_IN_ORDER.iter().position(|t| *t == "workflow_run_logs").unwrap()];
        assert!(
            logs_lite.contains("\"id\" integer NOT NULL PRIMARY KEY AUTOINCREMENT"),
            "{logs_lite}"
        );
        let fires = &lite[TABLES_IN_ORDER
            .iter()
            .position(|t| *t == "workflow_schedule_fires")
            .unwrap()];
        assert!(
            fires.contains("PRIMARY KEY (\"schedule_id\", \"fire_time\")"),
            "{fires}"
        );
    }

    #[test]
    fn index_names_are_unique() {
        let mut names: Vec<String> = indexes()
            .iter()
            .map(|i| {
                let sql = i.to_string(PostgresQueryBuilder);
                let start = sql.find("INDEX \"").unwrap() + 7;
                let end = start + sql[start..].find('"').unwrap();
                sql[start..end].to_owned()
            })
            .collect();
        assert_eq!(names.len(), 21);
        names.sort();
        names.dedup();
        assert_eq!(names.len(), 21);
    }
}
