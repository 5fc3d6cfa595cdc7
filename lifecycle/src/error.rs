//! The crate's error type. Messages follow Fabric's wording where a client sees them (the peer
//! CLI prints them), so scripts written against a Go peer keep matching.

/// Everything that can go wrong in `_lifecycle`, its state layout and its package store.
#[derive(Debug, thiserror::Error)]
pub enum LifecycleError {
    /// The request was refused; the message says why, in Fabric's words.
    #[error("{0}")]
    Rejected(String),
    /// A chaincode namespace or installed package does not exist. The SCC answers these with
    /// status 404, as Fabric does.
    #[error("{0}")]
    NotFound(String),
    /// Reading or writing the ledger through the stub (or a caller's reader) failed.
    #[error("{0}")]
    State(String),
    /// A stored `_lifecycle` value does not decode. The ledger was written by something that does
    /// not follow Fabric's layout; the message names the key.
    #[error("could not unmarshal {what} for key {key}: {reason}")]
    Corrupt {
        what: &'static str,
        key: String,
        reason: String,
    },
    /// A chaincode package is malformed or hostile; the message says what to fix.
    #[error("{0}")]
    Package(String),
    /// The package store's directory could not be read or written.
    #[error("{context}: {source}")]
    Io {
        context: String,
        source: std::io::Error,
    },
    /// An error with the operation that hit it in front, as Go's `errors.WithMessage` prints it.
    #[error("{context}: {source}")]
    Context {
        context: String,
        source: Box<LifecycleError>,
    },
}

impl LifecycleError {
    pub(crate) fn rejected(message: impl Into<String>) -> Self {
        LifecycleError::Rejected(message.into())
    }

    /// Whether the SCC should answer with status 404 (Fabric does so only when the not-found
    /// error is returned unwrapped).
    pub fn is_not_found(&self) -> bool {
        matches!(self, LifecycleError::NotFound(_))
    }
}

/// `errors.WithMessage` for results.
pub(crate) trait Context<T> {
    fn context(self, context: impl FnOnce() -> String) -> Result<T, LifecycleError>;
}

impl<T> Context<T> for Result<T, LifecycleError> {
    fn context(self, context: impl FnOnce() -> String) -> Result<T, LifecycleError> {
        self.map_err(|source| LifecycleError::Context {
            context: context(),
            source: Box::new(source),
        })
    }
}
