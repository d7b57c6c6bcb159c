//! TopicRegistry: finds, loads and creates topic actors by name.

mod actor;
mod messages;

pub use actor::TopicRegistry;
pub use messages::{GetTopic, ListTopics, TopicExited};
