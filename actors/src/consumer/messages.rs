//! Messages handled by the [`super::Consumer`] actor.

use actix::{Addr, Message};
use geminga_protocol::{
    message_id::MessageId,
    proto::{command_subscribe::InitialPosition, command_subscribe::SubType, KeySharedMeta},
};

use crate::{
    dispatcher::Delivery,
    error::RequestError,
    topic::{Attached, Topic},
};

/// Attaches the consumer to a subscription of `topic` (creating it if needed).
#[derive(Debug, Message)]
#[rtype(result = "Result<Attached, RequestError>")]
pub struct Join {
    /// The topic.
    pub topic: Addr<Topic>,
    /// What to join and how.
    pub request: JoinRequest,
}

/// The subscription and consumer settings of a SUBSCRIBE.
#[derive(Clone, Debug)]
pub struct JoinRequest {
    /// Subscription name.
    pub subscription: String,
    /// False for readers.
    pub durable: bool,
    /// Where a new subscription starts.
    pub initial_position: InitialPosition,
    /// Where a new reader starts.
    pub start_message_id: Option<MessageId>,
    /// Consumer name.
    pub name: String,
    /// Requested subscription type.
    pub sub_type: SubType,
    /// Priority level (lower is preferred).
    pub priority_level: i32,
    /// Key_Shared settings.
    pub key_shared: Option<KeySharedMeta>,
    /// Read the compacted log below the compaction horizon.
    pub read_compacted: bool,
    /// Protocol version negotiated on the connection; ACTIVE_CONSUMER_CHANGE needs >= 12.
    pub protocol_version: i32,
    /// The consumer's schema (`None`: bytes).
    pub schema: Option<geminga_protocol::proto::Schema>,
}

/// Entries to send to the client, in order.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct Deliver {
    /// The deliveries.
    pub deliveries: Vec<Delivery>,
}

/// The Failover active consumer changed: tell the client with ACTIVE_CONSUMER_CHANGE (only
/// clients at protocol version 12 or later know the command).
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct ActiveConsumerChange {
    /// Whether this consumer is now the active one.
    pub is_active: bool,
}

/// The connection answered the SUBSCRIBE with SUCCESS: notices held back until then (such as
/// ACTIVE_CONSUMER_CHANGE) may go out.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct Subscribed;

/// The broker closes this consumer (seek, restart, unload): the client is told with
/// CLOSE_CONSUMER and reconnects.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct Disconnect;

/// The consumer read everything of a terminated topic: tell the client (REACHED_END_OF_TOPIC).
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct ReachedEndOfTopic;

/// The client closed the consumer, or its connection went away.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct CloseConsumer;
