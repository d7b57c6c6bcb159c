//! Dispatcher: decides which consumer gets which entry, within flow permits.
//!
//! Exclusive ([`exclusive`]) and Failover ([`failover`]) send everything to one active consumer;
//! Shared ([`shared`]) spreads entries round-robin over the consumers with permits; Key_Shared
//! ([`key_shared`]) sends each key to one consumer and keeps each key in order. Each delivered
//! entry stays pending on its consumer until it is acked, redelivered or the consumer leaves;
//! the redelivery count is kept per entry (and persisted by the subscription), a redelivery
//! may wait out a backoff, and an entry redelivered too often goes to the dead-letter path
//! (`redelivery.rs`). See `README.md` beside this file for the rules.

mod actor;
mod bookkeeping;
mod consumers;
mod exclusive;
mod failover;
pub mod key_shared;
mod messages;
mod placement;
mod redelivery;
mod requests;
mod shared;
mod state;
mod stats;
#[cfg(test)]
mod tests;
mod throttle;

pub use actor::Dispatcher;
pub use consumers::{ActiveChange, AddConsumerError, DispatchConsumer};
pub use messages::{
    AddDispatchConsumer, DeadLettersFailed, Entries, EntriesAcked, Flow, GetDispatcherStats,
    Redeliver, RemoveDispatchConsumer, ResetDispatcher, SetConsumerUnackedLimit, SetDispatchPolicy,
    ShutdownDispatcher,
};
pub use placement::Deliveries;
pub use redelivery::{DeadLetter, DispatchPolicy};
pub use state::{Delivery, DispatchLimits, DispatcherState, ReadEntry, ReadRequest};
pub use stats::{
    sub_type_name, BlockedHash, BlockedReason, ConsumerDispatchStats, DispatcherStats,
    HashBlockReason, HashRange,
};
pub use throttle::{SetDispatchThrottle, Throttle};
