//! X (Twitter) API v2: `POST /2/tweets` with an OAuth 2.0 user token.
//!
//! - Replies set `reply.in_reply_to_tweet_id`; images are uploaded first
//!   (`POST /2/media/upload`, multipart `media` with `media_category`) and
//!   attached as `media.media_ids`.
//! - The answer is `201 {"data": {"id", "text"}}`; errors are problem
//!   details (`{"title", "detail", "status"}`) or `{"errors": [{"message"}]}`;
//!   429 carries `x-rate-limit-reset` (epoch seconds), honoured by
//!   [`crate::call`].
//! - X takes no idempotency key: a step retried after a time-out may post
//!   twice, unless X refuses the identical text (403 "duplicate content").

use std::time::Duration;

use serde_json::{Value, json};

use super::media::{Upload, upload_all};
use super::{Call, Post, Posted};
use crate::action::ActionError;
use crate::call::{Endpoint, failure, join, sensitive};
use crate::connections::XConnection;

/// X's API when the connection names no `apiUrl`.
pub const API_URL: &str = "https://api.x.com";

const TIMEOUT: Duration = Duration::from_secs(60);

/// The platform's own message in an error body.
fn message(v: &Value) -> Option<String> {
    if let Some(d) = v.get("detail").and_then(Value::as_str) {
        return Some(d.to_owned());
    }
    let errors = v.get("errors")?.as_array()?;
    let parts: Vec<&str> = errors
        .iter()
        .filter_map(|e| e.get("message").or_else(|| e.get("detail")).and_then(Value::as_str))
        .collect();
    (!parts.is_empty()).then(|| parts.join("; "))
}

/// Posts `post` as the account of `settings`.
pub(crate) async fn post(call: &Call<'_>, settings: &Value, post: &Post<'_>) -> Result<Posted, ActionError> {
    let action = call.action;
    let conn: XConnection = serde_json::from_value(settings.clone())
        .map_err(|e| ActionError::fatal(format!("{action}: the x connection is invalid: {e}")))?;
    let base = conn.api_url.as_deref().unwrap_or(API_URL);
    let token = conn.access_token.trim().to_owned();
    let secrets = vec![token.clone()];
    let bearer = sensitive(action, &format!("Bearer {token}"))?;
    let upload = Upload {
        url: join(action, base, "2/media/upload")?,
        fields: &[("media_category", "tweet_image")],
        file_field: "media",
        id_at: "/data/id",
        auth: bearer.clone(),
        secrets: &secrets,
        message,
    };
    let media_ids = upload_all(call, post.media_urls, &upload).await?;
    let mut body = json!({ "text": post.text });
    if let Some(r) = post.reply_to {
        body["reply"] = json!({ "in_reply_to_tweet_id": r });
    }
    if !media_ids.is_empty() {
        body["media"] = json!({ "media_ids": media_ids });
    }
    let endpoint = Endpoint::post(action, join(action, base, "2/tweets")?);
    let answer = endpoint
        .send(call.ctx, call.http, TIMEOUT, |r| {
            r.header("authorization", bearer).json(&body)
        })
        .await?;
    let label = endpoint.label();
    let v = answer.json();
    if !answer.status.is_success() {
        return Err(failure(&label, &answer, message(&v), &secrets));
    }
    let id = v
        .pointer("/data/id")
        .and_then(Value::as_str)
        .ok_or_else(|| ActionError::retryable(format!("{label}: the answer has no `data.id`")))?;
    Ok(Posted {
        id: id.to_owned(),
        url: Some(format!("https://x.com/i/web/status/{id}")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_bodies_give_their_message() {
        assert_eq!(
            message(
                &json!({"title": "Forbidden", "detail": "You are not allowed to create a Tweet with duplicate content.", "status": 403})
            ),
            Some("You are not allowed to create a Tweet with duplicate content.".into())
        );
        assert_eq!(
            message(&json!({"errors": [{"message": "a"}, {"detail": "b"}]})),
            Some("a; b".into())
        );
        assert_eq!(message(&json!({"errors": []})), None);
        assert_eq!(message(&json!({})), None);
    }
}
