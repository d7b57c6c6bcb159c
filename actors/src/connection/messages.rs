//! Messages handled by the [`super::Connection`] actor.

use actix::Message;
use geminga_protocol::frame::Frame;

use crate::{error::RequestError, supervision::ExitReason, topic::ProducerGrant};

/// Frames to write to the client, in order.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct WriteFrames {
    /// The frames.
    pub frames: Vec<Frame>,
}

/// The broker closed a producer (topic restart or unload): tell the client with CLOSE_PRODUCER.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct ProducerClosedByBroker {
    /// The client's producer id.
    pub producer_id: u64,
    /// The producer actor's handle id (a newer producer under the same id is kept).
    pub handle: u64,
}

/// The broker closed a consumer (seek, restart, unload): tell the client with CLOSE_CONSUMER.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct ConsumerClosedByBroker {
    /// The client's consumer id.
    pub consumer_id: u64,
    /// The consumer actor's handle id.
    pub key: u64,
}

/// A consumer read everything of a terminated topic: send REACHED_END_OF_TOPIC, except to
/// clients that cannot handle it.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct EndOfTopic {
    /// The client's consumer id.
    pub consumer_id: u64,
    /// The consumer actor's handle id (a newer consumer under the same id is not told).
    pub key: u64,
}

/// A producer actor stopped (sent by its supervisor).
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct ProducerExited {
    /// The client's producer id.
    pub producer_id: u64,
    /// The producer actor's handle id.
    pub handle: u64,
    /// Why.
    pub reason: ExitReason,
}

/// A consumer actor stopped (sent by its supervisor).
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct ConsumerExited {
    /// The client's consumer id.
    pub consumer_id: u64,
    /// The consumer actor's handle id.
    pub key: u64,
    /// Why.
    pub reason: ExitReason,
}

/// A WaitForExclusive producer's wait ended: send the second PRODUCER_SUCCESS (now ready), or
/// an ERROR for the original request.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct ProducerReady {
    /// The client's producer id.
    pub producer_id: u64,
    /// The producer actor's handle id.
    pub handle: u64,
    /// The grant, or why the wait ended.
    pub grant: Result<ProducerGrant, RequestError>,
}
