//! Topic records, the durable ledger id counter, and topic deletion (purge).

use std::sync::PoisonError;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use super::Storage;
use crate::codec::Reader;
use crate::error::StorageError;
use crate::keys::{check_key, entry_key, ledger_cursors_prefix};

/// System key of the next ledger id to hand out.
pub(super) const NEXT_LEDGER_KEY: &[u8] = b"next_ledger_id";
/// System key prefix of ledgers whose entries are still being purged after a delete.
pub(super) const PURGE_PREFIX: &[u8] = b"purge/";
/// System key prefix of trim watermarks (see `Storage::trimmed_before`).
pub(super) const TRIM_PREFIX: &[u8] = b"trim/";
/// Entry tombstones per batch when purging a deleted topic's log.
const PURGE_BATCH: u64 = 16 * 1024;

/// A topic's durable identity.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TopicRecord {
    /// Full topic name, e.g. `persistent://public/default/orders`.
    pub name: String,
    /// The topic's one ledger for its whole life; never reused, even after a delete.
    pub ledger_id: u64,
    /// Creation time (ms since the Unix epoch).
    pub created_at_ms: u64,
}

/// `prefix ++ ledger_id`, a per-ledger system key.
pub(super) fn system_key(prefix: &[u8], ledger_id: u64) -> Vec<u8> {
    let mut key = Vec::with_capacity(prefix.len() + 8);
    key.extend_from_slice(prefix);
    key.extend_from_slice(&ledger_id.to_be_bytes());
    key
}

fn now_ms() -> u64 {
    let since_epoch = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    u64::try_from(since_epoch.as_millis()).unwrap_or(u64::MAX)
}

fn decode_record(value: &[u8]) -> Result<TopicRecord, StorageError> {
    serde_json::from_slice(value).map_err(|e| StorageError::corrupt("topic record", e.to_string()))
}

impl Storage {
    /// The record of topic `name`, if it exists.
    ///
    /// # Errors
    /// Storage failure, a corrupt record, or an invalid name.
    pub fn topic(&self, name: &str) -> Result<Option<TopicRecord>, StorageError> {
        check_key(name, "topic name")?;
        let value = self.inner.topics.get(name)?;
        value.map(|v| decode_record(&v)).transpose()
    }

    /// Creates topic `name` with a fresh ledger id, or returns the existing record.
    /// Durable (synced) on return.
    ///
    /// # Errors
    /// Storage failure or an invalid (empty or > 60 KiB) name.
    pub fn create_topic(&self, name: &str) -> Result<TopicRecord, StorageError> {
        check_key(name, "topic name")?;
        let _guard = self
            .inner
            .topics_lock
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(existing) = self.topic(name)? {
            return Ok(existing);
        }
        let ledger_id = match self.inner.system.get(NEXT_LEDGER_KEY)? {
            Some(v) => Reader::new(&v, "ledger counter").u64()?,
            None => 1,
        };
        let next = ledger_id
            .checked_add(1)
            .ok_or_else(|| StorageError::corrupt("ledger counter", "ledger ids exhausted"))?;
        let record = TopicRecord {
            name: name.to_owned(),
            ledger_id,
            created_at_ms: now_ms(),
        };
        let json = serde_json::to_vec(&record)
            .map_err(|e| StorageError::corrupt("topic record", e.to_string()))?;
        // The record and the counter move together, so a crash can never hand out an id twice.
        let mut batch = self.inner.db.batch();
        batch.insert(&self.inner.topics, name, json);
        batch.insert(
            &self.inner.system,
            NEXT_LEDGER_KEY,
            next.to_be_bytes().to_vec(),
        );
        batch.commit()?;
        self.persist()?;
        tracing::info!(topic = name, ledger_id, "topic created");
        Ok(record)
    }

    /// Every topic record, ordered by name.
    ///
    /// # Errors
    /// Storage failure or a corrupt record.
    pub fn list_topics(&self) -> Result<Vec<TopicRecord>, StorageError> {
        self.inner
            .topics
            .iter()
            .map(|guard| decode_record(&guard.value()?))
            .collect()
    }

    /// Deletes topic `name`: its record, its cursors, its delayed index (purged in the
    /// background), its whole log and the ledgers it owns (see
    /// [`Storage::create_owned_ledger`]). Durable on return.
    ///
    /// The record and cursors go in one atomic step together with a "purge pending" marker
    /// and a trim watermark of `u64::MAX`, which hides the whole log at once; the log is then
    /// removed in bounded batches, and the marker last. A crash in between resumes the purge
    /// on the next `open`. Appends to the ledger that arrive later are dropped.
    ///
    /// # Errors
    /// [`StorageError::TopicNotFound`], or a storage failure.
    pub fn delete_topic(&self, name: &str) -> Result<(), StorageError> {
        let _guard = self
            .inner
            .topics_lock
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let record = self
            .topic(name)?
            .ok_or_else(|| StorageError::TopicNotFound {
                name: name.to_owned(),
            })?;
        let ledger_id = record.ledger_id;
        let mut batch = self.inner.db.batch();
        batch.remove(&self.inner.topics, name);
        batch.insert(
            &self.inner.system,
            system_key(PURGE_PREFIX, ledger_id),
            Vec::new(),
        );
        for guard in self.inner.cursors.prefix(ledger_cursors_prefix(ledger_id)) {
            batch.remove(&self.inner.cursors, guard.key()?);
        }
        let sequences = super::sequences::ledger_sequences_prefix(ledger_id);
        for guard in self.inner.system.prefix(&sequences) {
            batch.remove(&self.inner.system, guard.key()?);
        }
        let owned = self.stage_owned_purges(ledger_id, &mut batch)?;
        // Every subscription's delayed index goes too, in the background.
        let delayed = ledger_cursors_prefix(ledger_id).to_vec();
        self.stage_delayed_purge(&mut batch, &delayed);
        batch.commit()?;
        self.persist()?;
        self.inner.purger.request(delayed);
        self.set_trim_floor(ledger_id, u64::MAX);
        self.purge_log(ledger_id)?;
        for child in owned {
            self.set_trim_floor(child, u64::MAX);
            self.purge_log(child)?;
        }
        tracing::info!(topic = name, ledger_id, "topic deleted");
        Ok(())
    }

    /// Removes every entry of a deleted ledger, then its purge marker. Its trim watermark
    /// stays at `u64::MAX` (16 bytes per deleted topic) so nothing of it can ever reappear.
    pub(super) fn purge_log(&self, ledger_id: u64) -> Result<(), StorageError> {
        if let Some(bounds) = self.bounds_from(ledger_id, 0)? {
            // Ids are contiguous, so tombstoning first..=last needs no scan of the values.
            let mut next = bounds.first;
            loop {
                let end = bounds.last.min(next.saturating_add(PURGE_BATCH - 1));
                let mut batch = self.inner.db.batch();
                for entry_id in next..=end {
                    batch.remove(&self.inner.entries, entry_key(ledger_id, entry_id));
                }
                batch.commit()?;
                if end >= bounds.last {
                    break;
                }
                next = end + 1;
            }
            self.inner.reclaimer.request(ledger_id, u64::MAX);
        }
        let mut batch = self.inner.db.batch();
        let all = u64::MAX.to_be_bytes().to_vec();
        batch.insert(&self.inner.system, system_key(TRIM_PREFIX, ledger_id), all);
        batch.remove(&self.inner.system, system_key(PURGE_PREFIX, ledger_id));
        batch.commit()?;
        self.persist()?;
        self.inner
            .offsets
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&ledger_id);
        Ok(())
    }

    /// Finishes purges that a crash interrupted (called by `open`).
    pub(super) fn resume_purges(&self) -> Result<(), StorageError> {
        let pending: Vec<u64> = self
            .inner
            .system
            .prefix(PURGE_PREFIX)
            .map(|guard| {
                let key = guard.key()?;
                let mut r = Reader::new(
                    key.get(PURGE_PREFIX.len()..).unwrap_or_default(),
                    "purge key",
                );
                r.u64()
            })
            .collect::<Result<_, _>>()?;
        for ledger_id in pending {
            tracing::info!(ledger_id, "resuming the purge of a deleted topic's log");
            self.purge_log(ledger_id)?;
        }
        Ok(())
    }
}
