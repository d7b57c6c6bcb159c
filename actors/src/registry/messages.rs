//! Messages handled by the [`super::TopicRegistry`].

use actix::{Addr, Message, Recipient};
use geminga_protocol::proto::command_get_topics_of_namespace::Mode;

use crate::{error::RequestError, metadata::NamespaceName, ownership::BundleRange, topic::Topic};

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

/// Full names of a namespace's topics for GET_TOPICS_OF_NAMESPACE and the admin API, sorted:
/// stored topics, live non-persistent ones, and the partitions of partitioned topics (never
/// their base names).
#[derive(Debug, Message)]
#[rtype(result = "Result<Vec<String>, RequestError>")]
pub struct TopicsOfNamespace {
    /// The namespace.
    pub namespace: NamespaceName,
    /// Which domains to list.
    pub mode: Mode,
}

/// Unloads the live topics of a namespace, or of one of its bundles: their producers and
/// consumers are closed and reconnect. Answers how many topics were unloaded.
#[derive(Debug, Message)]
#[rtype(result = "usize")]
pub struct UnloadTopics {
    /// The namespace.
    pub namespace: NamespaceName,
    /// Only the topics of this bundle; `None` for the whole namespace.
    pub bundle: Option<BundleRange>,
}

/// Deletes a topic: log, cursors and record. Refused while producers or consumers are
/// connected unless `force` is set (they are then closed).
#[derive(Debug, Message)]
#[rtype(result = "Result<(), RequestError>")]
pub struct DeleteTopic {
    /// Full topic name.
    pub name: String,
    /// Close connected producers and consumers instead of refusing.
    pub force: bool,
}

/// Topics appeared or went away without passing through the registry (partitioned topics
/// created, grown or deleted through the admin API): tells the watchers.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct NotifyTopics {
    /// Full names that appeared.
    pub added: Vec<String>,
    /// Full names that went away.
    pub removed: Vec<String>,
}

/// Registers a topic-list watcher of a namespace; it gets [`TopicsChanged`].
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct WatchTopics {
    /// Process-unique watcher id, echoed in [`TopicsChanged`].
    pub id: u64,
    /// The namespace watched.
    pub namespace: NamespaceName,
    /// Where changes go.
    pub recipient: Recipient<TopicsChanged>,
}

/// Removes a topic-list watcher.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct UnwatchTopics {
    /// The watcher id given to [`WatchTopics`].
    pub id: u64,
}

/// Topics of a watched namespace appeared or went away.
#[derive(Clone, Debug, Message)]
#[rtype(result = "()")]
pub struct TopicsChanged {
    /// The watcher id.
    pub watch_id: u64,
    /// Full names that appeared.
    pub added: Vec<String>,
    /// Full names that went away.
    pub removed: Vec<String>,
}

/// Unloads one topic: its producers and consumers are disconnected (they reconnect and load it
/// again). Answers `TopicNotFound` when the topic does not exist.
#[derive(Debug, Message)]
#[rtype(result = "Result<(), RequestError>")]
pub struct UnloadTopic {
    /// Full topic name.
    pub name: String,
}

/// Full names of the loaded topics starting with `prefix`, sorted.
#[derive(Debug, Message)]
#[rtype(result = "Vec<String>")]
pub struct ListLoadedTopics {
    /// For example `non-persistent://public/default/`.
    pub prefix: String,
}
