//! Per-connection routing table and the reader task that fills it: responses go to the waiting
//! request (by request id), receipts to the waiting sends (by producer and sequence id), and
//! MESSAGEs and broker notices to the consumer (by consumer id).

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use futures_util::StreamExt;
use geminga_protocol::codec::PulsarCodec;
use geminga_protocol::frame::{Frame, Payload};
use geminga_protocol::message_id::MessageId;
use geminga_protocol::proto::{
    base_command::Type, BaseCommand, CommandMessage, CommandPong, CommandSendError,
    CommandSendReceipt,
};
use tokio::net::tcp::OwnedReadHalf;
use tokio::sync::{mpsc, oneshot};
use tokio_util::codec::FramedRead;

use super::error::server_error;
use super::producer::SendReceipt;
use super::ClientError;

/// Where a request's response goes.
pub(crate) type ResponseTx = oneshot::Sender<Result<BaseCommand, ClientError>>;
/// Where one message's receipt goes.
pub(crate) type ReceiptTx = oneshot::Sender<Result<SendReceipt, ClientError>>;

/// The receipts awaited for one SEND: one per message, several for a batch.
pub(crate) struct PendingSend {
    /// Whether the SEND was a batch, so each message gets its batch index in its id.
    pub(crate) batched: bool,
    /// One waiter per message, in batch order.
    pub(crate) waiters: Vec<ReceiptTx>,
}

/// What the broker pushes to one consumer.
#[derive(Debug)]
pub(crate) enum ConsumerEvent {
    /// A MESSAGE and its payload.
    Message(CommandMessage, Option<Payload>),
    /// ACTIVE_CONSUMER_CHANGE (Failover).
    ActiveChanged(bool),
    /// CLOSE_CONSUMER from the broker.
    Closed,
    /// REACHED_END_OF_TOPIC.
    EndOfTopic,
}

/// Everything awaiting an answer on one connection.
#[derive(Default)]
pub(crate) struct Routes {
    /// Set once the connection is gone; later registrations fail at once with this reason.
    closed: Option<String>,
    requests: HashMap<u64, ResponseTx>,
    sends: HashMap<(u64, u64), PendingSend>,
    /// Producers the broker closed; their further sends fail at once.
    closed_producers: HashSet<u64>,
    consumers: HashMap<u64, mpsc::UnboundedSender<ConsumerEvent>>,
}

/// The routing table, shared by the reader task and the handles that register in it.
pub(crate) type SharedRoutes = Arc<Mutex<Routes>>;

/// Locks the table; a poisoned lock is still usable because every update is a single map
/// operation that cannot leave it half-done.
pub(crate) fn lock(routes: &SharedRoutes) -> MutexGuard<'_, Routes> {
    routes.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Routes {
    fn check_open(&self) -> Result<(), ClientError> {
        match &self.closed {
            Some(reason) => Err(ClientError::disconnected(reason.clone())),
            None => Ok(()),
        }
    }

    /// Registers a request before it is written, so its response cannot race the registration.
    pub(crate) fn add_request(
        &mut self,
        request_id: u64,
        tx: ResponseTx,
    ) -> Result<(), ClientError> {
        self.check_open()?;
        self.requests.insert(request_id, tx);
        Ok(())
    }

    /// Forgets a request that timed out or could not be written.
    pub(crate) fn remove_request(&mut self, request_id: u64) {
        self.requests.remove(&request_id);
    }

    /// Registers the waiters of a SEND before it is written.
    pub(crate) fn add_send(
        &mut self,
        producer_id: u64,
        sequence_id: u64,
        pending: PendingSend,
    ) -> Result<(), ClientError> {
        self.check_open()?;
        if self.closed_producers.contains(&producer_id) {
            return Err(ClientError::ProducerClosed { producer_id });
        }
        self.sends.insert((producer_id, sequence_id), pending);
        Ok(())
    }

    /// Fails a SEND that could not be written.
    pub(crate) fn fail_send(&mut self, producer_id: u64, sequence_id: u64, error: &ClientError) {
        if let Some(pending) = self.sends.remove(&(producer_id, sequence_id)) {
            for waiter in pending.waiters {
                let _ = waiter.send(Err(ClientError::disconnected(error.to_string())));
            }
        }
    }

    /// Registers a consumer's event channel before SUBSCRIBE is written.
    pub(crate) fn add_consumer(
        &mut self,
        consumer_id: u64,
        tx: mpsc::UnboundedSender<ConsumerEvent>,
    ) -> Result<(), ClientError> {
        self.check_open()?;
        self.consumers.insert(consumer_id, tx);
        Ok(())
    }

    /// Stops routing to a consumer.
    pub(crate) fn remove_consumer(&mut self, consumer_id: u64) {
        self.consumers.remove(&consumer_id);
    }

    /// Whether the connection has ended.
    pub(crate) fn is_closed(&self) -> bool {
        self.closed.is_some()
    }

    /// Marks the connection dead and fails everything still waiting on it. Consumers see their
    /// channel close.
    pub(crate) fn close(&mut self, reason: &str) {
        if self.closed.is_some() {
            return;
        }
        self.closed = Some(reason.to_owned());
        for (_, tx) in self.requests.drain() {
            let _ = tx.send(Err(ClientError::disconnected(reason)));
        }
        for (_, pending) in self.sends.drain() {
            for waiter in pending.waiters {
                let _ = waiter.send(Err(ClientError::disconnected(reason)));
            }
        }
        self.consumers.clear();
    }

    fn on_receipt(&mut self, receipt: &CommandSendReceipt) {
        let key = (receipt.producer_id, receipt.sequence_id);
        let Some(pending) = self.sends.remove(&key) else {
            tracing::debug!(
                producer_id = key.0,
                sequence_id = key.1,
                "receipt for unknown send"
            );
            return;
        };
        let (ledger_id, entry_id, partition) = receipt
            .message_id
            .as_ref()
            .map_or((u64::MAX, u64::MAX, -1), |id| {
                (id.ledger_id, id.entry_id, id.partition.unwrap_or(-1))
            });
        for (index, waiter) in pending.waiters.into_iter().enumerate() {
            let batch_index = if pending.batched {
                i32::try_from(index).unwrap_or(i32::MAX)
            } else {
                -1
            };
            let message_id = MessageId {
                ledger_id,
                entry_id,
                partition,
                batch_index,
            };
            let _ = waiter.send(Ok(SendReceipt {
                message_id,
                sequence_id: receipt.sequence_id,
            }));
        }
    }

    fn on_send_error(&mut self, err: CommandSendError) {
        if let Some(pending) = self.sends.remove(&(err.producer_id, err.sequence_id)) {
            for waiter in pending.waiters {
                let _ = waiter.send(Err(ClientError::SendFailed {
                    producer_id: err.producer_id,
                    sequence_id: err.sequence_id,
                    error: server_error(err.error),
                    message: err.message.clone(),
                }));
            }
        }
    }

    /// The broker closed a producer: its pending sends will never get receipts.
    fn on_producer_closed(&mut self, producer_id: u64) {
        self.closed_producers.insert(producer_id);
        let keys: Vec<(u64, u64)> = self
            .sends
            .keys()
            .filter(|(pid, _)| *pid == producer_id)
            .copied()
            .collect();
        for key in keys {
            if let Some(pending) = self.sends.remove(&key) {
                for waiter in pending.waiters {
                    let _ = waiter.send(Err(ClientError::ProducerClosed { producer_id }));
                }
            }
        }
    }

    fn deliver_to_consumer(&mut self, consumer_id: u64, event: ConsumerEvent) {
        let last = matches!(event, ConsumerEvent::Closed);
        match self.consumers.get(&consumer_id) {
            Some(tx) => {
                let _ = tx.send(event);
            }
            None => tracing::debug!(consumer_id, "event for unknown consumer"),
        }
        if last {
            self.consumers.remove(&consumer_id);
        }
    }

    fn answer_request(&mut self, request_id: u64, command: BaseCommand) {
        match self.requests.remove(&request_id) {
            Some(tx) => {
                let _ = tx.send(Ok(command));
            }
            None => tracing::debug!(request_id, ?command, "response to no pending request"),
        }
    }
}

/// Reads frames until the connection ends, routing each one; then fails all waiters.
pub(crate) async fn read_loop(
    mut stream: FramedRead<OwnedReadHalf, PulsarCodec>,
    routes: SharedRoutes,
    writer: mpsc::Sender<Frame>,
) {
    let reason = loop {
        match stream.next().await {
            Some(Ok(frame)) => route(&routes, frame, &writer),
            Some(Err(error)) => break format!("read failed: {error}"),
            None => break "connection closed by the broker".to_owned(),
        }
    };
    tracing::debug!(%reason, "client connection ended");
    lock(&routes).close(&reason);
}

/// Routes one inbound frame.
fn route(routes: &SharedRoutes, frame: Frame, writer: &mpsc::Sender<Frame>) {
    let Frame { command, payload } = frame;
    let mut routes = lock(routes);
    match command.command_type() {
        Some(Type::Ping) => {
            // The writer queue may be full; a detached send keeps the reader from blocking.
            let writer = writer.clone();
            tokio::spawn(async move {
                let _ = writer.send(Frame::new(CommandPong {})).await;
            });
        }
        Some(Type::Pong) => {}
        Some(Type::SendReceipt) => {
            if let Some(receipt) = &command.send_receipt {
                routes.on_receipt(receipt);
            }
        }
        Some(Type::SendError) => {
            if let Some(err) = command.send_error {
                routes.on_send_error(err);
            }
        }
        Some(Type::Message) => {
            if let Some(message) = command.message {
                let consumer_id = message.consumer_id;
                routes.deliver_to_consumer(consumer_id, ConsumerEvent::Message(message, payload));
            }
        }
        Some(Type::ActiveConsumerChange) => {
            if let Some(change) = &command.active_consumer_change {
                let active = ConsumerEvent::ActiveChanged(change.is_active.unwrap_or(false));
                routes.deliver_to_consumer(change.consumer_id, active);
            }
        }
        Some(Type::ReachedEndOfTopic) => {
            if let Some(end) = &command.reached_end_of_topic {
                routes.deliver_to_consumer(end.consumer_id, ConsumerEvent::EndOfTopic);
            }
        }
        Some(Type::CloseConsumer) => {
            if let Some(close) = &command.close_consumer {
                routes.deliver_to_consumer(close.consumer_id, ConsumerEvent::Closed);
            }
        }
        Some(Type::CloseProducer) => {
            if let Some(close) = &command.close_producer {
                routes.on_producer_closed(close.producer_id);
            }
        }
        _ => match response_request_id(&command) {
            Some(request_id) => routes.answer_request(request_id, command),
            None => tracing::debug!(?command, "unroutable command from broker"),
        },
    }
}

/// The request id a response answers, for every response type the client asks for.
fn response_request_id(c: &BaseCommand) -> Option<u64> {
    c.success
        .as_ref()
        .map(|x| x.request_id)
        .or_else(|| c.error.as_ref().map(|x| x.request_id))
        .or_else(|| c.producer_success.as_ref().map(|x| x.request_id))
        .or_else(|| c.lookup_topic_response.as_ref().map(|x| x.request_id))
        .or_else(|| c.partition_metadata_response.as_ref().map(|x| x.request_id))
        .or_else(|| {
            c.get_last_message_id_response
                .as_ref()
                .map(|x| x.request_id)
        })
        .or_else(|| c.ack_response.as_ref().and_then(|x| x.request_id))
}
