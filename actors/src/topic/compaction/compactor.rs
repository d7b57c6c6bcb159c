//! The two phases of topic compaction over entries, without I/O: phase one finds the latest
//! message of every key (a tombstone, an empty or null-value message, removes the key); phase
//! two keeps only those messages.
//!
//! A batch keeps its shape so batch indexes (and with them message ids) stay valid: a removed
//! message stays in place marked `compacted_out` with an empty payload, as Pulsar's
//! `RawBatchConverter` does, and [`retained_mask`] tells dispatch which indexes remain.
//!
//! Compressed batches are decompressed to be read. One that loses messages is written back
//! *uncompressed* (compression NONE), where Pulsar recompresses with the producer's codec:
//! clients decompress by the metadata either way, but [`retained_mask`] runs on every read of
//! the compacted log and must stay cheap, and no client can then fail on a codec it lacks
//! (pulsar-rs writes framed snappy, which the other clients cannot read). The body stays under
//! the broker's max message size, the limit a batch must fit to be opened at all. A batch that
//! keeps all its messages is kept as stored, compressed.

use std::collections::HashMap;

use bytes::Bytes;
use geminga_protocol::{
    batch::{encode_batch, parse_batch, BatchMessage},
    compression::decompress_body,
    frame::{Checksum, Payload},
    proto::{CompressionType, MessageMetadata, SingleMessageMetadata},
};
use geminga_storage::Entry;
use prost::Message as _;

/// A message's place: entry id and index in its batch (0 for a single message).
type Position = (u64, u32);

/// An entry as compaction sees it.
enum Parsed {
    /// One message.
    Single {
        key: Option<String>,
        tombstone: bool,
    },
    /// A batch, decompressed if it was compressed.
    Batch {
        /// Boxed: far larger than the other variants.
        metadata: Box<MessageMetadata>,
        messages: Vec<BatchMessage>,
    },
    /// Nothing compaction can look into (an encrypted batch, one too large or corrupt to
    /// decompress, or bytes that do not parse): kept as it is.
    Opaque,
}

/// Splits stored data `[metadataSize][MessageMetadata][body]` (no CRC is computed).
fn split(data: &Bytes) -> Option<(MessageMetadata, Bytes)> {
    let size = usize::try_from(u32::from_be_bytes(*data.first_chunk::<4>()?)).ok()?;
    let end = size.checked_add(4)?;
    let metadata = MessageMetadata::decode(data.get(4..end)?).ok()?;
    Some((metadata, data.slice(end..)))
}

/// `limit`: the largest uncompressed batch body opened (the broker's max message size).
fn parse(entry: &Entry, limit: usize) -> Parsed {
    let Some((metadata, body)) = split(&entry.data) else {
        return Parsed::Opaque;
    };
    let null_value = metadata.null_value();
    match metadata.num_messages_in_batch {
        None => {
            let empty = if metadata.compression.is_some_and(|c| c != 0) {
                metadata.uncompressed_size() == 0
            } else {
                body.is_empty()
            };
            Parsed::Single {
                key: metadata.partition_key.clone(),
                tombstone: null_value || empty,
            }
        }
        // The client compressed, then encrypted: the broker cannot read the body.
        Some(_) if !metadata.encryption_keys.is_empty() => Parsed::Opaque,
        Some(count) => {
            let count = usize::try_from(count.max(0)).unwrap_or(0);
            let Ok(body) = decompress_body(&metadata, &body, limit) else {
                return Parsed::Opaque;
            };
            match parse_batch(&body, count) {
                Ok(messages) => Parsed::Batch {
                    metadata: Box::new(metadata),
                    messages,
                },
                Err(_) => Parsed::Opaque,
            }
        }
    }
}

fn batch_tombstone(message: &BatchMessage) -> bool {
    message.metadata.null_value() || message.payload.is_empty()
}

/// What one compaction kept and dropped.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CompactionCounts {
    /// Messages kept.
    pub kept: u64,
    /// Messages removed (superseded, tombstones, keyless unless retained).
    pub removed: u64,
}

/// Both phases' state: the latest position of every live key.
#[derive(Debug, Default)]
pub struct Compactor {
    latest: HashMap<String, Position>,
    retain_null_key: bool,
    /// The largest uncompressed batch body opened; a larger one is kept whole.
    max_batch_bytes: usize,
    /// Totals of phase two so far.
    pub counts: CompactionCounts,
}

impl Compactor {
    /// A compactor; `retain_null_key` keeps messages without a key (Pulsar's
    /// `topicCompactionRetainNullKey`); compressed batches are opened when they decompress to
    /// at most `max_batch_bytes` (the broker's max message size) and kept whole otherwise.
    pub fn new(retain_null_key: bool, max_batch_bytes: usize) -> Self {
        Self {
            retain_null_key,
            max_batch_bytes,
            ..Self::default()
        }
    }

    /// Phase one: records the entry's keys.
    pub fn observe(&mut self, entry: &Entry) {
        match parse(entry, self.max_batch_bytes) {
            Parsed::Single { key, tombstone } => self.record(key, tombstone, (entry.entry_id, 0)),
            Parsed::Batch { messages, .. } => {
                for (index, message) in (0u32..).zip(&messages) {
                    if message.metadata.compacted_out() {
                        // Removed by an earlier compaction (this entry comes from its log):
                        // not a tombstone of its key.
                        continue;
                    }
                    let key = message.metadata.partition_key.clone();
                    self.record(key, batch_tombstone(message), (entry.entry_id, index));
                }
            }
            Parsed::Opaque => {}
        }
    }

    fn record(&mut self, key: Option<String>, tombstone: bool, at: Position) {
        let Some(key) = key else { return };
        if tombstone {
            self.latest.remove(&key);
        } else {
            self.latest.insert(key, at);
        }
    }

    fn keeps(&self, key: Option<&String>, at: Position) -> bool {
        match key {
            Some(key) => self.latest.get(key) == Some(&at),
            None => self.retain_null_key,
        }
    }

    /// Phase two: the entry as the compacted log keeps it, or `None` when nothing of it stays.
    pub fn rewrite(&mut self, entry: Entry) -> Option<Entry> {
        match parse(&entry, self.max_batch_bytes) {
            Parsed::Single { key, tombstone } => {
                let keep = !tombstone && self.keeps(key.as_ref(), (entry.entry_id, 0));
                self.count(u64::from(keep), u64::from(!keep));
                keep.then_some(entry)
            }
            Parsed::Batch { metadata, messages } => self.rewrite_batch(entry, metadata, messages),
            Parsed::Opaque => {
                self.count(u64::from(entry.meta.num_messages.max(1)), 0);
                Some(entry)
            }
        }
    }

    fn rewrite_batch(
        &mut self,
        entry: Entry,
        mut metadata: Box<MessageMetadata>,
        messages: Vec<BatchMessage>,
    ) -> Option<Entry> {
        let keep: Vec<bool> = (0u32..)
            .zip(&messages)
            .map(|(index, m)| {
                !batch_tombstone(m)
                    && self.keeps(m.metadata.partition_key.as_ref(), (entry.entry_id, index))
            })
            .collect();
        let kept = keep.iter().filter(|k| **k).count() as u64;
        // Messages an earlier compaction removed were counted by that run.
        let earlier = messages
            .iter()
            .filter(|m| m.metadata.compacted_out())
            .count() as u64;
        self.count(kept, (messages.len() as u64 - kept).saturating_sub(earlier));
        if kept == 0 {
            return None;
        }
        if kept == messages.len() as u64 {
            return Some(entry);
        }
        let parts: Vec<(SingleMessageMetadata, &[u8])> = messages
            .iter()
            .zip(&keep)
            .map(|(m, keep)| {
                let mut single = m.metadata.clone();
                if *keep {
                    (single, &m.payload[..])
                } else {
                    single.compacted_out = Some(true);
                    (single, &[][..])
                }
            })
            .collect();
        let body = encode_batch(&parts);
        // Written back uncompressed (see the module doc); clients read NONE bodies as is.
        metadata.compression = None;
        metadata.uncompressed_size = u32::try_from(body.len()).ok();
        let payload = Payload::new(&metadata, &body);
        let mut meta = entry.meta;
        meta.checksum = match payload.checksum {
            Checksum::Valid(crc) => crc,
            _ => crc32c::crc32c(&payload.data),
        };
        let data = payload.data;
        Some(Entry {
            entry_id: entry.entry_id,
            meta,
            data,
        })
    }

    fn count(&mut self, kept: u64, removed: u64) {
        self.counts.kept += kept;
        self.counts.removed += removed;
    }
}

/// For a compacted batch entry: the indexes still in it, as a Java `BitSet` long array (set
/// bits are messages to deliver, the layout of `CommandMessage.ack_set`); `None` when nothing
/// was compacted out of it (or it is not a batch).
pub fn retained_mask(data: &Bytes) -> Option<Vec<i64>> {
    let (metadata, body) = split(data)?;
    let count = usize::try_from(metadata.num_messages_in_batch?).ok()?;
    if metadata.compression() != CompressionType::None {
        return None;
    }
    let messages = parse_batch(&body, count).ok()?;
    if !messages.iter().any(|m| m.metadata.compacted_out()) {
        return None;
    }
    let mut words = vec![0i64; count.div_ceil(64)];
    for (index, message) in messages.iter().enumerate() {
        if !message.metadata.compacted_out() {
            if let Some(word) = words.get_mut(index / 64) {
                *word |= 1i64 << (index % 64);
            }
        }
    }
    Some(words)
}
