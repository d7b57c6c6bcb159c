//! Messages handled by the [`super::Dispatcher`] actor.

use actix::Message;

use geminga_storage::Entry;

use super::{
    consumers::AddConsumerError, redelivery::DispatchPolicy, state::ReadEntry,
    stats::DispatcherStats,
};
use crate::topic::ConsumerSpec;

/// A consumer attached to the subscription. Refused (and not attached) when its Key_Shared
/// settings do not fit the subscription.
#[derive(Debug, Message)]
#[rtype(result = "Result<(), AddConsumerError>")]
pub struct AddDispatchConsumer {
    /// Who.
    pub spec: ConsumerSpec,
}

/// A consumer left; its pending entries are redelivered to the others.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct RemoveDispatchConsumer {
    /// Consumer handle id.
    pub key: u64,
}

/// FLOW: the consumer can take `permits` more messages.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct Flow {
    /// Consumer handle id.
    pub key: u64,
    /// Additional messages.
    pub permits: u32,
}

/// REDELIVER_UNACKNOWLEDGED_MESSAGES: the given entries (or all pending ones) again. Ids not
/// pending on this consumer are ignored.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct Redeliver {
    /// Consumer handle id.
    pub key: u64,
    /// Entry ids; `None` means everything pending on this consumer.
    pub ids: Option<Vec<u64>>,
}

/// Entries read by the subscription, in answer to a demand or a re-read.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct Entries {
    /// The read epoch they belong to; older epochs are dropped.
    pub epoch: u64,
    /// Unacked entries, in id order.
    pub entries: Vec<ReadEntry>,
    /// True for the answer to a re-read of specific ids.
    pub redelivered: bool,
}

/// Entries that became fully acked.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct EntriesAcked {
    /// Entry ids.
    pub ids: Vec<u64>,
    /// A cumulative ack: everything up to this id.
    pub up_to: Option<u64>,
}

/// The subscription rewound (seek, restart): forget everything pending.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct ResetDispatcher {
    /// The new read epoch.
    pub epoch: u64,
}

/// A topic policy changed the consumers' unacked-message limit (0 = none).
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct SetConsumerUnackedLimit {
    /// Unacked messages a Shared/Key_Shared consumer may hold.
    pub limit: u32,
}

/// The subscription ended: stop for good.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct ShutdownDispatcher;

/// The dispatch state for the admin API: permits, unacked counts, blocking and hash ranges.
#[derive(Debug, Message)]
#[rtype(result = "DispatcherStats")]
pub struct GetDispatcherStats;

/// The subscription's dead-letter and backoff policy (sent at start and on every change).
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct SetDispatchPolicy {
    /// The policy.
    pub policy: DispatchPolicy,
}

/// Writing these dead letters failed: dispatch them again (they return to the dead-letter
/// path while their count stays at the limit).
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct DeadLettersFailed {
    /// The read epoch they were handed over in; older epochs are ignored.
    pub epoch: u64,
    /// The entries.
    pub entries: Vec<Entry>,
}
