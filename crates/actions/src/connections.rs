//! Connection kinds: the providers a workspace configures once (an SMTP
//! server, a Slack bot or webhook, the inbox's delivery webhook, a language
//! model, a moderation endpoint, a Mastodon, Bluesky or X account) and its steps then name
//! (`config.connection: slack-main`) or use by default.
//!
//! A connection's settings are checked against its kind's JSON Schema when
//! it is saved. Its credential fields (`password`, `token`, `webhookUrl`)
//! must be `{{ secrets.NAME }}` templates: the credential itself lives in
//! the workspace's sealed secrets and is resolved, like a step's config,
//! only when an attempt runs, and hidden from everything it returns.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use orbflow_model::validate::config as config_format;

use crate::spec::schema_of;

/// One kind of connection.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ConnectionKind {
    /// Stable name: `smtp`, `slack`.
    pub name: &'static str,
    /// What it connects to.
    pub description: &'static str,
    /// JSON Schema of its settings.
    pub schema: Value,
    /// Fields that hold credentials: only a `{{ secrets.NAME }}` template.
    pub credentials: &'static [&'static str],
    /// Settings that validate against the schema.
    pub example: Value,
}

/// How an SMTP connection secures the session.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum SmtpTls {
    /// Plain connection upgraded with STARTTLS, which the server must offer (port 587).
    #[default]
    Starttls,
    /// TLS from the first byte (port 465).
    Implicit,
    /// No TLS: only for a server on loopback or a private network (port 25).
    None,
}

impl SmtpTls {
    /// The usual port.
    pub fn default_port(self) -> u16 {
        match self {
            Self::Starttls => 587,
            Self::Implicit => 465,
            Self::None => 25,
        }
    }
}

/// Settings of an `smtp` connection.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SmtpConnection {
    /// Server host name or address.
    #[schemars(length(min = 1))]
    pub host: String,
    /// Port. Default: 587 (starttls), 465 (implicit), 25 (none).
    #[serde(default)]
    #[schemars(range(min = 1, max = 65535))]
    pub port: Option<u16>,
    /// `starttls` (default), `implicit` or `none`.
    #[serde(default)]
    pub tls: Option<SmtpTls>,
    /// AUTH user name.
    #[serde(default)]
    pub username: Option<String>,
    /// AUTH password: `{{ secrets.SMTP_PASSWORD }}`.
    #[serde(default)]
    pub password: Option<String>,
    /// The sender, `Name <address>` or an address, when a step sets no `from`.
    #[schemars(length(min = 3))]
    pub from: String,
}

/// Settings of a `slack` connection: exactly one of `token` and `webhookUrl`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schemars(extend("oneOf" = [
    { "required": ["token"] },
    { "required": ["webhookUrl"] }
]))]
pub struct SlackConnection {
    /// Bot token: `{{ secrets.SLACK_BOT_TOKEN }}`.
    #[serde(default)]
    pub token: Option<String>,
    /// Incoming-webhook URL: `{{ secrets.SLACK_WEBHOOK }}`.
    #[serde(default)]
    pub webhook_url: Option<String>,
    /// The Web API's base URL. Default: `https://slack.com/api`.
    #[serde(default)]
    #[schemars(extend("format" = config_format::HTTP_URL))]
    pub api_url: Option<String>,
    /// Channel used when a step names none.
    #[serde(default)]
    #[schemars(length(min = 1))]
    pub channel: Option<String>,
}

/// Settings of an `inbox_webhook` connection: where CREATE_NOTIFICATION
/// delivers each new notification, signed as Standard Webhooks.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct InboxWebhookConnection {
    /// The receiver's URL (http or https).
    #[schemars(extend("format" = config_format::HTTP_URL))]
    pub url: String,
    /// The signing secret (`whsec_…` base64, or raw): `{{ secrets.INBOX_WEBHOOK_SECRET }}`.
    pub secret: String,
}

/// The API shape a language-model provider speaks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum LlmProvider {
    /// OpenAI-compatible Chat Completions (`POST {baseUrl}/chat/completions`):
    /// OpenAI, Azure OpenAI, Ollama, vLLM, llama.cpp server, LM Studio.
    #[default]
    Openai,
    /// Anthropic Messages (`POST {baseUrl}/v1/messages`).
    Anthropic,
}

/// Settings of an `llm` connection: a language-model provider.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LlmConnection {
    /// `openai` (Chat Completions, the default) or `anthropic` (Messages).
    #[serde(default)]
    pub provider: LlmProvider,
    /// The API's base URL. Default: `https://api.openai.com/v1` (openai),
    /// `https://api.anthropic.com` (anthropic); for Ollama
    /// `http://HOST:11434/v1`.
    #[serde(default)]
    #[schemars(extend("format" = config_format::HTTP_URL))]
    pub base_url: Option<String>,
    /// The API key: `{{ secrets.OPENAI_API_KEY }}`. None for a local server
    /// that needs none.
    #[serde(default)]
    pub api_key: Option<String>,
    /// The header carrying the key. Default: `Authorization: Bearer KEY`
    /// (openai), `x-api-key` (anthropic); `api-key` for Azure OpenAI keys.
    #[serde(default)]
    #[schemars(length(min = 1))]
    pub api_key_header: Option<String>,
    /// The model a step uses when its config names none.
    #[schemars(length(min = 1))]
    pub model: String,
    /// `anthropic-version`. Default: `2023-06-01`.
    #[serde(default)]
    #[schemars(length(min = 1))]
    pub api_version: Option<String>,
}

/// Settings of a `moderation` connection: an OpenAI-moderation-compatible
/// endpoint (`POST {baseUrl}/moderations`).
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ModerationConnection {
    /// The API's base URL. Default: `https://api.openai.com/v1`.
    #[serde(default)]
    #[schemars(extend("format" = config_format::HTTP_URL))]
    pub base_url: Option<String>,
    /// The API key: `{{ secrets.OPENAI_API_KEY }}`.
    #[serde(default)]
    pub api_key: Option<String>,
    /// The model. Default: the provider's (`omni-moderation-latest` on OpenAI).
    #[serde(default)]
    #[schemars(length(min = 1))]
    pub model: Option<String>,
}

/// Settings of a `mastodon` connection: one account on one instance.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MastodonConnection {
    /// The instance's URL: `https://mastodon.social`.
    #[schemars(extend("format" = config_format::HTTP_URL))]
    pub instance_url: String,
    /// The account's access token (scope `write:statuses write:media`):
    /// `{{ secrets.MASTODON_TOKEN }}`.
    pub access_token: String,
}

/// Settings of a `bluesky` connection: one account on its PDS.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BlueskyConnection {
    /// The account's PDS. Default: `https://bsky.social`.
    #[serde(default)]
    #[schemars(extend("format" = config_format::HTTP_URL))]
    pub service_url: Option<String>,
    /// Handle or DID: `orbflow.bsky.social`.
    #[schemars(length(min = 1))]
    pub identifier: String,
    /// An app password: `{{ secrets.BLUESKY_APP_PASSWORD }}`.
    pub app_password: String,
}

/// Settings of an `x` connection: one X (Twitter) account through API v2.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct XConnection {
    /// The API's base URL. Default: `https://api.x.com`.
    #[serde(default)]
    #[schemars(extend("format" = config_format::HTTP_URL))]
    pub api_url: Option<String>,
    /// An OAuth 2.0 user access token (scopes `tweet.write tweet.read
    /// users.read media.write`): `{{ secrets.X_ACCESS_TOKEN }}`.
    pub access_token: String,
}

/// Every kind, by name.
pub fn kinds() -> Vec<ConnectionKind> {
    vec![
        ConnectionKind {
            name: "bluesky",
            description: "A Bluesky account (AT Protocol): its PDS, handle and app password.",
            schema: schema_of::<BlueskyConnection>(),
            credentials: &["appPassword"],
            example: serde_json::json!({"identifier": "orbflow.bsky.social", "appPassword": "{{ secrets.BLUESKY_APP_PASSWORD }}"}),
        },
        ConnectionKind {
            name: "inbox_webhook",
            description: "Where CREATE_NOTIFICATION delivers each new notification (POST, signed as Standard Webhooks: webhook-id, webhook-timestamp, webhook-signature).",
            schema: schema_of::<InboxWebhookConnection>(),
            credentials: &["secret"],
            example: serde_json::json!({"url": "https://app.example.com/hooks/orbflow-inbox", "secret": "{{ secrets.INBOX_WEBHOOK_SECRET }}"}),
        },
        ConnectionKind {
            name: "llm",
            description: "A language-model provider: OpenAI-compatible Chat Completions (OpenAI, Azure OpenAI, Ollama, vLLM, llama.cpp) or Anthropic Messages.",
            schema: schema_of::<LlmConnection>(),
            credentials: &["apiKey"],
            example: serde_json::json!({"provider": "openai", "apiKey": "{{ secrets.OPENAI_API_KEY }}", "model": "gpt-4o-mini"}),
        },
        ConnectionKind {
            name: "mastodon",
            description: "A Mastodon account: its instance and access token.",
            schema: schema_of::<MastodonConnection>(),
            credentials: &["accessToken"],
            example: serde_json::json!({"instanceUrl": "https://mastodon.social", "accessToken": "{{ secrets.MASTODON_TOKEN }}"}),
        },
        ConnectionKind {
            name: "moderation",
            description: "An OpenAI-moderation-compatible endpoint for MODERATE_CONTENT (without one, its built-in classifier runs).",
            schema: schema_of::<ModerationConnection>(),
            credentials: &["apiKey"],
            example: serde_json::json!({"apiKey": "{{ secrets.OPENAI_API_KEY }}", "model": "omni-moderation-latest"}),
        },
        ConnectionKind {
            name: "slack",
            description: "Slack: a bot token for the Web API (chat.postMessage) or an incoming webhook.",
            schema: schema_of::<SlackConnection>(),
            credentials: &["token", "webhookUrl"],
            example: serde_json::json!({"token": "{{ secrets.SLACK_BOT_TOKEN }}", "channel": "#alerts"}),
        },
        ConnectionKind {
            name: "smtp",
            description: "An SMTP server (STARTTLS, implicit TLS, or plain on a private network; AUTH).",
            schema: schema_of::<SmtpConnection>(),
            credentials: &["password"],
            example: serde_json::json!({
                "host": "smtp.example.com", "port": 587, "tls": "starttls",
                "username": "orbflow", "password": "{{ secrets.SMTP_PASSWORD }}",
                "from": "Orbflow <bot@example.com>"
            }),
        },
        ConnectionKind {
            name: "x",
            description: "An X (Twitter) account through API v2: an OAuth 2.0 user access token.",
            schema: schema_of::<XConnection>(),
            credentials: &["accessToken"],
            example: serde_json::json!({"accessToken": "{{ secrets.X_ACCESS_TOKEN }}"}),
        },
    ]
}

/// The kind named `name`.
pub fn kind(name: &str) -> Option<ConnectionKind> {
    kinds().into_iter().find(|k| k.name == name)
}

/// Whether `s` is exactly one `{{ secrets.NAME }}` template (spaces allowed).
pub fn is_secret_reference(s: &str) -> bool {
    let t = s.trim();
    let Some(inner) = t.strip_prefix("{{").and_then(|r| r.strip_suffix("}}")) else {
        return false;
    };
    let inner = inner.trim();
    inner.strip_prefix("secrets.").is_some_and(|n| {
        !n.is_empty()
            && n.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            && !n.starts_with(|c: char| c.is_ascii_digit())
    }) && !inner.contains("}}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_references_are_one_template_naming_one_secret() {
        for ok in ["{{ secrets.SMTP_PASSWORD }}", "{{secrets.T}}", "  {{ secrets._x1 }} "] {
            assert!(is_secret_reference(ok), "{ok}");
        }
        for bad in [
            "hunter2",
            "{{ secrets.A }}{{ secrets.B }}",
            "Bearer {{ secrets.T }}",
            "{{ input.x }}",
            "{{ secrets.1A }}",
            "{{ secrets. }}",
            "{{ secrets.A + 'x' }}",
        ] {
            assert!(!is_secret_reference(bad), "{bad}");
        }
    }

    #[test]
    fn every_kind_has_a_schema_its_example_meets() {
        for k in kinds() {
            let v = jsonschema::validator_for(&k.schema).unwrap();
            assert!(v.is_valid(&k.example), "{}", k.name);
            for c in k.credentials {
                assert!(k.schema["properties"].get(*c).is_some(), "{}: {c}", k.name);
            }
        }
        assert_eq!(kind("smtp").unwrap().name, "smtp");
        assert!(kind("fax").is_none());
        assert_eq!(SmtpTls::Implicit.default_port(), 465);
    }
}
