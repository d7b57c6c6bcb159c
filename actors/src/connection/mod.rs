//! Connection: one client TCP session; decodes commands and routes them to the actors.

mod actor;
mod admission;
mod auth;
mod consume;
mod discovery;
mod end_of_topic;
mod listener;
mod messages;
mod produce;
mod schema;
mod session;

pub use actor::{Connection, Transport};
pub use listener::{serve, serve_tls};
pub use messages::{
    ConsumerClosedByBroker, ConsumerExited, EndOfTopic, ProducerClosedByBroker, ProducerExited,
    ProducerReady, WriteFrames,
};
