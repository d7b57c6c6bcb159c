//! Figures of the storage writer's group commits, for `/metrics`.

use std::sync::atomic::AtomicU64;

use crate::supervision::LatencyHistogram;

/// How long group commits take, split where the time goes: applying the batch (payloads
/// appended to their segment and fdatasynced, then fjall's journal write and memtable insert,
/// which can wait on fjall's memtable flushes) and making it durable (the journal's fsync,
/// which waits behind other I/O on the disk). Kept by the
/// [`crate::supervision::ActorTracker`] so the figures outlive a writer restart.
#[derive(Debug, Default)]
pub struct CommitStats {
    /// Time to apply one group.
    pub write: LatencyHistogram,
    /// Time to make one group durable.
    pub sync: LatencyHistogram,
    /// Writes (appends, cursor updates, ...) committed, summed over groups.
    pub ops: AtomicU64,
}
