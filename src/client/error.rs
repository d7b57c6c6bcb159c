//! `ClientError`: everything the native client can fail with.

use std::time::Duration;

use geminga_protocol::error::ProtocolError;
use geminga_protocol::message_id::MessageId;
use geminga_protocol::proto::ServerError;

/// Why a client operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The service URL is not `pulsar://host[:port]`; fix the URL.
    #[error("invalid service URL {url:?}: {reason}")]
    InvalidUrl {
        /// The URL as given.
        url: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The TCP connection could not be opened; is the broker running at `addr`?
    #[error("cannot connect to {addr}: {source}")]
    Connect {
        /// `host:port` dialled.
        addr: String,
        /// The socket error.
        source: std::io::Error,
    },
    /// The broker did not answer CONNECT with CONNECTED.
    #[error("handshake with {addr} failed: {reason}")]
    Handshake {
        /// `host:port` of the broker.
        addr: String,
        /// What arrived instead.
        reason: String,
    },
    /// A frame could not be encoded or decoded; the connection is unusable.
    #[error("protocol error: {0}")]
    Protocol(#[from] ProtocolError),
    /// The broker refused a request (ERROR or a typed failure response).
    #[error("{operation} failed: {error:?}: {message}")]
    Server {
        /// The request, e.g. `"subscribe"`.
        operation: &'static str,
        /// The broker's error code.
        error: ServerError,
        /// The broker's explanation.
        message: String,
    },
    /// The broker answered a SEND with SEND_ERROR.
    #[error(
        "send of sequence id {sequence_id} on producer {producer_id} failed: {error:?}: {message}"
    )]
    SendFailed {
        /// The producer that sent it.
        producer_id: u64,
        /// The SEND's sequence id (the first one of a batch).
        sequence_id: u64,
        /// The broker's error code.
        error: ServerError,
        /// The broker's explanation.
        message: String,
    },
    /// The broker answered with a command that does not fit the request.
    #[error("{operation}: unexpected response {got}")]
    UnexpectedResponse {
        /// The request.
        operation: &'static str,
        /// The command type received.
        got: String,
    },
    /// No answer within the operation timeout.
    #[error("{operation} timed out after {after:?}")]
    Timeout {
        /// The request.
        operation: &'static str,
        /// The timeout that expired.
        after: Duration,
    },
    /// The connection is gone; every pending operation on it fails with this.
    #[error("connection lost: {reason}")]
    Disconnected {
        /// Why the connection ended.
        reason: String,
    },
    /// The broker closed this producer (CLOSE_PRODUCER); create a new one.
    #[error("producer {producer_id} was closed by the broker")]
    ProducerClosed {
        /// The closed producer.
        producer_id: u64,
    },
    /// [`super::Producer::close`] was called; create a new producer to send more.
    #[error("producer {producer_id} is closed")]
    ProducerAlreadyClosed {
        /// The closed producer.
        producer_id: u64,
    },
    /// The broker closed this consumer (CLOSE_CONSUMER), e.g. after a seek; subscribe again.
    #[error("consumer {consumer_id} was closed by the broker")]
    ConsumerClosed {
        /// The closed consumer.
        consumer_id: u64,
    },
    /// The topic was terminated and this consumer has read everything.
    #[error("consumer {consumer_id} reached the end of the topic")]
    EndOfTopic {
        /// The consumer told so.
        consumer_id: u64,
    },
    /// The message is larger than the broker's `max_message_size`.
    #[error("message of {size} bytes exceeds the broker limit of {max} bytes")]
    MessageTooLarge {
        /// Metadata plus payload, in bytes.
        size: usize,
        /// The limit from CONNECTED.
        max: usize,
    },
    /// A received MESSAGE failed its CRC32C check; the message is dropped.
    #[error(
        "checksum mismatch on message {id}: received {received:#010x}, computed {computed:#010x}"
    )]
    ChecksumMismatch {
        /// The message's id.
        id: MessageId,
        /// The CRC in the frame.
        received: u32,
        /// The CRC of the bytes received.
        computed: u32,
    },
    /// Lookups kept redirecting; the cluster is misconfigured.
    #[error("lookup of {topic} was redirected too many times")]
    TooManyRedirects {
        /// The topic looked up.
        topic: String,
    },
}

impl ClientError {
    /// The error for operations whose connection is gone.
    pub(crate) fn disconnected(reason: impl Into<String>) -> Self {
        ClientError::Disconnected {
            reason: reason.into(),
        }
    }
}

/// Converts a wire `ServerError` value, mapping values this build does not know to
/// `UnknownError` rather than failing.
pub(crate) fn server_error(value: i32) -> ServerError {
    ServerError::try_from(value).unwrap_or(ServerError::UnknownError)
}
