//! Media for posts: each `mediaUrls` entry fetched by the worker (under the
//! private-address rules of every outgoing call), checked to be an image of
//! at most [`MAX_MEDIA_BYTES`], and a `multipart/form-data` body to upload
//! it where the platform wants one.

use std::time::Duration;

use url::Url;

use super::{Call, MAX_MEDIA};
use crate::action::ActionError;
use crate::call::{Endpoint, failure};

/// The largest image fetched (Bluesky's limit is 1 MB, Mastodon's 16 MB,
/// X's 5 MB; the platform refuses what it does not take).
pub(crate) const MAX_MEDIA_BYTES: usize = 8 * 1024 * 1024;

const FETCH_TIMEOUT: Duration = Duration::from_secs(60);

/// One fetched image.
#[derive(Debug, Clone)]
pub(crate) struct Media {
    pub(crate) bytes: Vec<u8>,
    pub(crate) mime: String,
    /// The last path segment, for the upload's file name.
    pub(crate) file_name: String,
}

/// Fetches every URL of `urls`.
pub(crate) async fn fetch_all(call: &Call<'_>, urls: &[String]) -> Result<Vec<Media>, ActionError> {
    if urls.len() > MAX_MEDIA {
        return Err(ActionError::fatal(format!(
            "{}: at most {MAX_MEDIA} media per post, {} given",
            call.action,
            urls.len()
        )));
    }
    let mut out = Vec::with_capacity(urls.len());
    for (i, u) in urls.iter().enumerate() {
        let url = Url::parse(u.trim())
            .map_err(|e| ActionError::fatal(format!("{}: mediaUrls[{i}] is not a URL: {e}", call.action)))?;
        let endpoint = Endpoint::get(call.action, url.clone());
        let answer = endpoint.send(call.ctx, call.http, FETCH_TIMEOUT, |r| r).await?;
        let label = format!("{} (mediaUrls[{i}])", endpoint.label());
        if !answer.status.is_success() {
            return Err(failure(&label, &answer, None, &[]));
        }
        if answer.body.len() > MAX_MEDIA_BYTES {
            return Err(ActionError::fatal(format!(
                "{label}: the image is {} bytes, over the {MAX_MEDIA_BYTES}-byte limit",
                answer.body.len()
            )));
        }
        let mime = answer
            .headers
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.split(';').next().unwrap_or("").trim().to_ascii_lowercase())
            .unwrap_or_default();
        if !mime.starts_with("image/") {
            return Err(ActionError::fatal(format!(
                "{label}: not an image (Content-Type `{mime}`); only images can be attached"
            )));
        }
        let file_name = url
            .path_segments()
            .and_then(|mut s| s.next_back())
            .filter(|s| !s.is_empty())
            .unwrap_or("image")
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
            .collect::<String>();
        out.push(Media {
            bytes: answer.body,
            mime,
            file_name: if file_name.is_empty() {
                "image".into()
            } else {
                file_name
            },
        });
    }
    Ok(out)
}

/// Where and how a platform takes images: each fetched image is POSTed
/// to `url` as `file_field` of a multipart body with `fields`, and the
/// answer's JSON gives its id at `id_at` (a JSON pointer).
pub(crate) struct Upload<'a> {
    pub(crate) url: Url,
    pub(crate) fields: &'a [(&'a str, &'a str)],
    pub(crate) file_field: &'a str,
    pub(crate) id_at: &'a str,
    pub(crate) auth: reqwest::header::HeaderValue,
    /// Scrubbed from quoted answers.
    pub(crate) secrets: &'a [String],
    /// The platform's message in an error answer.
    pub(crate) message: fn(&serde_json::Value) -> Option<String>,
}

/// Fetches every URL of `urls` and uploads it as `up` says: the ids, in order.
pub(crate) async fn upload_all(call: &Call<'_>, urls: &[String], up: &Upload<'_>) -> Result<Vec<String>, ActionError> {
    let mut ids = Vec::new();
    for m in fetch_all(call, urls).await? {
        let endpoint = Endpoint::post(call.action, up.url.clone());
        let (content_type, body) = multipart(up.fields, up.file_field, &m);
        let auth = up.auth.clone();
        let answer = endpoint
            .send(call.ctx, call.http, FETCH_TIMEOUT, |r| {
                r.header("authorization", auth)
                    .header("content-type", content_type)
                    .body(body)
            })
            .await?;
        let v = answer.json();
        if !answer.status.is_success() {
            return Err(failure(&endpoint.label(), &answer, (up.message)(&v), up.secrets));
        }
        let id = v
            .pointer(up.id_at)
            .and_then(serde_json::Value::as_str)
            .ok_or_else(|| ActionError::retryable(format!("{}: the media answer has no id", endpoint.label())))?;
        ids.push(id.to_owned());
    }
    Ok(ids)
}

/// A `multipart/form-data` body: text `fields`, then the file as `file_field`.
pub(crate) fn multipart(fields: &[(&str, &str)], file_field: &str, media: &Media) -> (String, Vec<u8>) {
    // a hash of the file cannot occur in it by chance
    let digest = <sha2::Sha256 as sha2::Digest>::digest(&media.bytes);
    let boundary: String = format!(
        "orbflow-{}",
        digest.iter().take(16).map(|b| format!("{b:02x}")).collect::<String>()
    );
    let mut body = Vec::with_capacity(media.bytes.len() + 512);
    for (name, value) in fields {
        body.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n").as_bytes(),
        );
    }
    body.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"{file_field}\"; filename=\"{}\"\r\nContent-Type: {}\r\n\r\n",
            media.file_name, media.mime
        )
        .as_bytes(),
    );
    body.extend_from_slice(&media.bytes);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multipart_bodies_carry_fields_then_the_file() {
        let m = Media {
            bytes: b"PNGDATA".to_vec(),
            mime: "image/png".into(),
            file_name: "cat.png".into(),
        };
        let (ct, body) = multipart(&[("media_category", "tweet_image")], "media", &m);
        let boundary = ct.strip_prefix("multipart/form-data; boundary=").unwrap();
        let text = String::from_utf8(body).unwrap();
        assert_eq!(
            text,
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"media_category\"\r\n\r\ntweet_image\r\n\
                 --{boundary}\r\nContent-Disposition: form-data; name=\"media\"; filename=\"cat.png\"\r\nContent-Type: image/png\r\n\r\nPNGDATA\r\n--{boundary}--\r\n"
            )
        );
    }
}
