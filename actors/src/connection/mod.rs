//! Connection: one client TCP session; decodes commands and routes them to the actors.

mod actor;
mod admission;
mod consume;
mod discovery;
mod end_of_topic;
mod listener;
mod messages;
mod produce;
mod schema;
mod session;

pub use actor::Connection;
pub use listener::serve;
pub use messages::{
    ConsumerClosedByBroker, ConsumerExited, EndOfTopic, ProducerClosedByBroker, ProducerExited,
    ProducerReady, WriteFrames,
};
