//! Errors of broker requests, and their mapping onto Pulsar's `ServerError` codes.

use std::sync::Arc;

use geminga_protocol::proto::ServerError;
use geminga_storage::StorageError;
use thiserror::Error;

/// Why a client request failed. Each variant maps to the `ServerError` a Pulsar broker would send.
#[derive(Clone, Debug, Error)]
#[non_exhaustive]
pub enum RequestError {
    /// The topic name does not parse; the client must fix it.
    #[error("invalid topic name {name:?}: {reason}")]
    InvalidTopicName {
        /// The name as sent.
        name: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The topic does not exist and may not be created by this request.
    #[error("topic {topic} not found")]
    TopicNotFound {
        /// Full topic name.
        topic: String,
    },
    /// The tenant or namespace does not exist.
    #[error("namespace {namespace} does not exist")]
    NamespaceNotFound {
        /// `tenant/namespace` as asked for.
        namespace: String,
    },
    /// The subscription does not exist.
    #[error("subscription {subscription} not found on {topic}")]
    SubscriptionNotFound {
        /// Full topic name.
        topic: String,
        /// Subscription name.
        subscription: String,
    },
    /// Another consumer holds the subscription in a way that excludes this one.
    #[error("subscription {subscription} is busy: {reason}")]
    ConsumerBusy {
        /// Subscription name.
        subscription: String,
        /// What excludes the request.
        reason: String,
    },
    /// Key_Shared STICKY hash ranges are missing, invalid or overlap another consumer's; the
    /// client must declare other ranges.
    #[error("cannot assign a consumer to subscription {subscription}: {reason}")]
    ConsumerAssign {
        /// Subscription name.
        subscription: String,
        /// Which range conflicts.
        reason: String,
    },
    /// A producer with this name (or an exclusive producer) already exists.
    #[error("producer {name} is busy on {topic}: {reason}")]
    ProducerBusy {
        /// Full topic name.
        topic: String,
        /// Producer name.
        name: String,
        /// What excludes the request.
        reason: String,
    },
    /// The request is refused by a rule of the broker.
    #[error("not allowed: {reason}")]
    NotAllowed {
        /// Which rule refused it.
        reason: String,
    },
    /// A transient condition (an actor restarting, a topic loading); the client should retry.
    #[error("service not ready: {reason}")]
    ServiceNotReady {
        /// What is not ready.
        reason: String,
    },
    /// Writing to storage failed; nothing was acknowledged.
    #[error("persistence error: {0}")]
    Persistence(Arc<StorageError>),
    /// The payload's CRC32C did not match.
    #[error("checksum mismatch")]
    ChecksumMismatch,
    /// The message is larger than the broker accepts.
    #[error("message of {size} bytes is larger than the limit of {max} bytes")]
    MessageTooLarge {
        /// Size of the message.
        size: usize,
        /// The limit.
        max: usize,
    },
    /// The client sent something that does not parse.
    #[error("malformed request: {reason}")]
    Malformed {
        /// What is wrong.
        reason: String,
    },
    /// The topic was terminated: it takes no more messages. Producers must stop.
    #[error("topic {topic} is terminated")]
    TopicTerminated {
        /// Full topic name.
        topic: String,
    },
    /// An admin request would create something that exists already.
    #[error("{what} already exists")]
    AlreadyExists {
        /// What exists (for example `subscription s on persistent://t/n/x`).
        what: String,
    },
    /// A backlog quota of the topic is exceeded and its policy refuses producers: with
    /// `producer_request_hold` the client retries until the backlog drops
    /// (`ProducerBlockedQuotaExceededError`), with `producer_exception` its pending sends fail
    /// (`ProducerBlockedQuotaExceededException`).
    #[error("Cannot create producer on topic {topic} with backlog quota exceeded ({quota})")]
    BacklogQuotaExceeded {
        /// Full topic name.
        topic: String,
        /// Which quota (`destination_storage` or `message_age`).
        quota: String,
        /// `producer_exception` rather than `producer_request_hold`.
        exception: bool,
    },
    /// The request conflicts with an operation in progress (a compaction already running);
    /// retry once it is done.
    #[error("{reason}")]
    Conflict {
        /// What is in progress.
        reason: String,
    },
    /// The client's role may not do this (authorization is on and grants it nothing here).
    #[error("{role} is not authorized: {reason}")]
    NotAuthorized {
        /// The client's role.
        role: String,
        /// What was refused.
        reason: String,
    },
    /// A per-client limit is reached (lookups in flight, pending sends); the client should
    /// slow down and retry.
    #[error("too many requests: {reason}")]
    TooManyRequests {
        /// Which limit, with its configuration key.
        reason: String,
    },
    /// An admin request's precondition does not hold (clients still attached, for example);
    /// the caller may retry with `force` or after detaching them.
    #[error("precondition failed: {reason}")]
    PreconditionFailed {
        /// Which precondition.
        reason: String,
    },
    /// The producer's or consumer's schema is not compatible with the topic's schemas.
    #[error("incompatible schema on {topic}: {reason}")]
    IncompatibleSchema {
        /// Full topic name.
        topic: String,
        /// Which rule the schema breaks.
        reason: String,
    },
    /// An exclusive producer was fenced by a newer one (ExclusiveWithFencing, or a stale
    /// topic epoch); it must not publish again.
    #[error("producer fenced on {topic}: {reason}")]
    ProducerFenced {
        /// Full topic name.
        topic: String,
        /// Why it was fenced.
        reason: String,
    },
}

impl RequestError {
    /// The Pulsar error code sent to the client.
    pub fn server_error(&self) -> ServerError {
        match self {
            RequestError::InvalidTopicName { .. } => ServerError::InvalidTopicName,
            RequestError::TopicNotFound { .. } | RequestError::NamespaceNotFound { .. } => {
                ServerError::TopicNotFound
            }
            RequestError::SubscriptionNotFound { .. } => ServerError::SubscriptionNotFound,
            RequestError::ConsumerBusy { .. } => ServerError::ConsumerBusy,
            RequestError::ConsumerAssign { .. } => ServerError::ConsumerAssignError,
            RequestError::ProducerBusy { .. } => ServerError::ProducerBusy,
            RequestError::NotAllowed { .. } => ServerError::NotAllowedError,
            RequestError::ServiceNotReady { .. } => ServerError::ServiceNotReady,
            RequestError::Persistence(_) => ServerError::PersistenceError,
            RequestError::ChecksumMismatch => ServerError::ChecksumError,
            RequestError::MessageTooLarge { .. } => ServerError::NotAllowedError,
            RequestError::Malformed { .. } => ServerError::UnknownError,
            RequestError::TopicTerminated { .. } => ServerError::TopicTerminatedError,
            RequestError::AlreadyExists { .. }
            | RequestError::PreconditionFailed { .. }
            | RequestError::Conflict { .. } => ServerError::NotAllowedError,
            RequestError::BacklogQuotaExceeded {
                exception: true, ..
            } => ServerError::ProducerBlockedQuotaExceededException,
            RequestError::BacklogQuotaExceeded { .. } => {
                ServerError::ProducerBlockedQuotaExceededError
            }
            RequestError::NotAuthorized { .. } => ServerError::AuthorizationError,
            RequestError::TooManyRequests { .. } => ServerError::TooManyRequests,
            RequestError::IncompatibleSchema { .. } => ServerError::IncompatibleSchema,
            RequestError::ProducerFenced { .. } => ServerError::ProducerFenced,
        }
    }

    /// A retryable error for a request whose actor went away mid-request (restarting).
    pub fn unavailable(what: &str) -> Self {
        RequestError::ServiceNotReady {
            reason: format!("{what} is restarting"),
        }
    }
}

impl From<StorageError> for RequestError {
    fn from(e: StorageError) -> Self {
        RequestError::Persistence(Arc::new(e))
    }
}

impl From<actix::MailboxError> for RequestError {
    fn from(_: actix::MailboxError) -> Self {
        RequestError::unavailable("an actor")
    }
}
