//! UPDATE_DATABASE: writes to the workspace's data store — JSON records in
//! named collections, readable and writable through
//! `/v1/collections/{name}/records`.
//!
//! The worker hands the action the run's [`Records`]: writes land in the
//! run's own workspace, in one transaction, once per step of a run (a
//! retried attempt gets what its earlier attempt wrote, and writes nothing).
//! The output lists the records written, so later steps can use them.

use std::sync::Arc;

use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::action::{Action, ActionContext, ActionError, LogLevel, Outcome};
use crate::spec::{ActionSpec, Category, schema_of};

/// Write operations of UPDATE_DATABASE.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum DbOperation {
    /// Insert a record.
    Insert,
    /// Update matching records.
    Update,
    /// Insert or update by key.
    Upsert,
    /// Delete matching records.
    Delete,
}

/// UPDATE_DATABASE config: `insert` needs `data`, `update` and `upsert`
/// need `data` and `where`, `delete` needs `where`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schemars(extend("allOf" = [
    { "if": { "properties": { "operation": { "const": "insert" } } }, "then": { "required": ["data"] } },
    { "if": { "properties": { "operation": { "enum": ["update", "upsert"] } } }, "then": { "required": ["data", "where"] } },
    { "if": { "properties": { "operation": { "const": "delete" } } }, "then": { "required": ["where"] } }
]))]
pub struct UpdateDatabaseConfig {
    /// Collection (table) in the workspace's data store.
    #[schemars(regex(pattern = r"^[a-z][a-z0-9_]*$"), length(max = 63))]
    pub table: String,
    /// What to do.
    pub operation: DbOperation,
    /// Fields written.
    #[serde(default)]
    pub data: Option<Value>,
    /// Equality filter selecting the records (update, upsert key, delete).
    #[serde(default, rename = "where")]
    pub filter: Option<Value>,
}

/// A write the action asks for.
#[derive(Debug, Clone, PartialEq)]
pub struct DataWrite {
    /// The collection.
    pub collection: String,
    /// What it does.
    pub operation: DbOperation,
    /// The fields written.
    pub data: Option<Value>,
    /// Top-level fields a record must equal to be matched.
    pub filter: Option<Value>,
}

/// The run's workspace data store, bound by the worker to the run and step.
#[async_trait::async_trait]
pub trait Records: Send + Sync {
    /// Applies the step's write (or returns what an earlier attempt of the
    /// step wrote): `{affected, records: [{id, data}]}`.
    async fn write(&self, w: DataWrite) -> Result<Value, ActionError>;
}

/// The UPDATE_DATABASE action.
#[derive(Debug, Clone, Copy)]
pub struct UpdateDatabase;

#[async_trait::async_trait]
impl Action for UpdateDatabase {
    async fn execute(&self, ctx: ActionContext) -> Result<Outcome, ActionError> {
        if ctx.cancel.is_cancelled() {
            return Err(ActionError::Cancelled);
        }
        let cfg: UpdateDatabaseConfig = serde_json::from_value(ctx.config.clone())
            .map_err(|e| ActionError::fatal(format!("invalid UPDATE_DATABASE config: {e}")))?;
        let Some(records) = &ctx.records else {
            return Err(ActionError::fatal(
                "UPDATE_DATABASE needs the workspace data store, which this runner does not give",
            ));
        };
        let table = cfg.table.clone();
        let out = records
            .write(DataWrite {
                collection: cfg.table,
                operation: cfg.operation,
                data: cfg.data,
                filter: cfg.filter,
            })
            .await?;
        ctx.logger.log(
            LogLevel::Info,
            &format!("UPDATE_DATABASE {table}: {} record(s) affected", out["affected"]),
            None,
        );
        Ok(Outcome::Completed(out))
    }
}

pub(crate) fn action() -> (ActionSpec, Arc<dyn Action>) {
    (
        ActionSpec {
            name: "UPDATE_DATABASE",
            description: "Insert, update, upsert or delete records in the workspace data store (JSON objects in \
                          named collections; `where` matches top-level fields by equality).",
            category: Category::Data,
            config_schema: schema_of::<UpdateDatabaseConfig>(),
            example: json!({"table": "mentions", "operation": "insert", "data": {"text": "{{ input.text }}"}}),
            required_permissions: &["data:write"],
            output: "{ affected: int, records: [{ id, data }] } (the records as written; for a delete, as they were)",
            security: "Writes only to the run's workspace data store; table names are restricted to [a-z][a-z0-9_]*. \
                       A record is at most 64 KiB as JSON and a workspace holds at most 10,000. One write per step \
                       of a run: a retried attempt returns the first attempt's result.",
            block: false,
            implemented: true,
            connection: None,
        },
        Arc::new(UpdateDatabase),
    )
}
