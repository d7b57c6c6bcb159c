//! Geminga's durable state on fjall: topic logs, subscription cursors, metadata.
//!
//! One fjall `Database` per broker data dir holds everything, in keyspaces:
//! `topics` (topic records), `entries` (every topic's log, keyed ledger id ++ entry id),
//! `cursors` (subscription ack state, in independently rewritten parts), `delayed` (the
//! delayed-delivery index: per subscription, keys ordered by delivery time), `metadata` (a
//! versioned key-value store) and `system` (the ledger id counter and bookkeeping).
//!
//! Each topic has one ledger for its whole life, with a `ledger_id` from a durable counter
//! that is never reused. A position is (ledger id, entry id); entry ids start at 0.
//!
//! A [`Storage::write`] is one atomic batch; a group-commit caller puts many requests in one
//! and pays one fsync for them. With payload segments on (the default) the write is durable
//! on return: the active segment is the write-ahead log (`store/wal.rs`) and the batch
//! reaches fjall only after its fdatasync. With them off the batch is buffered in fjall's
//! journal and made durable by [`Storage::sync`] (a no-op with the log, so callers always
//! call it). Topic and metadata operations are durable on return.
//!
//! ```
//! use geminga_storage::{Cursor, Entry, EntryMeta, Storage, StorageConfig, WriteOp};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let dir = tempfile::tempdir()?;
//! let storage = Storage::open(dir.path(), StorageConfig::default())?;
//! let ledger_id = storage.create_topic("persistent://public/default/t")?.ledger_id;
//! let entry = Entry { entry_id: 0, meta: EntryMeta::default(), data: "hi".into() };
//! let mut cursor = Cursor::new("sub", 0);
//! cursor.ack(0);
//! let update = cursor.take_update().ok_or("a new cursor always has an update")?;
//! storage.write(vec![
//!     WriteOp::Append { ledger_id, entry },
//!     WriteOp::Cursor { ledger_id, update },
//! ])?;
//! storage.sync()?; // durable from here on
//! assert_eq!(storage.read_entries(ledger_id, 0, 10, 1 << 20)?.len(), 1);
//! assert_eq!(storage.load_cursor(ledger_id, "sub")?.map(|c| c.ack_floor()), Some(1));
//! # Ok(())
//! # }
//! ```
//!
//! Trimming ([`WriteOp::Trim`]) tombstones entries and raises a durable per-ledger trim
//! watermark below which nothing is ever read again; a background thread then drops whole
//! on-disk tables below it, since an append-only log seldom gets its tombstones compacted.
//!
//! The data of entries (of at least `StorageConfig::payload_segment_min_bytes`, by default
//! all) lives in append-only payload segment files beside the database, written once (fjall
//! would write it to its journal and again at flush); the entry's value in fjall holds a
//! reference to it. A segment is retired (kept as a spare for reuse, or deleted) once every
//! ledger that wrote to it has been trimmed past it.
//!
//! This crate is the only one that names fjall. It does not know the wire protocol (entry
//! data is opaque), runs three threads of its own (the reclaimer, the delayed-key purger and
//! the releaser of fjall's memtables and tables)
//! beside fjall's, and every call blocks: run it on a blocking thread pool.
//!
//! Modules: `store` (the [`Storage`] handle: topics, log reads, writes, cursor loading, the
//! delayed index, payload segments, reclaiming trimmed space and orphaned delayed keys), `cursor` ([`Cursor`]
//! with its deferred entries and redelivery counts, and its incremental [`CursorUpdate`]),
//! `entry` ([`Entry`] and its stored header), `metadata` ([`MetadataStore`]), `faults`
//! ([`StorageFaults`]), `keys` (key layouts), `codec` (checked decoding), `config`, `error`.

mod codec;
mod config;
mod cursor;
mod entry;
mod error;
mod faults;
mod keys;
mod metadata;
mod store;

pub use config::StorageConfig;
pub use cursor::{Cursor, CursorUpdate, DelayedOp};
pub use entry::{Entry, EntryMeta};
pub use error::StorageError;
pub use faults::StorageFaults;
pub use metadata::{MetadataStore, Versioned};
pub use store::{DelayedKey, DueDelayed, EntryPosition, LogBounds, Storage, TopicRecord, WriteOp};
