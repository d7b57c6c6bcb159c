//! Messages handled by the [`super::Topic`] actor.

use std::sync::Arc;

use actix::{Addr, Message};
use bytes::Bytes;
use geminga_protocol::{
    message_id::MessageId,
    proto::{
        command_subscribe::InitialPosition, command_subscribe::SubType, KeySharedMeta,
        ProducerAccessMode, Schema,
    },
};
use geminga_storage::EntryMeta;

use super::rate::RateLimiter;
use crate::{
    consumer::Consumer, dispatcher::Dispatcher, error::RequestError, producer::Producer,
    stats::SubscriptionStats, subscription::Subscription, supervision::ExitReason,
};

/// The entry id answered for a SEND dropped as a duplicate (deduplication): its receipt names
/// no entry, `-1:-1` as Pulsar's does.
pub const DUPLICATE_ENTRY: u64 = u64::MAX;

/// Appends one entry (one SEND: a message or a whole batch). `reply` gets the entry id once the
/// entry is durable, or [`DUPLICATE_ENTRY`]. Sent with `do_send` so a producer's entries keep its SEND order even when
/// the topic's mailbox is full (parked `send`s may overtake each other).
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct Publish {
    /// The producer handle publishing (for stats and access checks).
    pub producer_handle: u64,
    /// What dispatch needs to know about the entry without parsing it.
    pub meta: EntryMeta,
    /// `[metadataSize][metadata][payload]` as received.
    pub data: Bytes,
    /// Lowest and highest sequence id the entry covers (deduplication).
    pub sequence: (i64, i64),
    /// Where the outcome goes.
    pub reply: tokio::sync::oneshot::Sender<Result<u64, RequestError>>,
}

/// Registers a producer on the topic.
#[derive(Debug, Message)]
#[rtype(result = "Result<ProducerGrant, RequestError>")]
pub struct AddProducer {
    /// Process-unique id of the producer actor.
    pub handle: u64,
    /// The name the client asked for, if any.
    pub name: Option<String>,
    /// The producer actor, told when the topic closes.
    pub producer: Addr<Producer>,
    /// Shared, Exclusive, ExclusiveWithFencing or WaitForExclusive.
    pub access_mode: ProducerAccessMode,
    /// The topic epoch the client got before (a reconnecting exclusive producer).
    pub topic_epoch: Option<u64>,
    /// The producer's schema; `None` for plain bytes.
    pub schema: Option<Schema>,
    /// A durable subscription to create at the earliest position if missing (PRODUCER's
    /// `initial_subscription_name`); answered once the subscription is durable.
    pub initial_subscription: Option<String>,
}

/// What a registered producer learns from its topic.
#[derive(Clone, Debug)]
pub struct ProducerGrant {
    /// The effective producer name.
    pub name: String,
    /// The topic's ledger, the first half of every message id.
    pub ledger_id: u64,
    /// Highest sequence id persisted for this producer name (-1: none known).
    pub last_sequence_id: i64,
    /// Version of the producer's schema (8 bytes big-endian), if it declared one.
    pub schema_version: Option<Vec<u8>>,
    /// The topic epoch an exclusive producer holds.
    pub topic_epoch: Option<u64>,
    /// False for a WaitForExclusive producer that waits: a [`ProducerGranted`] follows.
    pub ready: bool,
    /// The topic's publish rate limiter (shared by every connection publishing to it).
    pub publish_limiter: Arc<RateLimiter>,
}

/// A queued WaitForExclusive producer got the topic (or was fenced while waiting).
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct ProducerGranted {
    /// The grant (`ready` set), or why the wait ended.
    pub grant: Result<ProducerGrant, RequestError>,
}

/// Unregisters a producer.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct RemoveProducer {
    /// The producer actor's handle id.
    pub handle: u64,
}

/// Attaches a consumer to a subscription of the topic, creating the subscription if needed.
#[derive(Debug, Message)]
#[rtype(result = "Result<Attached, RequestError>")]
pub struct Subscribe {
    /// Subscription name.
    pub subscription: String,
    /// False for readers: the cursor lives in memory only.
    pub durable: bool,
    /// Where a new subscription starts.
    pub initial_position: InitialPosition,
    /// Where a new non-durable subscription starts (readers).
    pub start_message_id: Option<MessageId>,
    /// The consumer attaching.
    pub consumer: ConsumerSpec,
    /// The consumer's schema; `None` for plain bytes.
    pub schema: Option<Schema>,
}

/// Who is attaching to a subscription.
#[derive(Clone, Debug)]
pub struct ConsumerSpec {
    /// Process-unique id of the consumer actor.
    pub key: u64,
    /// The id the client uses for this consumer on its connection.
    pub consumer_id: u64,
    /// Partition index of the topic (`-partition-N`), -1 when not partitioned (Failover).
    pub partition: i32,
    /// Consumer name (used by Failover ordering).
    pub name: String,
    /// Subscription type requested.
    pub sub_type: SubType,
    /// Lower is preferred (Shared and Failover).
    pub priority_level: i32,
    /// Key_Shared settings, if any.
    pub key_shared: Option<KeySharedMeta>,
    /// Below the compaction horizon, read the compacted log (Exclusive/Failover only).
    pub read_compacted: bool,
    /// The consumer actor that delivers to the client.
    pub addr: Addr<Consumer>,
}

/// The subscription a consumer is attached to.
#[derive(Clone, Debug)]
pub struct Attached {
    /// The subscription's counters (the consumer counts what it delivers).
    pub stats: Arc<SubscriptionStats>,
    /// Owns the cursor: acks, seeks, unsubscribe.
    pub subscription: Addr<Subscription>,
    /// Owns delivery: flow permits and redelivery.
    pub dispatcher: Addr<Dispatcher>,
    /// The topic's ledger, the first half of every message id.
    pub ledger_id: u64,
}

/// Sent by a subscription's supervisor when it stopped for good: retired (unsubscribed, or a
/// reader whose last consumer left), or failed (escalated, or its mailbox dropped).
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct SubscriptionRetired {
    /// Its name.
    pub name: String,
    /// Which instance ended; a newer instance under the same name is kept.
    pub instance: u64,
    /// Why it ended: the topic replaces a lost durable subscription and restarts itself when
    /// one escalates.
    pub reason: ExitReason,
}

/// Sent by a subscription that restarted and needs the topic's durable end again.
#[derive(Debug, Message)]
#[rtype(result = "u64")]
pub struct DurableEnd;
