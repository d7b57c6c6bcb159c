//! Background purge of orphaned delayed-index keys (a cursor reset, deleted, or whose delays
//! were switched off; a deleted topic).
//!
//! Orphaning is one durable marker in the `system` keyspace, written in the same atomic batch
//! that retires the keys; this thread then tombstones the keys in bounded batches and removes
//! the marker last, so a crash in between resumes the purge on the next open. The keys are
//! invisible to readers from the moment they are orphaned (every reader scans under the
//! current incarnation), so nothing waits for the purge.

use std::sync::mpsc::Receiver;

use fjall::{Database, Keyspace};

use super::worker::Worker;
use crate::error::StorageError;

/// System key prefix of pending purges; the rest of the key is the delayed-key prefix.
pub(super) const DELAYED_PURGE_PREFIX: &[u8] = b"dpurge/";
/// Tombstones per committed batch.
const PURGE_BATCH: usize = 16 * 1024;

/// The marker key for purging everything under `prefix`.
pub(super) fn marker_key(prefix: &[u8]) -> Vec<u8> {
    let mut key = Vec::with_capacity(DELAYED_PURGE_PREFIX.len() + prefix.len());
    key.extend_from_slice(DELAYED_PURGE_PREFIX);
    key.extend_from_slice(prefix);
    key
}

/// Owns the purge thread; dropping it stops and joins the thread.
pub(super) struct DelayedPurger(Worker<Vec<u8>>);

/// What the purge thread works on.
struct Target {
    db: Database,
    delayed: Keyspace,
    system: Keyspace,
}

impl DelayedPurger {
    pub(super) fn start(
        db: Database,
        delayed: Keyspace,
        system: Keyspace,
    ) -> Result<Self, StorageError> {
        let target = Target {
            db,
            delayed,
            system,
        };
        let worker = Worker::spawn("geminga-delayed-purge", move |rx| run(&target, &rx))?;
        Ok(Self(worker))
    }

    /// Purges every delayed key under `prefix` (its marker must already be stored).
    pub(super) fn request(&self, prefix: Vec<u8>) {
        // Fails only when the thread is gone (it panicked): the marker stays and the purge
        // resumes on the next open.
        self.0.send(prefix);
    }
}

fn run(target: &Target, rx: &Receiver<Vec<u8>>) {
    while let Ok(prefix) = rx.recv() {
        if let Err(e) = purge(target, &prefix) {
            // The marker stays: the purge is retried on the next open.
            tracing::warn!(error = %e, "purging orphaned delayed keys failed");
        }
    }
}

/// Tombstones every key under `prefix`, then removes the marker.
fn purge(target: &Target, prefix: &[u8]) -> Result<(), StorageError> {
    let mut removed = 0usize;
    let mut batch = target.db.batch();
    let mut in_batch = 0usize;
    // One iterator over a snapshot: keys tombstoned by earlier batches are not walked again.
    for guard in target.delayed.prefix(prefix) {
        batch.remove(&target.delayed, guard.key()?);
        in_batch += 1;
        if in_batch == PURGE_BATCH {
            std::mem::replace(&mut batch, target.db.batch()).commit()?;
            removed += in_batch;
            in_batch = 0;
        }
    }
    removed += in_batch;
    batch.remove(&target.system, marker_key(prefix));
    batch.commit()?;
    tracing::debug!(removed, "orphaned delayed keys purged");
    Ok(())
}
