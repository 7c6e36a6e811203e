use std::error::Error as StdError;

/// What a store operation can fail with. Backends map their driver errors into these.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("not found")]
    NotFound,
    /// A uniqueness rule refused the write; `constraint` names the rule (e.g. `users_email`).
    #[error("conflicts with an existing record ({constraint})")]
    Conflict { constraint: String },
    /// The database could not be reached or refused the connection.
    #[error("database unavailable: {0}")]
    Unavailable(#[source] Box<dyn StdError + Send + Sync>),
    #[error("database error: {0}")]
    Other(#[source] Box<dyn StdError + Send + Sync>),
}

impl StoreError {
    pub fn other(e: impl StdError + Send + Sync + 'static) -> Self {
        Self::Other(Box::new(e))
    }

    pub fn is_not_found(&self) -> bool {
        matches!(self, Self::NotFound)
    }
}

pub type StoreResult<T> = Result<T, StoreError>;
