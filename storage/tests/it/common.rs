//! Shared helpers: a storage in a tempdir that can be reopened, and entry builders.

use bytes::Bytes;
use geminga_storage::{Entry, EntryMeta, Storage, StorageConfig, WriteOp};
use tempfile::TempDir;

/// A storage whose directory outlives it, so tests can drop and reopen.
pub struct TestStore {
    pub dir: TempDir,
    pub storage: Option<Storage>,
}

impl TestStore {
    pub fn new() -> Self {
        Self::with_config(config())
    }

    pub fn with_config(config: StorageConfig) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let storage = Some(Storage::open(dir.path(), config).unwrap());
        Self { dir, storage }
    }

    pub fn s(&self) -> &Storage {
        self.storage.as_ref().unwrap()
    }

    /// Drops the storage (releasing the dir lock) and opens it again.
    pub fn reopen(&mut self) -> &Storage {
        self.storage = None;
        self.storage = Some(Storage::open(self.dir.path(), config()).unwrap());
        self.s()
    }
}

/// Tests do not need real fsyncs to check logic; durability across reopen still holds
/// because the journal is handed to the OS.
pub fn config() -> StorageConfig {
    StorageConfig {
        fsync: false,
        ..StorageConfig::default()
    }
}

pub fn meta(publish_time_ms: u64) -> EntryMeta {
    EntryMeta {
        num_messages: 1,
        publish_time_ms,
        deliver_at_ms: None,
        checksum: crc(publish_time_ms),
        key_hash: Some(7),
    }
}

fn crc(x: u64) -> u32 {
    (x as u32).wrapping_mul(2_654_435_761)
}

pub fn entry(entry_id: u64, len: usize) -> Entry {
    let data: Vec<u8> = (0..len).map(|i| (i as u64 ^ entry_id) as u8).collect();
    Entry {
        entry_id,
        meta: meta(1_000 + entry_id),
        data: Bytes::from(data),
    }
}

pub fn append(ledger_id: u64, entry_id: u64, len: usize) -> WriteOp {
    WriteOp::Append {
        ledger_id,
        entry: entry(entry_id, len),
    }
}

/// Appends ids `from..to` with `len`-byte data, synced.
pub fn append_range(storage: &Storage, ledger_id: u64, from: u64, to: u64, len: usize) {
    let ops = (from..to).map(|id| append(ledger_id, id, len)).collect();
    storage.write(ops).unwrap();
    storage.sync().unwrap();
}
