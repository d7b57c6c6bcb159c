//! Subscription: owns one cursor (acks, seeks) and reads the log for its dispatcher.

mod actor;
mod admin;
mod admin_stats;
mod messages;
mod recovery;
mod state;
mod upkeep;

pub use actor::Subscription;
pub(crate) use admin::now_ms;
pub use admin::{
    ApplySubscriptionPolicies, ClearBacklog, DeleteCursor, ExpireMessages, FlushCursor,
    GetSubscriptionStats, PeekEntry, SkipEntries, SubscriptionAdmin, SubscriptionSnapshot,
    TopicTerminated,
};
pub use messages::{
    Ack, AddConsumer, Demand, DispatcherExited, DispatcherRestarted, EntriesAvailable,
    GetLastMessageId, LastMessageId, ReadIds, RedeliverAll, RemoveConsumer, Seek, SeekTarget,
    ShutdownSubscription, Unsubscribe,
};
pub use state::{AckOutcome, AttachedConsumer, SubscriptionState};
