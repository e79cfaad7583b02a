//! Bodies of a workspace's own resources: secrets, connections, the
//! in-app inbox, the data store's records and email templates.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
use uuid::Uuid;

/// A secret's value (`PUT /v1/secrets/{name}`).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SecretIn {
    /// The value: sealed at rest, never returned, hidden (`***`) from
    /// outputs, errors and logs of the runs that use it.
    #[schema(max_length = 65536)]
    pub value: String,
}

/// A workspace secret: its name and times, never its value.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SecretOut {
    /// Name (`{{ secrets.NAME }}` in action configs).
    pub name: String,
    /// First set.
    pub created_at: DateTime<Utc>,
    /// Last set.
    pub updated_at: DateTime<Utc>,
}

impl From<&orbflow_engine::admin::SecretRecord> for SecretOut {
    fn from(r: &orbflow_engine::admin::SecretRecord) -> Self {
        Self {
            name: r.name.clone(),
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

/// The workspace's secrets.
#[derive(Debug, Serialize, ToSchema)]
pub struct SecretList {
    /// By name.
    pub items: Vec<SecretOut>,
}

/// A connection's kind and settings (`PUT /v1/connections/{name}`).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConnectionIn {
    /// `smtp`, `slack` or `inbox_webhook`.
    pub kind: String,
    /// Settings, checked against the kind's schema (docs/WORKFLOW_ACTIONS.md,
    /// "Connections"); credential fields only as `{{ secrets.NAME }}`.
    pub settings: Value,
    /// Steps of its kind that name no connection use it (it replaces the
    /// kind's previous default).
    #[serde(default)]
    pub default: bool,
}

/// A workspace connection.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConnectionOut {
    /// Name (`config.connection` in steps).
    pub name: String,
    /// Kind.
    pub kind: String,
    /// Settings as written (credentials are secret templates, never values).
    pub settings: Value,
    /// The kind's default.
    pub default: bool,
    /// First set.
    pub created_at: DateTime<Utc>,
    /// Last set.
    pub updated_at: DateTime<Utc>,
}

impl From<&orbflow_engine::admin::ConnectionRecord> for ConnectionOut {
    fn from(r: &orbflow_engine::admin::ConnectionRecord) -> Self {
        Self {
            name: r.name.clone(),
            kind: r.kind.clone(),
            settings: r.settings.clone(),
            default: r.is_default,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

/// The workspace's connections.
#[derive(Debug, Serialize, ToSchema)]
pub struct ConnectionList {
    /// By name.
    pub items: Vec<ConnectionOut>,
}

/// A notification of the workspace's in-app inbox.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct NotificationOut {
    /// Id.
    pub id: Uuid,
    /// Who it is for.
    pub recipient: String,
    /// Title.
    pub title: String,
    /// Body.
    pub body: String,
    /// `info`, `warning` or `error`.
    pub level: String,
    /// Where it points.
    pub link: Option<String>,
    /// Extra data.
    pub data: Option<Value>,
    /// The run that made it.
    pub run_id: Option<Uuid>,
    /// The step that made it.
    pub step_path: Option<String>,
    /// Whether it was read.
    pub read: bool,
    /// When it was read.
    pub read_at: Option<DateTime<Utc>>,
    /// When it was made.
    pub created_at: DateTime<Utc>,
}

impl From<&orbflow_engine::admin::NotificationRecord> for NotificationOut {
    fn from(r: &orbflow_engine::admin::NotificationRecord) -> Self {
        Self {
            id: r.id,
            recipient: r.recipient.clone(),
            title: r.title.clone(),
            body: r.body.clone(),
            level: r.level.as_str().to_owned(),
            link: r.link.clone(),
            data: r.data.clone(),
            run_id: r.run_id,
            step_path: r.step_path.clone(),
            read: r.read_at.is_some(),
            read_at: r.read_at,
            created_at: r.created_at,
        }
    }
}

/// A page of notifications.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct NotificationPage {
    /// Newest first.
    pub items: Vec<NotificationOut>,
    /// Pass as `cursor` for the next page; null on the last.
    pub next_cursor: Option<String>,
}

/// A record's data (`POST`/`PUT` on `/v1/collections/{name}/records`).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RecordIn {
    /// The record: a JSON object of at most 64 KiB.
    pub data: Value,
}

/// A record of the workspace's data store.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RecordOut {
    /// Id.
    pub id: Uuid,
    /// Its collection.
    pub collection: String,
    /// The record.
    pub data: Value,
    /// When it was made.
    pub created_at: DateTime<Utc>,
    /// When it was last written.
    pub updated_at: DateTime<Utc>,
}

impl From<&orbflow_engine::admin::RecordRow> for RecordOut {
    fn from(r: &orbflow_engine::admin::RecordRow) -> Self {
        Self {
            id: r.id,
            collection: r.collection.clone(),
            data: r.data.clone(),
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

/// A page of records.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RecordPage {
    /// Oldest first.
    pub items: Vec<RecordOut>,
    /// Pass as `cursor` for the next page; null on the last.
    pub next_cursor: Option<String>,
}

/// An email template (`PUT /v1/email-templates/{name}`).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EmailTemplateIn {
    /// The subject; `{{ }}` templates read the step's `data`.
    #[schema(min_length = 1)]
    pub subject: String,
    /// The text body.
    #[serde(default)]
    pub text: Option<String>,
    /// The HTML body.
    #[serde(default)]
    pub html: Option<String>,
}

/// A stored email template.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EmailTemplateOut {
    /// Name (SEND_EMAIL's `templateId`).
    pub name: String,
    /// The subject.
    pub subject: String,
    /// The text body.
    pub text: Option<String>,
    /// The HTML body.
    pub html: Option<String>,
    /// First set.
    pub created_at: DateTime<Utc>,
    /// Last set.
    pub updated_at: DateTime<Utc>,
}

impl From<&orbflow_engine::admin::EmailTemplateRecord> for EmailTemplateOut {
    fn from(r: &orbflow_engine::admin::EmailTemplateRecord) -> Self {
        Self {
            name: r.name.clone(),
            subject: r.subject.clone(),
            text: r.text.clone(),
            html: r.html.clone(),
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

/// The workspace's email templates.
#[derive(Debug, Serialize, ToSchema)]
pub struct EmailTemplateList {
    /// By name.
    pub items: Vec<EmailTemplateOut>,
}
