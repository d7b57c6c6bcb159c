//! The storage error type.

/// Everything that can go wrong in storage.
///
/// Callers classify with [`StorageError::is_fatal`]: a fatal error (poisoned database,
/// corruption) means stop accepting writes and report unhealthy; the rest are either the
/// caller's mistake or transient.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StorageError {
    /// fjall failed. `fjall::Error::Poisoned` (a failed journal write or fsync earlier) is
    /// permanent for this process: stop writing and report it in health, do not retry in a loop.
    #[error("fjall: {0}")]
    Fjall(#[from] fjall::Error),

    /// A stored record could not be decoded: disk corruption or a bug. Stop the owner of the
    /// record and log at `error`; retrying will not help.
    #[error("corrupt {what}: {detail}")]
    Corrupt {
        /// Which kind of record (for example "entry header", "cursor chunk").
        what: &'static str,
        /// What exactly was wrong.
        detail: String,
    },

    /// A fault injected through [`crate::StorageFaults`] (tests only). Treat like an I/O
    /// failure of `write` or `sync`.
    #[error("injected storage fault in {op}")]
    InjectedFault {
        /// The operation that was made to fail: "write" or "sync".
        op: &'static str,
    },

    /// The named topic has no record (never created, or deleted). Reply "topic not found".
    #[error("topic {name:?} not found")]
    TopicNotFound {
        /// The topic name as given.
        name: String,
    },

    /// An I/O error outside fjall (or a failed blocking task, wrapped by callers).
    #[error("I/O: {0}")]
    Io(#[from] std::io::Error),

    /// A metadata compare-and-set failed: the key's version was not the expected one.
    /// Re-read and retry, or report a conflict to the client.
    #[error("metadata {key:?}: expected version {expected}, found {actual}")]
    BadVersion {
        /// The metadata key.
        key: String,
        /// The version the caller expected (0 = must not exist).
        expected: u64,
        /// The stored version (0 = does not exist).
        actual: u64,
    },

    /// A name or key cannot be stored (empty or too long). This is a client error.
    #[error("invalid {what}: {reason}")]
    InvalidName {
        /// Which kind of name ("topic name", "subscription name", "metadata key").
        what: &'static str,
        /// Why it was refused.
        reason: &'static str,
    },

    /// An entry is larger than a single stored value may be (4 GiB minus the header).
    #[error("entry {ledger_id}:{entry_id} of {len} bytes is too large")]
    EntryTooLarge {
        /// The ledger written to.
        ledger_id: u64,
        /// The entry id.
        entry_id: u64,
        /// The data length in bytes.
        len: usize,
    },

    /// An append below the ledger's trim watermark: it could never be read back, so the
    /// caller's next entry id is wrong (it must start at `max(last + 1, trimmed_before)`).
    /// A bug; reload the topic.
    #[error("entry {ledger_id}:{entry_id} is below the trim point {trimmed_before}")]
    AppendBelowTrim {
        /// The ledger written to.
        ledger_id: u64,
        /// The refused entry id.
        entry_id: u64,
        /// [`crate::Storage::trimmed_before`] of the ledger.
        trimmed_before: u64,
    },

    /// An fdatasync of the write-ahead log (the active payload segment) failed. What reached
    /// the disk is unknown, so this process takes no more writes; a restart recovers every
    /// group whose record is intact.
    #[error("write-ahead log sync failed: {detail}")]
    LogPoisoned {
        /// The first failure.
        detail: String,
    },
}

impl StorageError {
    pub(crate) fn corrupt(what: &'static str, detail: impl Into<String>) -> Self {
        Self::Corrupt {
            what,
            detail: detail.into(),
        }
    }

    /// True when storage cannot be trusted for writes any more (poisoned journal or
    /// corruption): the caller should stop publishing and report unhealthy instead of retrying.
    #[must_use]
    pub fn is_fatal(&self) -> bool {
        matches!(
            self,
            Self::Fjall(fjall::Error::Poisoned) | Self::Corrupt { .. } | Self::LogPoisoned { .. }
        )
    }
}
