//! Accumulates a producer's messages into one batch entry until a size, count or time limit.

use std::time::{Duration, Instant};

use bytes::Bytes;
use geminga_protocol::batch::encode_batch;
use geminga_protocol::proto::{KeyValue, SingleMessageMetadata};

use super::producer::OutgoingMessage;
use super::router::ReceiptTx;

/// When a producer closes its current batch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BatchingOptions {
    /// Most messages per batch.
    pub max_messages: usize,
    /// Most payload bytes per batch (a single larger message still goes alone).
    pub max_bytes: usize,
    /// Longest the first message of a batch waits for company.
    pub max_delay: Duration,
}

impl Default for BatchingOptions {
    /// The `pulsar-perf` defaults: 1000 messages, 128 KiB, 1 ms.
    fn default() -> Self {
        BatchingOptions {
            max_messages: 1000,
            max_bytes: 128 * 1024,
            max_delay: Duration::from_millis(1),
        }
    }
}

/// Messages waiting to become one SEND.
#[derive(Default)]
pub(crate) struct Batcher {
    entries: Vec<(SingleMessageMetadata, Bytes)>,
    waiters: Vec<ReceiptTx>,
    first_sequence_id: u64,
    payload_bytes: usize,
    /// When the first message arrived, for the time limit.
    started: Option<Instant>,
    /// Wall-clock ms of the first message, used as the batch's publish time.
    publish_time_ms: u64,
}

/// A closed batch, ready to be framed.
pub(crate) struct ClosedBatch {
    /// Sequence id of the first message; the SEND and its receipt carry it.
    pub(crate) first_sequence_id: u64,
    /// Number of messages.
    pub(crate) count: usize,
    /// The encoded batch body (`[size][SingleMessageMetadata][payload]` per message).
    pub(crate) body: Bytes,
    /// Receipt waiters in batch order.
    pub(crate) waiters: Vec<ReceiptTx>,
    /// Publish time for the outer metadata.
    pub(crate) publish_time_ms: u64,
}

impl Batcher {
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Whether adding `payload_len` more bytes would pass the byte limit, so the current batch
    /// should go first.
    pub(crate) fn would_overflow(&self, payload_len: usize, options: &BatchingOptions) -> bool {
        !self.is_empty() && self.payload_bytes.saturating_add(payload_len) > options.max_bytes
    }

    /// Whether a count or byte limit is reached.
    pub(crate) fn is_full(&self, options: &BatchingOptions) -> bool {
        self.len() >= options.max_messages || self.payload_bytes >= options.max_bytes
    }

    /// Whether the oldest message has waited `max_delay`.
    pub(crate) fn is_due(&self, now: Instant, max_delay: Duration) -> bool {
        self.started
            .is_some_and(|started| now.saturating_duration_since(started) >= max_delay)
    }

    /// When the open batch is due (its first message plus `max_delay`); `None` when empty.
    pub(crate) fn due_at(&self, max_delay: Duration) -> Option<Instant> {
        self.started.map(|started| started + max_delay)
    }

    /// Adds a message; `now_ms` is the wall clock, used if this message opens the batch.
    pub(crate) fn push(
        &mut self,
        sequence_id: u64,
        message: OutgoingMessage,
        waiter: ReceiptTx,
        now_ms: u64,
    ) {
        if self.entries.is_empty() {
            self.first_sequence_id = sequence_id;
            self.started = Some(Instant::now());
            self.publish_time_ms = now_ms;
        }
        let metadata = SingleMessageMetadata {
            properties: message
                .properties
                .into_iter()
                .map(|(key, value)| KeyValue { key, value })
                .collect(),
            partition_key: message.key,
            payload_size: i32::try_from(message.payload.len()).unwrap_or(i32::MAX),
            event_time: message.event_time,
            sequence_id: Some(sequence_id),
            ..Default::default()
        };
        self.payload_bytes = self.payload_bytes.saturating_add(message.payload.len());
        self.entries.push((metadata, message.payload));
        self.waiters.push(waiter);
    }

    /// Closes the batch, leaving the batcher empty; `None` when there is nothing to send.
    pub(crate) fn take(&mut self) -> Option<ClosedBatch> {
        if self.entries.is_empty() {
            return None;
        }
        let entries = std::mem::take(&mut self.entries);
        let pairs: Vec<(SingleMessageMetadata, &[u8])> = entries
            .iter()
            .map(|(metadata, payload)| (metadata.clone(), payload.as_ref()))
            .collect();
        let body = encode_batch(&pairs);
        self.payload_bytes = 0;
        self.started = None;
        Some(ClosedBatch {
            first_sequence_id: self.first_sequence_id,
            count: entries.len(),
            body,
            waiters: std::mem::take(&mut self.waiters),
            publish_time_ms: self.publish_time_ms,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use geminga_protocol::batch::parse_batch;
    use tokio::sync::oneshot;

    fn message(payload: &'static [u8]) -> OutgoingMessage {
        OutgoingMessage::from(payload)
    }

    #[test]
    fn closed_batch_round_trips_through_parse_batch() {
        let mut batcher = Batcher::default();
        let mut keyed = message(b"second");
        keyed.key = Some("k".to_owned());
        keyed.properties = vec![("p".to_owned(), "v".to_owned())];
        batcher.push(7, message(b"first"), oneshot::channel().0, 1000);
        batcher.push(8, keyed, oneshot::channel().0, 2000);
        let batch = batcher.take().unwrap();
        assert!(batcher.is_empty() && batcher.take().is_none());
        assert_eq!((batch.first_sequence_id, batch.count), (7, 2));
        assert_eq!(batch.waiters.len(), 2);
        assert_eq!(
            batch.publish_time_ms, 1000,
            "publish time is the first message's"
        );

        let parsed = parse_batch(&batch.body, 2).unwrap();
        assert_eq!(parsed[0].payload.as_ref(), b"first");
        assert_eq!(parsed[0].metadata.sequence_id, Some(7));
        assert_eq!(parsed[1].payload.as_ref(), b"second");
        assert_eq!(parsed[1].metadata.partition_key.as_deref(), Some("k"));
        assert_eq!(parsed[1].metadata.payload_size, 6);
        assert_eq!(parsed[1].metadata.properties[0].key, "p");
    }

    #[test]
    fn limits_close_the_batch() {
        let options = BatchingOptions {
            max_messages: 3,
            max_bytes: 10,
            max_delay: Duration::from_millis(5),
        };
        let mut batcher = Batcher::default();
        assert!(
            !batcher.would_overflow(100, &options),
            "an empty batch takes anything"
        );
        assert!(!batcher.is_due(Instant::now(), options.max_delay));
        batcher.push(0, message(b"abcd"), oneshot::channel().0, 0);
        assert!(!batcher.is_full(&options));
        assert!(batcher.would_overflow(7, &options));
        assert!(!batcher.would_overflow(6, &options));
        batcher.push(1, message(b"ab"), oneshot::channel().0, 0);
        batcher.push(2, message(b"a"), oneshot::channel().0, 0);
        assert!(
            batcher.is_full(&options),
            "three messages reach max_messages"
        );

        let mut bytes = Batcher::default();
        bytes.push(0, message(b"0123456789"), oneshot::channel().0, 0);
        assert!(bytes.is_full(&options), "ten bytes reach max_bytes");

        let later = Instant::now() + Duration::from_millis(5);
        assert!(bytes.is_due(later, options.max_delay));
    }
}
