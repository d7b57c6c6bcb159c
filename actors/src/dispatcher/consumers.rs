//! The consumers of a dispatcher: what they declared, their credit and what they hold.

use geminga_protocol::proto::{command_subscribe::SubType, KeySharedMeta};
use thiserror::Error;

/// A consumer as the dispatcher sees it: its declared settings, without an actor address.
#[derive(Clone, Debug)]
pub struct DispatchConsumer {
    /// Process-unique consumer handle id.
    pub key: u64,
    /// Consumer name (Failover and AUTO_SPLIT order and place consumers by it).
    pub name: String,
    /// Lower is preferred (Shared, Failover).
    pub priority_level: i32,
    /// The subscription type the consumer asked for.
    pub sub_type: SubType,
    /// Key_Shared settings; absent means AUTO_SPLIT in order.
    pub key_shared: Option<KeySharedMeta>,
    /// Partition index of the topic (`-partition-N`), `None` when not partitioned.
    pub partition: Option<u32>,
}

/// Why the dispatcher refused a consumer.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum AddConsumerError {
    /// Its Key_Shared mode or out-of-order flag differs from the subscription's; the client may
    /// retry once the other consumers left (Pulsar answers ConsumerBusy).
    #[error("{reason}")]
    Incompatible {
        /// What differs.
        reason: String,
    },
    /// Its STICKY hash ranges are missing, invalid or overlap another consumer's; the client
    /// must declare other ranges (Pulsar answers ConsumerAssignError).
    #[error("{reason}")]
    HashRangeConflict {
        /// Which range conflicts.
        reason: String,
    },
}

/// A Failover consumer's new state, to be sent as ACTIVE_CONSUMER_CHANGE.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ActiveChange {
    /// Consumer handle id.
    pub key: u64,
    /// Whether it is now the active consumer.
    pub is_active: bool,
}

/// One attached consumer's dispatch state.
#[derive(Debug)]
pub(super) struct Slot {
    pub key: u64,
    pub name: String,
    pub priority: i32,
    /// Attachment order; Failover on a non-partitioned topic prefers the earliest.
    pub order: u64,
    /// Messages the consumer can still take; may go negative when a batch overshoots.
    pub permits: i64,
    /// Messages delivered and not acked.
    pub unacked_messages: u64,
    /// Entries delivered and not acked.
    pub pending_entries: u64,
}
