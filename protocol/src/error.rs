//! `ProtocolError`: everything that can go wrong turning bytes into frames and names.

/// Errors of the wire protocol layer.
///
/// Every variant except [`ProtocolError::InvalidTopicName`] means the byte stream can no longer
/// be trusted: the connection should be closed. A CRC mismatch is *not* an error here (see
/// [`crate::frame::Checksum::Mismatch`]): the broker answers that one SEND with ChecksumError.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProtocolError {
    /// A frame header announced more bytes than the configured limit. Raised before buffering
    /// the frame, so a hostile length cannot make the decoder allocate. Close the connection.
    #[error("frame of {size} bytes exceeds the limit of {max} bytes")]
    FrameTooLarge {
        /// Announced (or, when encoding, computed) frame size in bytes.
        size: usize,
        /// The limit in force.
        max: usize,
    },

    /// The bytes do not follow the frame or batch layout (sizes that do not fit, missing
    /// sections). Close the connection; for a batch, treat the entry as corrupt.
    #[error("malformed frame: {reason}")]
    Malformed {
        /// What was wrong, with the offending sizes.
        reason: String,
    },

    /// A protobuf message (command or metadata) failed to decode.
    #[error("protobuf decode failed: {0}")]
    Decode(#[from] prost::DecodeError),

    /// An I/O error surfaced through the codec (required by `tokio_util::codec`).
    #[error("i/o error: {0}")]
    Io(#[from] std::io::Error),

    /// A topic name failed validation; answer the request with `ServerError::InvalidTopicName`.
    #[error("invalid topic name {name:?}: {reason}")]
    InvalidTopicName {
        /// The name as received.
        name: String,
        /// Which rule it broke.
        reason: &'static str,
    },

    /// A protobuf message failed to encode (only possible with a bounded output buffer).
    #[error("protobuf encode failed: {0}")]
    Encode(#[from] prost::EncodeError),
}

impl ProtocolError {
    /// Shorthand for [`ProtocolError::Malformed`].
    pub(crate) fn malformed(reason: impl Into<String>) -> Self {
        ProtocolError::Malformed {
            reason: reason.into(),
        }
    }
}
