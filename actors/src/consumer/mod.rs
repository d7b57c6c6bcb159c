//! Consumer: one client consumer handle; turns deliveries into MESSAGE frames.

mod actor;
mod messages;

pub use actor::Consumer;
pub use messages::{
    ActiveConsumerChange, CloseConsumer, Deliver, Disconnect, Join, JoinRequest, ReachedEndOfTopic,
    Subscribed,
};
