//! Batch payloads: `[u32 size][SingleMessageMetadata][payload]` repeated, uncompressed (see
//! [`crate::compression`] for compressed ones).
//!
//! The broker never needs to open a batch on its data path (it stores and forwards entries);
//! this exists for tests, tools and features that must look inside (e.g. per-message keys).

use bytes::{Buf, BufMut, Bytes, BytesMut};
use prost::Message as _;

use crate::error::ProtocolError;
use crate::proto::SingleMessageMetadata;

/// One message of a batch.
#[derive(Clone, Debug, PartialEq)]
pub struct BatchMessage {
    /// The message's own metadata (properties, key, event time, ...).
    pub metadata: SingleMessageMetadata,
    /// The message bytes, a zero-copy slice of the batch body.
    pub payload: Bytes,
}

/// Splits an *uncompressed* batch body into its `num_messages` messages.
///
/// `num_messages` comes from the outer `num_messages_in_batch`. Bytes after the last message
/// are ignored, as the clients do.
///
/// # Errors
/// [`ProtocolError::Malformed`] when a size runs past the body or a payload size is negative;
/// [`ProtocolError::Decode`] when a `SingleMessageMetadata` does not decode.
pub fn parse_batch(body: &Bytes, num_messages: usize) -> Result<Vec<BatchMessage>, ProtocolError> {
    // Each message needs at least its 4-byte size, so a lying count cannot force a huge
    // allocation.
    let mut messages = Vec::with_capacity(num_messages.min(body.len() / 4));
    let mut rest = body.clone();
    for index in 0..num_messages {
        let metadata_size = rest
            .first_chunk::<4>()
            .map(|b| u32::from_be_bytes(*b) as usize)
            .ok_or_else(|| truncated(index, num_messages, "metadata size"))?;
        rest.advance(4);
        if rest.len() < metadata_size {
            return Err(truncated(index, num_messages, "metadata"));
        }
        let metadata = SingleMessageMetadata::decode(rest.split_to(metadata_size))?;
        let payload_size = usize::try_from(metadata.payload_size).map_err(|_| {
            ProtocolError::malformed(format!(
                "batch message {index} has negative payload_size {}",
                metadata.payload_size
            ))
        })?;
        if rest.len() < payload_size {
            return Err(truncated(index, num_messages, "payload"));
        }
        let payload = rest.split_to(payload_size);
        messages.push(BatchMessage { metadata, payload });
    }
    Ok(messages)
}

/// Builds an uncompressed batch body. Each metadata's `payload_size` is overwritten with the
/// actual payload length, so the result always parses back.
pub fn encode_batch(messages: &[(SingleMessageMetadata, &[u8])]) -> Bytes {
    let mut out = BytesMut::new();
    for (metadata, payload) in messages {
        let mut metadata = metadata.clone();
        // Frames are capped far below 2 GiB, so saturation never happens in practice.
        metadata.payload_size = i32::try_from(payload.len()).unwrap_or(i32::MAX);
        let encoded = metadata.encode_to_vec();
        out.reserve(4 + encoded.len() + payload.len());
        out.put_u32(u32::try_from(encoded.len()).unwrap_or(u32::MAX));
        out.put_slice(&encoded);
        out.put_slice(payload);
    }
    out.freeze()
}

fn truncated(index: usize, count: usize, part: &str) -> ProtocolError {
    ProtocolError::malformed(format!(
        "batch body ends inside the {part} of message {index} of {count}"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::KeyValue;

    fn meta(key: &str) -> SingleMessageMetadata {
        SingleMessageMetadata {
            partition_key: Some(key.into()),
            properties: vec![KeyValue {
                key: "k".into(),
                value: key.into(),
            }],
            event_time: Some(5),
            ..Default::default()
        }
    }

    #[test]
    fn batch_round_trips_with_payload_sizes_filled_in() {
        let body = encode_batch(&[(meta("a"), b"one"), (meta("b"), b""), (meta("c"), b"three")]);
        let parsed = parse_batch(&body, 3).unwrap();
        assert_eq!(parsed.len(), 3);
        assert_eq!(parsed[0].payload, Bytes::from_static(b"one"));
        assert_eq!(parsed[1].payload, Bytes::new());
        assert_eq!(parsed[2].payload, Bytes::from_static(b"three"));
        assert_eq!(parsed[2].metadata.partition_key.as_deref(), Some("c"));
        assert_eq!(parsed[0].metadata.payload_size, 3);
        assert_eq!(parsed[1].metadata.properties[0].value, "b");
    }

    #[test]
    fn layout_is_size_metadata_payload() {
        let body = encode_batch(&[(SingleMessageMetadata::default(), b"xy")]);
        // payload_size = 2 encodes as field 3 varint: 0x18 0x02.
        assert_eq!(&body[..], &[0, 0, 0, 2, 0x18, 0x02, b'x', b'y']);
    }

    #[test]
    fn truncated_batches_are_errors_at_every_cut() {
        let body = encode_batch(&[(meta("a"), b"one"), (meta("b"), b"two")]);
        for cut in 0..body.len() {
            let short = body.slice(..cut);
            assert!(parse_batch(&short, 2).is_err(), "cut at {cut} parsed");
        }
    }

    #[test]
    fn count_larger_than_contents_is_an_error_not_an_allocation() {
        let body = encode_batch(&[(meta("a"), b"one")]);
        assert!(matches!(
            parse_batch(&body, usize::MAX),
            Err(ProtocolError::Malformed { .. })
        ));
    }

    #[test]
    fn negative_payload_size_is_malformed() {
        let metadata = SingleMessageMetadata {
            payload_size: -1,
            ..Default::default()
        }
        .encode_to_vec();
        let mut body = BytesMut::new();
        body.put_u32(metadata.len() as u32);
        body.put_slice(&metadata);
        assert!(matches!(
            parse_batch(&body.freeze(), 1),
            Err(ProtocolError::Malformed { .. })
        ));
    }

    #[test]
    fn zero_messages_parse_to_nothing() {
        assert!(parse_batch(&Bytes::new(), 0).unwrap().is_empty());
    }
}
