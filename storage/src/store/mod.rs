//! `Storage`: one fjall database per broker data dir, shared by every topic.

mod cursors;
mod delayed;
mod journal_sync;
mod ledgers;
mod log;
mod offsets;
mod payloads;
mod purge;
mod reclaim;
mod release;
mod sequences;
mod topics;
mod wal;
mod worker;
mod write;

use std::collections::HashMap;
use std::fmt;
use std::path::Path;
use std::sync::{Arc, Mutex, RwLock};

use fjall::{
    CompressionType, Database, Keyspace, KeyspaceCreateOptions, KvSeparationOptions, PersistMode,
};

use crate::config::StorageConfig;
use crate::error::StorageError;
use crate::faults::StorageFaults;
use crate::metadata::{FjallMetadataStore, MetadataStore};
use journal_sync::JournalSync;
use payloads::{payload_dir, runway::Runway, Payloads};
use purge::DelayedPurger;
use reclaim::Reclaimer;
use release::Releaser;
use wal::{Spaces, POS_KEY};

pub use delayed::{DelayedKey, DueDelayed};
pub use log::LogBounds;
pub use offsets::EntryPosition;
pub use topics::TopicRecord;
pub use write::WriteOp;

/// Entries at least this large go to the value log when `kv_separation` is on; smaller ones
/// stay inline, where a range read finds them in the same block as their key.
const KV_SEPARATION_THRESHOLD_BYTES: u32 = 4 * 1024;

/// Journal bytes kept before fjall flushes the small keyspaces (cursors, system, topics)
/// that pin old journals. fjall's default, 512 MiB, left ~220 MiB of journals on disk in the
/// append bench; the minimum is 64 MiB, and one full `entries` memtable is 64 MiB.
const MAX_JOURNAL_BYTES: u64 = 128 * 1024 * 1024;

/// Durable broker state on fjall. Cheap to clone (an `Arc` inside); every method blocks, so
/// call them from a blocking thread pool, never from an async executor or actix arbiter.
#[derive(Clone)]
pub struct Storage {
    inner: Arc<Inner>,
}

struct Inner {
    /// First field so it is dropped (its thread joined) before anything else.
    reclaimer: Reclaimer,
    /// Joined right after the reclaimer: it holds references into every keyspace. Never
    /// read; it is here to be dropped.
    _releaser: Releaser,
    /// Joined right after the reclaimer, for the same reason.
    purger: DelayedPurger,
    /// Zeroes ahead of the write-ahead log (with segments and fsync on). Never read.
    _runway: Option<Runway>,
    /// Syncs fjall's journal in small steps (with segments and fsync on). Never read.
    _journal_sync: Option<JournalSync>,
    db: Database,
    /// Topic name -> JSON `TopicRecord`.
    topics: Keyspace,
    /// Ledger id ++ entry id -> entry header ++ data.
    entries: Keyspace,
    /// Ledger id ++ subscription name ++ part -> cursor header, ack chunk, batch ack set,
    /// deferred bitmap or redelivery counts.
    cursors: Keyspace,
    /// Ledger id ++ subscription name ++ incarnation ++ deliver-at ms ++ entry id -> nothing:
    /// the delayed-delivery index, scanned by time per subscription.
    delayed: Keyspace,
    /// Internal bookkeeping: the ledger id counter, pending purges, trim watermarks, the
    /// payload segment manifest.
    system: Keyspace,
    /// Entry payloads, written once outside fjall, and the write-ahead log.
    payloads: Arc<Payloads>,
    /// The keyspaces a `write` changes, as the log names them.
    spaces: Spaces,
    metadata: FjallMetadataStore,
    /// The metadata store's keyspace, for [`Storage::checkpoint`].
    metadata_ks: Keyspace,
    /// How `sync` and every "durable on return" operation persist the journal.
    persist: PersistMode,
    faults: StorageFaults,
    /// Serialises topic creation and deletion (read-modify-write of the ledger counter).
    topics_lock: Mutex<()>,
    /// Bytes appended so far per ledger (stored in each entry header, for `log_size_bytes`).
    /// Also serialises `write`, so offsets are assigned in commit order.
    offsets: Mutex<HashMap<u64, u64>>,
    /// Trim watermark per ledger, read through from the `system` keyspace.
    trim_floors: RwLock<HashMap<u64, u64>>,
}

impl fmt::Debug for Storage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Storage")
            .field("persist", &self.inner.persist)
            .finish_non_exhaustive()
    }
}

impl Drop for Inner {
    /// Hands staged writes to the OS on a clean shutdown, so an unsynced tail survives a
    /// graceful stop (it was never promised durable, but losing it for no reason is rude).
    fn drop(&mut self) {
        if let Err(e) = self.db.persist(PersistMode::Buffer) {
            tracing::warn!(error = %e, "flushing the journal on shutdown failed");
        }
    }
}

impl Storage {
    /// Opens (or creates) the database in `dir` and resumes any topic purge that a crash
    /// interrupted. Takes a lock on `dir`: a second `open` of the same dir fails while the
    /// first `Storage` is alive.
    ///
    /// # Errors
    /// I/O errors, a locked or corrupt database, or a failed purge.
    pub fn open(dir: impl AsRef<Path>, config: StorageConfig) -> Result<Storage, StorageError> {
        let db = Database::builder(dir.as_ref())
            .cache_size(config.cache_size_bytes)
            // Writes are buffered in the journal and persisted only by `sync` (group commit).
            .manual_journal_persist(true)
            .max_journaling_size(MAX_JOURNAL_BYTES)
            // Payloads are opaque and often compressed by the client already; LZ4 on them
            // costs CPU on the write path (under the journal lock) and saves nothing.
            .journal_compression(CompressionType::None)
            .worker_threads(config.worker_threads.max(1))
            .open()?;
        let kv = config.kv_separation.then(|| {
            KvSeparationOptions::default()
                .separation_threshold(KV_SEPARATION_THRESHOLD_BYTES)
                .compression(CompressionType::None)
        });
        let entries = db.keyspace("entries", || {
            KeyspaceCreateOptions::default()
                .with_kv_separation(kv)
                .max_memtable_size(config.entries_memtable_bytes)
        })?;
        let topics = db.keyspace("topics", KeyspaceCreateOptions::default)?;
        let cursors = db.keyspace("cursors", KeyspaceCreateOptions::default)?;
        let delayed = db.keyspace("delayed", KeyspaceCreateOptions::default)?;
        let system = db.keyspace("system", KeyspaceCreateOptions::default)?;
        let metadata_ks = db.keyspace("metadata", KeyspaceCreateOptions::default)?;
        // fdatasync, like Pulsar's `journalSyncData`: the journal's data and size, not its
        // timestamps.
        let persist = if config.fsync {
            PersistMode::SyncData
        } else {
            PersistMode::Buffer
        };
        let metadata = FjallMetadataStore::new(db.clone(), metadata_ks.clone(), persist);
        let spaces = Spaces {
            entries: entries.clone(),
            cursors: cursors.clone(),
            system: system.clone(),
            delayed: delayed.clone(),
        };
        // Before the payloads read the manifest: replayed groups add to it.
        let logged = wal::replay(&db, &spaces, &payload_dir(dir.as_ref()))?;
        let payloads = Arc::new(Payloads::open(
            dir.as_ref(),
            config.payload_segment_bytes,
            config.payload_segment_min_bytes,
            config.fsync,
            &system,
        )?);
        if payloads.logs() {
            // The next group starts a new segment; the chain must say so before it exists.
            let next = payloads.resume_log(logged);
            system.insert(POS_KEY, next.encode())?;
            db.persist(persist)?;
        }
        // Off the write path, only worth it when the log syncs its groups.
        let smoothing = payloads.logs() && config.fsync;
        let storage = Storage {
            inner: Arc::new(Inner {
                reclaimer: Reclaimer::start(
                    db.clone(),
                    persist,
                    entries.clone(),
                    system.clone(),
                    payloads.clone(),
                )?,
                _releaser: Releaser::start(vec![
                    entries.clone(),
                    topics.clone(),
                    cursors.clone(),
                    delayed.clone(),
                    system.clone(),
                    metadata_ks.clone(),
                ])?,
                purger: DelayedPurger::start(db.clone(), delayed.clone(), system.clone())?,
                _runway: smoothing
                    .then(|| Runway::start(payloads.clone()))
                    .transpose()?,
                _journal_sync: smoothing
                    .then(|| JournalSync::start(dir.as_ref()))
                    .transpose()?,
                db,
                topics,
                entries,
                cursors,
                delayed,
                system,
                payloads,
                spaces,
                metadata,
                metadata_ks,
                persist,
                faults: StorageFaults::default(),
                topics_lock: Mutex::new(()),
                offsets: Mutex::new(HashMap::new()),
                trim_floors: RwLock::new(HashMap::new()),
            }),
        };
        storage.resume_purges()?;
        storage.resume_delayed_purges()?;
        storage.free_unneeded_segments()?;
        Ok(storage)
    }

    /// Fault injection switches for tests (off by default).
    #[must_use]
    pub fn faults(&self) -> &StorageFaults {
        &self.inner.faults
    }

    /// The generic metadata store (tenants, namespaces, policies).
    #[must_use]
    pub fn metadata(&self) -> &dyn MetadataStore {
        &self.inner.metadata
    }

    /// Makes everything written before this call durable. With payload segments on, every
    /// `write` already is (the log); otherwise this fsyncs the journal when
    /// `StorageConfig::fsync` is set, or only hands it to the OS.
    ///
    /// # Errors
    /// An injected fault, or an I/O error. After a failed fsync fjall poisons the database
    /// (`StorageError::is_fatal`): every later write fails too.
    pub fn sync(&self) -> Result<(), StorageError> {
        self.inner.faults.check_sync()?;
        if self.inner.payloads.logs() {
            return Ok(());
        }
        self.persist()
    }

    /// Applies every trim watermark to the segment manifest and deletes the segments no
    /// ledger needs (freed before a restart, or written by a batch a crash lost).
    fn free_unneeded_segments(&self) -> Result<(), StorageError> {
        for ledger_id in self.inner.payloads.ledgers() {
            // Reading the watermark feeds it to the payloads (`set_trim_floor`).
            self.trim_floor(ledger_id)?;
        }
        for segment in self.inner.payloads.unheld_files()? {
            self.inner.reclaimer.retire_segment(segment);
        }
        Ok(())
    }

    /// Flushes every keyspace's memtable to disk and waits for it: the last step of a clean
    /// shutdown, so that the next `open` finds nothing of the journal left to insert again.
    /// After heavy load the journal holds up to 128 MiB of small records (index entries,
    /// cursor updates), and replaying them was most of a restart's time (1.2 s of 1.3 s with
    /// 10M stored messages over 1,000 topics). Blocks until the flushes are done.
    ///
    /// # Errors
    /// A failed flush or sync; nothing is lost then, the next open replays the journal.
    pub fn checkpoint(&self) -> Result<(), StorageError> {
        let inner = &self.inner;
        for keyspace in [
            &inner.entries,
            &inner.cursors,
            &inner.delayed,
            &inner.system,
            &inner.topics,
            &inner.metadata_ks,
        ] {
            keyspace.rotate_memtable_and_wait()?;
        }
        self.persist()
    }

    /// Persists the journal in the configured mode (no fault check: internal callers).
    fn persist(&self) -> Result<(), StorageError> {
        Ok(self.inner.db.persist(self.inner.persist)?)
    }
}

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_ledgers;
#[cfg(test)]
mod tests_wal;
