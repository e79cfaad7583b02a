//! The list of migrations, in the order they are applied.

use sea_orm_migration::prelude::*;

use crate::{
    m20261125_000001_initial, m20261201_000001_events, m20261203_000001_run_deadline, m20261203_000002_webhook_claims,
    m20261204_000001_run_trace, m20261204_000002_workspace_secrets, m20261204_000003_workspace_connections,
    m20261204_000004_notifications, m20261204_000005_data_store, m20261204_000006_email_templates,
    m20261205_000001_workflow_audit,
};

/// Every orbflow migration, oldest first. Apply with `Migrator::up(&db, None)`; roll back
/// everything with `Migrator::down(&db, None)`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261125_000001_initial::Migration),
            Box::new(m20261201_000001_events::Migration),
            Box::new(m20261203_000001_run_deadline::Migration),
            Box::new(m20261203_000002_webhook_claims::Migration),
            Box::new(m20261204_000001_run_trace::Migration),
            Box::new(m20261204_000002_workspace_secrets::Migration),
            Box::new(m20261204_000003_workspace_connections::Migration),
            Box::new(m20261204_000004_notifications::Migration),
            Box::new(m20261204_000005_data_store::Migration),
            Box::new(m20261204_000006_email_templates::Migration),
            Box::new(m20261205_000001_workflow_audit::Migration),
        ]
    }
}
