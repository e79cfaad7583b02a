//! The model's error type.

use crate::validate::Diagnostics;

/// Errors of the model crate.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The document is not a valid workflow; every problem is listed.
    #[error("invalid workflow: {0}")]
    Invalid(Diagnostics),
    /// The workflow could not be written out.
    #[error("cannot emit {format}: {reason}")]
    Emit {
        /// `yaml` or `json`.
        format: &'static str,
        /// Serializer message.
        reason: String,
    },
    /// The workflow's canonical document is over the document limit.
    #[error("the workflow is {size} bytes as a canonical document; the limit is {limit} bytes")]
    TooLarge {
        /// Size of the canonical document, in bytes.
        size: usize,
        /// The limit ([`crate::dsl::located::MAX_DOCUMENT_BYTES`]).
        limit: usize,
    },
    /// A cron expression or time zone was rejected.
    #[error(transparent)]
    Cron(#[from] crate::cron::CronError),
    /// An expression failed to compile or evaluate.
    #[error(transparent)]
    Expr(#[from] crate::expr::ExprError),
}

/// Result alias of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
