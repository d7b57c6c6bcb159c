//! Redelivery counts kept with the cursor, so they survive a broker restart.
//!
//! Only entries redelivered at least once and still unacked have a count; acking an entry (or
//! the floor passing it) forgets it. Counts are stored in chunks of 1 024 ids so one redelivery
//! rewrites at most a few KiB.

use super::Cursor;
use crate::codec::Reader;
use crate::error::StorageError;

/// `entry_id >> REDELIVERY_CHUNK_BITS` is the chunk a count is stored in.
pub(super) const REDELIVERY_CHUNK_BITS: u32 = 10;

fn chunk_of(entry_id: u64) -> u64 {
    entry_id >> REDELIVERY_CHUNK_BITS
}

impl Cursor {
    /// How many times the entry was redelivered (0 when never, or when acked).
    #[must_use]
    pub fn redelivery_count(&self, entry_id: u64) -> u32 {
        self.redeliveries.get(&entry_id).copied().unwrap_or(0)
    }

    /// Records that the entry has been redelivered `count` times. Counts only grow; acked
    /// entries are ignored. Returns whether anything changed (and will be persisted).
    pub fn set_redelivery_count(&mut self, entry_id: u64, count: u32) -> bool {
        if count == 0 || self.is_acked(entry_id) || self.redelivery_count(entry_id) >= count {
            return false;
        }
        self.redeliveries.insert(entry_id, count);
        self.dirty.redeliveries.insert(chunk_of(entry_id));
        true
    }

    /// Entries with a redelivery count.
    #[must_use]
    pub fn redelivered_entries(&self) -> usize {
        self.redeliveries.len()
    }

    pub(super) fn forget_redeliveries(&mut self, entry_id: u64) {
        if self.redeliveries.remove(&entry_id).is_some() {
            self.dirty.redeliveries.insert(chunk_of(entry_id));
        }
    }

    pub(super) fn drop_redeliveries_below(&mut self, new_floor: u64) {
        let kept = self.redeliveries.split_off(&new_floor);
        let below = std::mem::replace(&mut self.redeliveries, kept);
        self.dirty
            .redeliveries
            .extend(below.into_keys().map(chunk_of));
    }

    /// The stored value of one redelivery chunk, `None` when it holds no count any more.
    pub(super) fn encode_redelivery_chunk(&self, chunk: u64) -> Option<Vec<u8>> {
        let first = chunk << REDELIVERY_CHUNK_BITS;
        let last = first | ((1 << REDELIVERY_CHUNK_BITS) - 1);
        let mut out = Vec::new();
        for (&id, &count) in self.redeliveries.range(first..=last) {
            // The mask keeps 10 bits, so the narrowing cast cannot lose anything.
            out.extend_from_slice(&((id - first) as u16).to_be_bytes());
            out.extend_from_slice(&count.to_be_bytes());
        }
        (!out.is_empty()).then_some(out)
    }
}

/// Decodes a redelivery chunk into `(entry_id, count)` pairs.
pub(super) fn decode_redelivery_chunk(
    chunk: u64,
    value: &[u8],
) -> Result<Vec<(u64, u32)>, StorageError> {
    const WHAT: &str = "cursor redelivery counts";
    if value.len() % 6 != 0 {
        return Err(StorageError::corrupt(
            WHAT,
            format!("length {} not a multiple of 6", value.len()),
        ));
    }
    let first = chunk << REDELIVERY_CHUNK_BITS;
    let mut r = Reader::new(value, WHAT);
    (0..value.len() / 6)
        .map(|_| {
            let offset = r.u16()?;
            if u32::from(offset) >= 1 << REDELIVERY_CHUNK_BITS {
                return Err(StorageError::corrupt(WHAT, "offset outside the chunk"));
            }
            Ok((first | u64::from(offset), r.u32()?))
        })
        .collect()
}
