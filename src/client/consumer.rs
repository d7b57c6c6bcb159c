//! Consumer: subscribe, grant permits, receive MESSAGEs, acknowledge.

use bytes::Bytes;
use geminga_protocol::batch::{parse_batch, BatchMessage};
use geminga_protocol::frame::{Checksum, Frame, Payload};
use geminga_protocol::message_id::MessageId;
use geminga_protocol::proto::command_ack::AckType;
use geminga_protocol::proto::command_subscribe::{InitialPosition, SubType};
use geminga_protocol::proto::{
    CommandAck, CommandCloseConsumer, CommandFlow, CommandMessage,
    CommandRedeliverUnacknowledgedMessages, CommandSubscribe, CommandUnsubscribe, MessageIdData,
    MessageMetadata,
};
use tokio::sync::mpsc;

use super::router::{lock, ConsumerEvent};
use super::{ClientError, Connection};

/// How to subscribe.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SubscribeOptions {
    /// Subscription name.
    pub subscription: String,
    /// Exclusive, Shared, Failover or Key_Shared.
    pub sub_type: SubType,
    /// Where a new subscription starts.
    pub initial_position: InitialPosition,
    /// Consumer name; the broker sees none when `None`.
    pub consumer_name: Option<String>,
    /// Permits granted at subscribe and kept topped up by `receive`; 0 leaves FLOW entirely to
    /// the caller ([`Consumer::flow`]).
    pub receiver_queue_size: u32,
}

impl SubscribeOptions {
    /// Options for `subscription` with Exclusive type, Latest position and 1000 permits.
    #[must_use]
    pub fn new(subscription: impl Into<String>) -> Self {
        SubscribeOptions {
            subscription: subscription.into(),
            sub_type: SubType::Exclusive,
            initial_position: InitialPosition::Latest,
            consumer_name: None,
            receiver_queue_size: 1000,
        }
    }
}

/// One received entry: a single message, or a whole batch (see [`Message::batch`]).
#[derive(Clone, Debug)]
pub struct Message {
    /// The entry's id (batch index -1).
    pub id: MessageId,
    /// The producer's metadata, as stored.
    pub metadata: MessageMetadata,
    /// The body: the message itself, or the encoded batch.
    pub payload: Bytes,
    /// How often the broker delivered this entry before.
    pub redelivery_count: u32,
}

impl Message {
    /// Messages in this entry: `num_messages_in_batch`, or 1.
    #[must_use]
    pub fn num_messages(&self) -> usize {
        self.metadata
            .num_messages_in_batch
            .and_then(|n| usize::try_from(n).ok())
            .unwrap_or(1)
    }

    /// Whether the entry is a batch; the presence of `num_messages_in_batch` decides, as in
    /// Pulsar's clients.
    #[must_use]
    pub fn is_batch(&self) -> bool {
        self.metadata.num_messages_in_batch.is_some()
    }

    /// Splits a batch entry into its messages (a non-batch entry yields itself).
    ///
    /// # Errors
    /// [`ClientError::Protocol`] when the batch body is malformed (or compressed, which this
    /// client does not decode).
    pub fn batch(&self) -> Result<Vec<BatchMessage>, ClientError> {
        if !self.is_batch() {
            return Ok(vec![BatchMessage {
                metadata: Default::default(),
                payload: self.payload.clone(),
            }]);
        }
        Ok(parse_batch(&self.payload, self.num_messages())?)
    }
}

/// A subscribed consumer. Dropping it stops routing its messages but does not tell the broker;
/// call [`Consumer::close`] for that.
#[derive(Debug)]
pub struct Consumer {
    conn: Connection,
    consumer_id: u64,
    topic: String,
    events: mpsc::UnboundedReceiver<ConsumerEvent>,
    receiver_queue_size: u32,
    /// Messages handed out since the last refill FLOW.
    consumed: u32,
    active: Option<bool>,
}

impl Consumer {
    /// Sends SUBSCRIBE on `conn`, waits for SUCCESS, then grants the initial permits.
    pub(crate) async fn subscribe(
        conn: Connection,
        topic: &str,
        options: SubscribeOptions,
    ) -> Result<Consumer, ClientError> {
        let consumer_id = conn.next_id();
        let request_id = conn.next_id();
        let (tx, events) = mpsc::unbounded_channel();
        lock(conn.routes()).add_consumer(consumer_id, tx)?;
        let mut command = CommandSubscribe {
            topic: topic.to_owned(),
            subscription: options.subscription,
            consumer_id,
            request_id,
            consumer_name: options.consumer_name,
            ..Default::default()
        };
        command.set_sub_type(options.sub_type);
        command.set_initial_position(options.initial_position);
        if let Err(error) = conn.request("subscribe", request_id, command).await {
            lock(conn.routes()).remove_consumer(consumer_id);
            return Err(error);
        }
        let consumer = Consumer {
            conn,
            consumer_id,
            topic: topic.to_owned(),
            events,
            receiver_queue_size: options.receiver_queue_size,
            consumed: 0,
            active: None,
        };
        if consumer.receiver_queue_size > 0 {
            consumer.flow(consumer.receiver_queue_size).await?;
        }
        Ok(consumer)
    }

    /// The consumer id on its connection.
    #[must_use]
    pub fn consumer_id(&self) -> u64 {
        self.consumer_id
    }

    /// The topic as given at subscribe.
    #[must_use]
    pub fn topic(&self) -> &str {
        &self.topic
    }

    /// The last ACTIVE_CONSUMER_CHANGE seen (Failover), if any.
    #[must_use]
    pub fn is_active(&self) -> Option<bool> {
        self.active
    }

    /// Grants the broker `permits` more messages (FLOW).
    ///
    /// # Errors
    /// A connection error.
    pub async fn flow(&self, permits: u32) -> Result<(), ClientError> {
        let flow = CommandFlow {
            consumer_id: self.consumer_id,
            message_permits: permits,
        };
        self.conn.write(Frame::new(flow)).await
    }

    /// Waits for the next message. Permits are topped up (one FLOW) once half the receiver
    /// queue has been handed out. Cancel-safe: dropping the future loses no message or permit.
    ///
    /// # Errors
    /// [`ClientError::ConsumerClosed`] / [`ClientError::EndOfTopic`] when the broker ends the
    /// consumer, [`ClientError::Disconnected`] when the connection is gone, and
    /// [`ClientError::ChecksumMismatch`] / [`ClientError::Protocol`] for one corrupt message
    /// (later messages can still be received).
    pub async fn receive(&mut self) -> Result<Message, ClientError> {
        loop {
            if let Some(permits) = self.due_refill() {
                // The count drops only once the FLOW is queued, so a cancelled send loses nothing.
                self.flow(permits).await?;
                self.consumed -= permits;
            }
            let event = self.events.recv().await;
            if let Some(message) = self.on_event(event)? {
                return Ok(message);
            }
        }
    }

    /// Returns a message if one is already buffered, without waiting.
    ///
    /// # Errors
    /// As [`Consumer::receive`].
    pub fn try_receive(&mut self) -> Result<Option<Message>, ClientError> {
        loop {
            if let Some(permits) = self.due_refill() {
                let flow = CommandFlow {
                    consumer_id: self.consumer_id,
                    message_permits: permits,
                };
                // A full write queue keeps the count for the next attempt.
                if self.conn.try_write(Frame::new(flow))? {
                    self.consumed -= permits;
                }
            }
            let event = match self.events.try_recv() {
                Ok(event) => Some(event),
                Err(mpsc::error::TryRecvError::Empty) => return Ok(None),
                Err(mpsc::error::TryRecvError::Disconnected) => None,
            };
            if let Some(message) = self.on_event(event)? {
                return Ok(Some(message));
            }
        }
    }

    /// Turns one event into a message, an error, or nothing (state changes). Every MESSAGE
    /// counts against the permits, corrupt ones included, because the broker spent them.
    fn on_event(&mut self, event: Option<ConsumerEvent>) -> Result<Option<Message>, ClientError> {
        let consumer_id = self.consumer_id;
        match event {
            None => Err(ClientError::disconnected("the connection is closed")),
            Some(ConsumerEvent::Closed) => Err(ClientError::ConsumerClosed { consumer_id }),
            Some(ConsumerEvent::EndOfTopic) => Err(ClientError::EndOfTopic { consumer_id }),
            Some(ConsumerEvent::ActiveChanged(active)) => {
                self.active = Some(active);
                Ok(None)
            }
            Some(ConsumerEvent::Message(command, payload)) => {
                let decoded = decode_message(command, payload);
                let n = decoded.as_ref().map_or(1, Message::num_messages);
                self.consumed = self
                    .consumed
                    .saturating_add(u32::try_from(n).unwrap_or(u32::MAX));
                decoded.map(Some)
            }
        }
    }

    /// The permits to grant now: everything handed out, once that reaches half the queue.
    fn due_refill(&self) -> Option<u32> {
        let threshold = (self.receiver_queue_size / 2).max(1);
        (self.receiver_queue_size > 0 && self.consumed >= threshold).then_some(self.consumed)
    }

    /// Acknowledges one entry (all of it, for a batch).
    ///
    /// # Errors
    /// A connection error.
    pub async fn ack(&self, id: &MessageId) -> Result<(), ClientError> {
        self.ack_many(std::slice::from_ref(id)).await
    }

    /// Acknowledges several entries in one ACK.
    ///
    /// # Errors
    /// A connection error.
    pub async fn ack_many(&self, ids: &[MessageId]) -> Result<(), ClientError> {
        self.send_ack(AckType::Individual, ids).await
    }

    /// Acknowledges several entries and waits until the broker has made the acks durable
    /// (an ACK with a `request_id` is answered after the cursor write).
    ///
    /// # Errors
    /// [`ClientError::Server`] when the broker refuses, a timeout or a connection error.
    pub async fn ack_durable(&self, ids: &[MessageId]) -> Result<(), ClientError> {
        if ids.is_empty() {
            return Ok(());
        }
        let request_id = self.conn.next_id();
        let mut ack = CommandAck {
            consumer_id: self.consumer_id,
            message_id: ids.iter().map(entry_id_data).collect(),
            request_id: Some(request_id),
            ..Default::default()
        };
        ack.set_ack_type(AckType::Individual);
        let response = self.conn.request("ack", request_id, ack).await?;
        match response.ack_response {
            Some(answer) if answer.error.is_some() => Err(ClientError::Server {
                operation: "ack",
                error: super::error::server_error(answer.error.unwrap_or_default()),
                message: answer.message.unwrap_or_default(),
            }),
            _ => Ok(()),
        }
    }

    /// Acknowledges everything up to and including `id` (Exclusive and Failover only).
    ///
    /// # Errors
    /// A connection error.
    pub async fn ack_cumulative(&self, id: &MessageId) -> Result<(), ClientError> {
        self.send_ack(AckType::Cumulative, std::slice::from_ref(id))
            .await
    }

    async fn send_ack(&self, ack_type: AckType, ids: &[MessageId]) -> Result<(), ClientError> {
        if ids.is_empty() {
            return Ok(());
        }
        let mut ack = CommandAck {
            consumer_id: self.consumer_id,
            message_id: ids.iter().map(entry_id_data).collect(),
            ..Default::default()
        };
        ack.set_ack_type(ack_type);
        self.conn.write(Frame::new(ack)).await
    }

    /// Asks for redelivery of `ids`, or of everything unacked when `ids` is empty.
    ///
    /// # Errors
    /// A connection error.
    pub async fn redeliver_unacknowledged(&self, ids: &[MessageId]) -> Result<(), ClientError> {
        let command = CommandRedeliverUnacknowledgedMessages {
            consumer_id: self.consumer_id,
            message_ids: ids.iter().map(entry_id_data).collect(),
            ..Default::default()
        };
        self.conn.write(Frame::new(command)).await
    }

    /// Deletes the subscription when this is its only consumer; the broker then detaches this
    /// consumer, so drop it afterwards. On ConsumerBusy the consumer stays usable.
    ///
    /// # Errors
    /// [`ClientError::Server`] (e.g. ConsumerBusy when others are attached) or a connection
    /// error.
    pub async fn unsubscribe(&self) -> Result<(), ClientError> {
        let request_id = self.conn.next_id();
        let command = CommandUnsubscribe {
            consumer_id: self.consumer_id,
            request_id,
        };
        self.conn
            .request("unsubscribe", request_id, command)
            .await?;
        Ok(())
    }

    /// Closes the consumer on the broker (CLOSE_CONSUMER → SUCCESS); its unacked messages go
    /// back to the subscription.
    ///
    /// # Errors
    /// A connection error.
    pub async fn close(self) -> Result<(), ClientError> {
        let request_id = self.conn.next_id();
        let command = CommandCloseConsumer {
            consumer_id: self.consumer_id,
            request_id,
            ..Default::default()
        };
        self.conn
            .request("close consumer", request_id, command)
            .await?;
        Ok(())
    }
}

impl Drop for Consumer {
    /// Stops routing to this consumer; the broker is not told (see [`Consumer::close`]).
    fn drop(&mut self) {
        lock(self.conn.routes()).remove_consumer(self.consumer_id);
    }
}

/// Wire id of a whole entry: ledger and entry only, as the C++ client acks.
fn entry_id_data(id: &MessageId) -> MessageIdData {
    MessageIdData {
        ledger_id: id.ledger_id,
        entry_id: id.entry_id,
        ..Default::default()
    }
}

/// Checks and decodes a MESSAGE's payload.
fn decode_message(
    command: CommandMessage,
    payload: Option<Payload>,
) -> Result<Message, ClientError> {
    let id = MessageId::from(command.message_id);
    let Some(payload) = payload else {
        return Err(geminga_protocol::error::ProtocolError::Malformed {
            reason: format!("MESSAGE {id} without a payload"),
        }
        .into());
    };
    if let Checksum::Mismatch { received, computed } = payload.checksum {
        return Err(ClientError::ChecksumMismatch {
            id,
            received,
            computed,
        });
    }
    Ok(Message {
        id,
        metadata: payload.metadata()?,
        payload: payload.body()?,
        redelivery_count: command.redelivery_count.unwrap_or(0),
    })
}
