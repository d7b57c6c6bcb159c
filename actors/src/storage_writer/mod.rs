//! StorageWriter: the one actor that writes to storage, committing many requests per fsync.

mod actor;
mod committer;
mod messages;
mod state;
mod stats;

pub use actor::StorageWriter;
pub use committer::Committer;
pub use messages::{persist, Persist, Unfence};
pub use state::{CommitQueue, Group, Rejected};
pub use stats::CommitStats;
