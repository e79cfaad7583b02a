//! The crate's error type.

/// What can go wrong setting up the export.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An `OTEL_*` variable holds a value orbflow does not support.
    #[error("{name}={value:?}: {why}")]
    Setting {
        /// The variable.
        name: &'static str,
        /// Its value.
        value: String,
        /// What is wrong with it.
        why: &'static str,
    },
    /// The exporter could not be built.
    #[error("OTLP exporter: {0}")]
    Exporter(String),
}

/// The crate's result type.
pub type Result<T> = std::result::Result<T, Error>;
