//! `workspace_email_templates`: a workspace's stored email templates (a
//! subject and text and/or HTML bodies with `{{ }}` templates) that
//! SEND_EMAIL's `templateId` renders with the step's `data`; one row per name
//! and workspace.

use sea_orm_migration::prelude::*;

/// Creates (up) or drops (down) `workspace_email_templates`.
#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[derive(DeriveIden)]
enum WorkspaceEmailTemplates {
    Table,
    Id,
    WorkspaceId,
    Name,
    Subject,
    Text,
    Html,
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
                    .table(WorkspaceEmailTemplates::Table)
                    .col(
                        ColumnDef::new(WorkspaceEmailTemplates::Id)
                            .uuid()
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(WorkspaceEmailTemplates::WorkspaceId).uuid().not_null())
                    .col(ColumnDef::new(WorkspaceEmailTemplates::Name).text().not_null())
                    .col(ColumnDef::new(WorkspaceEmailTemplates::Subject).text().not_null())
                    .col(ColumnDef::new(WorkspaceEmailTemplates::Text).text().null())
                    .col(ColumnDef::new(WorkspaceEmailTemplates::Html).text().null())
                    .col(
                        ColumnDef::new(WorkspaceEmailTemplates::CreatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(WorkspaceEmailTemplates::UpdatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_workspace_email_templates_workspace_id")
                            .from(WorkspaceEmailTemplates::Table, WorkspaceEmailTemplates::WorkspaceId)
                            .to(Workspaces::Table, Workspaces::Id)
                            .on_delete(ForeignKeyAction::NoAction),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("uq_workspace_email_templates_workspace_id_name")
                    .table(WorkspaceEmailTemplates::Table)
                    .col(WorkspaceEmailTemplates::WorkspaceId)
                    .col(WorkspaceEmailTemplates::Name)
                    .unique()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(
                Table::drop()
                    .table(WorkspaceEmailTemplates::Table)
                    .if_exists()
                    .to_owned(),
            )
            .await
    }
}
