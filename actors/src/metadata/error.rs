//! Errors of metadata operations, shaped after the HTTP statuses Pulsar's admin API answers.

use std::sync::Arc;

use geminga_storage::StorageError;
use thiserror::Error;

use crate::error::RequestError;

/// Why a metadata operation failed. Each variant maps onto one admin API status code.
#[derive(Clone, Debug, Error)]
#[non_exhaustive]
pub enum MetadataError {
    /// The tenant, namespace, cluster or partitioned topic does not exist (404).
    #[error("{what} does not exist")]
    NotFound {
        /// What is missing, e.g. `namespace public/x`.
        what: String,
    },
    /// The thing to create exists already (409).
    #[error("{what} already exists")]
    AlreadyExists {
        /// What exists, e.g. `tenant acme`.
        what: String,
    },
    /// The thing to delete still holds something (409), e.g. a tenant with namespaces.
    #[error("{what} is not empty: {reason}")]
    NotEmpty {
        /// What was to be deleted.
        what: String,
        /// What it still holds.
        reason: String,
    },
    /// The request is well formed but breaks a rule (412), e.g. fewer partitions than before.
    #[error("{reason}")]
    Precondition {
        /// Which rule.
        reason: String,
    },
    /// The request does not parse or names something invalid (400).
    #[error("{reason}")]
    Invalid {
        /// What is wrong.
        reason: String,
    },
    /// Somebody changed the same record concurrently more often than the retries allow (409).
    #[error("concurrent modification of {key}")]
    Conflict {
        /// The metadata key.
        key: String,
    },
    /// A stored record does not decode (500); the store needs attention.
    #[error("corrupt metadata at {key}: {reason}")]
    Corrupt {
        /// The metadata key.
        key: String,
        /// The decoding error.
        reason: String,
    },
    /// The store failed (500).
    #[error("metadata store: {0}")]
    Storage(Arc<StorageError>),
}

impl MetadataError {
    /// `NotFound` for `what`.
    pub fn not_found(what: impl Into<String>) -> Self {
        Self::NotFound { what: what.into() }
    }

    /// `Invalid` with `reason`.
    pub fn invalid(reason: impl Into<String>) -> Self {
        Self::Invalid {
            reason: reason.into(),
        }
    }

    /// `Precondition` with `reason`.
    pub fn precondition(reason: impl Into<String>) -> Self {
        Self::Precondition {
            reason: reason.into(),
        }
    }

    /// The HTTP status Pulsar's admin API answers for this error.
    pub fn http_status(&self) -> u16 {
        match self {
            Self::NotFound { .. } => 404,
            Self::AlreadyExists { .. } | Self::NotEmpty { .. } | Self::Conflict { .. } => 409,
            Self::Precondition { .. } => 412,
            Self::Invalid { .. } => 400,
            Self::Corrupt { .. } | Self::Storage(_) => 500,
        }
    }
}

impl From<StorageError> for MetadataError {
    fn from(e: StorageError) -> Self {
        Self::Storage(Arc::new(e))
    }
}

impl From<MetadataError> for RequestError {
    /// For binary-protocol requests: a missing tenant or namespace means the topic cannot
    /// exist (Pulsar answers TopicNotFound); broken rules are refusals; the rest is transient.
    fn from(e: MetadataError) -> Self {
        match e {
            MetadataError::NotFound { what } => RequestError::TopicNotFound { topic: what },
            MetadataError::Precondition { reason } | MetadataError::Invalid { reason } => {
                RequestError::NotAllowed { reason }
            }
            MetadataError::Storage(e) => RequestError::Persistence(e),
            other => RequestError::ServiceNotReady {
                reason: other.to_string(),
            },
        }
    }
}
