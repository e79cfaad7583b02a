//! SEND_EMAIL: one message through the workspace's `smtp` connection, with
//! lettre (STARTTLS, implicit TLS, or plain on a private network; AUTH).
//!
//! - `to`, `cc` and `bcc` are an address or a list of them (a string may
//!   list several, comma separated); `Name <address>` is accepted. Bcc
//!   recipients are in the envelope, never in the headers.
//! - `body` is the text part, `html` the HTML part; with both, the message
//!   is `multipart/alternative`. `templateId` renders a stored template of
//!   the workspace with the step's `data` for what the config leaves out.
//! - The Message-ID is derived from the attempt's idempotency key
//!   (`run_id:step_path`), so every attempt of a step sends the same one and
//!   a retried send can be recognised downstream.
//! - SMTP 4xx answers, time-outs and connection failures are retryable; 5xx
//!   answers, TLS failures and bad addresses are fatal.
//! - The server's address obeys the outgoing-HTTP policy: a loopback or
//!   private address is refused unless `ORBFLOW_HTTP_ALLOW_PRIVATE=true`.

use std::time::Duration;

use lettre::message::header::ContentType;
use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::json;
use sha2::Digest as _;

use crate::action::{Action, ActionContext, ActionError, LogLevel, Outcome};
use crate::connections::{SmtpConnection, SmtpTls};
use crate::net::{self, HttpPolicy};
use crate::spec::{ActionSpec, Category, ConnectionUse, schema_of};

/// How long one send may take.
pub const SEND_TIMEOUT: Duration = Duration::from_secs(30);

/// One address or several.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum Recipients {
    /// One address, or several separated by commas.
    One(#[schemars(length(min = 3))] String),
    /// A list of addresses.
    Many(#[schemars(length(min = 1))] Vec<String>),
}

impl Recipients {
    fn addresses(&self) -> Vec<String> {
        let list: Vec<&str> = match self {
            Self::One(s) => vec![s.as_str()],
            Self::Many(v) => v.iter().map(String::as_str).collect(),
        };
        list.iter()
            .flat_map(|s| s.split(','))
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect()
    }
}

/// SEND_EMAIL config: a `body` (text), an `html` body, both, or a `templateId`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schemars(extend("anyOf" = [
    { "required": ["body"] },
    { "required": ["html"] },
    { "required": ["templateId"] }
]))]
#[schemars(extend("if" = { "not": { "required": ["templateId"] } }, "then" = { "required": ["subject"] }))]
pub struct SendEmailConfig {
    /// The workspace's `smtp` connection to send with. Default: the
    /// workspace's default smtp connection.
    #[serde(default)]
    #[schemars(length(min = 1))]
    pub connection: Option<String>,
    /// Recipient address(es): a string (commas separate several) or a list.
    pub to: Recipients,
    /// Copy recipients.
    #[serde(default)]
    pub cc: Option<Recipients>,
    /// Blind-copy recipients (in the envelope only).
    #[serde(default)]
    pub bcc: Option<Recipients>,
    /// Where replies go.
    #[serde(default)]
    pub reply_to: Option<String>,
    /// The sender. Default: the connection's `from`.
    #[serde(default)]
    pub from: Option<String>,
    /// Subject line (required unless `templateId` gives one; overrides it).
    #[serde(default)]
    pub subject: Option<String>,
    /// Plain-text body.
    #[serde(default)]
    pub body: Option<String>,
    /// HTML body.
    #[serde(default)]
    pub html: Option<String>,
    /// A stored email template of the workspace (`/v1/email-templates`),
    /// rendered with `data`: its subject, text and HTML, where the config
    /// sets none.
    #[serde(default)]
    #[schemars(length(min = 1))]
    pub template_id: Option<String>,
    /// What the template reads as `data` (`{{ data.name }}`).
    #[serde(default)]
    pub data: Option<serde_json::Map<String, serde_json::Value>>,
}

/// A stored email template, as SEND_EMAIL reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmailTemplate {
    /// The subject.
    pub subject: String,
    /// The text body.
    pub text: Option<String>,
    /// The HTML body.
    pub html: Option<String>,
}

/// The run's workspace email templates, bound by the worker.
#[async_trait::async_trait]
pub trait EmailTemplates: Send + Sync {
    /// The template named `name`, if the workspace has one.
    async fn get(&self, name: &str) -> Result<Option<EmailTemplate>, ActionError>;
}

/// Renders a template's string with `data`.
fn render(text: &str, data: &serde_json::Value, what: &str) -> Result<String, ActionError> {
    let ctx = orbflow_model::expr::EvalContext::new().with("data", data.clone());
    let limits = orbflow_model::expr::budget::Limits::default();
    match orbflow_model::expr::template::render_value_with(&serde_json::Value::String(text.to_owned()), &ctx, &limits) {
        Ok(serde_json::Value::String(s)) => Ok(s),
        Ok(other) => Ok(other.to_string()),
        Err(e) => Err(fatal(format!("the template's {what} failed to render: {e}"))),
    }
}

/// The config with the template's parts filled in where it sets none.
async fn with_template(
    mut cfg: SendEmailConfig,
    templates: Option<&dyn EmailTemplates>,
) -> Result<SendEmailConfig, ActionError> {
    let Some(name) = cfg.template_id.clone() else {
        return Ok(cfg);
    };
    let Some(store) = templates else {
        return Err(fatal(
            "`templateId` needs the workspace's email templates, which this runner does not give",
        ));
    };
    let Some(t) = store.get(&name).await? else {
        return Err(fatal(format!(
            "email template `{name}` does not exist in the workspace (PUT /v1/email-templates/{name})"
        )));
    };
    let data = serde_json::Value::Object(cfg.data.clone().unwrap_or_default());
    if cfg.subject.is_none() {
        cfg.subject = Some(render(&t.subject, &data, "subject")?);
    }
    if cfg.body.is_none() && cfg.html.is_none() {
        cfg.body = t.text.as_deref().map(|x| render(x, &data, "text")).transpose()?;
        cfg.html = t.html.as_deref().map(|x| render(x, &data, "HTML")).transpose()?;
    }
    Ok(cfg)
}

/// The SEND_EMAIL action.
#[derive(Debug)]
pub struct SendEmail {
    policy: HttpPolicy,
}

impl SendEmail {
    /// An action whose SMTP servers obey `policy` (private addresses).
    pub fn new(policy: &HttpPolicy) -> Self {
        Self { policy: policy.clone() }
    }
}

fn fatal(message: impl std::fmt::Display) -> ActionError {
    ActionError::fatal(format!("SEND_EMAIL: {message}"))
}

fn mailbox(s: &str, field: &str) -> Result<Mailbox, ActionError> {
    s.trim()
        .parse::<Mailbox>()
        .map_err(|e| fatal(format!("`{field}` has an invalid address `{}`: {e}", s.trim())))
}

fn mailboxes(r: Option<&Recipients>, field: &str) -> Result<Vec<Mailbox>, ActionError> {
    r.map(Recipients::addresses)
        .unwrap_or_default()
        .iter()
        .map(|a| mailbox(a, field))
        .collect()
}

/// `<hash of the idempotency key>.orbflow@{domain}`: the same on every attempt.
fn message_id(idempotency_key: &str, from: &Mailbox) -> String {
    let digest = sha2::Sha256::digest(idempotency_key.as_bytes());
    let hex: String = digest.iter().take(16).map(|b| format!("{b:02x}")).collect();
    format!("<{hex}.orbflow@{}>", from.email.domain())
}

/// The message to send, and its envelope's recipients.
fn build(
    cfg: &SendEmailConfig,
    conn: &SmtpConnection,
    idempotency_key: &str,
) -> Result<(Message, String, Vec<String>), ActionError> {
    let from = mailbox(cfg.from.as_deref().unwrap_or(&conn.from), "from")?;
    let to = mailboxes(Some(&cfg.to), "to")?;
    if to.is_empty() {
        return Err(fatal("`to` names no address"));
    }
    let cc = mailboxes(cfg.cc.as_ref(), "cc")?;
    let bcc = mailboxes(cfg.bcc.as_ref(), "bcc")?;
    let id = message_id(idempotency_key, &from);
    let mut b = Message::builder()
        .from(from)
        .subject(cfg.subject.clone().unwrap_or_default())
        .message_id(Some(id.clone()));
    if let Some(r) = &cfg.reply_to {
        b = b.reply_to(mailbox(r, "replyTo")?);
    }
    let mut accepted = Vec::new();
    for m in to {
        accepted.push(m.email.to_string());
        b = b.to(m);
    }
    for m in cc {
        accepted.push(m.email.to_string());
        b = b.cc(m);
    }
    for m in bcc {
        accepted.push(m.email.to_string());
        b = b.bcc(m);
    }
    let message = match (&cfg.body, &cfg.html) {
        (Some(text), Some(html)) => b.multipart(MultiPart::alternative_plain_html(text.clone(), html.clone())),
        (Some(text), None) => b.header(ContentType::TEXT_PLAIN).body(text.clone()),
        (None, Some(html)) => b.header(ContentType::TEXT_HTML).body(html.clone()),
        (None, None) => return Err(fatal("needs `body` or `html`")),
    }
    .map_err(|e| fatal(format!("cannot build the message: {e}")))?;
    Ok((message, id, accepted))
}

/// Refuses a server on a non-public address unless the policy allows it.
async fn check_server(policy: &HttpPolicy, host: &str, port: u16) -> Result<(), ActionError> {
    if policy.allow_private {
        return Ok(());
    }
    let refuse = || {
        fatal(format!(
            "the SMTP server {host}:{port} is a loopback, private or otherwise non-public address (set {}=true to allow that)",
            net::ALLOW_PRIVATE_ENV
        ))
    };
    if net::is_local_name(host) {
        return Err(refuse());
    }
    let addrs = tokio::net::lookup_host((host, port))
        .await
        .map_err(|e| ActionError::retryable(format!("SEND_EMAIL: cannot resolve {host}: {e}")))?;
    for a in addrs {
        if net::is_disallowed(a.ip()) {
            return Err(refuse());
        }
    }
    Ok(())
}

fn transport(conn: &SmtpConnection) -> Result<(AsyncSmtpTransport<Tokio1Executor>, u16), ActionError> {
    let mode = conn.tls.unwrap_or_default();
    let port = conn.port.unwrap_or_else(|| mode.default_port());
    let params =
        || TlsParameters::new(conn.host.clone()).map_err(|e| fatal(format!("TLS settings for {}: {e}", conn.host)));
    let tls = match mode {
        SmtpTls::Starttls => Tls::Required(params()?),
        SmtpTls::Implicit => Tls::Wrapper(params()?),
        SmtpTls::None => Tls::None,
    };
    let mut b = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(conn.host.as_str())
        .port(port)
        .tls(tls)
        .timeout(Some(SEND_TIMEOUT));
    match (&conn.username, &conn.password) {
        (Some(u), Some(p)) => b = b.credentials(Credentials::new(u.clone(), p.clone())),
        (None, None) => {}
        _ => {
            return Err(fatal(
                "the smtp connection needs both `username` and `password`, or neither",
            ));
        }
    }
    Ok((b.build(), port))
}

/// What an SMTP failure means for the step.
fn classify(e: &lettre::transport::smtp::Error, server: &str) -> ActionError {
    let message = format!("SEND_EMAIL {server}: {e}");
    if e.is_permanent() || e.is_tls() {
        ActionError::fatal(message)
    } else {
        // 4xx answers, time-outs, refused or dropped connections
        ActionError::retryable(message)
    }
}

#[async_trait::async_trait]
impl Action for SendEmail {
    async fn execute(&self, ctx: ActionContext) -> Result<Outcome, ActionError> {
        if ctx.cancel.is_cancelled() {
            return Err(ActionError::Cancelled);
        }
        let cfg: SendEmailConfig = serde_json::from_value(ctx.config.clone())
            .map_err(|e| ActionError::fatal(format!("invalid SEND_EMAIL config: {e}")))?;
        let cfg = with_template(cfg, ctx.email_templates.as_deref()).await?;
        if cfg.subject.is_none() {
            return Err(fatal("needs a `subject`"));
        }
        let Some(settings) = &ctx.connection else {
            return Err(fatal(
                "needs an smtp connection: name one in `connection`, or make one the workspace's default (`orbflow connections set NAME --kind smtp --default`)",
            ));
        };
        let conn: SmtpConnection = serde_json::from_value(settings.clone())
            .map_err(|e| fatal(format!("the smtp connection is invalid: {e}")))?;
        let (message, id, accepted) = build(&cfg, &conn, &ctx.idempotency_key)?;
        let (mailer, port) = transport(&conn)?;
        let server = format!("smtp://{}:{port}", conn.host);
        check_server(&self.policy, &conn.host, port).await?;
        let sent = tokio::select! {
            biased;
            () = ctx.cancel.cancelled() => return Err(ActionError::Cancelled),
            r = mailer.send(message) => r,
        };
        match sent {
            Ok(response) => {
                ctx.logger.log(
                    LogLevel::Info,
                    &format!(
                        "SEND_EMAIL {server}: {} recipient(s) accepted, Message-ID {id}",
                        accepted.len()
                    ),
                    Some(&json!({ "code": response.code().to_string() })),
                );
                Ok(Outcome::Completed(json!({ "messageId": id, "accepted": accepted })))
            }
            Err(e) => {
                let err = classify(&e, &server);
                let level = if err.is_retryable() {
                    LogLevel::Warn
                } else {
                    LogLevel::Error
                };
                ctx.logger.log(level, &err.to_string(), None);
                Err(err)
            }
        }
    }
}

pub(crate) fn action(p: &HttpPolicy) -> (ActionSpec, std::sync::Arc<dyn Action>) {
    (
        ActionSpec {
            name: "SEND_EMAIL",
            description: "Send an email through the workspace's SMTP connection: to, cc, bcc (an address or a list), \
                          replyTo, from, subject, a text `body` and/or an `html` body.",
            category: Category::Notification,
            config_schema: schema_of::<SendEmailConfig>(),
            example: json!({"to": ["team@example.com"], "subject": "Daily digest", "body": "3 new mentions", "html": "<p>3 new mentions</p>"}),
            required_permissions: &["notify:email"],
            output: "{ messageId, accepted: [address] } (the Message-ID is the same on every attempt of the step)",
            security: "The SMTP server and its credentials come from the workspace's smtp connection (the password a \
                       secret), never from the workflow. SMTP 4xx, time-outs and connection failures retry; 5xx, TLS \
                       failures and invalid addresses are fatal. The server's address is refused when it is loopback \
                       or private unless ORBFLOW_HTTP_ALLOW_PRIVATE=true. Recipients are not restricted: review \
                       workflows that template `to` from input. `templateId` renders a stored template of the \
                       workspace (/v1/email-templates) with the step's `data`.",
            block: false,
            implemented: true,
            connection: Some(ConnectionUse::of("smtp")),
        },
        std::sync::Arc::new(SendEmail::new(p)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn conn() -> SmtpConnection {
        serde_json::from_value(
            json!({"host": "127.0.0.1", "port": 2525, "tls": "none", "from": "Bot <bot@example.com>"}),
        )
        .unwrap()
    }

    fn cfg(v: Value) -> SendEmailConfig {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn recipients_are_one_a_list_or_comma_separated() {
        let r: Recipients = serde_json::from_value(json!("a@x.org, B <b@x.org>")).unwrap();
        assert_eq!(r.addresses(), ["a@x.org", "B <b@x.org>"]);
        let r: Recipients = serde_json::from_value(json!(["a@x.org", "c@x.org,d@x.org"])).unwrap();
        assert_eq!(r.addresses(), ["a@x.org", "c@x.org", "d@x.org"]);
    }

    #[test]
    fn the_message_id_is_the_same_for_every_attempt_of_a_step() {
        let c = cfg(json!({"to": "a@x.org", "subject": "s", "body": "b"}));
        let (_, a, _) = build(&c, &conn(), "run-1:send").unwrap();
        let (_, b, _) = build(&c, &conn(), "run-1:send").unwrap();
        let (_, other, _) = build(&c, &conn(), "run-2:send").unwrap();
        assert_eq!(a, b);
        assert_ne!(a, other);
        assert!(a.starts_with('<') && a.ends_with(".orbflow@example.com>"), "{a}");
    }

    #[test]
    fn bad_addresses_and_missing_bodies_are_fatal() {
        let err = build(
            &cfg(json!({"to": "not an address", "subject": "s", "body": "b"})),
            &conn(),
            "k",
        )
        .unwrap_err();
        assert!(
            !err.is_retryable() && err.to_string().contains("`to` has an invalid address"),
            "{err}"
        );
        let err = build(
            &cfg(json!({"to": "a@x.org", "subject": "s", "templateId": "t"})),
            &conn(),
            "k",
        )
        .unwrap_err();
        assert!(err.to_string().contains("needs `body` or `html`"), "{err}");
        let err = build(
            &cfg(json!({"to": "a@x.org", "cc": ["ok@x.org", "@@"], "subject": "s", "body": "b"})),
            &conn(),
            "k",
        )
        .unwrap_err();
        assert!(err.to_string().contains("`cc`"), "{err}");
    }

    #[test]
    fn bcc_stays_out_of_the_headers() {
        let c = cfg(json!({"to": "a@x.org", "bcc": "hidden@x.org", "subject": "s", "body": "b"}));
        let (m, _, accepted) = build(&c, &conn(), "k").unwrap();
        assert_eq!(accepted, ["a@x.org", "hidden@x.org"]);
        let text = String::from_utf8(m.formatted()).unwrap();
        assert!(!text.contains("hidden@x.org"), "{text}");
        let to: Vec<String> = m.envelope().to().iter().map(ToString::to_string).collect();
        assert_eq!(to, ["a@x.org", "hidden@x.org"]);
    }
}
