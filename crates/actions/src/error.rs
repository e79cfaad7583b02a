//! Errors of the catalog itself (not of an action attempt: see
//! [`crate::ActionError`]).

/// Catalog errors.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No action of that name.
    #[error("unknown action `{0}`")]
    UnknownAction(String),
    /// The HTTP client could not be built.
    #[error("cannot build the HTTP client: {0}")]
    HttpClient(String),
}

/// Result alias of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
