//! Storage tuning knobs.

use serde::{Deserialize, Serialize};

/// How the fjall database is opened.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct StorageConfig {
    /// `true`: [`crate::Storage::sync`] fsyncs the journal, so a synced write survives power
    /// loss. `false`: it only hands the journal to the OS, which survives a process crash but
    /// not a machine crash (for tests and benchmarks).
    pub fsync: bool,
    /// Block cache capacity in bytes, shared by all keyspaces.
    pub cache_size_bytes: u64,
    /// Store entries of 4 KiB and more in fjall's value log (blob files) instead of inline in
    /// the LSM tree, so flushes and compactions move small pointers instead of payloads;
    /// smaller entries stay inline either way. Default `true`: in `storage/benches/append.rs`
    /// (fsync on, 64 MiB retained) sustained appends of 128 KiB entries were 1.2x to 2.5x
    /// faster across seven paired runs, with the same ~2.0 disk bytes per payload byte and the
    /// same disk footprint; 1 KiB entries are unaffected. Only takes effect when the
    /// `entries` keyspace is created (a new data dir); an existing dir keeps its layout.
    pub kv_separation: bool,
}

impl Default for StorageConfig {
    fn default() -> Self {
        Self {
            fsync: true,
            cache_size_bytes: 64 * 1024 * 1024,
            kv_separation: true,
        }
    }
}
