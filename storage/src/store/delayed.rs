//! Reading the delayed-delivery index: which deferred entries of a cursor are due.

use super::purge::{marker_key, DELAYED_PURGE_PREFIX};
use super::Storage;
use crate::error::StorageError;
use crate::keys::{cursor_prefix, decode_delayed_key, delayed_key, delayed_prefix};

/// One key of the delayed index: an entry and the time it is due.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct DelayedKey {
    /// When the entry is due (epoch ms).
    pub deliver_at_ms: u64,
    /// The entry.
    pub entry_id: u64,
}

/// The answer of [`Storage::due_delayed`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DueDelayed {
    /// Due keys in (time, entry id) order, at most the limit asked for.
    pub due: Vec<DelayedKey>,
    /// Delivery time of the first key not returned, if any: `<= now_ms` when the limit cut the
    /// answer short, later otherwise (when to look again).
    pub next_at_ms: Option<u64>,
}

impl Storage {
    /// The keys of cursor `name` (incarnation `incarnation`) due by `now_ms`, starting at
    /// `from_ms` (keys before it are known to be gone), at most `limit` of them. One range
    /// scan; returned keys stay stored until the cursor removes them
    /// ([`crate::Cursor::undefer`]).
    ///
    /// # Errors
    /// Storage failure, a corrupt key, or an oversized name.
    pub fn due_delayed(
        &self,
        ledger_id: u64,
        name: &str,
        incarnation: u64,
        from_ms: u64,
        now_ms: u64,
        limit: usize,
    ) -> Result<DueDelayed, StorageError> {
        let prefix = delayed_prefix(&cursor_prefix(ledger_id, name)?, incarnation);
        let range = delayed_key(&prefix, from_ms, 0)..=delayed_key(&prefix, u64::MAX, u64::MAX);
        let mut out = DueDelayed::default();
        for guard in self.inner.delayed.range(range) {
            let (deliver_at_ms, entry_id) = decode_delayed_key(&guard.key()?)?;
            if deliver_at_ms > now_ms || out.due.len() >= limit {
                out.next_at_ms = Some(deliver_at_ms);
                break;
            }
            out.due.push(DelayedKey {
                deliver_at_ms,
                entry_id,
            });
        }
        Ok(out)
    }

    /// Every key of one cursor incarnation, in order (tests and tools; walks the whole index
    /// of that cursor).
    ///
    /// # Errors
    /// Storage failure, a corrupt key, or an oversized name.
    pub fn delayed_keys(
        &self,
        ledger_id: u64,
        name: &str,
        incarnation: u64,
    ) -> Result<Vec<DelayedKey>, StorageError> {
        let prefix = delayed_prefix(&cursor_prefix(ledger_id, name)?, incarnation);
        self.inner
            .delayed
            .prefix(&prefix)
            .map(|guard| {
                let (deliver_at_ms, entry_id) = decode_delayed_key(&guard.key()?)?;
                Ok(DelayedKey {
                    deliver_at_ms,
                    entry_id,
                })
            })
            .collect()
    }

    /// Keys of any cursor incarnation of a ledger still stored (tests: orphans are purged).
    ///
    /// # Errors
    /// Storage failure.
    pub fn delayed_keys_of_ledger(&self, ledger_id: u64) -> Result<usize, StorageError> {
        let mut count = 0;
        for guard in self.inner.delayed.prefix(ledger_id.to_be_bytes()) {
            guard.key()?;
            count += 1;
        }
        Ok(count)
    }

    /// Stages the marker that makes a purge of `prefix` durable (to commit in `batch`).
    pub(super) fn stage_delayed_purge(&self, batch: &mut fjall::OwnedWriteBatch, prefix: &[u8]) {
        batch.insert(&self.inner.system, marker_key(prefix), Vec::new());
    }

    /// Restarts purges that a crash interrupted (called by `open`).
    pub(super) fn resume_delayed_purges(&self) -> Result<(), StorageError> {
        for guard in self.inner.system.prefix(DELAYED_PURGE_PREFIX) {
            let key = guard.key()?;
            let prefix = key
                .get(DELAYED_PURGE_PREFIX.len()..)
                .unwrap_or_default()
                .to_vec();
            self.inner.purger.request(prefix);
        }
        Ok(())
    }
}
