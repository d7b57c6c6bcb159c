//! TopicRegistry: finds, loads and creates topic actors by name.

mod actor;
mod admin;
mod messages;

pub use actor::TopicRegistry;
pub use admin::{DeleteTopic, ListLoadedTopics, UnloadTopic};
pub use messages::{GetTopic, ListTopics, TopicExited};
