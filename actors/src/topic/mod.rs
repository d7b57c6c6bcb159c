//! Topic: owns one topic's log end, its producers and its subscriptions.

mod access;
mod actor;
mod admin;
mod admin_report;
pub mod admin_stats;
mod cache;
pub mod compaction;
mod dedup;
pub mod effective;
mod initial_subscription;
mod messages;
pub mod policies;
mod policy_state;
mod producers;
pub mod rate;
mod recovery;
mod state;
mod subscribe;
pub mod upkeep;

pub use access::{AccessDecision, ProducerAccess};
pub use actor::{Topic, Unload};
pub use admin::{
    ApplyPolicies, CloseTopic, CreateSubscription, DeleteSubscription, GetInternalStats,
    GetLastEntry, GetSubscription, GetTopicStats, LastEntry, ListSubscriptions, StartAt, Terminate,
    TopicAdmin,
};
pub use cache::{CacheRead, EntryCache};
pub use dedup::{Dedup, Verdict};
pub use messages::{
    AddProducer, Attached, ConsumerSpec, DurableEnd, ProducerGrant, ProducerGranted, Publish,
    RemoveProducer, Subscribe, SubscriptionRetired, DUPLICATE_ENTRY,
};
pub use policy_state::{forget_epoch, load_epoch, store_epoch, ApplyNamespacePolicies};
pub use rate::RateLimiter;
pub use state::TopicState;
pub use upkeep::{FloorMoved, GetStorageHolds, StorageHoldsReport};
