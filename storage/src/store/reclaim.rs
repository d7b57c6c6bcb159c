//! Background reclamation of trimmed log space: drops whole on-disk tables below trim points.
//!
//! A trim writes one tombstone per entry, but fjall only frees the space once compaction
//! merges those tombstones with the data, which an append-only log rarely triggers (its
//! tables do not overlap, so they are moved down the tree rather than merged). Measured
//! without this: 256 MiB appended with 64 MiB retained left every trimmed byte on disk.
//! lsm-tree's `drop_range` deletes tables (and with them their value-log blobs) that lie
//! wholly inside a key range, without rewriting anything. It takes the tree's major
//! compaction lock, so it runs here, off the write path, coalescing requests.

use std::collections::BTreeMap;
use std::sync::mpsc::{self, Receiver, Sender};
use std::thread::JoinHandle;

use fjall::{AbstractTree, Keyspace};

use crate::error::StorageError;
use crate::keys::entry_key;

/// Owns the reclaim thread; dropping it stops and joins the thread.
pub(super) struct Reclaimer {
    tx: Option<Sender<(u64, u64)>>,
    handle: Option<JoinHandle<()>>,
}

impl Reclaimer {
    pub(super) fn start(entries: Keyspace) -> Result<Self, StorageError> {
        let (tx, rx) = mpsc::channel();
        let handle = std::thread::Builder::new()
            .name("geminga-reclaim".into())
            .spawn(move || run(&entries, &rx))?;
        Ok(Self {
            tx: Some(tx),
            handle: Some(handle),
        })
    }

    /// Asks for the tables holding only entries of `ledger_id` below `before` to be dropped.
    pub(super) fn request(&self, ledger_id: u64, before: u64) {
        if let Some(tx) = &self.tx {
            // Fails only when the thread is gone (it panicked): space then waits for
            // compaction, which is no correctness issue.
            let _ = tx.send((ledger_id, before));
        }
    }
}

impl Drop for Reclaimer {
    fn drop(&mut self) {
        // Closing the channel ends the loop; joining keeps the database open until the thread
        // no longer uses it, so a reopen of the same dir right after a drop is not refused.
        self.tx = None;
        if let Some(handle) = self.handle.take() {
            if handle.join().is_err() {
                tracing::error!("the reclaim thread panicked");
            }
        }
    }
}

fn run(entries: &Keyspace, rx: &Receiver<(u64, u64)>) {
    while let Ok((ledger_id, before)) = rx.recv() {
        let mut pending = BTreeMap::from([(ledger_id, before)]);
        while let Ok((ledger_id, before)) = rx.try_recv() {
            let slot = pending.entry(ledger_id).or_insert(before);
            *slot = (*slot).max(before);
        }
        for (ledger_id, before) in pending {
            let range = entry_key(ledger_id, 0)..entry_key(ledger_id, before);
            if let Err(e) = entries.tree.drop_range(range) {
                tracing::warn!(ledger_id, before, error = %e, "dropping trimmed tables failed");
            }
        }
    }
}
