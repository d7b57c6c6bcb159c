//! Messages handled by the [`super::TopicRegistry`].

use actix::{Addr, Message};

use crate::{error::RequestError, topic::Topic};

/// The actor of a topic, loading it (and creating it when `create` is set) if needed.
#[derive(Debug, Message)]
#[rtype(result = "Result<Addr<Topic>, RequestError>")]
pub struct GetTopic {
    /// Full topic name (`persistent://tenant/ns/name`).
    pub name: String,
    /// Whether a missing topic may be created.
    pub create: bool,
}

/// Full names of the persistent topics of a namespace.
#[derive(Debug, Message)]
#[rtype(result = "Result<Vec<String>, RequestError>")]
pub struct ListTopics {
    /// `tenant/namespace`.
    pub namespace: String,
}

/// A topic actor stopped for good (sent by its supervisor).
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct TopicExited {
    /// Full topic name.
    pub name: String,
    /// Which instance; a newer one under the same name is kept.
    pub instance: u64,
}
