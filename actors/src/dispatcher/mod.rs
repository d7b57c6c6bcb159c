//! Dispatcher: decides which consumer gets which entry, within flow permits.
//!
//! Exclusive and Failover send everything to one active consumer; Shared spreads entries over
//! the consumers with permits. Each delivered entry stays pending on its consumer until it is
//! acked, redelivered or the consumer leaves; the redelivery count is kept per entry.

mod actor;
mod messages;
mod state;

pub use actor::Dispatcher;
pub use messages::{
    AddDispatchConsumer, Entries, EntriesAcked, Flow, Redeliver, RemoveDispatchConsumer,
    ResetDispatcher, SetConsumerUnackedLimit, ShutdownDispatcher,
};
pub use state::{Delivery, DispatcherState, ReadEntry, ReadRequest};
