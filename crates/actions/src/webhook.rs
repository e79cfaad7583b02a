//! TRIGGER_WEBHOOK: one HTTP request to a URL the workflow names.
//!
//! - The request carries `Idempotency-Key: <run_id:step_path>` (the same on
//!   every attempt) unless the config sets that header itself.
//! - Inside a trace, the request is an HTTP client span under the attempt's
//!   and carries its `traceparent` (unless the config sets one).
//! - The output is `{ status, headers, body }`: header names lower-cased,
//!   the body parsed when the response says it is JSON, else text; bodies
//!   over [`MAX_RESPONSE_BYTES`] fail the step.
//! - 2xx and (unfollowed) 3xx complete the step; 5xx, 408, 429, timeouts and
//!   transport errors are retryable (429 and 503 pass `Retry-After` on);
//!   any other 4xx is fatal.
//! - Outgoing HTTP follows [`crate::net`]: private addresses are refused
//!   unless `ORBFLOW_HTTP_ALLOW_PRIVATE=true`.
//!
//! Error messages and log lines name the method and the target's origin
//! (scheme, host, port) only: URLs often carry secrets in their path or
//! query (Slack webhook URLs do), and header values are never shown.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::Instant;

use chrono::{DateTime, NaiveDateTime, Utc};
use orbflow_model::validate::config as config_format;
use reqwest::StatusCode;
use reqwest::header::{CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue, RETRY_AFTER};
use schemars::JsonSchema;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value, json};
use url::Url;

use crate::action::{Action, ActionContext, ActionError, LogLevel, Outcome, OutgoingCall};
use crate::net::{self, HttpPolicy, LazyClient};
use crate::spec::{ActionSpec, Category, schema_of};

/// Largest response body accepted (10 MiB).
pub const MAX_RESPONSE_BYTES: usize = 10 * 1024 * 1024;

/// Timeout when the config sets none.
pub const DEFAULT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// Characters of the response body quoted in an error message.
const EXCERPT_CHARS: usize = 200;

/// HTTP methods TRIGGER_WEBHOOK can send.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum HttpMethod {
    /// GET.
    Get,
    /// POST (default).
    #[default]
    Post,
    /// PUT.
    Put,
    /// PATCH.
    Patch,
    /// DELETE.
    Delete,
    /// HEAD.
    Head,
}

impl HttpMethod {
    fn to_reqwest(self) -> reqwest::Method {
        match self {
            Self::Get => reqwest::Method::GET,
            Self::Post => reqwest::Method::POST,
            Self::Put => reqwest::Method::PUT,
            Self::Patch => reqwest::Method::PATCH,
            Self::Delete => reqwest::Method::DELETE,
            Self::Head => reqwest::Method::HEAD,
        }
    }
}

/// A request timeout: milliseconds or a duration string, greater than 0
/// and at most 366 days.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(untagged)]
pub enum HttpTimeout {
    /// Milliseconds.
    Millis(u64),
    /// A duration string: `500ms`, `30s`, `10m`.
    Text(orbflow_model::Duration),
}

impl JsonSchema for HttpTimeout {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "HttpTimeout".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "Milliseconds or a duration string, greater than 0 and at most 366 days.",
            "anyOf": [
                {
                    "type": "integer",
                    "minimum": 1,
                    "maximum": orbflow_model::duration::MAX_DURATION_MILLIS,
                    "description": "Milliseconds."
                },
                {
                    "type": "string",
                    "format": config_format::POSITIVE_DURATION,
                    "description": "A duration string: `500ms`, `30s`, `10m`.",
                    "examples": ["30s"]
                }
            ]
        })
    }
}

/// The schema of TRIGGER_WEBHOOK's `headers`: valid names, string values
/// that HTTP can carry.
fn headers_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({
        "type": ["object", "null"],
        "propertyNames": { "format": config_format::HTTP_HEADER_NAME },
        "additionalProperties": { "type": "string", "format": config_format::HTTP_HEADER_VALUE }
    })
}

impl HttpTimeout {
    fn millis(self) -> u64 {
        match self {
            Self::Millis(ms) => ms,
            Self::Text(d) => d.as_millis(),
        }
    }
}

/// TRIGGER_WEBHOOK config.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TriggerWebhookConfig {
    /// The URL to call (http or https).
    #[schemars(length(min = 1), extend("format" = config_format::HTTP_URL))]
    pub url: String,
    /// HTTP method. Default: POST.
    #[serde(default)]
    pub method: HttpMethod,
    /// Request headers. `Idempotency-Key` is added unless set here.
    #[serde(default, deserialize_with = "string_map")]
    #[schemars(schema_with = "headers_schema")]
    pub headers: Option<BTreeMap<String, String>>,
    /// Request body: a JSON string is sent as `text/plain`, any other JSON
    /// value as `application/json` (unless `headers` set a Content-Type).
    #[serde(default)]
    pub body: Option<Value>,
    /// Timeout of the whole exchange: milliseconds or a duration string.
    /// Default: 30s.
    #[serde(default)]
    pub timeout: Option<HttpTimeout>,
}

/// Deserializes a header map without echoing a bad value in the error
/// (header values are often credentials).
fn string_map<'de, D: Deserializer<'de>>(d: D) -> Result<Option<BTreeMap<String, String>>, D::Error> {
    let raw: Option<BTreeMap<String, Value>> = Option::deserialize(d)?;
    let Some(raw) = raw else { return Ok(None) };
    let mut out = BTreeMap::new();
    for (k, v) in raw {
        match v {
            Value::String(s) => {
                out.insert(k, s);
            }
            _ => {
                return Err(serde::de::Error::custom(format!("header `{k}` must be a string")));
            }
        }
    }
    Ok(Some(out))
}

/// The TRIGGER_WEBHOOK action.
#[derive(Debug)]
pub struct TriggerWebhook {
    http: LazyClient,
}

impl TriggerWebhook {
    /// An action obeying `policy`; its HTTP client is built on first use.
    pub fn new(policy: &HttpPolicy) -> Self {
        Self {
            http: LazyClient::new(policy),
        }
    }

    /// An action that sends with `client`, which should come from
    /// [`net::client_builder`] with the same `policy` (literal-IP URLs are
    /// still checked against `policy` before sending).
    pub fn with_client(policy: &HttpPolicy, client: reqwest::Client) -> Self {
        Self {
            http: LazyClient::with_client(policy, client),
        }
    }
}

/// What the request goes to, for messages: scheme, host and port only.
pub(crate) fn origin(url: &Url) -> String {
    let host = match url.host() {
        Some(url::Host::Ipv6(ip)) => format!("[{ip}]"),
        Some(h) => h.to_string(),
        None => String::new(),
    };
    let port = url.port().map(|p| format!(":{p}")).unwrap_or_default();
    let path = if url.path() == "/" && url.query().is_none() {
        ""
    } else {
        "/…"
    };
    format!("{}://{host}{port}{path}", url.scheme())
}

struct Prepared {
    request: reqwest::RequestBuilder,
    target: String,
    timeout: std::time::Duration,
    /// Values of credential-like request headers: scrubbed from quoted
    /// response bodies (some servers echo the request back).
    secrets: Vec<String>,
    /// The config sets `traceparent` itself.
    own_traceparent: bool,
    /// Scheme, host and port (what the client span names).
    server: (String, String, Option<u16>),
}

impl TriggerWebhook {
    fn prepare(&self, ctx: &ActionContext) -> Result<Prepared, ActionError> {
        let cfg: TriggerWebhookConfig = serde_json::from_value(ctx.config.clone())
            .map_err(|e| ActionError::fatal(format!("invalid TRIGGER_WEBHOOK config: {e}")))?;
        let url =
            Url::parse(cfg.url.trim()).map_err(|e| ActionError::fatal(format!("TRIGGER_WEBHOOK: invalid URL: {e}")))?;
        let method = cfg.method.to_reqwest();
        let target = format!("{method} {}", origin(&url));
        net::check_url(self.http.policy(), &url)
            .map_err(|e| ActionError::fatal(format!("TRIGGER_WEBHOOK {target}: {e}")))?;

        let timeout_ms = cfg.timeout.map_or(
            u64::try_from(DEFAULT_TIMEOUT.as_millis()).unwrap_or(30_000),
            HttpTimeout::millis,
        );
        if timeout_ms == 0 {
            return Err(ActionError::fatal("TRIGGER_WEBHOOK: `timeout` must be greater than 0"));
        }
        if timeout_ms > orbflow_model::duration::MAX_DURATION_MILLIS {
            return Err(ActionError::fatal("TRIGGER_WEBHOOK: `timeout` is longer than 366 days"));
        }

        let mut headers = HeaderMap::new();
        let mut secrets = Vec::new();
        for (name, value) in cfg.headers.unwrap_or_default() {
            let n = HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| ActionError::fatal(format!("TRIGGER_WEBHOOK: invalid header name `{name}`")))?;
            let mut v = HeaderValue::from_str(&value)
                .map_err(|_| ActionError::fatal(format!("TRIGGER_WEBHOOK: invalid value for header `{name}`")))?;
            if looks_sensitive(n.as_str()) {
                v.set_sensitive(true);
                // The whole value and its last word (a bearer token alone).
                for part in [value.trim(), value.split_whitespace().last().unwrap_or("")] {
                    if part.len() >= 4 && !secrets.iter().any(|s| s == part) {
                        secrets.push(part.to_owned());
                    }
                }
            }
            headers.append(n, v);
        }
        let key_name = HeaderName::from_static("idempotency-key");
        if !headers.contains_key(&key_name) && !ctx.idempotency_key.is_empty() {
            match HeaderValue::from_str(&ctx.idempotency_key) {
                Ok(v) => {
                    headers.insert(key_name, v);
                }
                Err(_) => ctx.logger.log(
                    LogLevel::Warn,
                    "TRIGGER_WEBHOOK: the idempotency key is not a valid header value; sent without it",
                    None,
                ),
            }
        }
        // a `traceparent` the config sets wins over the call span's own
        let own_traceparent = headers.contains_key(HeaderName::from_static("traceparent"));
        let has_type = headers.contains_key(CONTENT_TYPE);
        let client = self.http.get().map_err(ActionError::fatal)?;
        let server = (
            url.scheme().to_owned(),
            url.host_str().unwrap_or("").to_owned(),
            url.port_or_known_default(),
        );
        let mut request = client.request(method, url);
        match cfg.body {
            None => {}
            Some(Value::String(text)) => {
                if !has_type {
                    headers.insert(CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
                }
                request = request.body(text);
            }
            Some(other) => {
                if !has_type {
                    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
                }
                let bytes = serde_json::to_vec(&other)
                    .map_err(|e| ActionError::fatal(format!("TRIGGER_WEBHOOK: cannot encode the body: {e}")))?;
                request = request.body(bytes);
            }
        }
        Ok(Prepared {
            request: request.headers(headers),
            target,
            timeout: std::time::Duration::from_millis(timeout_ms),
            secrets,
            own_traceparent,
            server,
        })
    }
}

/// Whether a header name suggests a credential (its value is never shown).
fn looks_sensitive(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    n == "authorization"
        || n == "proxy-authorization"
        || n == "cookie"
        || n == "set-cookie"
        || ["token", "secret", "key", "password", "auth", "signature", "session"]
            .iter()
            .any(|w| n.contains(w))
}

/// A response body read up to the limit.
pub(crate) struct Body {
    pub(crate) bytes: Vec<u8>,
    /// More than [`MAX_RESPONSE_BYTES`] were sent (the rest was not read).
    pub(crate) oversized: bool,
}

pub(crate) async fn read_body(resp: &mut reqwest::Response) -> Result<Body, reqwest::Error> {
    let mut bytes = Vec::new();
    if resp.content_length().is_some_and(|n| n > MAX_RESPONSE_BYTES as u64) {
        // Still read a little so an error message can quote it.
        if let Some(chunk) = resp.chunk().await? {
            bytes.extend_from_slice(&chunk[..chunk.len().min(4096)]);
        }
        return Ok(Body { bytes, oversized: true });
    }
    while let Some(chunk) = resp.chunk().await? {
        let room = MAX_RESPONSE_BYTES - bytes.len();
        if chunk.len() > room {
            bytes.extend_from_slice(&chunk[..room]);
            return Ok(Body { bytes, oversized: true });
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(Body {
        bytes,
        oversized: false,
    })
}

fn is_json(content_type: Option<&str>) -> bool {
    let Some(ct) = content_type else { return false };
    let essence = ct.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    essence == "application/json" || essence == "text/json" || essence.ends_with("+json")
}

pub(crate) fn excerpt(bytes: &[u8], secrets: &[String]) -> String {
    let mut text = String::from_utf8_lossy(bytes).into_owned();
    for s in secrets {
        text = text.replace(s.as_str(), "[redacted]");
    }
    let collapsed: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut out: String = collapsed.chars().take(EXCERPT_CHARS).collect();
    if collapsed.chars().count() > EXCERPT_CHARS {
        out.push('…');
    }
    out
}

fn header_map_json(headers: &HeaderMap) -> Map<String, Value> {
    let mut out = Map::new();
    for name in headers.keys() {
        let joined = headers
            .get_all(name)
            .iter()
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
            .collect::<Vec<_>>()
            .join(", ");
        out.insert(name.as_str().to_ascii_lowercase(), Value::String(joined));
    }
    out
}

/// Parses a `Retry-After` value: delta-seconds or an HTTP-date (IMF-fixdate,
/// RFC 850 or asctime), relative to `now`. A date in the past means "now";
/// waits are capped at 366 days.
pub fn parse_retry_after(value: &str, now: DateTime<Utc>) -> Option<std::time::Duration> {
    let max = orbflow_model::duration::MAX_DURATION_MILLIS / 1000;
    let v = value.trim();
    if !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()) {
        let secs = v.parse::<u64>().unwrap_or(u64::MAX).min(max);
        return Some(std::time::Duration::from_secs(secs));
    }
    let when = DateTime::parse_from_rfc2822(v)
        .map(|d| d.with_timezone(&Utc))
        .ok()
        .or_else(|| {
            let v = v.strip_suffix("GMT").unwrap_or(v).trim();
            ["%A, %d-%b-%y %H:%M:%S", "%a %b %e %H:%M:%S %Y"]
                .iter()
                .find_map(|f| NaiveDateTime::parse_from_str(v, f).ok())
                .map(|n| n.and_utc())
        })?;
    let delta = (when - now).num_seconds().max(0);
    let secs = u64::try_from(delta).unwrap_or(0).min(max);
    Some(std::time::Duration::from_secs(secs))
}

/// Describes a transport error without its URL (it may hold secrets).
pub(crate) fn describe(err: &reqwest::Error) -> String {
    let mut parts = Vec::new();
    let mut cur: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(err);
    while let Some(e) = cur {
        let s = e.to_string();
        if !s.is_empty() && !parts.contains(&s) {
            parts.push(s);
        }
        cur = e.source();
    }
    let kind = if err.is_timeout() {
        "timed out"
    } else if err.is_connect() {
        "cannot connect"
    } else if err.is_redirect() {
        "redirect failed"
    } else if err.is_body() || err.is_decode() {
        "error reading the response"
    } else {
        "request failed"
    };
    if parts.is_empty() {
        kind.to_owned()
    } else {
        format!("{kind}: {}", parts.join(": "))
    }
}

fn classify_transport(err: &reqwest::Error, target: &str) -> ActionError {
    if let Some(r) = net::refusal(err) {
        return ActionError::fatal(format!("TRIGGER_WEBHOOK {target}: {r}"));
    }
    let what = describe(err);
    if err.is_builder() || err.is_redirect() || net::is_too_many_redirects(err) {
        return ActionError::fatal(format!("TRIGGER_WEBHOOK {target}: {what}"));
    }
    ActionError::retryable(format!("TRIGGER_WEBHOOK {target}: {what}"))
}

/// Sends the request and reads the answer; `answered` gets the response's
/// status as soon as it arrives (for the client span).
async fn exchange(prepared: Prepared, ctx: &ActionContext, answered: &AtomicU16) -> Result<Outcome, ActionError> {
    let Prepared {
        request,
        target,
        secrets,
        ..
    } = prepared;
    let started = Instant::now();
    let transport = |e: reqwest::Error| {
        let err = classify_transport(&e, &target);
        ctx.logger.log(LogLevel::Warn, &err.to_string(), None);
        err
    };
    let mut resp = request.send().await.map_err(transport)?;
    let status = resp.status();
    answered.store(status.as_u16(), Ordering::Relaxed);
    let headers = resp.headers().clone();
    let body = read_body(&mut resp).await.map_err(transport)?;
    let elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    let code = status.as_u16();
    let reason = status.canonical_reason().unwrap_or("");
    let log_data = json!({ "status": code, "durationMs": elapsed_ms });

    if status.is_success() || status.is_redirection() || status.is_informational() {
        if body.oversized {
            let msg = format!(
                "TRIGGER_WEBHOOK {target}: the response body is larger than the {} MiB limit",
                MAX_RESPONSE_BYTES / (1024 * 1024)
            );
            ctx.logger.log(LogLevel::Error, &msg, Some(&log_data));
            return Err(ActionError::fatal(msg));
        }
        ctx.logger.log(
            LogLevel::Info,
            &format!("TRIGGER_WEBHOOK {target} → {code} {reason}"),
            Some(&log_data),
        );
        let content_type = headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok());
        let text = || Value::String(String::from_utf8_lossy(&body.bytes).into_owned());
        let body_json = if is_json(content_type) {
            serde_json::from_slice(&body.bytes).unwrap_or_else(|_| text())
        } else {
            text()
        };
        return Ok(Outcome::Completed(json!({
            "status": code,
            "headers": header_map_json(&headers),
            "body": body_json,
        })));
    }

    let quoted = excerpt(&body.bytes, &secrets);
    let mut message = format!("TRIGGER_WEBHOOK {target} answered {code} {reason}");
    if !quoted.is_empty() {
        message.push_str(": ");
        message.push_str(&quoted);
    }
    let retryable =
        status.is_server_error() || status == StatusCode::REQUEST_TIMEOUT || status == StatusCode::TOO_MANY_REQUESTS;
    if retryable {
        let retry_after = if status == StatusCode::TOO_MANY_REQUESTS || status == StatusCode::SERVICE_UNAVAILABLE {
            headers
                .get(RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| parse_retry_after(v, Utc::now()))
        } else {
            None
        };
        ctx.logger.log(LogLevel::Warn, &message, Some(&log_data));
        Err(ActionError::Retryable { message, retry_after })
    } else {
        ctx.logger.log(LogLevel::Error, &message, Some(&log_data));
        Err(ActionError::fatal(message))
    }
}

#[async_trait::async_trait]
impl Action for TriggerWebhook {
    async fn execute(&self, ctx: ActionContext) -> Result<Outcome, ActionError> {
        if ctx.cancel.is_cancelled() {
            return Err(ActionError::Cancelled);
        }
        let mut prepared = self.prepare(&ctx)?;
        let timeout = prepared.timeout;
        let target = prepared.target.clone();
        // the call's client span; the request carries its traceparent
        let span = ctx.calls.as_ref().map(|calls| {
            let (scheme, host, port) = &prepared.server;
            calls.start(&OutgoingCall {
                method: target.split(' ').next().unwrap_or("GET"),
                scheme,
                host,
                port: *port,
            })
        });
        if let Some(s) = &span
            && !prepared.own_traceparent
        {
            prepared.request = prepared.request.header("traceparent", s.traceparent());
        }
        let answered = AtomicU16::new(0);
        let result = tokio::select! {
            biased;
            () = ctx.cancel.cancelled() => Err(ActionError::Cancelled),
            r = tokio::time::timeout(timeout, exchange(prepared, &ctx, &answered)) => match r {
                Ok(result) => result,
                Err(_) => {
                    let msg = format!(
                        "TRIGGER_WEBHOOK {target}: timed out after {}",
                        orbflow_model::Duration::from_millis(u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX))
                    );
                    ctx.logger.log(LogLevel::Warn, &msg, None);
                    Err(ActionError::retryable(msg))
                }
            },
        };
        if let Some(span) = span {
            let status = Some(answered.load(Ordering::Relaxed)).filter(|s| *s != 0);
            // with a status, the status tells; the error is for what came before one
            let error = match (&result, status) {
                (Err(e), None) => Some(e.to_string()),
                _ => None,
            };
            span.end(status, error.as_deref());
        }
        result
    }
}

pub(crate) fn action(p: &HttpPolicy) -> crate::Result<(ActionSpec, Arc<dyn Action>)> {
    Ok((
        ActionSpec {
            name: "TRIGGER_WEBHOOK",
            description: "Send an HTTP request (with an Idempotency-Key) and return the response.",
            category: Category::Data,
            config_schema: schema_of::<TriggerWebhookConfig>(),
            example: json!({
                "url": "https://hooks.example.com/orbflow/mentions",
                "method": "POST",
                "headers": { "X-Source": "orbflow" },
                "body": { "text": "{{ input.text }}", "trigger": "{{ trigger.type }}" },
                "timeout": "10s"
            }),
            required_permissions: &["http:request"],
            output: "{ status, headers: { lower-case name: value }, body } (body parsed when the response is JSON, else text)",
            security: "Refuses loopback, private, link-local (cloud metadata), CGNAT, multicast and other non-public \
                       addresses, checked after DNS resolution and on every redirect (at most 5), unless \
                       ORBFLOW_HTTP_ALLOW_PRIVATE=true. Sends `Idempotency-Key: run_id:step_path` unless the config \
                       sets one. Responses over 10 MiB fail the step. Error messages and logs show only the \
                       target's origin, never header values; keep credentials in `{{ secrets.* }}`.",
            block: false,
            implemented: true,
            connection: None,
        },
        Arc::new(TriggerWebhook::new(p)),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_forms() {
        let now: DateTime<Utc> = "2026-01-01T00:00:00Z".parse().unwrap();
        let s = std::time::Duration::from_secs;
        assert_eq!(parse_retry_after("7", now), Some(s(7)));
        assert_eq!(parse_retry_after(" 0 ", now), Some(s(0)));
        assert_eq!(parse_retry_after("Thu, 01 Jan 2026 00:02:00 GMT", now), Some(s(120)));
        assert_eq!(parse_retry_after("Thursday, 01-Jan-26 00:01:00 GMT", now), Some(s(60)));
        assert_eq!(parse_retry_after("Thu Jan  1 00:00:30 2026", now), Some(s(30)));
        assert_eq!(parse_retry_after("Wed, 31 Dec 2025 23:00:00 GMT", now), Some(s(0)));
        assert_eq!(parse_retry_after("99999999999999999999999", now), Some(s(366 * 86_400)));
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("-5", now), None);
        assert_eq!(parse_retry_after("", now), None);
    }

    #[test]
    fn json_content_types() {
        assert!(is_json(Some("application/json")));
        assert!(is_json(Some("Application/JSON; charset=utf-8")));
        assert!(is_json(Some("application/problem+json")));
        assert!(!is_json(Some("text/plain")));
        assert!(!is_json(None));
    }

    #[test]
    fn origins_hide_paths_and_credentials() {
        let u = |s: &str| origin(&Url::parse(s).unwrap());
        assert_eq!(
            u("https://hooks.slack.com/services/T/B/SECRET"),
            "https://hooks.slack.com/…"
        );
        assert_eq!(u("http://user:pw@127.0.0.1:8080/?token=x"), "http://127.0.0.1:8080/…");
        assert_eq!(u("http://[::1]:81/"), "http://[::1]:81");
    }

    #[test]
    fn sensitive_header_names() {
        for n in ["Authorization", "cookie", "X-Api-Key", "X-Auth-Token", "Client-Secret"] {
            assert!(looks_sensitive(n), "{n}");
        }
        assert!(!looks_sensitive("Content-Type"));
    }

    #[test]
    fn config_errors_do_not_echo_header_values() {
        let e = serde_json::from_value::<TriggerWebhookConfig>(
            json!({"url": "https://x.example", "headers": {"Authorization": 12345678}}),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("header `Authorization` must be a string"), "{e}");
        assert!(!e.contains("12345678"), "{e}");
    }

    #[test]
    fn excerpts_are_short() {
        let long = "x".repeat(1000);
        let e = excerpt(long.as_bytes(), &[]);
        assert_eq!(e.chars().count(), EXCERPT_CHARS + 1);
        assert_eq!(excerpt(b"  a \n b  ", &[]), "a b");
        let echoed = br#"{"headers": {"Authorization": "Bearer s3cr3t-value"}}"#;
        let e = excerpt(echoed, &["Bearer s3cr3t-value".to_owned()]);
        assert!(!e.contains("s3cr3t") && e.contains("[redacted]"), "{e}");
    }
}
