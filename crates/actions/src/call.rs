//! One outgoing call of a provider integration (GENERATE_CONTENT,
//! MODERATE_CONTENT, the social providers): the request goes through the
//! policy-checked client, under a client span carrying `traceparent`,
//! stopped by the attempt's cancellation and bounded by a time-out; the
//! answer comes back whatever its status, and [`failure`] turns a non-2xx
//! answer into the typed error the engine acts on:
//!
//! - 429 and 503 are retryable after the wait the provider names: the
//!   standard `Retry-After` (seconds or an HTTP date), `retry-after-ms`
//!   (OpenAI), or the reset of its rate-limit window
//!   ([`rate_limit_wait`]: `x-ratelimit-reset`, `x-rate-limit-reset`,
//!   `ratelimit-reset` as epoch seconds, delta seconds or an RFC 3339 time;
//!   OpenAI's `x-ratelimit-reset-requests`/`-tokens` as `6m0s`);
//! - any other 5xx (Anthropic's 529 "overloaded" included), 408 and 425 are
//!   retryable;
//! - every other status is fatal, with the provider's own message.
//!
//! Transport failures are retryable, except a refused address, a bad
//! request and too many redirects, which are fatal. Messages name the
//! action, the method and the target's origin, never its path or a
//! credential (credentials passed as `secrets` are scrubbed from quoted
//! bodies).

use std::sync::atomic::{AtomicU16, Ordering};
use std::time::Duration;

use chrono::{DateTime, Utc};
use reqwest::header::{HeaderMap, RETRY_AFTER};
use reqwest::{Method, RequestBuilder, StatusCode};
use serde_json::Value;
use url::Url;

use crate::action::{ActionContext, ActionError, OutgoingCall};
use crate::net::{self, LazyClient};
use crate::webhook::{describe, excerpt, origin, parse_retry_after, read_body};

/// What a provider answered.
#[derive(Debug)]
pub(crate) struct Answer {
    pub(crate) status: StatusCode,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Vec<u8>,
}

impl Answer {
    /// The body as JSON (`Null` when it is not JSON).
    pub(crate) fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }
}

/// One request: which action makes it, how, and where.
#[derive(Debug, Clone)]
pub(crate) struct Endpoint {
    pub(crate) action: &'static str,
    pub(crate) method: Method,
    pub(crate) url: Url,
}

impl Endpoint {
    /// `POST url` for `action`.
    pub(crate) fn post(action: &'static str, url: Url) -> Self {
        Self {
            action,
            method: Method::POST,
            url,
        }
    }

    /// `GET url` for `action`.
    pub(crate) fn get(action: &'static str, url: Url) -> Self {
        Self {
            action,
            method: Method::GET,
            url,
        }
    }

    /// `ACTION METHOD origin`: how messages name the call.
    pub(crate) fn label(&self) -> String {
        format!("{} {} {}", self.action, self.method, origin(&self.url))
    }

    /// Sends the request `build` makes from the bare one, within `timeout`,
    /// and returns the answer whatever its status. `secrets` are scrubbed
    /// from anything quoted.
    pub(crate) async fn send(
        &self,
        ctx: &ActionContext,
        http: &LazyClient,
        timeout: Duration,
        build: impl FnOnce(RequestBuilder) -> RequestBuilder,
    ) -> Result<Answer, ActionError> {
        let label = self.label();
        if ctx.cancel.is_cancelled() {
            return Err(ActionError::Cancelled);
        }
        net::check_url(http.policy(), &self.url).map_err(|e| ActionError::fatal(format!("{label}: {e}")))?;
        let client = http.get().map_err(ActionError::fatal)?;
        let mut request = build(client.request(self.method.clone(), self.url.clone()));
        let span = ctx.calls.as_ref().map(|calls| {
            calls.start(&OutgoingCall {
                method: self.method.as_str(),
                scheme: self.url.scheme(),
                host: self.url.host_str().unwrap_or(""),
                port: self.url.port_or_known_default(),
            })
        });
        if let Some(s) = &span {
            request = request.header("traceparent", s.traceparent());
        }
        let answered = AtomicU16::new(0);
        let exchange = async {
            let mut resp = request.send().await.map_err(|e| transport(&label, &e))?;
            answered.store(resp.status().as_u16(), Ordering::Relaxed);
            let status = resp.status();
            let headers = resp.headers().clone();
            let body = read_body(&mut resp)
                .await
                .map_err(|e| ActionError::retryable(format!("{label}: {}", describe(&e))))?;
            if body.oversized {
                return Err(ActionError::fatal(format!(
                    "{label}: the answer is larger than {} bytes",
                    crate::webhook::MAX_RESPONSE_BYTES
                )));
            }
            Ok(Answer {
                status,
                headers,
                body: body.bytes,
            })
        };
        let result = tokio::select! {
            biased;
            () = ctx.cancel.cancelled() => Err(ActionError::Cancelled),
            r = tokio::time::timeout(timeout, exchange) => match r {
                Ok(r) => r,
                Err(_) => Err(ActionError::retryable(format!("{label}: timed out after {}s", timeout.as_secs()))),
            },
        };
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

fn transport(label: &str, e: &reqwest::Error) -> ActionError {
    if let Some(r) = net::refusal(e) {
        return ActionError::fatal(format!("{label}: {r}"));
    }
    let what = describe(e);
    if e.is_builder() || e.is_redirect() || net::is_too_many_redirects(e) {
        ActionError::fatal(format!("{label}: {what}"))
    } else {
        ActionError::retryable(format!("{label}: {what}"))
    }
}

/// The error a non-2xx `answer` means: `label answered STATUS: detail`,
/// where `detail` is the provider's message (else an excerpt of the body,
/// with `secrets` scrubbed).
pub(crate) fn failure(label: &str, answer: &Answer, detail: Option<String>, secrets: &[String]) -> ActionError {
    let status = answer.status;
    let detail = detail
        .map(|d| excerpt(d.as_bytes(), secrets))
        .unwrap_or_else(|| excerpt(&answer.body, secrets));
    let mut message = format!("{label} answered {}", status.as_u16());
    if !detail.is_empty() {
        message.push_str(": ");
        message.push_str(&detail);
    }
    if status == StatusCode::TOO_MANY_REQUESTS || status == StatusCode::SERVICE_UNAVAILABLE {
        return ActionError::Retryable {
            message,
            retry_after: rate_limit_wait(&answer.headers, Utc::now()),
        };
    }
    if status.is_server_error() || matches!(status.as_u16(), 408 | 425) {
        ActionError::retryable(message)
    } else {
        ActionError::fatal(message)
    }
}

/// Epoch seconds above this are a time, below it a delta (2001-09-09).
const EPOCH_FLOOR: u64 = 1_000_000_000;

/// How long a rate-limited provider asks to wait, from the first of:
/// `Retry-After`, `retry-after-ms`, the reset of the window
/// (`x-ratelimit-reset`, `x-rate-limit-reset`, `ratelimit-reset`: epoch
/// seconds, delta seconds or an RFC 3339 time), OpenAI's
/// `x-ratelimit-reset-requests`/`x-ratelimit-reset-tokens` (`1s`, `6m0s`,
/// `20ms`; the longer of the two). `None` when none parses.
pub fn rate_limit_wait(headers: &HeaderMap, now: DateTime<Utc>) -> Option<Duration> {
    let get = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::trim);
    if let Some(d) = get(RETRY_AFTER.as_str()).and_then(|v| parse_retry_after(v, now)) {
        return Some(d);
    }
    if let Some(ms) = get("retry-after-ms").and_then(|v| v.parse::<u64>().ok()) {
        return Some(Duration::from_millis(ms));
    }
    for name in ["x-ratelimit-reset", "x-rate-limit-reset", "ratelimit-reset"] {
        if let Some(d) = get(name).and_then(|v| reset_wait(v, now)) {
            return Some(d);
        }
    }
    ["x-ratelimit-reset-requests", "x-ratelimit-reset-tokens"]
        .iter()
        .filter_map(|n| get(n).and_then(parse_go_duration))
        .max()
}

fn reset_wait(v: &str, now: DateTime<Utc>) -> Option<Duration> {
    let until = |t: DateTime<Utc>| Duration::from_secs(u64::try_from((t - now).num_seconds().max(0)).unwrap_or(0));
    if let Ok(n) = v.parse::<u64>() {
        if n < EPOCH_FLOOR {
            return Some(Duration::from_secs(n));
        }
        let t = DateTime::from_timestamp(i64::try_from(n).ok()?, 0)?;
        return Some(until(t));
    }
    if let Ok(f) = v.parse::<f64>()
        && f.is_finite()
        && f >= 0.0
        && f < EPOCH_FLOOR as f64
    {
        return Some(Duration::from_secs_f64(f));
    }
    DateTime::parse_from_rfc3339(v)
        .ok()
        .map(|t| until(t.with_timezone(&Utc)))
}

/// `1h2m3.5s`, `6m0s`, `20ms`: Go's duration syntax, as OpenAI sends it.
fn parse_go_duration(v: &str) -> Option<Duration> {
    let mut total = 0.0_f64;
    let mut rest = v;
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let end = rest.find(|c: char| !(c.is_ascii_digit() || c == '.'))?;
        let n: f64 = rest[..end].parse().ok()?;
        rest = &rest[end..];
        let unit_end = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let scale = match &rest[..unit_end] {
            "h" => 3600.0,
            "m" => 60.0,
            "s" => 1.0,
            "ms" => 0.001,
            "us" | "µs" => 0.000_001,
            _ => return None,
        };
        total += n * scale;
        rest = &rest[unit_end..];
    }
    (total.is_finite() && total < 366.0 * 86_400.0).then(|| Duration::from_secs_f64(total))
}

/// `base` with `path` appended (`https://h/v1` + `chat/completions`), for
/// a provider's base URL from a connection or a config.
pub(crate) fn join(action: &str, base: &str, path: &str) -> Result<Url, ActionError> {
    let text = format!("{}/{}", base.trim().trim_end_matches('/'), path.trim_start_matches('/'));
    Url::parse(&text).map_err(|e| ActionError::fatal(format!("{action}: invalid base URL `{}`: {e}", base.trim())))
}

/// A header value that is never printed (a credential).
pub(crate) fn sensitive(action: &str, value: &str) -> Result<reqwest::header::HeaderValue, ActionError> {
    let mut v = reqwest::header::HeaderValue::from_str(value)
        .map_err(|_| ActionError::fatal(format!("{action}: the credential is not a valid header value")))?;
    v.set_sensitive(true);
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn rate_limit_waits_come_from_every_providers_headers() {
        let now = DateTime::parse_from_rfc3339("2026-12-04T10:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let secs = |pairs: &[(&'static str, &str)]| rate_limit_wait(&headers(pairs), now).map(|d| d.as_millis());
        assert_eq!(secs(&[("retry-after", "7")]), Some(7_000));
        assert_eq!(secs(&[("retry-after-ms", "1500")]), Some(1_500));
        // Retry-After wins over the window's reset
        assert_eq!(secs(&[("retry-after", "2"), ("x-ratelimit-reset", "60")]), Some(2_000));
        // X: epoch seconds
        let at = (now.timestamp() + 90).to_string();
        assert_eq!(secs(&[("x-rate-limit-reset", &at)]), Some(90_000));
        // Bluesky: epoch seconds in `ratelimit-reset`
        assert_eq!(secs(&[("ratelimit-reset", &at)]), Some(90_000));
        // Mastodon: an ISO 8601 time
        assert_eq!(
            secs(&[("x-ratelimit-reset", "2026-12-04T10:05:00.000Z")]),
            Some(300_000)
        );
        // a reset in the past: now
        assert_eq!(secs(&[("x-ratelimit-reset", "2026-12-04T09:00:00Z")]), Some(0));
        // OpenAI: the longer of requests and tokens
        assert_eq!(
            secs(&[
                ("x-ratelimit-reset-requests", "1s"),
                ("x-ratelimit-reset-tokens", "6m0s")
            ]),
            Some(360_000)
        );
        assert_eq!(secs(&[("x-ratelimit-reset-tokens", "20ms")]), Some(20));
        assert_eq!(secs(&[("x-ratelimit-reset-tokens", "1h1.5s")]), Some(3_601_500));
        assert_eq!(secs(&[("x-ratelimit-reset-tokens", "soon")]), None);
        assert_eq!(secs(&[]), None);
    }

    #[test]
    fn statuses_map_to_typed_errors() {
        let answer = |status: u16, h: HeaderMap| Answer {
            status: StatusCode::from_u16(status).unwrap(),
            headers: h,
            body: b"{\"error\":\"sk-secret is wrong\"}".to_vec(),
        };
        let secrets = vec!["sk-secret".to_owned()];
        let e = failure(
            "X POST https://p",
            &answer(429, headers(&[("retry-after", "3")])),
            None,
            &secrets,
        );
        assert_eq!(
            e,
            ActionError::Retryable {
                message: "X POST https://p answered 429: {\"error\":\"[redacted] is wrong\"}".into(),
                retry_after: Some(Duration::from_secs(3)),
            }
        );
        for s in [500, 502, 529, 408, 425] {
            assert!(
                failure("l", &answer(s, HeaderMap::new()), None, &[]).is_retryable(),
                "{s}"
            );
        }
        for s in [400, 401, 403, 404, 409, 422] {
            let e = failure("l", &answer(s, HeaderMap::new()), Some("bad key".into()), &[]);
            assert_eq!(e, ActionError::fatal(format!("l answered {s}: bad key")));
        }
    }

    #[test]
    fn base_urls_join_paths_once() {
        assert_eq!(
            join("A", "https://api.example.com/v1/", "/chat/completions")
                .unwrap()
                .as_str(),
            "https://api.example.com/v1/chat/completions"
        );
        let e = join("A", "not a url", "x").unwrap_err();
        assert!(e.to_string().contains("invalid base URL `not a url`"), "{e}");
        assert!(sensitive("A", "bad\nvalue").is_err());
        assert!(sensitive("A", "Bearer ok").unwrap().is_sensitive());
    }
}
