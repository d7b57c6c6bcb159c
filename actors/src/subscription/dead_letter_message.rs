//! Building the dead-letter copy of an entry: same payload, key and properties, plus where it
//! came from, as Pulsar's clients do (`REAL_TOPIC`, `ORIGIN_MESSAGE_ID`).

use bytes::Bytes;
use geminga_protocol::{
    batch::{encode_batch, parse_batch, BatchMessage},
    compression::decompress_body,
    proto::{KeyValue, MessageMetadata},
    Payload, TopicName,
};
use geminga_storage::{Entry, EntryMeta};

use crate::{error::RequestError, producer::entry_meta};

/// Property naming the topic a dead letter came from (full name).
pub const REAL_TOPIC: &str = "REAL_TOPIC";
/// Property holding the original message id, `ledger:entry:partition[:batchIndex]` as Java's
/// `MessageId.toString()` prints it.
pub const ORIGIN_MESSAGE_ID: &str = "ORIGIN_MESSAGE_ID";

/// Where a dead letter comes from.
#[derive(Clone, Debug)]
pub struct Origin<'a> {
    /// Full name of the topic (a partition's name for a partition).
    pub topic: &'a str,
    /// The topic's ledger.
    pub ledger_id: u64,
}

impl Origin<'_> {
    fn partition(&self) -> i64 {
        TopicName::parse(self.topic)
            .ok()
            .and_then(|t| t.partition_index())
            .map_or(-1, i64::from)
    }
}

/// The dead-letter copy of `entry`: what to publish and its dispatch facts. A batch keeps only
/// its still-unacked messages (per `ack_set`), each with its own origin properties; a compressed
/// batch is decompressed for that (when its body is at most `max_batch_bytes`, the broker's max
/// message size) and the copy is written uncompressed, so no consumer depends on a codec. An
/// encrypted batch, or a compressed one that cannot be opened, is copied whole with the origin
/// in its outer metadata. The copy is never delayed again.
///
/// # Errors
/// [`RequestError::Malformed`] when the stored metadata or batch does not parse.
pub fn dead_letter_copy(
    entry: &Entry,
    ack_set: Option<&[i64]>,
    origin: &Origin<'_>,
    now_ms: u64,
    max_batch_bytes: usize,
) -> Result<(EntryMeta, Bytes), RequestError> {
    let stored = Payload::from_data(entry.data.clone());
    let mut metadata = stored.metadata().map_err(malformed)?;
    let mut body = stored.body().map_err(malformed)?;
    let base_id = format!(
        "{}:{}:{}",
        origin.ledger_id,
        entry.entry_id,
        origin.partition()
    );
    match open_batch(&metadata, &body, max_batch_bytes)? {
        Some(messages) => {
            let mut kept = Vec::new();
            for (index, mut message) in messages.into_iter().enumerate() {
                if ack_set.is_some_and(|set| !bit_is_set(set, index)) {
                    continue; // acked already
                }
                let id = format!("{base_id}:{index}");
                set_property(&mut message.metadata.properties, REAL_TOPIC, origin.topic);
                set_property(&mut message.metadata.properties, ORIGIN_MESSAGE_ID, &id);
                kept.push(message);
            }
            let parts: Vec<_> = kept
                .iter()
                .map(|m| (m.metadata.clone(), m.payload.as_ref()))
                .collect();
            body = encode_batch(&parts);
            metadata.num_messages_in_batch = Some(i32::try_from(kept.len()).unwrap_or(i32::MAX));
            metadata.compression = None;
            metadata.uncompressed_size = Some(u32::try_from(body.len()).unwrap_or(u32::MAX));
        }
        None => {
            set_property(&mut metadata.properties, REAL_TOPIC, origin.topic);
            set_property(&mut metadata.properties, ORIGIN_MESSAGE_ID, &base_id);
        }
    }
    metadata.deliver_at_time = None;
    metadata.publish_time = now_ms;
    let payload = Payload::new(&metadata, &body);
    let meta = entry_meta(&payload)?;
    Ok((meta, payload.data))
}

fn malformed(e: geminga_protocol::ProtocolError) -> RequestError {
    RequestError::Malformed {
        reason: e.to_string(),
    }
}

/// The messages of a batch the broker can read; `None` for a single message, an encrypted
/// batch or a compressed one that does not decompress within `max_batch_bytes` (all copied
/// whole).
fn open_batch(
    metadata: &MessageMetadata,
    body: &Bytes,
    max_batch_bytes: usize,
) -> Result<Option<Vec<BatchMessage>>, RequestError> {
    let Some(count) = metadata.num_messages_in_batch else {
        return Ok(None);
    };
    if !metadata.encryption_keys.is_empty() {
        return Ok(None);
    }
    let Ok(body) = decompress_body(metadata, body, max_batch_bytes) else {
        return Ok(None);
    };
    let count = usize::try_from(count.max(0)).unwrap_or(0);
    parse_batch(&body, count).map(Some).map_err(malformed)
}

/// Whether bit `index` is set in a Java `BitSet` long-array (set = still unacked).
fn bit_is_set(set: &[i64], index: usize) -> bool {
    set.get(index / 64)
        .is_some_and(|word| (*word as u64) >> (index % 64) & 1 == 1)
}

fn set_property(properties: &mut Vec<KeyValue>, key: &str, value: &str) {
    properties.retain(|kv| kv.key != key);
    properties.push(KeyValue {
        key: key.to_owned(),
        value: value.to_owned(),
    });
}

#[cfg(test)]
mod tests {
    use geminga_protocol::{
        compression::compress,
        proto::{CompressionType, SingleMessageMetadata},
    };

    use super::*;

    fn metadata() -> MessageMetadata {
        MessageMetadata {
            producer_name: "p".into(),
            sequence_id: 7,
            publish_time: 1,
            partition_key: Some("k".into()),
            deliver_at_time: Some(99),
            properties: vec![KeyValue {
                key: "app".into(),
                value: "v".into(),
            }],
            ..Default::default()
        }
    }

    fn entry(metadata: &MessageMetadata, body: &[u8]) -> Entry {
        let payload = Payload::new(metadata, body);
        Entry {
            entry_id: 12,
            meta: entry_meta(&payload).unwrap(),
            data: payload.data,
        }
    }

    fn property(props: &[KeyValue], key: &str) -> Option<String> {
        props
            .iter()
            .find(|kv| kv.key == key)
            .map(|kv| kv.value.clone())
    }

    const LIMIT: usize = 1 << 20;

    const ORIGIN: Origin<'static> = Origin {
        topic: "persistent://public/default/t-partition-2",
        ledger_id: 5,
    };

    #[test]
    fn a_single_message_keeps_key_and_properties_and_gains_its_origin() {
        let original = entry(&metadata(), b"body");
        let (meta, data) = dead_letter_copy(&original, None, &ORIGIN, 1_000, LIMIT).unwrap();
        let copy = Payload::from_data(data.clone());
        let md = copy.metadata().unwrap();
        assert_eq!(&copy.body().unwrap()[..], b"body");
        assert_eq!(md.partition_key.as_deref(), Some("k"));
        assert_eq!(property(&md.properties, "app").as_deref(), Some("v"));
        assert_eq!(
            property(&md.properties, REAL_TOPIC).as_deref(),
            Some(ORIGIN.topic)
        );
        assert_eq!(
            property(&md.properties, ORIGIN_MESSAGE_ID).as_deref(),
            Some("5:12:2")
        );
        assert_eq!(md.deliver_at_time, None, "never delayed again");
        assert_eq!(md.publish_time, 1_000);
        assert_eq!(meta.deliver_at_ms, None);
        assert_eq!(meta.checksum, Payload::from_data(data).crc32c());
        assert_eq!(meta.key_hash, original.meta.key_hash, "same sticky key");
    }

    #[test]
    fn a_batch_keeps_only_its_unacked_messages_each_with_its_origin() {
        let single = |key: &str| SingleMessageMetadata {
            partition_key: Some(key.into()),
            ..Default::default()
        };
        let body = encode_batch(&[
            (single("a"), &b"m0"[..]),
            (single("b"), &b"m1"[..]),
            (single("c"), &b"m2"[..]),
        ]);
        let md = MessageMetadata {
            num_messages_in_batch: Some(3),
            ..metadata()
        };
        let original = entry(&md, &body);
        // Bits 0 and 2 still unacked; message 1 was acked.
        let (meta, data) = dead_letter_copy(&original, Some(&[0b101]), &ORIGIN, 5, LIMIT).unwrap();
        assert_eq!(meta.num_messages, 2);
        let copy = Payload::from_data(data);
        let messages = parse_batch(&copy.body().unwrap(), 2).unwrap();
        let payloads: Vec<&[u8]> = messages.iter().map(|m| m.payload.as_ref()).collect();
        assert_eq!(payloads, vec![&b"m0"[..], &b"m2"[..]]);
        assert_eq!(
            property(&messages[1].metadata.properties, ORIGIN_MESSAGE_ID).as_deref(),
            Some("5:12:2:2")
        );
    }

    #[test]
    fn a_compressed_batch_is_opened_and_copied_uncompressed() {
        let single = |key: &str| SingleMessageMetadata {
            partition_key: Some(key.into()),
            ..Default::default()
        };
        let body = encode_batch(&[(single("a"), &b"m0"[..]), (single("b"), &b"m1"[..])]);
        for codec in [
            CompressionType::Lz4,
            CompressionType::Zlib,
            CompressionType::Zstd,
            CompressionType::Snappy,
        ] {
            let md = MessageMetadata {
                num_messages_in_batch: Some(2),
                compression: Some(codec as i32),
                uncompressed_size: Some(u32::try_from(body.len()).unwrap()),
                ..metadata()
            };
            let original = entry(&md, &compress(codec, &body).unwrap());
            // Message 0 was acked; only message 1 is dead-lettered.
            let (meta, data) =
                dead_letter_copy(&original, Some(&[0b10]), &ORIGIN, 5, LIMIT).unwrap();
            assert_eq!(meta.num_messages, 1, "{codec:?}");
            let copy = Payload::from_data(data);
            let copy_md = copy.metadata().unwrap();
            assert_eq!(copy_md.compression, None, "{codec:?}");
            let copy_body = copy.body().unwrap();
            assert_eq!(
                copy_md.uncompressed_size,
                Some(u32::try_from(copy_body.len()).unwrap())
            );
            let messages = parse_batch(&copy_body, 1).unwrap();
            assert_eq!(&messages[0].payload[..], b"m1", "{codec:?}");
            assert_eq!(
                property(&messages[0].metadata.properties, ORIGIN_MESSAGE_ID).as_deref(),
                Some("5:12:2:1")
            );
            // Above the limit the batch is not opened: copied whole, still compressed.
            let (meta, data) = dead_letter_copy(&original, Some(&[0b10]), &ORIGIN, 5, 4).unwrap();
            assert_eq!(meta.num_messages, 2, "{codec:?}");
            let whole = Payload::from_data(data).metadata().unwrap();
            assert_eq!(whole.compression, Some(codec as i32));
        }
    }

    #[test]
    fn a_compressed_batch_that_does_not_decompress_is_copied_whole_with_the_origin_outside() {
        let md = MessageMetadata {
            num_messages_in_batch: Some(4),
            compression: Some(CompressionType::Lz4 as i32),
            ..metadata()
        };
        let original = entry(&md, b"opaque");
        let (meta, data) = dead_letter_copy(&original, None, &ORIGIN, 5, LIMIT).unwrap();
        assert_eq!(meta.num_messages, 4);
        let copy = Payload::from_data(data);
        assert_eq!(&copy.body().unwrap()[..], b"opaque");
        assert!(property(&copy.metadata().unwrap().properties, REAL_TOPIC).is_some());
    }

    #[test]
    fn garbage_is_a_malformed_error_not_a_panic() {
        let bad = Entry {
            entry_id: 1,
            meta: EntryMeta::default(),
            data: Bytes::from_static(&[0, 0, 0, 9, 1]),
        };
        assert!(matches!(
            dead_letter_copy(&bad, None, &ORIGIN, 0, LIMIT),
            Err(RequestError::Malformed { .. })
        ));
    }
}
