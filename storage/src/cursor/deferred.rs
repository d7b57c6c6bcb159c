//! Deferred entries: the cursor's half of the on-disk delayed-delivery index.
//!
//! An entry whose delivery time lies in the future is *deferred*: its bit is set here and a key
//! `(deliver_at_ms, entry_id)` is added to the `delayed` keyspace under the cursor's current
//! incarnation, in the same atomic write. The invariant storage keeps is: a set bit always has
//! its key. A key whose bit is clear is *dead* (the entry was acked, or already dispatched) and
//! is dropped when the index hands it out. The bitmap costs at most one bit per entry id in the
//! span it covers (roaring chunks of 65 536 ids, 8 KiB when dense), whatever the delays are; the
//! times live only on disk.

use std::time::{SystemTime, UNIX_EPOCH};

use roaring::RoaringBitmap;

use super::{join, split, Cursor, CHUNK_SIZE};

/// A fresh incarnation, larger than `previous`: nanoseconds since the epoch, so a cursor deleted
/// and created again under the same name never reuses the old one's keys.
pub(super) fn fresh_incarnation(previous: u64) -> u64 {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
        .unwrap_or(0);
    now.max(previous.saturating_add(1))
}

impl Cursor {
    /// The incarnation that names this cursor's delayed-index keys.
    #[must_use]
    pub fn incarnation(&self) -> u64 {
        self.incarnation
    }

    /// Defers an unacked entry until `deliver_at_ms`: sets its bit and stages its index key.
    /// Returns `false` (and changes nothing) when the entry is acked or already deferred.
    pub fn defer(&mut self, entry_id: u64, deliver_at_ms: u64) -> bool {
        if self.is_acked(entry_id) || self.is_deferred(entry_id) {
            return false;
        }
        let (chunk, bit) = split(entry_id);
        self.deferred.entry(chunk).or_default().insert(bit);
        self.deferred_count += 1;
        self.dirty.deferred.insert(chunk);
        self.dirty.delayed.insert((deliver_at_ms, entry_id), true);
        true
    }

    /// Whether the entry waits in the delayed index.
    #[must_use]
    pub fn is_deferred(&self, entry_id: u64) -> bool {
        let (chunk, bit) = split(entry_id);
        self.deferred.get(&chunk).is_some_and(|bm| bm.contains(bit))
    }

    /// Takes an entry out of the delayed index because its key `(deliver_at_ms, entry_id)` came
    /// due: clears its bit and stages the key's removal. Returns `true` when the entry was
    /// still deferred (it must be dispatched now); `false` for a dead key (acked, or already
    /// taken out), whose removal is staged all the same.
    pub fn undefer(&mut self, entry_id: u64, deliver_at_ms: u64) -> bool {
        let live = self.clear_deferred_bit(entry_id);
        self.dirty.delayed.insert((deliver_at_ms, entry_id), false);
        live
    }

    /// Deferred entries (they count as backlog: they are not acked).
    #[must_use]
    pub fn deferred_count(&self) -> u64 {
        self.deferred_count
    }

    /// Forgets every deferred entry (delayed delivery switched off, or the subscription became
    /// Exclusive/Failover, which deliver at once): a re-read from the floor then delivers them.
    /// Their keys are orphaned with the current incarnation. Returns whether any was deferred.
    pub fn clear_deferred(&mut self) -> bool {
        if self.deferred_count == 0 && self.dirty.delayed.is_empty() {
            return false;
        }
        self.dirty.deferred.extend(self.deferred.keys().copied());
        self.deferred.clear();
        self.deferred_count = 0;
        // Staged keys belong to the old incarnation, which is purged as a whole.
        self.dirty.delayed.clear();
        self.dirty.orphaned.push(self.incarnation);
        self.incarnation = fresh_incarnation(self.incarnation);
        self.dirty.header = true;
        true
    }

    /// The first id in `from..end` (and `>= floor`) that is neither acked nor deferred, or
    /// `end` when there is none: where a sequential read has something to deliver. Skips a run
    /// of a million deferred ids in a few bitmap operations per 65 536 ids.
    #[must_use]
    pub fn next_readable(&self, from: u64, end: u64) -> u64 {
        let mut id = from.max(self.floor);
        while id < end {
            let (chunk, bit) = split(id);
            let acked = self.chunks.get(&chunk);
            let deferred = self.deferred.get(&chunk);
            let gap = match (acked, deferred) {
                (None, None) => Some(bit),
                (Some(a), None) => first_gap(a, bit),
                (None, Some(d)) => first_gap(d, bit),
                (Some(a), Some(d)) => first_gap(&(a | d), bit),
            };
            match gap {
                Some(bit) => return join(chunk, bit).min(end),
                None => id = join(chunk.saturating_add(1), 0),
            }
        }
        end
    }

    /// Clears one entry's deferred bit; true if it was set.
    pub(super) fn clear_deferred_bit(&mut self, entry_id: u64) -> bool {
        let (chunk, bit) = split(entry_id);
        let Some(bm) = self.deferred.get_mut(&chunk) else {
            return false;
        };
        if !bm.remove(bit) {
            return false;
        }
        if bm.is_empty() {
            self.deferred.remove(&chunk);
        }
        self.deferred_count = self.deferred_count.saturating_sub(1);
        self.dirty.deferred.insert(chunk);
        true
    }

    /// Drops deferred bits below a new floor (a cumulative ack passed them).
    pub(super) fn drop_deferred_below(&mut self, new_floor: u64) {
        let (floor_chunk, floor_bit) = split(new_floor);
        let kept = self.deferred.split_off(&floor_chunk);
        let below = std::mem::replace(&mut self.deferred, kept);
        for (chunk, bm) in below {
            self.deferred_count = self.deferred_count.saturating_sub(bm.len());
            self.dirty.deferred.insert(chunk);
        }
        if let Some(bm) = self.deferred.get_mut(&floor_chunk) {
            let removed = bm.remove_range(..floor_bit);
            if removed > 0 {
                self.deferred_count = self.deferred_count.saturating_sub(removed);
                self.dirty.deferred.insert(floor_chunk);
                if bm.is_empty() {
                    self.deferred.remove(&floor_chunk);
                }
            }
        }
    }

    /// Rebuilds `deferred_count` (after a restore).
    pub(super) fn recount_deferred(&mut self) {
        self.deferred_count = self.deferred.values().map(RoaringBitmap::len).sum();
    }
}

/// The first bit `>= from` that `bm` does not contain, if any, by binary search over rank
/// counts (a contiguous run is recognised without visiting its bits).
fn first_gap(bm: &RoaringBitmap, from: u32) -> Option<u32> {
    if from >= CHUNK_SIZE {
        return None;
    }
    let span = u64::from(CHUNK_SIZE - from);
    if bm.range_cardinality(from..CHUNK_SIZE) == span {
        return None;
    }
    // Smallest `x` in from..CHUNK_SIZE with fewer set bits than ids in `from..=x`.
    let (mut lo, mut hi) = (from, CHUNK_SIZE - 1);
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        let ids = u64::from(mid - from) + 1;
        if bm.range_cardinality(from..=mid) < ids {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    Some(lo)
}
