//! Request parts read the API's way: every rejection is a problem document
//! (axum's own extractors answer in plain text), bodies are read against an
//! explicit limit (413), and pagination is capped.

use axum::body::{Body, Bytes};
use axum::extract::FromRequestParts;
use axum::http::HeaderMap;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use crate::{Error, Result};

/// Query string, deserialized; a bad one is a 400 problem.
#[derive(Debug)]
pub(crate) struct Query<T>(pub(crate) T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for Query<T> {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|q| Self(q.0))
            .map_err(|e| Error::BadRequest {
                code: "invalid-query",
                detail: e.body_text(),
            })
    }
}

/// Path parameters, deserialized; a bad one (an id that is not a UUID) is
/// a 404: no object has that name.
#[derive(Debug)]
pub(crate) struct Path<T>(pub(crate) T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for Path<T> {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|p| Self(p.0))
            .map_err(|e| Error::NotFound(format!("path ({})", e.body_text())))
    }
}

/// Reads a body of at most `limit` bytes (413 beyond, checked against
/// `Content-Length` first so an oversized upload is refused before it is read).
pub(crate) async fn read_body(headers: &HeaderMap, body: Body, limit: usize) -> Result<Bytes> {
    let declared = headers
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(Error::PayloadTooLarge { limit });
    }
    axum::body::to_bytes(body, limit)
        .await
        .map_err(|_| Error::PayloadTooLarge { limit })
}

/// A JSON body; an empty one is `default` when given.
pub(crate) fn json_body<T: DeserializeOwned>(bytes: &[u8], empty: Option<T>) -> Result<T> {
    if bytes.iter().all(u8::is_ascii_whitespace)
        && let Some(d) = empty
    {
        return Ok(d);
    }
    let mut de = serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        Error::BadRequest {
            code: "invalid-body",
            detail: if path == "." {
                format!("invalid JSON body: {}", e.inner())
            } else {
                format!("invalid JSON body at `{path}`: {}", e.inner())
            },
        }
    })
}

/// The largest page any listing returns.
pub(crate) const MAX_PAGE: u64 = 200;
/// The page size when `limit` is not given.
pub(crate) const DEFAULT_PAGE: u64 = 50;

/// `limit` capped to [1, MAX_PAGE].
pub(crate) fn page_size(limit: Option<u64>) -> u64 {
    limit.unwrap_or(DEFAULT_PAGE).clamp(1, MAX_PAGE)
}

/// The cursor of the page after `rows`: the last row's key when the page
/// is full, `None` on the last page.
pub(crate) fn next_cursor<T>(rows: &[T], limit: u64, key: impl Fn(&T) -> String) -> Option<String> {
    if rows.len() as u64 == limit {
        rows.last().map(key)
    } else {
        None
    }
}

/// A cursor this API returned: a UUID (400 otherwise).
pub(crate) fn uuid_cursor(c: Option<&str>) -> Result<Option<uuid::Uuid>> {
    c.map(|c| {
        uuid::Uuid::parse_str(c).map_err(|_| Error::BadRequest {
            code: "invalid-cursor",
            detail: "cursor is not one this API returned".into(),
        })
    })
    .transpose()
}

/// The media type of a request body, lower-cased, without parameters.
pub(crate) fn content_type(headers: &HeaderMap) -> String {
    headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_are_capped() {
        assert_eq!(page_size(None), DEFAULT_PAGE);
        assert_eq!(page_size(Some(0)), 1);
        assert_eq!(page_size(Some(10_000)), MAX_PAGE);
        assert_eq!(page_size(Some(7)), 7);
    }

    #[test]
    fn json_errors_name_the_path() {
        #[derive(Debug, serde::Deserialize)]
        #[allow(dead_code)]
        struct B {
            input: std::collections::BTreeMap<String, u8>,
        }
        let e = json_body::<B>(br#"{"input": {"a": "x"}}"#, None).unwrap_err();
        assert!(e.to_string().contains("input.a"), "{e}");
    }
}
