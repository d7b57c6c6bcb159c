//! TopicRegistry: finds, loads and creates topic actors by name.

mod actor;
mod admin;
mod listing;
mod messages;
mod table;
mod watch;

pub use actor::TopicRegistry;
pub use admin::topic_in_use;
pub use listing::{topics_hash, TopicPattern};
pub use messages::{
    DeleteTopic, GetTopic, ListLoadedTopics, ListTopics, NotifyTopics, TopicExited, TopicsChanged,
    TopicsOfNamespace, UnloadTopic, UnloadTopics, UnwatchTopics, WatchTopics,
};
pub use table::{TopicSlot, TopicTable};
