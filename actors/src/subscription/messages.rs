//! Messages handled by the [`super::Subscription`] actor.

use std::sync::Arc;

use actix::Message;
use geminga_protocol::proto::{command_ack::AckType, MessageIdData};

use super::stats::{DeliveryStats, SubscriptionCounters};
use crate::{
    dispatcher::DeadLetter,
    error::RequestError,
    topic::{Attached, ConsumerSpec},
};

/// Attaches a consumer (subject to the subscription-type rules).
#[derive(Debug, Message)]
#[rtype(result = "Result<Attached, RequestError>")]
pub struct AddConsumer {
    /// Who attaches.
    pub spec: ConsumerSpec,
}

/// Detaches a consumer; its unacked entries go back to the dispatcher for redelivery.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct RemoveConsumer {
    /// Consumer handle id.
    pub key: u64,
}

/// A client ACK. Answered once the cursor change is durable.
#[derive(Debug, Message)]
#[rtype(result = "Result<(), RequestError>")]
pub struct Ack {
    /// Consumer handle id.
    pub key: u64,
    /// Individual or cumulative.
    pub ack_type: AckType,
    /// The acked ids (ledger, entry, optional batch ack set).
    pub ids: Vec<MessageIdData>,
    /// Whether the client waits for an ACK_RESPONSE (then answer after the fsync).
    pub wait_durable: bool,
}

/// Where a seek goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SeekTarget {
    /// The next message delivered is this entry (`u64::MAX` = earliest, `i64::MAX` = latest).
    Entry(u64),
    /// The next message delivered is the first published at or after this time (epoch ms).
    PublishTime(u64),
}

/// Resets the cursor; every consumer is disconnected and reconnects at the new position.
#[derive(Debug, Message)]
#[rtype(result = "Result<(), RequestError>")]
pub struct Seek {
    /// Consumer handle id of the requester.
    pub key: u64,
    /// The new position.
    pub target: SeekTarget,
}

/// Deletes the subscription if the requester is its only consumer.
#[derive(Debug, Message)]
#[rtype(result = "Result<(), RequestError>")]
pub struct Unsubscribe {
    /// Consumer handle id of the requester.
    pub key: u64,
}

/// The last durable entry and this subscription's mark-delete position.
#[derive(Debug, Message)]
#[rtype(result = "Result<LastMessageId, RequestError>")]
pub struct GetLastMessageId;

/// Answer to [`GetLastMessageId`].
#[derive(Clone, Debug)]
pub struct LastMessageId {
    /// Last entry (entry id `u64::MAX`, i.e. -1, when the topic is empty).
    pub last: MessageIdData,
    /// The mark-delete position.
    pub mark_delete: MessageIdData,
}

/// The dispatcher wants up to `entries` more entries (replaces any earlier demand).
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct Demand {
    /// The dispatcher's read epoch.
    pub epoch: u64,
    /// How many entries.
    pub entries: usize,
}

/// The dispatcher wants these entries again (redelivery); always answered, maybe empty.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct ReadIds {
    /// The dispatcher's read epoch.
    pub epoch: u64,
    /// Entry ids.
    pub ids: Vec<u64>,
}

/// REDELIVER_UNACKNOWLEDGED_MESSAGES without ids: everything pending on the consumer again.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct RedeliverAll {
    /// Consumer handle id.
    pub key: u64,
}

/// The topic's durable end moved.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct EntriesAvailable {
    /// Entries below this id are durable.
    pub durable_next: u64,
}

/// The dispatcher lost its state (restart): re-read from the ack floor.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct DispatcherRestarted;

/// The dispatcher stopped for good (sent by its supervisor).
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct DispatcherExited {
    /// Which dispatcher instance; a notice about an older one is ignored.
    pub instance: u64,
    /// Why: a lost dispatcher is replaced, an escalating one restarts the subscription.
    pub reason: crate::supervision::ExitReason,
}

/// The topic is closing or restarting: disconnect everyone and stop for good.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct ShutdownSubscription;

/// Redelivery counts the dispatcher raised: persisted with the cursor so they survive a
/// restart (and a poison message reaches the dead-letter topic even across restarts).
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct RedeliveriesCounted {
    /// `(entry id, new redelivery count)`.
    pub counts: Vec<(u64, u32)>,
}

/// Entries redelivered too often: write them to the dead-letter topic, then ack them.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct DeadLetters {
    /// The dispatcher's read epoch when it handed them over.
    pub epoch: u64,
    /// The entries.
    pub letters: Vec<DeadLetter>,
}

/// Delayed-delivery and dead-letter figures and the policy in force.
#[derive(Debug, Message)]
#[rtype(result = "Result<DeliveryStats, RequestError>")]
pub struct GetDeliveryStats;

/// The live counters of a subscription, for a metrics collector to read without messages.
#[derive(Debug, Message)]
#[rtype(result = "Arc<SubscriptionCounters>")]
pub struct GetSubscriptionCounters;
