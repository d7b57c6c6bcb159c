//! Messages handled by the [`super::Producer`] actor.

use actix::Message;
use geminga_protocol::{
    frame::Payload,
    proto::{ProducerAccessMode, Schema},
};

use crate::{error::RequestError, topic::ProducerGrant};

/// Registers the producer with its topic (schema, access mode, name uniqueness, limits).
#[derive(Debug, Message)]
#[rtype(result = "Result<ProducerGrant, RequestError>")]
pub struct Register {
    /// The name the client asked for, if any.
    pub name: Option<String>,
    /// Shared or one of the exclusive modes.
    pub access_mode: ProducerAccessMode,
    /// The topic epoch the client got before, if any.
    pub topic_epoch: Option<u64>,
    /// The producer's schema (`None`: bytes).
    pub schema: Option<Schema>,
    /// PRODUCER's `initial_subscription_name`: a durable subscription to create (at the
    /// earliest position) if the topic does not have it yet.
    pub initial_subscription: Option<String>,
}

/// One SEND from the client.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct SendMessage {
    /// Echoed in the receipt.
    pub sequence_id: u64,
    /// Echoed in the receipt.
    pub highest_sequence_id: u64,
    /// Messages in the entry (batch size), from the command.
    pub num_messages: i32,
    /// Metadata and body, with the checksum state.
    pub payload: Payload,
}

/// The client closed the producer (graceful: answered once every SEND has its receipt), or
/// its connection went away (not graceful: stop at once).
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct CloseProducer {
    /// Wait for outstanding receipts first.
    pub graceful: bool,
}

/// The topic is closing or restarting: the client is told with CLOSE_PRODUCER and reconnects.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct TopicClosing;
