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

/// Path parameters, deserialized; a malformed one (an id that is not a
/// UUID, a version that is not a number) is a 400 problem naming the
/// parameter and what it should be, never the framework's parse error.
#[derive(Debug)]
pub(crate) struct Path<T>(pub(crate) T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for Path<T> {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|p| Self(p.0))
            .map_err(|e| path_problem(&e, std::any::type_name::<T>()))
    }
}

/// A path rejection as a problem that reveals no internals.
fn path_problem(e: &axum::extract::rejection::PathRejection, target: &str) -> Error {
    use axum::extract::path::ErrorKind;
    use axum::extract::rejection::PathRejection;
    let what = |expected: &str| {
        let t = expected.rsplit("::").next().unwrap_or(expected);
        match t {
            "Uuid" => "a UUID",
            "i8" | "i16" | "i32" | "i64" | "u8" | "u16" | "u32" | "u64" | "usize" | "isize" => "an integer",
            _ => "a valid value",
        }
    };
    let detail = match e {
        PathRejection::FailedToDeserializePathParams(f) => match f.kind() {
            ErrorKind::ParseErrorAtKey { key, expected_type, .. } => {
                format!("path parameter `{key}` must be {}", what(expected_type))
            }
            ErrorKind::InvalidUtf8InPathParam { key } => format!("path parameter `{key}` is not valid UTF-8"),
            // a type with its own parser (a UUID): one parameter, so `target` is its type
            ErrorKind::DeserializeError { key, .. } if !target.starts_with('(') => {
                format!("path parameter `{key}` must be {}", what(target))
            }
            ErrorKind::DeserializeError { key, .. } => format!("path parameter `{key}` is malformed"),
            ErrorKind::ParseErrorAtIndex { expected_type, .. } | ErrorKind::ParseError { expected_type, .. } => {
                format!("a path parameter must be {}", what(expected_type))
            }
            _ => "a path parameter is malformed".to_owned(),
        },
        _ => "a path parameter is malformed".to_owned(),
    };
    Error::BadRequest {
        code: "invalid-path",
        detail,
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

/// A JSON request body: `Content-Type: application/json` (or `…+json`,
/// 415 otherwise; an empty body needs none) holding a JSON object (400
/// otherwise); an empty body is `default` when given.
pub(crate) fn json_request<T: DeserializeOwned>(headers: &HeaderMap, bytes: &[u8], empty: Option<T>) -> Result<T> {
    let blank = bytes.iter().all(u8::is_ascii_whitespace);
    if !(blank && empty.is_some()) {
        let ct = content_type(headers);
        if ct != "application/json" && !(ct.starts_with("application/") && ct.ends_with("+json")) {
            return Err(Error::UnsupportedMediaType(if ct.is_empty() {
                "(none)".into()
            } else {
                ct
            }));
        }
    }
    json_body(bytes, empty)
}

/// A JSON object body; an empty one is `default` when given. Every request
/// body of the API is an object: `[]` is refused here, before serde could
/// read it as a sequence of the struct's fields.
pub(crate) fn json_body<T: DeserializeOwned>(bytes: &[u8], empty: Option<T>) -> Result<T> {
    let first = bytes.iter().find(|b| !b.is_ascii_whitespace());
    if first.is_none()
        && let Some(d) = empty
    {
        return Ok(d);
    }
    if first.is_some_and(|b| *b != b'{') && serde_json::from_slice::<serde::de::IgnoredAny>(bytes).is_ok() {
        return Err(Error::BadRequest {
            code: "invalid-body",
            detail: "the body must be a JSON object".into(),
        });
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
        #[derive(Debug, Default, serde::Deserialize)]
        struct D {
            #[serde(default)]
            #[allow(dead_code)]
            input: Option<u8>,
        }
        // serde reads a struct from a sequence too; a body must be an object
        for not_object in [&b"[]"[..], b" [1]", b"1", b"\"x\"", b"null"] {
            let e = json_body::<D>(not_object, Some(D::default())).unwrap_err();
            assert!(e.to_string().contains("JSON object"), "{e}");
        }
        assert!(json_body::<D>(b"  ", Some(D::default())).is_ok());
        let e = json_body::<D>(b"[", None).unwrap_err();
        assert!(e.to_string().contains("invalid JSON"), "{e}");
    }
}
