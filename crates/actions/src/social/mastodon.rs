//! Mastodon: `POST /api/v1/statuses` with the account's bearer token.
//!
//! - `Idempotency-Key` is the step's key (run and step path): Mastodon
//!   answers a repeated key with the status it created the first time, so
//!   a retried step posts once.
//! - Replies set `in_reply_to_id`; SCHEDULE_POST sets `scheduled_at` and
//!   gets a ScheduledStatus back (its id is the scheduled post's).
//! - Images are uploaded first (`POST /api/v2/media`, multipart `file`);
//!   a status whose media is still processing is answered 422 and retried.
//! - Errors are `{"error": "..."}`; 429 carries `X-RateLimit-Reset` (an
//!   ISO 8601 time), honoured by [`crate::call`].

use std::time::Duration;

use serde_json::{Value, json};

use super::media::{Upload, upload_all};
use super::{Call, Post, Posted};
use crate::action::ActionError;
use crate::call::{Endpoint, failure, join, sensitive};
use crate::connections::MastodonConnection;

const TIMEOUT: Duration = Duration::from_secs(60);

fn message(v: &Value) -> Option<String> {
    v.get("error").and_then(Value::as_str).map(str::to_owned)
}

/// Posts `post` as the account of `settings`.
pub(crate) async fn post(call: &Call<'_>, settings: &Value, post: &Post<'_>) -> Result<Posted, ActionError> {
    let action = call.action;
    let conn: MastodonConnection = serde_json::from_value(settings.clone())
        .map_err(|e| ActionError::fatal(format!("{action}: the mastodon connection is invalid: {e}")))?;
    let token = conn.access_token.trim().to_owned();
    let secrets = vec![token.clone()];
    let bearer = sensitive(action, &format!("Bearer {token}"))?;
    let upload = Upload {
        url: join(action, &conn.instance_url, "api/v2/media")?,
        fields: &[],
        file_field: "file",
        id_at: "/id",
        auth: bearer.clone(),
        secrets: &secrets,
        message,
    };
    let media_ids = upload_all(call, post.media_urls, &upload).await?;
    let mut body = json!({ "status": post.text });
    if !media_ids.is_empty() {
        body["media_ids"] = json!(media_ids);
    }
    if let Some(r) = post.reply_to {
        body["in_reply_to_id"] = json!(r);
    }
    if let Some(at) = post.scheduled_at {
        body["scheduled_at"] = json!(at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
    }
    let endpoint = Endpoint::post(action, join(action, &conn.instance_url, "api/v1/statuses")?);
    let key = call.ctx.idempotency_key.clone();
    let answer = endpoint
        .send(call.ctx, call.http, TIMEOUT, |r| {
            r.header("authorization", bearer)
                .header("idempotency-key", key)
                .json(&body)
        })
        .await?;
    let label = endpoint.label();
    let v = answer.json();
    if !answer.status.is_success() {
        let detail = message(&v);
        // media still being processed: the same status, a little later
        if answer.status.as_u16() == 422 && detail.as_deref().is_some_and(|d| d.contains("processing")) {
            return Err(ActionError::Retryable {
                message: format!("{label} answered 422: {}", detail.unwrap_or_default()),
                retry_after: Some(Duration::from_secs(2)),
            });
        }
        return Err(failure(&label, &answer, detail, &secrets));
    }
    let id = v
        .get("id")
        .and_then(Value::as_str)
        .ok_or_else(|| ActionError::retryable(format!("{label}: the answer has no `id`")))?;
    Ok(Posted {
        id: id.to_owned(),
        url: v.get("url").and_then(Value::as_str).map(str::to_owned),
    })
}
