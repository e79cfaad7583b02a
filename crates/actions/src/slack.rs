//! SEND_SLACK_MESSAGE: a message to Slack, through an incoming webhook
//! (`webhookUrl`) or the Web API's `chat.postMessage` with a bot token
//! (`token` and `channel`).
//!
//! Slack's error model decides the step's fate:
//!
//! - HTTP 429 is retryable after its `Retry-After`; 5xx, 408, timeouts and
//!   transport errors are retryable.
//! - Web API: a 200 with `ok: false` carries an error code: `ratelimited`,
//!   `service_unavailable`, `request_timeout`, `internal_error` and
//!   `fatal_error` are retryable, every other code (`channel_not_found`,
//!   `not_in_channel`, `invalid_auth`, `msg_too_long`, …) is fatal.
//! - Incoming webhook: a 4xx answers a code as text (`invalid_payload`,
//!   `channel_not_found`, `no_service`, …): fatal.
//!
//! The output is `{ ok, channel, ts }` from the Web API (`ts` identifies the
//! message, for a thread or an update) and `{ ok }` from a webhook, which
//! returns neither. Messages name the target's origin, never its path (a
//! webhook URL is a credential) or the token.
//!
//! Slack has no idempotency key: an attempt that timed out after Slack
//! posted the message posts it again when retried.

use std::sync::atomic::{AtomicU16, Ordering};

use chrono::Utc;
use orbflow_model::validate::config as config_format;
use reqwest::StatusCode;
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, RETRY_AFTER};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Value, json};
use url::Url;

use crate::action::{Action, ActionContext, ActionError, LogLevel, Outcome, OutgoingCall};
use crate::net::{self, HttpPolicy, LazyClient};
use crate::spec::{ActionSpec, Category, schema_of};
use crate::webhook::{DEFAULT_TIMEOUT, describe, excerpt, origin, parse_retry_after, read_body};

/// The Web API's base URL when the config names none.
pub const DEFAULT_API_URL: &str = "https://slack.com/api";

/// Web API error codes worth another attempt; every other code is fatal.
pub const RETRYABLE_CODES: [&str; 6] = [
    "ratelimited",
    "rate_limited",
    "service_unavailable",
    "request_timeout",
    "internal_error",
    "fatal_error",
];

/// SEND_SLACK_MESSAGE config: exactly one of `webhookUrl` (incoming webhook)
/// and `token` (bot token, with `channel`).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schemars(extend("oneOf" = [
    { "required": ["webhookUrl"] },
    { "required": ["token"] }
]))]
#[schemars(extend("dependentRequired" = { "token": ["channel"] }))]
pub struct SendSlackMessageConfig {
    /// Incoming-webhook URL (http or https); it is a credential, keep it in a
    /// secret: `{{ secrets.SLACK_WEBHOOK }}`.
    #[serde(default)]
    #[schemars(extend("format" = config_format::HTTP_URL))]
    pub webhook_url: Option<String>,
    /// Bot token (`xoxb-…`) for the Web API's `chat.postMessage`, from a
    /// secret: `{{ secrets.SLACK_BOT_TOKEN }}`. Needs `channel`.
    #[serde(default)]
    #[schemars(length(min = 1))]
    pub token: Option<String>,
    /// The Web API's base URL. Default: `https://slack.com/api`.
    #[serde(default)]
    #[schemars(extend("format" = config_format::HTTP_URL))]
    pub api_url: Option<String>,
    /// Channel id or name (`C0123456789`, `#alerts`); required with `token`,
    /// an override where a webhook allows one.
    #[serde(default)]
    #[schemars(length(min = 1))]
    pub channel: Option<String>,
    /// Message text (Slack mrkdwn); with `blocks`, the notification's fallback.
    #[schemars(length(min = 1))]
    pub text: String,
    /// Block Kit blocks.
    #[serde(default)]
    pub blocks: Option<Vec<Value>>,
    /// Reply in this thread: the parent message's `ts`.
    #[serde(default)]
    #[schemars(length(min = 1))]
    pub thread_ts: Option<String>,
}

/// Where a message goes.
enum Target {
    Webhook(Url),
    Api { url: Url, token: String },
}

/// The SEND_SLACK_MESSAGE action.
#[derive(Debug)]
pub struct SendSlackMessage {
    http: LazyClient,
}

impl SendSlackMessage {
    /// An action obeying `policy`; its HTTP client is built on first use.
    pub fn new(policy: &HttpPolicy) -> Self {
        Self {
            http: LazyClient::new(policy),
        }
    }
}

fn parse_url(s: &str, what: &str) -> Result<Url, ActionError> {
    Url::parse(s.trim()).map_err(|e| ActionError::fatal(format!("SEND_SLACK_MESSAGE: invalid {what}: {e}")))
}

fn target(cfg: &SendSlackMessageConfig) -> Result<Target, ActionError> {
    match (&cfg.webhook_url, &cfg.token) {
        (Some(u), None) => Ok(Target::Webhook(parse_url(u, "`webhookUrl`")?)),
        (None, Some(token)) => {
            if cfg.channel.as_deref().is_none_or(str::is_empty) {
                return Err(ActionError::fatal("SEND_SLACK_MESSAGE: `token` needs `channel`"));
            }
            let base = cfg.api_url.as_deref().unwrap_or(DEFAULT_API_URL);
            let url = parse_url(
                &format!("{}/chat.postMessage", base.trim().trim_end_matches('/')),
                "`apiUrl`",
            )?;
            Ok(Target::Api {
                url,
                token: token.trim().to_owned(),
            })
        }
        _ => Err(ActionError::fatal(
            "SEND_SLACK_MESSAGE needs exactly one of `webhookUrl` or `token`",
        )),
    }
}

/// The message as Slack reads it (snake_case fields).
fn payload(cfg: &SendSlackMessageConfig) -> Value {
    let mut body = json!({ "text": cfg.text });
    if let Some(c) = &cfg.channel {
        body["channel"] = json!(c);
    }
    if let Some(b) = &cfg.blocks {
        body["blocks"] = json!(b);
    }
    if let Some(t) = &cfg.thread_ts {
        body["thread_ts"] = json!(t);
    }
    body
}

/// What an HTTP answer means, before Slack's own codes.
fn http_failure(status: StatusCode, headers: &reqwest::header::HeaderMap, message: String) -> ActionError {
    if status == StatusCode::TOO_MANY_REQUESTS || status == StatusCode::SERVICE_UNAVAILABLE {
        let retry_after = headers
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| parse_retry_after(v, Utc::now()));
        return ActionError::Retryable { message, retry_after };
    }
    if status.is_server_error() || status == StatusCode::REQUEST_TIMEOUT {
        ActionError::retryable(message)
    } else {
        ActionError::fatal(message)
    }
}

async fn exchange(
    request: reqwest::RequestBuilder,
    api: bool,
    label: &str,
    secrets: &[String],
    answered: &AtomicU16,
) -> Result<Outcome, ActionError> {
    let mut resp = request.send().await.map_err(|e| {
        if let Some(r) = net::refusal(&e) {
            return ActionError::fatal(format!("SEND_SLACK_MESSAGE {label}: {r}"));
        }
        let what = describe(&e);
        if e.is_builder() || e.is_redirect() || net::is_too_many_redirects(&e) {
            ActionError::fatal(format!("SEND_SLACK_MESSAGE {label}: {what}"))
        } else {
            ActionError::retryable(format!("SEND_SLACK_MESSAGE {label}: {what}"))
        }
    })?;
    let status = resp.status();
    answered.store(status.as_u16(), Ordering::Relaxed);
    let headers = resp.headers().clone();
    let body = read_body(&mut resp)
        .await
        .map_err(|e| ActionError::retryable(format!("SEND_SLACK_MESSAGE {label}: {}", describe(&e))))?;
    let quoted = excerpt(&body.bytes, secrets);
    if !status.is_success() {
        let mut message = format!("SEND_SLACK_MESSAGE {label} answered {}", status.as_u16());
        if !quoted.is_empty() {
            message.push_str(": ");
            message.push_str(&quoted);
        }
        return Err(http_failure(status, &headers, message));
    }
    if !api {
        return Ok(Outcome::Completed(json!({ "ok": true })));
    }
    let answer: Value = serde_json::from_slice(&body.bytes).map_err(|_| {
        ActionError::retryable(format!(
            "SEND_SLACK_MESSAGE {label}: the answer is not Slack's JSON: {quoted}"
        ))
    })?;
    if answer["ok"] == json!(true) {
        return Ok(Outcome::Completed(json!({
            "ok": true,
            "channel": answer["channel"],
            "ts": answer["ts"],
        })));
    }
    let code = answer["error"].as_str().unwrap_or("unknown_error");
    let message = format!("SEND_SLACK_MESSAGE {label}: Slack answered `{code}`");
    if RETRYABLE_CODES.contains(&code) {
        Err(ActionError::retryable(message))
    } else {
        Err(ActionError::fatal(message))
    }
}

#[async_trait::async_trait]
impl Action for SendSlackMessage {
    async fn execute(&self, ctx: ActionContext) -> Result<Outcome, ActionError> {
        if ctx.cancel.is_cancelled() {
            return Err(ActionError::Cancelled);
        }
        let cfg: SendSlackMessageConfig = serde_json::from_value(ctx.config.clone())
            .map_err(|e| ActionError::fatal(format!("invalid SEND_SLACK_MESSAGE config: {e}")))?;
        let target = target(&cfg)?;
        let (url, token) = match target {
            Target::Webhook(u) => (u, None),
            Target::Api { url, token } => (url, Some(token)),
        };
        let label = format!("POST {}", origin(&url));
        net::check_url(self.http.policy(), &url)
            .map_err(|e| ActionError::fatal(format!("SEND_SLACK_MESSAGE {label}: {e}")))?;
        let client = self.http.get().map_err(ActionError::fatal)?;
        let body = serde_json::to_vec(&payload(&cfg))
            .map_err(|e| ActionError::fatal(format!("SEND_SLACK_MESSAGE: cannot encode the message: {e}")))?;
        let mut request = client
            .post(url.clone())
            .header(CONTENT_TYPE, "application/json; charset=utf-8")
            .body(body);
        let mut secrets = Vec::new();
        if let Some(t) = &token {
            let mut v = reqwest::header::HeaderValue::from_str(&format!("Bearer {t}"))
                .map_err(|_| ActionError::fatal("SEND_SLACK_MESSAGE: `token` is not a valid header value"))?;
            v.set_sensitive(true);
            request = request.header(AUTHORIZATION, v);
            secrets.push(t.clone());
        }
        let span = ctx.calls.as_ref().map(|calls| {
            calls.start(&OutgoingCall {
                method: "POST",
                scheme: url.scheme(),
                host: url.host_str().unwrap_or(""),
                port: url.port_or_known_default(),
            })
        });
        if let Some(s) = &span {
            request = request.header("traceparent", s.traceparent());
        }
        let answered = AtomicU16::new(0);
        let result = tokio::select! {
            biased;
            () = ctx.cancel.cancelled() => Err(ActionError::Cancelled),
            r = tokio::time::timeout(DEFAULT_TIMEOUT, exchange(request, token.is_some(), &label, &secrets, &answered)) => match r {
                Ok(result) => result,
                Err(_) => Err(ActionError::retryable(format!(
                    "SEND_SLACK_MESSAGE {label}: timed out after {}s", DEFAULT_TIMEOUT.as_secs()
                ))),
            },
        };
        match &result {
            Ok(_) => ctx
                .logger
                .log(LogLevel::Info, &format!("SEND_SLACK_MESSAGE {label}: sent"), None),
            Err(ActionError::Cancelled) => {}
            Err(e) => ctx.logger.log(
                if e.is_retryable() {
                    LogLevel::Warn
                } else {
                    LogLevel::Error
                },
                &e.to_string(),
                None,
            ),
        }
        if let Some(span) = span {
            let status = Some(answered.load(Ordering::Relaxed)).filter(|s| *s != 0);
            let error = match (&result, status) {
                (Err(e), None) => Some(e.to_string()),
                _ => None,
            };
            span.end(status, error.as_deref());
        }
        result
    }
}

pub(crate) fn action(p: &HttpPolicy) -> (ActionSpec, std::sync::Arc<dyn Action>) {
    (
        ActionSpec {
            name: "SEND_SLACK_MESSAGE",
            description: "Post a message to Slack: through an incoming webhook (`webhookUrl`), or with a bot token \
                          through the Web API's chat.postMessage (`token`, `channel`, optional `threadTs`, `blocks`).",
            category: Category::Notification,
            config_schema: schema_of::<SendSlackMessageConfig>(),
            example: json!({"webhookUrl": "{{ secrets.SLACK_WEBHOOK }}", "text": "Negative mention: {{ input.text }}"}),
            required_permissions: &["notify:slack"],
            output: "{ ok: true, channel, ts } with a bot token (`ts` names the message, for `threadTs`); { ok: true } through a webhook",
            security: "The webhook URL and the bot token are credentials: reference them as workspace secrets \
                       (`{{ secrets.NAME }}`); messages and logs name the target's origin only. HTTP 429 waits for \
                       Retry-After; 5xx, timeouts and the Web API codes ratelimited, service_unavailable, \
                       request_timeout, internal_error and fatal_error retry; any other code (channel_not_found, \
                       invalid_auth, …) or 4xx is fatal. Slack has no idempotency key: a retry after a timeout may \
                       post twice. Outgoing HTTP refuses private addresses unless ORBFLOW_HTTP_ALLOW_PRIVATE=true.",
            block: false,
            implemented: true,
        },
        std::sync::Arc::new(SendSlackMessage::new(p)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(v: Value) -> SendSlackMessageConfig {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn the_target_is_the_webhook_or_the_api_with_a_channel() {
        let t = target(&cfg(json!({"webhookUrl": "https://hooks.example/T/B/x", "text": "t"}))).unwrap();
        assert!(matches!(t, Target::Webhook(u) if u.path() == "/T/B/x"));
        let t = target(&cfg(
            json!({"token": "xoxb-1", "channel": "C1", "text": "t", "apiUrl": "http://127.0.0.1:9/api/"}),
        ))
        .unwrap();
        assert!(
            matches!(t, Target::Api { url, token } if url.as_str() == "http://127.0.0.1:9/api/chat.postMessage" && token == "xoxb-1")
        );
        let t = target(&cfg(json!({"token": "xoxb-1", "channel": "C1", "text": "t"}))).unwrap();
        assert!(matches!(t, Target::Api { url, .. } if url.as_str() == "https://slack.com/api/chat.postMessage"));
        for bad in [
            json!({"token": "xoxb-1", "text": "t"}),
            json!({"text": "t"}),
            json!({"token": "x", "webhookUrl": "https://h.example/", "channel": "C", "text": "t"}),
            json!({"webhookUrl": "not a url", "text": "t"}),
        ] {
            assert!(
                matches!(target(&cfg(bad.clone())), Err(ActionError::Fatal { .. })),
                "{bad}"
            );
        }
    }

    #[test]
    fn the_payload_uses_slacks_field_names() {
        let p = payload(&cfg(json!({
            "token": "x", "channel": "C1", "text": "hi", "threadTs": "1.2", "blocks": [{"type": "divider"}]
        })));
        assert_eq!(
            p,
            json!({"text": "hi", "channel": "C1", "thread_ts": "1.2", "blocks": [{"type": "divider"}]})
        );
        assert_eq!(
            payload(&cfg(json!({"webhookUrl": "https://h.example/", "text": "hi"}))),
            json!({"text": "hi"})
        );
    }
}
