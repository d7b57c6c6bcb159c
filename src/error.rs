//! Errors of broker start-up and shutdown.

use geminga_storage::StorageError;
use thiserror::Error;

/// Why the broker could not start or run.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum BrokerError {
    /// The data directory could not be opened.
    #[error("storage: {0}")]
    Storage(#[from] StorageError),
    /// A listener could not be bound.
    #[error("cannot bind {addr}: {source}")]
    Bind {
        /// The address asked for.
        addr: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// Other I/O failure.
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
    /// Start-up failed for another reason.
    #[error("start-up failed: {reason}")]
    Startup {
        /// What failed.
        reason: String,
    },
}
