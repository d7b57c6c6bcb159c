//! Producer: pipelined sends, each resolving on its SEND_RECEIPT, with optional batching.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Weak};
use std::task::{Context, Poll};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use geminga_protocol::frame::{Frame, Payload};
use geminga_protocol::message_id::MessageId;
use geminga_protocol::proto::{
    CommandCloseProducer, CommandProducer, CommandSend, KeyValue, MessageMetadata,
};
use tokio::sync::{oneshot, Mutex, Notify};

use super::batcher::{Batcher, BatchingOptions, ClosedBatch};
use super::connection::{type_name, Connection};
use super::router::PendingSend;
use super::ClientError;

/// How to create a producer.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProducerOptions {
    /// Producer name; the broker generates one when `None`.
    pub name: Option<String>,
    /// Batch messages into one entry; `None` sends each message alone.
    pub batching: Option<BatchingOptions>,
}

/// One message to publish.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OutgoingMessage {
    /// The message body.
    pub payload: Bytes,
    /// Partition key (routing and Key_Shared).
    pub key: Option<String>,
    /// User properties.
    pub properties: Vec<(String, String)>,
    /// Application event time, epoch ms.
    pub event_time: Option<u64>,
    /// An explicit sequence id (deduplication: a publisher derives it from its own position,
    /// so a resend after a crash carries the same id); `None` takes the producer's next one.
    /// Ids must grow per producer; later automatic ids continue after the highest given.
    /// A batching producer sends the batch under its first message's id.
    pub sequence_id: Option<u64>,
}

impl From<Bytes> for OutgoingMessage {
    fn from(payload: Bytes) -> Self {
        OutgoingMessage {
            payload,
            ..Default::default()
        }
    }
}

impl From<Vec<u8>> for OutgoingMessage {
    fn from(payload: Vec<u8>) -> Self {
        Bytes::from(payload).into()
    }
}

impl From<&'static [u8]> for OutgoingMessage {
    fn from(payload: &'static [u8]) -> Self {
        Bytes::from_static(payload).into()
    }
}

impl From<&str> for OutgoingMessage {
    fn from(payload: &str) -> Self {
        Bytes::copy_from_slice(payload.as_bytes()).into()
    }
}

/// The broker's acknowledgement of one stored message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SendReceipt {
    /// Where the message is stored; `batch_index` is its position in a batch, else -1.
    pub message_id: MessageId,
    /// The SEND's sequence id (the first one of a batch).
    pub sequence_id: u64,
}

/// Resolves when the broker has stored the message (SEND_RECEIPT) or refused it.
#[derive(Debug)]
#[must_use = "a send is only confirmed once its future resolves"]
pub struct SendFuture {
    rx: oneshot::Receiver<Result<SendReceipt, ClientError>>,
}

impl Future for SendFuture {
    type Output = Result<SendReceipt, ClientError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Pin::new(&mut self.rx).poll(cx).map(|result| {
            result.unwrap_or_else(|_| {
                Err(ClientError::disconnected(
                    "send abandoned: its producer or connection was dropped",
                ))
            })
        })
    }
}

/// A producer on one topic. Clones share the producer; sends from clones are ordered by the
/// order in which they take the producer's lock.
#[derive(Clone, Debug)]
pub struct Producer {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    conn: Connection,
    producer_id: u64,
    topic: String,
    name: String,
    last_sequence_id: Option<u64>,
    batching: Option<BatchingOptions>,
    /// Held while a SEND is queued so SENDs leave in sequence-id order.
    state: Mutex<State>,
    /// Wakes the flush timer when a batch opens (and when the producer is gone).
    batch_opened: Arc<Notify>,
}

impl Drop for Shared {
    fn drop(&mut self) {
        // The flush timer waiting for a batch ends when it finds the producer gone.
        self.batch_opened.notify_one();
    }
}

#[derive(Debug, Default)]
struct State {
    next_sequence_id: u64,
    batch: Batcher,
    closed: bool,
}

impl std::fmt::Debug for Batcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Batcher").field("len", &self.len()).finish()
    }
}

/// Wall-clock epoch milliseconds, for `publish_time`.
pub(crate) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

impl Producer {
    /// Sends PRODUCER on `conn` and waits for PRODUCER_SUCCESS.
    pub(crate) async fn create(
        conn: Connection,
        topic: &str,
        options: ProducerOptions,
    ) -> Result<Producer, ClientError> {
        let producer_id = conn.next_id();
        let request_id = conn.next_id();
        let command = CommandProducer {
            topic: topic.to_owned(),
            producer_id,
            request_id,
            producer_name: options.name.clone(),
            ..Default::default()
        };
        let response = conn.request("create producer", request_id, command).await?;
        let Some(success) = response.producer_success else {
            return Err(ClientError::UnexpectedResponse {
                operation: "create producer",
                got: type_name(&response),
            });
        };
        // Continue after the last id the broker has seen (-1, the default, means none).
        let last_sequence_id = success
            .last_sequence_id
            .and_then(|last| u64::try_from(last).ok());
        let next_sequence_id = last_sequence_id.map_or(0, |last| last.saturating_add(1));
        // A batch must still fit the broker's limit; leave room for the per-message headers.
        let max_batch_bytes = (conn.max_message_size() / 10 * 9).max(1);
        let batching = options.batching.map(|batching| BatchingOptions {
            max_bytes: batching.max_bytes.min(max_batch_bytes),
            ..batching
        });
        let batch_opened = Arc::new(Notify::new());
        let shared = Arc::new(Shared {
            conn,
            producer_id,
            topic: topic.to_owned(),
            name: success.producer_name,
            last_sequence_id,
            batching,
            state: Mutex::new(State {
                next_sequence_id,
                ..Default::default()
            }),
            batch_opened: batch_opened.clone(),
        });
        if let Some(batching) = batching {
            let timer = flush_on_timer(Arc::downgrade(&shared), batching.max_delay, batch_opened);
            tokio::spawn(timer);
        }
        Ok(Producer { shared })
    }

    /// The producer id on its connection.
    #[must_use]
    pub fn producer_id(&self) -> u64 {
        self.shared.producer_id
    }

    /// The producer name (given or broker-generated).
    #[must_use]
    pub fn name(&self) -> &str {
        &self.shared.name
    }

    /// The highest sequence id the broker had stored for this producer's name when it was
    /// created (PRODUCER_SUCCESS `last_sequence_id`, kept with deduplication); `None` if none.
    #[must_use]
    pub fn last_sequence_id(&self) -> Option<u64> {
        self.shared.last_sequence_id
    }

    /// The topic as given at creation.
    #[must_use]
    pub fn topic(&self) -> &str {
        &self.shared.topic
    }

    /// Queues a message and returns a future for its receipt. Waiting on the returned future is
    /// optional and many sends may be in flight; this call itself only waits for queue space.
    ///
    /// # Errors
    /// [`ClientError::MessageTooLarge`], or a connection error when the producer or connection
    /// is closed.
    pub async fn send(
        &self,
        message: impl Into<OutgoingMessage>,
    ) -> Result<SendFuture, ClientError> {
        let message = message.into();
        let max = self.shared.conn.max_message_size();
        if message.payload.len() > max {
            return Err(ClientError::MessageTooLarge {
                size: message.payload.len(),
                max,
            });
        }
        let (tx, rx) = oneshot::channel();
        let mut state = self.shared.state.lock().await;
        if state.closed {
            return Err(ClientError::ProducerAlreadyClosed {
                producer_id: self.shared.producer_id,
            });
        }
        let sequence_id = message.sequence_id.unwrap_or(state.next_sequence_id);
        state.next_sequence_id = state.next_sequence_id.max(sequence_id.wrapping_add(1));
        match &self.shared.batching {
            None => self.shared.send_single(sequence_id, message, tx).await?,
            Some(batching) => {
                if state.batch.would_overflow(message.payload.len(), batching) {
                    self.shared.flush(&mut state).await?;
                }
                state.batch.push(sequence_id, message, tx, now_ms());
                if state.batch.len() == 1 {
                    self.shared.batch_opened.notify_one();
                }
                if state.batch.is_full(batching) {
                    self.shared.flush(&mut state).await?;
                }
            }
        }
        Ok(SendFuture { rx })
    }

    /// Sends the current batch now instead of waiting for a limit.
    ///
    /// # Errors
    /// A connection error when the batch cannot be queued; its futures fail too.
    pub async fn flush(&self) -> Result<(), ClientError> {
        let mut state = self.shared.state.lock().await;
        self.shared.flush(&mut state).await
    }

    /// Flushes, then closes the producer on the broker (CLOSE_PRODUCER → SUCCESS). Receipts of
    /// messages already sent still arrive.
    ///
    /// # Errors
    /// A connection error, or [`ClientError::Server`] if the broker refuses.
    pub async fn close(&self) -> Result<(), ClientError> {
        {
            let mut state = self.shared.state.lock().await;
            if state.closed {
                return Ok(());
            }
            self.shared.flush(&mut state).await?;
            state.closed = true;
        }
        let conn = &self.shared.conn;
        let request_id = conn.next_id();
        let command = CommandCloseProducer {
            producer_id: self.shared.producer_id,
            request_id,
            ..Default::default()
        };
        conn.request("close producer", request_id, command).await?;
        Ok(())
    }
}

impl Shared {
    async fn send_single(
        &self,
        sequence_id: u64,
        message: OutgoingMessage,
        waiter: super::router::ReceiptTx,
    ) -> Result<(), ClientError> {
        let metadata = MessageMetadata {
            producer_name: self.name.clone(),
            sequence_id,
            publish_time: now_ms(),
            properties: message
                .properties
                .into_iter()
                .map(|(key, value)| KeyValue { key, value })
                .collect(),
            partition_key: message.key,
            event_time: message.event_time,
            ..Default::default()
        };
        let frame = self.frame(sequence_id, None, &metadata, &message.payload)?;
        let pending = PendingSend {
            batched: false,
            waiters: vec![waiter],
        };
        self.conn
            .send_payload(self.producer_id, sequence_id, frame, pending)
            .await
    }

    /// Sends the open batch, if any. The caller holds the state lock.
    async fn flush(&self, state: &mut State) -> Result<(), ClientError> {
        let Some(batch) = state.batch.take() else {
            return Ok(());
        };
        let ClosedBatch {
            first_sequence_id,
            count,
            body,
            waiters,
            publish_time_ms,
        } = batch;
        let count_i32 = i32::try_from(count).unwrap_or(i32::MAX);
        let metadata = MessageMetadata {
            producer_name: self.name.clone(),
            sequence_id: first_sequence_id,
            publish_time: publish_time_ms,
            num_messages_in_batch: Some(count_i32),
            uncompressed_size: Some(u32::try_from(body.len()).unwrap_or(u32::MAX)),
            ..Default::default()
        };
        let frame = match self.frame(first_sequence_id, Some(count_i32), &metadata, &body) {
            Ok(frame) => frame,
            Err(error) => {
                // Tell every message of the batch why it failed, not just this caller.
                if let ClientError::MessageTooLarge { size, max } = error {
                    for waiter in waiters {
                        let _ = waiter.send(Err(ClientError::MessageTooLarge { size, max }));
                    }
                }
                return Err(error);
            }
        };
        let pending = PendingSend {
            batched: true,
            waiters,
        };
        self.conn
            .send_payload(self.producer_id, first_sequence_id, frame, pending)
            .await
    }

    fn frame(
        &self,
        sequence_id: u64,
        num_messages: Option<i32>,
        metadata: &MessageMetadata,
        body: &[u8],
    ) -> Result<Frame, ClientError> {
        let payload = Payload::new(metadata, body);
        let max = self.conn.max_message_size();
        if payload.data.len() > max {
            return Err(ClientError::MessageTooLarge {
                size: payload.data.len(),
                max,
            });
        }
        let send = CommandSend {
            producer_id: self.producer_id,
            sequence_id,
            num_messages,
            ..Default::default()
        };
        Ok(Frame::with_payload(send, payload))
    }
}

/// Sends a batch once its first message has waited `max_delay`; ends once the producer is
/// dropped. It sleeps until the open batch is due, or until a batch opens: a timer ticking
/// every `max_delay` woke each idle producer 1,000 times a second (1M wake-ups a second for
/// `perf produce` on 1,000 topics).
async fn flush_on_timer(producer: Weak<Shared>, max_delay: Duration, opened: Arc<Notify>) {
    // Waking sooner than 100 us after a batch opens costs more than it saves.
    let max_delay = max_delay.max(Duration::from_micros(100));
    loop {
        let due = {
            let Some(shared) = producer.upgrade() else {
                return;
            };
            let mut state = shared.state.lock().await;
            if state.batch.is_due(Instant::now(), max_delay) {
                // A failure is reported to the batch's send futures; nothing else to do.
                let _ = shared.flush(&mut state).await;
                continue;
            }
            state.batch.due_at(max_delay)
        };
        match due {
            // A batch opened since the lock was released left a permit: no wake-up is lost.
            None => opened.notified().await,
            Some(at) => tokio::time::sleep_until(tokio::time::Instant::from_std(at)).await,
        }
    }
}
