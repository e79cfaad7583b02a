//! The store's error type.

use sea_orm::DbErr;

/// Errors of the store crate.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The URL names no supported database.
    #[error("unsupported database URL {0:?}: expected sqlite://PATH?mode=rwc, sqlite::memory: or postgres://…")]
    UnsupportedUrl(String),
    /// The database could not be reached or opened.
    #[error("cannot connect to the database: {0}")]
    Connect(DbErr),
    /// Applying the migrations failed.
    #[error("database migration failed: {0}")]
    Migrate(DbErr),
    /// The secrets key is missing, malformed, or does not open a sealed
    /// value (see `crate::sealing`).
    #[error("{0}")]
    Secrets(String),
    /// Any other database error.
    #[error(transparent)]
    Db(#[from] DbErr),
}

/// Result alias of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
