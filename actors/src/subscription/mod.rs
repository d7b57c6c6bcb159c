//! Subscription: owns one cursor (acks, seeks, deferred entries, redelivery counts) and reads
//! the log and the on-disk delayed index for its dispatcher; writes broker-side dead letters.

mod actor;
mod admin;
mod admin_stats;
mod dead_letter;
mod dead_letter_message;
mod delayed;
mod delayed_state;
#[cfg(test)]
mod delayed_tests;
mod log_upkeep;
mod messages;
mod policy;
mod recovery;
mod state;
mod stats;
mod upkeep;

pub use actor::Subscription;
pub(crate) use admin::now_ms;
pub use admin::{
    ApplySubscriptionPolicies, ClearBacklog, DeleteCursor, ExpireMessages, FlushCursor,
    GetSubscriptionStats, PeekEntry, SkipEntries, SubscriptionAdmin, SubscriptionSnapshot,
    TopicTerminated,
};
pub use dead_letter_message::{dead_letter_copy, Origin, ORIGIN_MESSAGE_ID, REAL_TOPIC};
pub use delayed_state::{DelayedScan, DueRead, MAX_DUE_BATCH, MAX_READ_AHEAD};
pub use log_upkeep::{CommitCompaction, EvictBacklog, SetCompactedView};
pub use messages::{
    Ack, AddConsumer, DeadLetters, Demand, DispatcherExited, DispatcherRestarted, EntriesAvailable,
    GetDeliveryStats, GetLastMessageId, GetSubscriptionCounters, LastMessageId, ReadIds,
    RedeliverAll, RedeliveriesCounted, RemoveConsumer, Seek, SeekTarget, ShutdownSubscription,
    Unsubscribe,
};
pub use policy::{
    epoch_ms, PolicyOverrides, RedeliveryBackoff, SubscriptionPolicies, SubscriptionPolicy,
};
pub use state::{AckOutcome, AttachedConsumer, SubscriptionState};
pub use stats::{DeliveryStats, SubscriptionCounters};
