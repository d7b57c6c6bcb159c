//! The storage writer: one commit queue and thread that write to storage, committing many
//! requests per fsync, and the supervised actor that owns them.

mod actor;
mod committer;
mod messages;
mod state;
mod stats;

pub use actor::StorageWriter;
pub use committer::Committer;
pub use messages::persist;
pub use state::{CommitQueue, Group, Rejected};
pub use stats::CommitStats;
