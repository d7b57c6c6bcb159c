//! Topic: owns one topic's log end, its producers and its subscriptions.

mod actor;
mod admin;
mod admin_report;
pub mod admin_stats;
mod cache;
pub mod compaction;
mod initial_subscription;
mod messages;
pub mod policies;
mod recovery;
mod state;
pub mod upkeep;

pub use actor::{Topic, Unload};
pub use admin::{
    ApplyPolicies, CloseTopic, CreateSubscription, DeleteSubscription, GetInternalStats,
    GetLastEntry, GetSubscription, GetTopicStats, LastEntry, ListSubscriptions, StartAt, Terminate,
    TopicAdmin,
};
pub use cache::{CacheRead, EntryCache};
pub use messages::{
    AddProducer, Attached, ConsumerSpec, DurableEnd, ProducerGrant, Publish, RemoveProducer,
    Subscribe, SubscriptionRetired,
};
pub use state::TopicState;
pub use upkeep::{ApplyNamespacePolicies, FloorMoved, GetStorageHolds, StorageHoldsReport};
