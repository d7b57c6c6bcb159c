//! Message deduplication: the highest sequence id per producer name, as Pulsar's
//! `MessageDeduplication` keeps it.
//!
//! A SEND whose lowest sequence id is at or below the producer's highest one already handed
//! to storage is a duplicate. If that id is durable, the SEND is answered at once with a
//! receipt naming no entry (Pulsar's `-1:-1`); if it is still being written, the answer waits
//! for that write: a duplicate once it is durable, a retryable error if it failed. New
//! entries carry their producer's new highest id into the same storage batch
//! (`WriteOp::Sequence`), so the record is durable exactly with the entries it covers.

use std::collections::{BTreeMap, HashMap};

use bytes::Bytes;
use geminga_protocol::{batch::parse_batch, compression::decompress_body, proto::MessageMetadata};
use prost::Message as _;
use tokio::sync::oneshot;

use crate::error::RequestError;

/// Where the answer to a publish goes: an entry id, [`super::DUPLICATE_ENTRY`], or an error.
pub type PublishReply = oneshot::Sender<Result<u64, RequestError>>;

/// What to do with a SEND.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Store it; the producer's highest sequence id becomes `highest`.
    Store {
        /// The highest sequence id the entry covers.
        highest: i64,
    },
    /// A duplicate of something durable: answer it now without storing.
    Duplicate,
    /// A duplicate of something still being written: answer it when that write settles.
    Wait,
}

/// A SEND waiting for the write of the entry it duplicates.
#[derive(Debug)]
struct Waiter {
    producer: String,
    sequence_id: i64,
    reply: PublishReply,
}

/// The deduplication state of one topic.
#[derive(Debug, Default)]
pub struct Dedup {
    enabled: bool,
    /// Producer name -> highest sequence id handed to storage.
    pushed: HashMap<String, i64>,
    /// Producer name -> highest sequence id durable.
    persisted: HashMap<String, i64>,
    /// In-flight entry id -> (producer name, highest sequence id).
    in_flight: BTreeMap<u64, (String, i64)>,
    waiters: Vec<Waiter>,
}

impl Dedup {
    /// Whether SENDs are checked.
    pub fn enabled(&self) -> bool {
        self.enabled
    }

    /// Turns checking on or off; returns true when it was turned off (the stored records
    /// should then be cleared, as Pulsar drops its dedup cursor).
    pub fn set_enabled(&mut self, enabled: bool) -> bool {
        let turned_off = self.enabled && !enabled;
        self.enabled = enabled;
        if turned_off {
            self.pushed.clear();
            self.persisted.clear();
            self.in_flight.clear();
            self.fail_waiters(|_| true);
        }
        turned_off
    }

    /// Starts from what storage holds (on load and after a write failure).
    pub fn restore(&mut self, stored: BTreeMap<String, i64>) {
        self.in_flight.clear();
        self.fail_waiters(|_| true);
        self.persisted = stored.into_iter().collect();
        self.pushed = self.persisted.clone();
    }

    /// The producer's highest sequence id handed to storage (-1: none), for
    /// PRODUCER_SUCCESS's `last_sequence_id`.
    pub fn last_sequence_id(&self, producer: &str) -> i64 {
        if !self.enabled {
            return -1;
        }
        self.pushed.get(producer).copied().unwrap_or(-1)
    }

    /// Checks a SEND of `producer` covering sequence ids `lowest..=highest`.
    pub fn check(&self, producer: &str, lowest: i64, highest: i64) -> Verdict {
        if !self.enabled {
            return Verdict::Store {
                highest: highest.max(lowest),
            };
        }
        match self.pushed.get(producer) {
            Some(&pushed) if lowest <= pushed => {
                if self.persisted.get(producer).is_some_and(|&p| lowest <= p) {
                    Verdict::Duplicate
                } else {
                    Verdict::Wait
                }
            }
            _ => Verdict::Store {
                highest: highest.max(lowest),
            },
        }
    }

    /// Records that `entry_id` was handed to storage for `producer` up to `highest`.
    pub fn on_stored(&mut self, entry_id: u64, producer: &str, highest: i64) {
        if !self.enabled {
            return;
        }
        self.pushed.insert(producer.to_owned(), highest);
        self.in_flight
            .insert(entry_id, (producer.to_owned(), highest));
    }

    /// Parks a SEND until the write it duplicates settles.
    pub fn wait(&mut self, producer: &str, sequence_id: i64, reply: PublishReply) {
        self.waiters.push(Waiter {
            producer: producer.to_owned(),
            sequence_id,
            reply,
        });
    }

    /// Records that `entry_id` is durable and answers the SENDs that waited for it.
    pub fn on_durable(&mut self, entry_id: u64) {
        let Some((producer, highest)) = self.in_flight.remove(&entry_id) else {
            return;
        };
        let persisted = self.persisted.entry(producer.clone()).or_insert(highest);
        *persisted = (*persisted).max(highest);
        let durable = *persisted;
        let (ready, waiting) = std::mem::take(&mut self.waiters)
            .into_iter()
            .partition(|w| w.producer == producer && w.sequence_id <= durable);
        self.waiters = waiting;
        for waiter in ready {
            let _ = waiter.reply.send(Ok(super::DUPLICATE_ENTRY));
        }
    }

    /// Records that writing `entry_id` failed: its producer falls back to what is durable and
    /// the SENDs waiting on it are refused (retryable; the client sends them again).
    pub fn on_failed(&mut self, entry_id: u64) {
        let Some((producer, _)) = self.in_flight.remove(&entry_id) else {
            return;
        };
        let still_writing = self.in_flight.values().any(|(p, _)| *p == producer);
        if !still_writing {
            match self.persisted.get(&producer) {
                Some(&p) => self.pushed.insert(producer.clone(), p),
                None => self.pushed.remove(&producer),
            };
            self.fail_waiters(|w| w.producer == producer);
        }
    }

    fn fail_waiters(&mut self, which: impl Fn(&Waiter) -> bool) {
        let (failed, kept) = std::mem::take(&mut self.waiters)
            .into_iter()
            .partition(|w| which(w));
        self.waiters = kept;
        for waiter in failed {
            let _ = waiter.reply.send(Err(RequestError::unavailable(
                "the deduplicated entry's write",
            )));
        }
    }
}

/// The sequence id of the last message of a batch (`[metadataSize][metadata][body]`), when its
/// messages carry their own ids. The C++ client (and Python) numbers batched messages one by
/// one but sends only the first id (its `Commands::newSend` sets no `highest_sequence_id`), so this is
/// the highest id such a batch covers; pulsar-rs gives one id per batch and none inside. A
/// compressed batch is decompressed when its body is at most `limit` bytes (the broker's max
/// message size); `None` for an encrypted, oversized or corrupt one.
pub fn last_batch_sequence(data: &Bytes, num_messages: u32, limit: usize) -> Option<i64> {
    let size = usize::try_from(u32::from_be_bytes(*data.first_chunk::<4>()?)).ok()?;
    let end = size.checked_add(4)?;
    let metadata = MessageMetadata::decode(data.get(4..end)?).ok()?;
    if !metadata.encryption_keys.is_empty() {
        return None;
    }
    let body = decompress_body(&metadata, &data.slice(end..), limit).ok()?;
    let messages = parse_batch(&body, usize::try_from(num_messages).ok()?).ok()?;
    let last = messages.last()?.metadata.sequence_id?;
    i64::try_from(last).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enabled() -> Dedup {
        let mut d = Dedup::default();
        d.set_enabled(true);
        d
    }

    #[test]
    fn durable_ids_are_duplicates_and_in_flight_ones_wait() {
        let mut d = enabled();
        assert_eq!(d.check("p", 0, 0), Verdict::Store { highest: 0 });
        d.on_stored(10, "p", 0);
        assert_eq!(d.check("p", 0, 0), Verdict::Wait);
        assert_eq!(d.check("p", 1, 4), Verdict::Store { highest: 4 });
        d.on_stored(11, "p", 4);
        assert_eq!(d.last_sequence_id("p"), 4);
        let (tx, mut rx) = oneshot::channel();
        d.wait("p", 3, tx);
        d.on_durable(10);
        assert!(
            rx.try_recv().is_err(),
            "3 is covered by entry 11, still in flight"
        );
        d.on_durable(11);
        assert_eq!(
            rx.try_recv().unwrap().unwrap(),
            crate::topic::DUPLICATE_ENTRY
        );
        assert_eq!(d.check("p", 2, 2), Verdict::Duplicate);
        assert_eq!(
            d.check("q", 0, 0),
            Verdict::Store { highest: 0 },
            "per producer"
        );
    }

    const LIMIT: usize = 1 << 20;

    #[test]
    fn the_last_id_of_an_uncompressed_batch_is_read() {
        use geminga_protocol::{batch::encode_batch, frame::Payload, proto::SingleMessageMetadata};
        let single = |id: Option<u64>| SingleMessageMetadata {
            sequence_id: id,
            ..Default::default()
        };
        let body = encode_batch(&[(single(Some(4)), b"a"), (single(Some(6)), b"b")]);
        let mut metadata = MessageMetadata {
            num_messages_in_batch: Some(2),
            ..Default::default()
        };
        let data = Payload::new(&metadata, &body).data;
        assert_eq!(last_batch_sequence(&data, 2, LIMIT), Some(6));
        let keyless = encode_batch(&[(single(None), b"a"), (single(None), b"b")]);
        assert_eq!(
            last_batch_sequence(&Payload::new(&metadata, &keyless).data, 2, LIMIT),
            None
        );
        metadata.compression = Some(1);
        assert_eq!(
            last_batch_sequence(&Payload::new(&metadata, &body).data, 2, LIMIT),
            None,
            "a body that is not LZ4 is not read"
        );
        assert_eq!(
            last_batch_sequence(&Bytes::from_static(b"\0\0"), 2, LIMIT),
            None
        );
    }

    #[test]
    fn the_last_id_of_a_compressed_batch_is_read() {
        use geminga_protocol::{
            batch::encode_batch,
            compression::compress,
            frame::Payload,
            proto::{CompressionType, SingleMessageMetadata},
        };
        let single = |id: u64| SingleMessageMetadata {
            sequence_id: Some(id),
            ..Default::default()
        };
        let body = encode_batch(&[(single(10), b"a"), (single(11), b"b"), (single(12), b"c")]);
        for codec in [
            CompressionType::Lz4,
            CompressionType::Zlib,
            CompressionType::Zstd,
            CompressionType::Snappy,
        ] {
            let metadata = MessageMetadata {
                num_messages_in_batch: Some(3),
                compression: Some(codec as i32),
                uncompressed_size: Some(u32::try_from(body.len()).unwrap()),
                ..Default::default()
            };
            let data = Payload::new(&metadata, &compress(codec, &body).unwrap()).data;
            assert_eq!(last_batch_sequence(&data, 3, LIMIT), Some(12), "{codec:?}");
            assert_eq!(
                last_batch_sequence(&data, 3, body.len() - 1),
                None,
                "{codec:?}: above the limit it is not opened"
            );
        }
    }

    #[test]
    fn a_failed_write_rolls_back_and_refuses_its_waiters() {
        let mut d = enabled();
        d.on_stored(0, "p", 5);
        let (tx, mut rx) = oneshot::channel();
        d.wait("p", 5, tx);
        d.on_failed(0);
        assert!(rx.try_recv().unwrap().is_err());
        assert_eq!(d.check("p", 5, 5), Verdict::Store { highest: 5 });
        assert_eq!(d.last_sequence_id("p"), -1);
    }

    #[test]
    fn restored_state_and_switching_off() {
        let mut d = enabled();
        d.restore(BTreeMap::from([("p".to_owned(), 7)]));
        assert_eq!(d.last_sequence_id("p"), 7);
        assert_eq!(d.check("p", 7, 7), Verdict::Duplicate);
        assert!(d.set_enabled(false));
        assert_eq!(d.check("p", 7, 7), Verdict::Store { highest: 7 });
        assert_eq!(d.last_sequence_id("p"), -1);
        assert!(!d.set_enabled(true));
        assert_eq!(d.check("p", 0, 0), Verdict::Store { highest: 0 });
    }
}
