//! What the broker needs to know about an entry, read once from its metadata at publish time.

use base64::Engine;
use geminga_protocol::{frame::Payload, proto::MessageMetadata};
use geminga_storage::EntryMeta;

use crate::error::RequestError;

/// Reads the fields dispatch needs (message count, publish and delivery time, sticky key hash)
/// so later stages never parse the metadata again.
pub fn entry_meta(payload: &Payload) -> Result<EntryMeta, RequestError> {
    entry_meta_and_sequence(payload).map(|(meta, _)| meta)
}

/// [`entry_meta`] plus the metadata's `highest_sequence_id` (batches with explicit sequence
/// ids carry it), read in the same parse.
pub fn entry_meta_and_sequence(
    payload: &Payload,
) -> Result<(EntryMeta, Option<u64>), RequestError> {
    let metadata = payload.metadata().map_err(|e| RequestError::Malformed {
        reason: e.to_string(),
    })?;
    let highest = metadata.highest_sequence_id;
    Ok((entry_meta_of(&metadata, payload), highest))
}

fn entry_meta_of(metadata: &MessageMetadata, payload: &Payload) -> EntryMeta {
    let num_messages = metadata
        .num_messages_in_batch
        .map_or(1, |n| u32::try_from(n.max(1)).unwrap_or(1));
    EntryMeta {
        num_messages,
        publish_time_ms: metadata.publish_time,
        deliver_at_ms: metadata
            .deliver_at_time
            .and_then(|t| u64::try_from(t).ok())
            .filter(|t| *t > 0),
        checksum: payload.crc32c(),
        key_hash: sticky_key_hash(metadata),
    }
}

/// Murmur3-32 (seed 0) of the sticky key: the ordering key if set, else the partition key
/// (base64-decoded when flagged), as Pulsar's Key_Shared does. `None` for keyless messages.
pub fn sticky_key_hash(metadata: &MessageMetadata) -> Option<u32> {
    let key: Vec<u8> = match (&metadata.ordering_key, &metadata.partition_key) {
        (Some(ordering), _) if !ordering.is_empty() => ordering.clone(),
        (_, Some(key)) if metadata.partition_key_b64_encoded() => {
            base64::engine::general_purpose::STANDARD
                .decode(key)
                .unwrap_or_else(|_| key.clone().into_bytes())
        }
        (_, Some(key)) => key.clone().into_bytes(),
        _ => return None,
    };
    murmur3::murmur3_32(&mut std::io::Cursor::new(key), 0).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordering_key_wins_over_partition_key() {
        let mut md = MessageMetadata {
            partition_key: Some("k".into()),
            ..Default::default()
        };
        let by_partition = sticky_key_hash(&md);
        md.ordering_key = Some(b"o".to_vec());
        assert_ne!(sticky_key_hash(&md), by_partition);
        assert_eq!(
            sticky_key_hash(&md),
            murmur3::murmur3_32(&mut std::io::Cursor::new(b"o"), 0).ok()
        );
    }

    #[test]
    fn keyless_messages_have_no_hash() {
        assert_eq!(sticky_key_hash(&MessageMetadata::default()), None);
    }

    #[test]
    fn base64_partition_keys_are_decoded() {
        let md = MessageMetadata {
            partition_key: Some("AAE=".into()),
            partition_key_b64_encoded: Some(true),
            ..Default::default()
        };
        assert_eq!(
            sticky_key_hash(&md),
            murmur3::murmur3_32(&mut std::io::Cursor::new([0u8, 1]), 0).ok()
        );
    }
}
