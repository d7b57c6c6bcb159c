//! Frames as the codec yields them: a command plus, for SEND and MESSAGE, a payload.

use bytes::{BufMut, Bytes, BytesMut};
use prost::Message as _;

use crate::error::ProtocolError;
use crate::proto::{BaseCommand, MessageMetadata};

/// Magic that precedes the CRC32C of a payload.
pub const CHECKSUM_MAGIC: u16 = 0x0e01;
/// Magic that precedes the optional broker-entry-metadata section of a payload.
pub const BROKER_ENTRY_METADATA_MAGIC: u16 = 0x0e02;
/// Largest message (metadata + body) accepted by default: Java's 5 MiB.
pub const DEFAULT_MAX_MESSAGE_SIZE: usize = 5 * 1024 * 1024;
/// Extra room for the command and headers above max_message_size (Java uses 10 KiB).
pub const FRAME_HEADROOM: usize = 10 * 1024;
/// The highest protocol version we speak (v20 adds TOPIC_MIGRATED). CONNECTED answers with
/// min(client, this).
pub const PROTOCOL_VERSION: i32 = 20;

/// One decoded (or to-be-encoded) frame.
#[derive(Clone, Debug, PartialEq)]
pub struct Frame {
    /// The command envelope.
    pub command: BaseCommand,
    /// Present only for SEND and MESSAGE frames.
    pub payload: Option<Payload>,
}

impl Frame {
    /// A simple frame without payload.
    pub fn new(command: impl Into<BaseCommand>) -> Frame {
        Frame {
            command: command.into(),
            payload: None,
        }
    }

    /// A payload frame (SEND or MESSAGE).
    pub fn with_payload(command: impl Into<BaseCommand>, payload: Payload) -> Frame {
        Frame {
            command: command.into(),
            payload: Some(payload),
        }
    }
}

/// The payload part of a SEND or MESSAGE frame.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Payload {
    /// `[metadataSize u32 BE][MessageMetadata][body]`: exactly the bytes the CRC covers; stored
    /// and forwarded verbatim (never re-encoded).
    pub data: Bytes,
    /// What the received frame said about `data`'s CRC32C.
    pub checksum: Checksum,
}

/// Outcome of the CRC32C check of a received payload.
///
/// Deliberately not `#[non_exhaustive]`: the three cases are the protocol's, and callers should
/// match them all.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Checksum {
    /// The sender did not include `0x0e01` + CRC (C++ below protocol v6).
    Absent,
    /// The CRC was present and matches `data`.
    Valid(u32),
    /// The CRC was present and does not match: answer SEND_ERROR ChecksumError for this
    /// message only, the connection stays up.
    Mismatch {
        /// CRC32C carried by the frame.
        received: u32,
        /// CRC32C computed over the received bytes.
        computed: u32,
    },
}

impl Checksum {
    /// True when the frame carried a CRC that does not match its payload.
    pub fn is_mismatch(&self) -> bool {
        matches!(self, Checksum::Mismatch { .. })
    }
}

impl Payload {
    /// Builds `[metadataSize][metadata][body]` and its CRC32C, e.g. for a SEND in tests or a
    /// broker-generated message.
    pub fn new(metadata: &MessageMetadata, body: &[u8]) -> Payload {
        let metadata = metadata.encode_to_vec();
        let mut data = BytesMut::with_capacity(4 + metadata.len() + body.len());
        // A metadata message cannot reach 4 GiB inside a frame; saturate rather than wrap so
        // the decoder rejects it instead of misreading it.
        data.put_u32(u32::try_from(metadata.len()).unwrap_or(u32::MAX));
        data.put_slice(&metadata);
        data.put_slice(body);
        Payload::from_data(data.freeze())
    }

    /// Wraps already-laid-out `[metadataSize][metadata][body]` bytes (e.g. read back from
    /// storage) and computes their CRC32C.
    pub fn from_data(data: Bytes) -> Payload {
        let crc = crc32c::crc32c(&data);
        Payload {
            data,
            checksum: Checksum::Valid(crc),
        }
    }

    /// Length of the `[metadataSize][metadata]` prefix, i.e. 4 + metadataSize.
    ///
    /// # Errors
    /// [`ProtocolError::Malformed`] if `data` is shorter than 4 bytes or than the announced
    /// metadata.
    pub fn metadata_len(&self) -> Result<usize, ProtocolError> {
        metadata_prefix_len(&self.data)
    }

    /// Decodes the `MessageMetadata`. Use it to read fields, never to re-encode the payload.
    ///
    /// # Errors
    /// [`ProtocolError::Malformed`] for a bad size, [`ProtocolError::Decode`] for bad protobuf.
    pub fn metadata(&self) -> Result<MessageMetadata, ProtocolError> {
        let end = self.metadata_len()?;
        let bytes = self
            .data
            .get(4..end)
            .ok_or_else(|| ProtocolError::malformed("metadata range out of bounds"))?;
        Ok(MessageMetadata::decode(bytes)?)
    }

    /// The body after the metadata (a single message, or a possibly compressed batch), as a
    /// zero-copy slice of `data`.
    ///
    /// # Errors
    /// [`ProtocolError::Malformed`] when the metadata size does not fit in `data`.
    pub fn body(&self) -> Result<Bytes, ProtocolError> {
        let start = self.metadata_len()?;
        Ok(self.data.slice(start..))
    }

    /// The CRC32C of `data`: the received one when it was verified (no recomputation),
    /// otherwise computed.
    pub fn crc32c(&self) -> u32 {
        match self.checksum {
            Checksum::Valid(crc) => crc,
            Checksum::Mismatch { computed, .. } => computed,
            Checksum::Absent => crc32c::crc32c(&self.data),
        }
    }
}

/// Reads `metadataSize` at the start of `data` and returns 4 + metadataSize once it is known to
/// fit inside `data`.
pub(crate) fn metadata_prefix_len(data: &[u8]) -> Result<usize, ProtocolError> {
    let size = data
        .first_chunk::<4>()
        .map(|b| u32::from_be_bytes(*b) as usize)
        .ok_or_else(|| {
            ProtocolError::malformed(format!(
                "payload of {} bytes has no metadataSize",
                data.len()
            ))
        })?;
    match size.checked_add(4) {
        Some(end) if end <= data.len() => Ok(end),
        _ => Err(ProtocolError::malformed(format!(
            "metadataSize {size} exceeds the {} payload bytes after it",
            data.len().saturating_sub(4)
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn metadata() -> MessageMetadata {
        MessageMetadata {
            producer_name: "p".into(),
            sequence_id: 7,
            publish_time: 1_700_000_000_000,
            partition_key: Some("k".into()),
            ..Default::default()
        }
    }

    #[test]
    fn payload_new_lays_out_size_metadata_body_and_checksums_it() {
        let payload = Payload::new(&metadata(), b"hello");
        let meta_len = metadata().encoded_len();
        assert_eq!(&payload.data[..4], &(meta_len as u32).to_be_bytes());
        assert_eq!(payload.metadata_len().unwrap(), 4 + meta_len);
        assert_eq!(payload.metadata().unwrap(), metadata());
        assert_eq!(payload.body().unwrap(), Bytes::from_static(b"hello"));
        assert_eq!(
            payload.checksum,
            Checksum::Valid(crc32c::crc32c(&payload.data))
        );
    }

    #[test]
    fn body_is_a_zero_copy_slice_of_data() {
        let payload = Payload::new(&metadata(), b"abc");
        let body = payload.body().unwrap();
        let data_range = payload.data.as_ptr_range();
        assert!(data_range.contains(&body.as_ptr()));
    }

    #[test]
    fn crc32c_reuses_a_valid_checksum_and_recomputes_otherwise() {
        let mut payload = Payload::new(&metadata(), b"x");
        let real = crc32c::crc32c(&payload.data);
        // A stored Valid value is trusted as is, which is what lets storage skip recomputing.
        payload.checksum = Checksum::Valid(42);
        assert_eq!(payload.crc32c(), 42);
        payload.checksum = Checksum::Absent;
        assert_eq!(payload.crc32c(), real);
        payload.checksum = Checksum::Mismatch {
            received: 1,
            computed: real,
        };
        assert_eq!(payload.crc32c(), real);
        assert!(payload.checksum.is_mismatch());
    }

    #[test]
    fn oversized_metadata_size_is_malformed_not_a_panic() {
        let mut data = BytesMut::new();
        data.put_u32(100);
        data.put_slice(b"short");
        let payload = Payload::from_data(data.freeze());
        assert!(matches!(
            payload.metadata_len(),
            Err(ProtocolError::Malformed { .. })
        ));
        assert!(payload.metadata().is_err());
        assert!(payload.body().is_err());
        let tiny = Payload::from_data(Bytes::from_static(&[0, 0]));
        assert!(matches!(
            tiny.metadata_len(),
            Err(ProtocolError::Malformed { .. })
        ));
        let huge = Payload::from_data(Bytes::from_static(&[0xff, 0xff, 0xff, 0xff]));
        assert!(huge.metadata_len().is_err());
    }

    #[test]
    fn empty_metadata_and_body_are_allowed() {
        let payload = Payload::from_data(Bytes::from_static(&[0, 0, 0, 0]));
        assert_eq!(payload.metadata_len().unwrap(), 4);
        assert!(payload.body().unwrap().is_empty());
    }
}
