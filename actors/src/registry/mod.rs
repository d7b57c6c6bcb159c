//! TopicRegistry: finds, loads and creates topic actors by name.

mod actor;
mod messages;
mod table;

pub use actor::TopicRegistry;
pub use messages::{GetTopic, ListTopics, TopicExited};
pub use table::{TopicSlot, TopicTable};
