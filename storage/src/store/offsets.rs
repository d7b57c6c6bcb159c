//! Size questions about a log answered from the data offsets kept in entry headers: bytes from
//! an entry to the end, and the first entry past an offset (retention by size, backlog quotas).

use super::Storage;
use crate::entry::{data_len, decode_header};
use crate::error::StorageError;
use crate::keys::{decode_entry_key, entry_range};

/// Where one stored entry sits in its log.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EntryPosition {
    /// The entry's id.
    pub entry_id: u64,
    /// Its producer publish time (ms since the Unix epoch).
    pub publish_time_ms: u64,
    /// Data bytes appended to the ledger before it.
    pub offset: u64,
    /// Its data length.
    pub len: u64,
}

impl Storage {
    /// The first stored entry with id `>= from` (not below the trim watermark), if any. One
    /// seek.
    ///
    /// # Errors
    /// Storage failure or a corrupt entry.
    pub fn entry_position(
        &self,
        ledger_id: u64,
        from: u64,
    ) -> Result<Option<EntryPosition>, StorageError> {
        let from = from.max(self.trim_floor(ledger_id)?);
        let range = entry_range(ledger_id, from, u64::MAX);
        let Some(guard) = self.inner.entries.range(range).next() else {
            return Ok(None);
        };
        let (key, value) = guard.into_inner()?;
        let header = decode_header(&value)?;
        Ok(Some(EntryPosition {
            entry_id: decode_entry_key(&key)?.1,
            publish_time_ms: header.meta.publish_time_ms,
            offset: header.offset,
            len: data_len(&value)?,
        }))
    }

    /// Data bytes of the stored entries with ids `>= from`: from the first of them to the end
    /// of the log. Two seeks, no scan.
    ///
    /// # Errors
    /// Storage failure or a corrupt entry.
    pub fn bytes_from(&self, ledger_id: u64, from: u64) -> Result<u64, StorageError> {
        let Some(start) = self.entry_position(ledger_id, from)? else {
            return Ok(0);
        };
        Ok(self.end_offset(ledger_id)?.saturating_sub(start.offset))
    }

    /// The offset just past the last stored entry (0 for an empty log).
    ///
    /// # Errors
    /// Storage failure or a corrupt entry.
    pub fn end_offset(&self, ledger_id: u64) -> Result<u64, StorageError> {
        self.next_offset(ledger_id)
    }

    /// The first stored entry whose offset is `>= offset`, or `None` when every stored entry
    /// starts before it. Binary search over ids (O(log n) seeks); offsets grow with ids.
    ///
    /// # Errors
    /// Storage failure or a corrupt entry.
    pub fn find_by_offset(&self, ledger_id: u64, offset: u64) -> Result<Option<u64>, StorageError> {
        self.first_reaching(ledger_id, offset, |header| header.offset)
    }

    /// Bytes the logs occupy on disk (the entries keyspace's tables and blobs, and the
    /// payload segments; not the journal): what trimming eventually gives back.
    #[must_use]
    pub fn log_disk_space(&self) -> u64 {
        self.inner
            .entries
            .disk_space()
            .saturating_add(self.inner.payloads.disk_bytes())
    }
}
