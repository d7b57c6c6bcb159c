//! Reading a ledger's log: bounds, ranges, point reads, seek by publish time, size.

use std::sync::PoisonError;

use bytes::Bytes;

use super::topics::{system_key, TRIM_PREFIX};
use super::Storage;
use crate::codec::Reader;
use crate::entry::{data_len, decode_header, decode_value, Entry, Header, StoredData};
use crate::error::StorageError;
use crate::keys::{decode_entry_key, entry_key, entry_range};

/// First and last stored entry ids of a ledger (inclusive).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LogBounds {
    /// Lowest stored entry id (everything below was trimmed or never written).
    pub first: u64,
    /// Highest stored entry id.
    pub last: u64,
}

impl Storage {
    /// First and last stored entry ids of `ledger_id`, or `None` if its log is empty.
    /// Two seeks (one forward from the trim watermark, so trimmed tombstones are not walked
    /// over, one reverse); never scans the log.
    ///
    /// # Errors
    /// Storage failure or a corrupt key.
    pub fn log_bounds(&self, ledger_id: u64) -> Result<Option<LogBounds>, StorageError> {
        self.bounds_from(ledger_id, self.trim_floor(ledger_id)?)
    }

    /// Bounds of the stored ids `>= from`, including any below the trim floor.
    pub(super) fn bounds_from(
        &self,
        ledger_id: u64,
        from: u64,
    ) -> Result<Option<LogBounds>, StorageError> {
        let range = entry_range(ledger_id, from, u64::MAX);
        let Some(first) = self.inner.entries.range(range.clone()).next() else {
            return Ok(None);
        };
        let first = decode_entry_key(&first.key()?)?.1;
        let last = match self.inner.entries.range(range).next_back() {
            Some(guard) => decode_entry_key(&guard.key()?)?.1,
            // Trimmed away between the two seeks.
            None => return Ok(None),
        };
        Ok(Some(LogBounds { first, last }))
    }

    /// Entries with ids `>= from_entry`, in order. Stops after `max_entries` entries, or once
    /// their data adds up to `max_bytes` or more, but returns at least one entry if one exists
    /// (and `max_entries > 0`), however large it is.
    ///
    /// # Errors
    /// Storage failure or a corrupt entry.
    pub fn read_entries(
        &self,
        ledger_id: u64,
        from_entry: u64,
        max_entries: usize,
        max_bytes: usize,
    ) -> Result<Vec<Entry>, StorageError> {
        let mut out = Vec::new();
        if max_entries == 0 {
            return Ok(out);
        }
        let from_entry = from_entry.max(self.trim_floor(ledger_id)?);
        let mut bytes = 0usize;
        for guard in self
            .inner
            .entries
            .range(entry_range(ledger_id, from_entry, u64::MAX))
        {
            let (key, value) = guard.into_inner()?;
            let (_, entry_id) = decode_entry_key(&key)?;
            let Some(entry) = self.entry_from(ledger_id, entry_id, Bytes::from(value))? else {
                continue;
            };
            bytes = bytes.saturating_add(entry.data.len());
            out.push(entry);
            if out.len() >= max_entries || bytes >= max_bytes {
                break;
            }
        }
        Ok(out)
    }

    /// One entry, if stored.
    ///
    /// # Errors
    /// Storage failure or a corrupt entry.
    pub fn read_entry(&self, ledger_id: u64, entry_id: u64) -> Result<Option<Entry>, StorageError> {
        if entry_id < self.trim_floor(ledger_id)? {
            return Ok(None);
        }
        let Some(value) = self.inner.entries.get(entry_key(ledger_id, entry_id))? else {
            return Ok(None);
        };
        self.entry_from(ledger_id, entry_id, Bytes::from(value))
    }

    /// The first entry id whose publish time is `>= publish_time_ms`, or `None` if every
    /// stored entry is older. Binary search over ids (O(log n) seeks), so it assumes publish
    /// times do not decrease along the log; with skewed producer clocks the answer is an id
    /// where the times cross `publish_time_ms`, not necessarily the first such id.
    ///
    /// # Errors
    /// Storage failure or a corrupt entry.
    pub fn find_by_publish_time(
        &self,
        ledger_id: u64,
        publish_time_ms: u64,
    ) -> Result<Option<u64>, StorageError> {
        self.first_reaching(ledger_id, publish_time_ms, |header| {
            header.meta.publish_time_ms
        })
    }

    /// The first entry id whose `field` (a header value that does not decrease along the log)
    /// is `>= target`. Binary search over ids, O(log n) seeks.
    pub(super) fn first_reaching(
        &self,
        ledger_id: u64,
        target: u64,
        field: fn(&Header) -> u64,
    ) -> Result<Option<u64>, StorageError> {
        let Some(bounds) = self.log_bounds(ledger_id)? else {
            return Ok(None);
        };
        let (mut lo, mut hi) = (bounds.first, bounds.last.saturating_add(1));
        let mut answer = None;
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            // Seek to the first stored id >= mid, which also copes with holes in the log.
            match self.first_in(ledger_id, mid, hi, field)? {
                Some((id, value)) if value >= target => {
                    answer = Some(id);
                    hi = mid;
                }
                Some((id, _)) => lo = id + 1,
                None => hi = mid,
            }
        }
        Ok(answer)
    }

    /// (id, `field` of its header) of the first stored entry with id in `from..to`.
    fn first_in(
        &self,
        ledger_id: u64,
        from: u64,
        to: u64,
        field: fn(&Header) -> u64,
    ) -> Result<Option<(u64, u64)>, StorageError> {
        let range = entry_key(ledger_id, from)..entry_key(ledger_id, to);
        let Some(guard) = self.inner.entries.range(range).next() else {
            return Ok(None);
        };
        let (key, value) = guard.into_inner()?;
        let id = decode_entry_key(&key)?.1;
        Ok(Some((id, field(&decode_header(&value)?))))
    }

    /// Data bytes stored in the log of `ledger_id` (entry headers and fjall overhead
    /// excluded). Computed from offsets kept in the first and last entries, so it costs two
    /// point reads. Exact while entries are appended in id order; approximate after an entry
    /// is rewritten with a different size.
    ///
    /// # Errors
    /// Storage failure or a corrupt entry.
    pub fn log_size_bytes(&self, ledger_id: u64) -> Result<u64, StorageError> {
        let Some(bounds) = self.log_bounds(ledger_id)? else {
            return Ok(0);
        };
        let first = self.inner.entries.get(entry_key(ledger_id, bounds.first))?;
        let last = self.inner.entries.get(entry_key(ledger_id, bounds.last))?;
        let (Some(first), Some(last)) = (first, last) else {
            return Ok(0);
        };
        let start = decode_header(&first)?.offset;
        let last_len = data_len(&last)?;
        let end = decode_header(&last)?.offset.saturating_add(last_len);
        Ok(end.saturating_sub(start))
    }

    /// The highest `before_entry` of any `WriteOp::Trim` on this ledger: 0 if never trimmed,
    /// `u64::MAX` once its topic is deleted. Once a trim empties a log this is the only
    /// record of how far it went, so a recovering topic should start appending at
    /// `max(last + 1, trimmed_before)`.
    ///
    /// # Errors
    /// Storage failure or a corrupt record.
    pub fn trimmed_before(&self, ledger_id: u64) -> Result<u64, StorageError> {
        self.trim_floor(ledger_id)
    }

    /// The trim watermark, cached. Every reader starts at it, so an entry below it stays
    /// invisible even if an older copy reappears: dropping whole tables (see `reclaim`) can
    /// remove a table of tombstones while a deeper table still holds the values they hid.
    pub(super) fn trim_floor(&self, ledger_id: u64) -> Result<u64, StorageError> {
        let cached = self
            .inner
            .trim_floors
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(&floor) = cached.get(&ledger_id) {
            return Ok(floor);
        }
        drop(cached);
        let floor = match self.inner.system.get(system_key(TRIM_PREFIX, ledger_id))? {
            Some(v) => Reader::new(&v, "trim watermark").u64()?,
            None => 0,
        };
        self.set_trim_floor(ledger_id, floor);
        Ok(floor)
    }

    /// Raises the cached trim watermark (after the batch that stores it committed).
    pub(super) fn set_trim_floor(&self, ledger_id: u64, floor: u64) {
        let mut cached = self
            .inner
            .trim_floors
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        let slot = cached.entry(ledger_id).or_insert(floor);
        *slot = (*slot).max(floor);
        let floor = *slot;
        drop(cached);
        for segment in self.inner.payloads.trimmed(ledger_id, floor) {
            self.inner.reclaimer.retire_segment(segment);
        }
    }

    /// The entry a stored value describes, its data read from a payload segment if it lies in
    /// one; `None` when that segment was deleted because a trim passed the entry meanwhile.
    pub(super) fn entry_from(
        &self,
        ledger_id: u64,
        entry_id: u64,
        value: Bytes,
    ) -> Result<Option<Entry>, StorageError> {
        let (header, data) = decode_value(value)?;
        let data = match data {
            StoredData::Inline(data) => data,
            StoredData::External(payload) => match self.inner.payloads.read(payload)? {
                Some(data) => data,
                None if entry_id < self.trim_floor(ledger_id)? => return Ok(None),
                None => {
                    return Err(StorageError::corrupt(
                        "payload segment",
                        format!(
                            "segment {} of {ledger_id}:{entry_id} is missing",
                            payload.segment
                        ),
                    ))
                }
            },
        };
        Ok(Some(Entry {
            entry_id,
            meta: header.meta,
            data,
        }))
    }

    /// Data bytes appended to the ledger before its next entry: the offset after the last
    /// stored entry (0 for an empty log). Used once per ledger to seed the offset counter.
    pub(super) fn next_offset(&self, ledger_id: u64) -> Result<u64, StorageError> {
        let Some(bounds) = self.log_bounds(ledger_id)? else {
            return Ok(0);
        };
        let Some(last) = self.inner.entries.get(entry_key(ledger_id, bounds.last))? else {
            return Ok(0);
        };
        let len = data_len(&last)?;
        Ok(decode_header(&last)?.offset.saturating_add(len))
    }
}
