//! One SeaORM entity per table (see docs/DATABASE_SCHEMA.md).

pub mod api_tokens;
pub mod lease_tokens;
pub mod step_executions;
pub mod workflow_event_subscriptions;
pub mod workflow_events;
pub mod workflow_run_logs;
pub mod workflow_runs;
pub mod workflow_schedule_fires;
pub mod workflow_schedules;
pub mod workflow_steps;
pub mod workflow_versions;
pub mod workflow_webhooks;
pub mod workflows;
pub mod workspace_connections;
pub mod workspace_email_templates;
pub mod workspace_notifications;
pub mod workspace_record_writes;
pub mod workspace_records;
pub mod workspace_secrets;
pub mod workspaces;

/// The entity types under short names: `use orbflow_store::entity::prelude::*`.
pub mod prelude {
    pub use super::api_tokens::Entity as ApiTokens;
    pub use super::lease_tokens::Entity as LeaseTokens;
    pub use super::step_executions::Entity as StepExecutions;
    pub use super::workflow_event_subscriptions::Entity as WorkflowEventSubscriptions;
    pub use super::workflow_events::Entity as WorkflowEvents;
    pub use super::workflow_run_logs::Entity as WorkflowRunLogs;
    pub use super::workflow_runs::Entity as WorkflowRuns;
    pub use super::workflow_schedule_fires::Entity as WorkflowScheduleFires;
    pub use super::workflow_schedules::Entity as WorkflowSchedules;
    pub use super::workflow_steps::Entity as WorkflowSteps;
    pub use super::workflow_versions::Entity as WorkflowVersions;
    pub use super::workflow_webhooks::Entity as WorkflowWebhooks;
    pub use super::workflows::Entity as Workflows;
    pub use super::workspace_connections::Entity as WorkspaceConnections;
    pub use super::workspace_email_templates::Entity as WorkspaceEmailTemplates;
    pub use super::workspace_notifications::Entity as WorkspaceNotifications;
    pub use super::workspace_record_writes::Entity as WorkspaceRecordWrites;
    pub use super::workspace_records::Entity as WorkspaceRecords;
    pub use super::workspace_secrets::Entity as WorkspaceSecrets;
    pub use super::workspaces::Entity as Workspaces;
}
