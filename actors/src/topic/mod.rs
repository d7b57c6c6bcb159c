//! Topic: owns one topic's log end, its producers and its subscriptions.

mod actor;
mod cache;
mod initial_subscription;
mod messages;
mod state;

pub use actor::Topic;
pub use cache::{CacheRead, EntryCache};
pub use initial_subscription::GetSubscription;
pub use messages::{
    AddProducer, Attached, ConsumerSpec, DurableEnd, ProducerGrant, Publish, RemoveProducer,
    Subscribe, SubscriptionRetired,
};
pub use state::TopicState;
