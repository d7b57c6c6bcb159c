//! Building the dead-letter copy of an entry: same payload, key and properties, plus where it
//! came from, as Pulsar's clients do (`REAL_TOPIC`, `ORIGIN_MESSAGE_ID`).

use bytes::Bytes;
use geminga_protocol::{
    batch::{encode_batch, parse_batch},
    proto::{CompressionType, KeyValue},
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
/// its still-unacked messages (per `ack_set`) when it is uncompressed, each with its own origin
/// properties; a compressed or encrypted batch cannot be opened and is copied whole, with the
/// origin in its outer metadata. The copy is never delayed again.
///
/// # Errors
/// [`RequestError::Malformed`] when the stored metadata or batch does not parse.
pub fn dead_letter_copy(
    entry: &Entry,
    ack_set: Option<&[i64]>,
    origin: &Origin<'_>,
    now_ms: u64,
) -> Result<(EntryMeta, Bytes), RequestError> {
    let malformed = |e: geminga_protocol::ProtocolError| RequestError::Malformed {
        reason: e.to_string(),
    };
    let stored = Payload::from_data(entry.data.clone());
    let mut metadata = stored.metadata().map_err(malformed)?;
    let mut body = stored.body().map_err(malformed)?;
    let base_id = format!(
        "{}:{}:{}",
        origin.ledger_id,
        entry.entry_id,
        origin.partition()
    );
    let batch_size = metadata.num_messages_in_batch;
    let openable =
        metadata.compression() == CompressionType::None && metadata.encryption_keys.is_empty();
    match batch_size {
        Some(n) if openable => {
            let count = usize::try_from(n.max(0)).unwrap_or(0);
            let mut kept = Vec::new();
            for (index, mut message) in parse_batch(&body, count)
                .map_err(malformed)?
                .into_iter()
                .enumerate()
            {
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
            metadata.uncompressed_size = Some(u32::try_from(body.len()).unwrap_or(u32::MAX));
        }
        _ => {
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
    use geminga_protocol::proto::{MessageMetadata, SingleMessageMetadata};

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

    const ORIGIN: Origin<'static> = Origin {
        topic: "persistent://public/default/t-partition-2",
        ledger_id: 5,
    };

    #[test]
    fn a_single_message_keeps_key_and_properties_and_gains_its_origin() {
        let original = entry(&metadata(), b"body");
        let (meta, data) = dead_letter_copy(&original, None, &ORIGIN, 1_000).unwrap();
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
        let (meta, data) = dead_letter_copy(&original, Some(&[0b101]), &ORIGIN, 5).unwrap();
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
    fn a_compressed_batch_is_copied_whole_with_the_origin_outside() {
        let md = MessageMetadata {
            num_messages_in_batch: Some(4),
            compression: Some(CompressionType::Lz4 as i32),
            ..metadata()
        };
        let original = entry(&md, b"opaque");
        let (meta, data) = dead_letter_copy(&original, None, &ORIGIN, 5).unwrap();
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
            dead_letter_copy(&bad, None, &ORIGIN, 0),
            Err(RequestError::Malformed { .. })
        ));
    }
}
