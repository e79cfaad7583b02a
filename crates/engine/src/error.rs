//! The engine's error type.

/// Engine errors.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The store failed (connection, constraint, SQL).
    #[error("store: {0}")]
    Store(String),
    /// A record that must exist does not.
    #[error("{0} not found")]
    NotFound(&'static str),
    /// Stored data does not make sense.
    #[error("corrupt state: {0}")]
    Corrupt(String),
    /// The database aborted the transaction because it lost a race with
    /// another (deadlock, serialization failure, busy): retried.
    #[error("store: transaction lost a race: {0}")]
    Race(String),
    /// A compare-and-set lost a race (the transaction must be retried).
    #[error("concurrent update of step `{0}`")]
    Conflict(String),
    /// Run input does not satisfy the workflow's `inputs` schema.
    #[error("invalid input: {0}")]
    InvalidInput(String),
    /// The workflow is not valid.
    #[error("invalid workflow: {0}")]
    InvalidWorkflow(String),
    /// An illegal status change was attempted (a bug).
    #[error(transparent)]
    Transition(#[from] orbflow_model::IllegalTransition),
    /// An object with this name already exists (a unique key).
    #[error("{0} already exists")]
    Duplicate(String),
    /// The operation does not apply to the object in its current state.
    #[error("{0}")]
    State(String),
    /// A lock was poisoned by a panic elsewhere.
    #[error("internal lock poisoned")]
    Poisoned,
}

impl Error {
    /// Whether retrying the whole transaction may succeed (a race, not a
    /// fault).
    pub fn is_race(&self) -> bool {
        matches!(self, Self::Race(_) | Self::Conflict(_))
    }
}

/// Result alias of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
