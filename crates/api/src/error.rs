//! The API's error type and its one JSON shape: RFC 9457 problem details
//! (`application/problem+json`) with a stable `code`. This is the only place
//! an error becomes an HTTP status; a 5xx body never carries internals (they
//! go to the log with an id the body repeats).

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use orbflow_model::Diagnostic;
use serde::Serialize;
use utoipa::ToSchema;

/// One validation finding of a workflow document.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DiagnosticOut {
    /// Where: `steps[3].then[0].config.url` (empty: the document).
    pub path: String,
    /// Line (1-based), when known.
    pub line: Option<usize>,
    /// Column (1-based), when known.
    pub column: Option<usize>,
    /// Stable code (docs/DSL.md, "Validation").
    pub code: String,
    /// What is wrong.
    pub message: String,
}

impl From<&Diagnostic> for DiagnosticOut {
    fn from(d: &Diagnostic) -> Self {
        Self {
            path: d.path.clone(),
            line: d.line,
            column: d.column,
            code: d.code.to_owned(),
            message: d.message.clone(),
        }
    }
}

/// RFC 9457 problem details.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Problem {
    /// `urn:orbflow:problem:{code}`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Short summary of the status.
    pub title: String,
    /// HTTP status.
    pub status: u16,
    /// What happened, for a person.
    pub detail: String,
    /// Stable machine-readable code.
    pub code: String,
    /// Validation findings (422 on a workflow document).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub errors: Option<Vec<DiagnosticOut>>,
    /// Permissions the token lacks (403).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub missing_permissions: Option<Vec<String>>,
}

/// Everything a request can fail with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Malformed request (body, query, header).
    #[error("{detail}")]
    BadRequest {
        /// Stable code.
        code: &'static str,
        /// What is wrong.
        detail: String,
    },
    /// No valid bearer token (or webhook signature).
    #[error("{detail}")]
    Unauthorized {
        /// Stable code.
        code: &'static str,
        /// What is wrong.
        detail: String,
    },
    /// The token lacks permissions.
    #[error("missing permissions: {}", missing.join(", "))]
    Forbidden {
        /// What it lacks.
        missing: Vec<String>,
    },
    /// No such object (in this workspace).
    #[error("{0} not found")]
    NotFound(String),
    /// The object's state does not allow it, or the name is taken.
    #[error("{detail}")]
    Conflict {
        /// Stable code.
        code: &'static str,
        /// What is wrong.
        detail: String,
    },
    /// `If-Match` does not match the current revision (stale, weak or `*`).
    #[error("{0}")]
    PreconditionFailed(String),
    /// A write that needs `If-Match` came without it.
    #[error("this request needs an If-Match header with the draft's ETag")]
    PreconditionRequired,
    /// The body is larger than the limit.
    #[error("request body is larger than {limit} bytes")]
    PayloadTooLarge {
        /// The limit, in bytes.
        limit: usize,
    },
    /// The body's Content-Type is not accepted here.
    #[error("unsupported Content-Type `{0}`")]
    UnsupportedMediaType(String),
    /// The workflow document is invalid.
    #[error("the workflow is invalid ({} problem(s))", .0.len())]
    InvalidWorkflow(Vec<DiagnosticOut>),
    /// Well-formed but unacceptable content (run input, event, config).
    #[error("{detail}")]
    Unprocessable {
        /// Stable code.
        code: &'static str,
        /// What is wrong.
        detail: String,
    },
    /// Too many requests for this token.
    #[error("rate limit exceeded; retry after {retry_after} s")]
    RateLimited {
        /// Seconds until a request is accepted again.
        retry_after: u64,
    },
    /// Something is not configured on the server (a webhook's secret).
    #[error("{0}")]
    Unavailable(String),
    /// A bug or a broken dependency; the detail stays in the log.
    #[error("internal error: {0}")]
    Internal(String),
}

/// Result alias of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl From<orbflow_engine::Error> for Error {
    fn from(e: orbflow_engine::Error) -> Self {
        use orbflow_engine::Error as E;
        match e {
            E::NotFound(what) => Self::NotFound(what.into()),
            E::InvalidInput(detail) => Self::Unprocessable {
                code: "invalid-input",
                detail,
            },
            E::Duplicate(what) => Self::Conflict {
                code: "already-exists",
                detail: format!("{what} already exists"),
            },
            E::State(detail) => Self::Conflict {
                code: "invalid-state",
                detail,
            },
            E::InvalidWorkflow(detail) => Self::Unprocessable {
                code: "invalid-workflow",
                detail,
            },
            other => Self::Internal(other.to_string()),
        }
    }
}

impl Error {
    fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            Self::BadRequest { code, .. } => (StatusCode::BAD_REQUEST, code),
            Self::Unauthorized { code, .. } => (StatusCode::UNAUTHORIZED, code),
            Self::Forbidden { .. } => (StatusCode::FORBIDDEN, "forbidden"),
            Self::NotFound(_) => (StatusCode::NOT_FOUND, "not-found"),
            Self::Conflict { code, .. } => (StatusCode::CONFLICT, code),
            Self::PreconditionFailed(_) => (StatusCode::PRECONDITION_FAILED, "stale-revision"),
            Self::PreconditionRequired => (StatusCode::PRECONDITION_REQUIRED, "if-match-required"),
            Self::PayloadTooLarge { .. } => (StatusCode::PAYLOAD_TOO_LARGE, "payload-too-large"),
            Self::UnsupportedMediaType(_) => (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported-media-type"),
            Self::InvalidWorkflow(_) => (StatusCode::UNPROCESSABLE_ENTITY, "invalid-workflow"),
            Self::Unprocessable { code, .. } => (StatusCode::UNPROCESSABLE_ENTITY, code),
            Self::RateLimited { .. } => (StatusCode::TOO_MANY_REQUESTS, "rate-limited"),
            Self::Unavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
            Self::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        }
    }

    /// The problem document of this error.
    pub fn problem(&self) -> Problem {
        let (status, code) = self.status_and_code();
        let detail = match self {
            Self::Internal(msg) => {
                let id = uuid::Uuid::now_v7();
                tracing::error!(error_id = %id, error = %msg, "internal error");
                format!("internal error (id {id}); the server log has the details")
            }
            Self::Unavailable(msg) => {
                tracing::warn!(error = %msg, "service unavailable");
                "the server is not configured for this request".to_owned()
            }
            other => other.to_string(),
        };
        Problem {
            kind: format!("urn:orbflow:problem:{code}"),
            title: status.canonical_reason().unwrap_or("Error").to_owned(),
            status: status.as_u16(),
            detail,
            code: code.to_owned(),
            errors: match self {
                Self::InvalidWorkflow(d) => Some(d.clone()),
                _ => None,
            },
            missing_permissions: match self {
                Self::Forbidden { missing } => Some(missing.clone()),
                _ => None,
            },
        }
    }
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        let p = self.problem();
        let status = StatusCode::from_u16(p.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = serde_json::to_vec(&p).unwrap_or_default();
        let mut res = (status, body).into_response();
        res.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if let Self::RateLimited { retry_after } = self
            && let Ok(v) = HeaderValue::from_str(&retry_after.to_string())
        {
            res.headers_mut().insert(header::RETRY_AFTER, v);
        }
        res
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_errors_keep_their_details_out_of_the_body() {
        let p = Error::Internal("store: connection to postgres://u:hunter2@db failed".into()).problem();
        assert_eq!(p.status, 500);
        assert_eq!(p.code, "internal");
        assert!(
            !p.detail.contains("hunter2") && !p.detail.contains("postgres"),
            "{}",
            p.detail
        );
        assert!(p.detail.contains("(id "), "{}", p.detail);
        let p = Error::from(orbflow_engine::Error::Corrupt("row 7 of step_executions".into())).problem();
        assert_eq!(p.status, 500);
        assert!(!p.detail.contains("step_executions"));
        let p = Error::Unavailable("secret `CRM_SECRET` of webhook x is not set".into()).problem();
        assert_eq!(p.status, 503);
        assert!(!p.detail.contains("CRM_SECRET"));
    }

    #[test]
    fn engine_errors_map_to_their_statuses() {
        use orbflow_engine::Error as E;
        let status = |e: E| Error::from(e).problem().status;
        assert_eq!(status(E::NotFound("run")), 404);
        assert_eq!(status(E::InvalidInput("x".into())), 422);
        assert_eq!(status(E::Duplicate("workflow `a`".into())), 409);
        assert_eq!(status(E::State("not failed".into())), 409);
        assert_eq!(status(E::Store("boom".into())), 500);
    }
}
