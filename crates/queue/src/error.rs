//! Errors of the queue crate.

/// Queue and lease errors.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Redis failed or is unreachable.
    #[error("redis: {0}")]
    Redis(#[from] redis::RedisError),
}

/// Result alias of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
