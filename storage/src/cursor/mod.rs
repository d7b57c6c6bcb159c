//! Cursor: a subscription's durable ack state, kept compact and persisted incrementally.
//!
//! Acked ids above the floor live in roaring bitmaps, one per chunk of 65 536 ids
//! (chunk index = `entry_id >> 16`). Only chunks touched since the last
//! [`Cursor::take_update`] are written again, so one ack costs one chunk (at most ~8 KiB),
//! never the whole state, and there is no cap on the number of ack holes.
//!
//! The cursor also owns the subscription's delivery bookkeeping that must survive a restart:
//! which entries wait in the on-disk delayed-delivery index (`deferred`, see [`deferred`]) and
//! how often each unacked entry was redelivered (see [`redelivery`]).

mod codec;
mod deferred;
mod redelivery;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_delayed;
mod update;

use std::collections::{BTreeMap, BTreeSet};

use roaring::RoaringBitmap;

pub(crate) use codec::{decode_header as decode_cursor_header, StoredCursor};
pub use update::{CursorUpdate, DelayedOp};

/// Number of entry ids covered by one chunk.
const CHUNK_SIZE: u32 = 1 << 16;

/// Splits an entry id into (chunk index, bit within the chunk).
fn split(entry_id: u64) -> (u64, u32) {
    // The mask keeps 16 bits, so the narrowing cast cannot lose anything.
    (entry_id >> 16, (entry_id & 0xFFFF) as u32)
}

/// The first entry id of a chunk plus `bit` (saturating at the top of the id space).
fn join(chunk: u64, bit: u32) -> u64 {
    (chunk << 16).saturating_add(u64::from(bit))
}

/// A subscription's ack state: everything below `ack_floor` is acked; above it, individually
/// acked ids and partially acked batch entries are remembered.
#[derive(Clone, Debug)]
pub struct Cursor {
    name: String,
    /// Lowest entry id that may be unacked (mark-delete position + 1).
    floor: u64,
    /// Acked ids `>= floor`, by chunk; a chunk that becomes empty is removed.
    chunks: BTreeMap<u64, RoaringBitmap>,
    /// Batch entries `>= floor` with some messages acked: the bits still UNACKED, in Java
    /// `BitSet` long-array layout, as the client sends them.
    batches: BTreeMap<u64, Vec<i64>>,
    properties: BTreeMap<String, String>,
    /// Names the cursor's delayed-index keys; a new value (new cursor, seek, delays switched
    /// off) orphans every key written under the old one, so they never have to be deleted
    /// one by one on the hot path (storage purges orphans in the background).
    incarnation: u64,
    /// Entries `>= floor` waiting in the delayed-delivery index, by chunk like `chunks`. The
    /// sequential reader skips them; they are dispatched when the index says they are due.
    deferred: BTreeMap<u64, RoaringBitmap>,
    /// Number of bits set in `deferred`.
    deferred_count: u64,
    /// Redelivery count of unacked entries `>= floor` that were redelivered at least once.
    redeliveries: BTreeMap<u64, u32>,
    /// What changed since the last `take_update`.
    dirty: Dirty,
}

/// Changes not yet handed out by `take_update`.
#[derive(Clone, Debug, Default)]
struct Dirty {
    /// Rewrite everything and delete whatever else is stored under this cursor's name: used
    /// for a new cursor (a stale one of the same name may exist), after `reset`, and after a
    /// failed persist when the stored state is unknown.
    full: bool,
    header: bool,
    chunks: BTreeSet<u64>,
    batches: BTreeSet<u64>,
    /// Deferred-bitmap chunks changed.
    deferred: BTreeSet<u64>,
    /// Redelivery-count chunks changed (see `redelivery::REDELIVERY_CHUNK_BITS`).
    redeliveries: BTreeSet<u64>,
    /// Delayed-index keys `(deliver_at_ms, entry_id)` to add (`true`) or remove, under the
    /// current incarnation.
    delayed: BTreeMap<(u64, u64), bool>,
    /// Incarnations whose delayed-index keys are to be purged.
    orphaned: Vec<u64>,
}

impl Dirty {
    fn is_clean(&self) -> bool {
        !self.full
            && !self.header
            && self.chunks.is_empty()
            && self.batches.is_empty()
            && self.deferred.is_empty()
            && self.redeliveries.is_empty()
            && self.delayed.is_empty()
            && self.orphaned.is_empty()
    }
}

impl PartialEq for Cursor {
    /// Compares the ack and delivery state only: not what is pending persistence, nor the
    /// incarnation (a name for the delayed-index keys, not state).
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
            && self.floor == other.floor
            && self.chunks == other.chunks
            && self.batches == other.batches
            && self.properties == other.properties
            && self.deferred == other.deferred
            && self.redeliveries == other.redeliveries
    }
}

impl Cursor {
    /// A cursor on which every entry id `< ack_floor` counts as acked.
    ///
    /// Its first [`Cursor::take_update`] writes it whole, replacing anything stored under the
    /// same name.
    #[must_use]
    pub fn new(name: &str, ack_floor: u64) -> Cursor {
        Cursor {
            name: name.to_owned(),
            floor: ack_floor,
            chunks: BTreeMap::new(),
            batches: BTreeMap::new(),
            properties: BTreeMap::new(),
            incarnation: deferred::fresh_incarnation(0),
            deferred: BTreeMap::new(),
            deferred_count: 0,
            redeliveries: BTreeMap::new(),
            dirty: Dirty {
                full: true,
                ..Dirty::default()
            },
        }
    }

    /// The subscription name.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Lowest entry id that may be unacked; everything below is acked.
    #[must_use]
    pub fn ack_floor(&self) -> u64 {
        self.floor
    }

    /// Pulsar's mark-delete position: the highest id below which everything is acked.
    /// `None` when nothing is acked yet (`ack_floor == 0`).
    #[must_use]
    pub fn mark_delete(&self) -> Option<u64> {
        self.floor.checked_sub(1)
    }

    /// Whether the whole entry is acked (a partially acked batch entry is not).
    #[must_use]
    pub fn is_acked(&self, entry_id: u64) -> bool {
        if entry_id < self.floor {
            return true;
        }
        let (chunk, bit) = split(entry_id);
        self.chunks.get(&chunk).is_some_and(|bm| bm.contains(bit))
    }

    /// Acks a whole entry. Returns `true` if it was not acked before. The floor advances over
    /// every contiguous acked id, and chunks left empty are deleted on the next update.
    pub fn ack(&mut self, entry_id: u64) -> bool {
        if self.is_acked(entry_id) {
            return false;
        }
        if self.batches.remove(&entry_id).is_some() {
            self.dirty.batches.insert(entry_id);
        }
        // Its delayed-index key (if any) becomes dead and is dropped when it comes due.
        self.clear_deferred_bit(entry_id);
        self.forget_redeliveries(entry_id);
        if entry_id == self.floor {
            // In-order acks never touch a bitmap: only the header changes.
            self.raise_floor(entry_id.saturating_add(1));
            self.advance_floor();
        } else {
            let (chunk, bit) = split(entry_id);
            self.chunks.entry(chunk).or_default().insert(bit);
            self.dirty.chunks.insert(chunk);
        }
        true
    }

    /// Acks every entry `<= entry_id` (Pulsar cumulative ack).
    pub fn ack_cumulative(&mut self, entry_id: u64) {
        self.raise_floor(entry_id.saturating_add(1));
        self.advance_floor();
    }

    /// Acks some messages of a batch entry. `ack_set` holds the bits still UNACKED after this
    /// ack (Java `BitSet` long-array layout, as in `MessageIdData.ack_set`); it is ANDed with
    /// what is stored. Returns `true` when no bits remain, i.e. the whole entry became acked.
    pub fn ack_batch_index(&mut self, entry_id: u64, ack_set: &[i64]) -> bool {
        if self.is_acked(entry_id) {
            return false;
        }
        let mut merged: Vec<i64> = match self.batches.get(&entry_id) {
            // A word missing from either side is all zeros, so zip's truncation is the AND.
            Some(stored) => stored.iter().zip(ack_set).map(|(a, b)| a & b).collect(),
            None => ack_set.to_vec(),
        };
        while merged.last() == Some(&0) {
            merged.pop();
        }
        if merged.is_empty() {
            return self.ack(entry_id);
        }
        if self.batches.get(&entry_id) != Some(&merged) {
            self.batches.insert(entry_id, merged);
            self.dirty.batches.insert(entry_id);
        }
        false
    }

    /// The still-unacked batch indexes of a partially acked entry, if any.
    #[must_use]
    pub fn batch_ack_set(&self, entry_id: u64) -> Option<&[i64]> {
        self.batches.get(&entry_id).map(Vec::as_slice)
    }

    /// Seek: forgets every ack, every deferred entry and every redelivery count, and puts the
    /// floor at `ack_floor` (which may move backwards). The delayed-index keys of the old
    /// incarnation are orphaned (purged by storage).
    pub fn reset(&mut self, ack_floor: u64) {
        self.chunks.clear();
        self.batches.clear();
        self.deferred.clear();
        self.deferred_count = 0;
        self.redeliveries.clear();
        self.floor = ack_floor;
        let mut orphaned = std::mem::take(&mut self.dirty.orphaned);
        orphaned.push(self.incarnation);
        self.incarnation = deferred::fresh_incarnation(self.incarnation);
        self.dirty = Dirty {
            full: true,
            orphaned,
            ..Dirty::default()
        };
    }

    /// Number of entries acked individually above the floor (ack holes' complement).
    #[must_use]
    pub fn individually_acked(&self) -> u64 {
        self.chunks.values().map(RoaringBitmap::len).sum()
    }

    /// Number of unacked entries with ids in `from..=to_inclusive` (for backlog figures).
    /// Partially acked batch entries count as unacked.
    #[must_use]
    pub fn unacked_in(&self, from: u64, to_inclusive: u64) -> u64 {
        let lo = from.max(self.floor);
        if lo > to_inclusive {
            return 0;
        }
        let span = (to_inclusive - lo).saturating_add(1);
        span.saturating_sub(self.acked_between(lo, to_inclusive))
    }

    /// Individually acked ids in `lo..=hi` (all `>= floor`).
    fn acked_between(&self, lo: u64, hi: u64) -> u64 {
        let (lo_chunk, lo_bit) = split(lo);
        let (hi_chunk, hi_bit) = split(hi);
        self.chunks
            .range(lo_chunk..=hi_chunk)
            .map(|(&chunk, bm)| {
                let start = if chunk == lo_chunk { lo_bit } else { 0 };
                let end = if chunk == hi_chunk {
                    hi_bit
                } else {
                    CHUNK_SIZE - 1
                };
                bm.range_cardinality(start..=end)
            })
            .sum()
    }

    /// Subscription properties, persisted with the cursor.
    #[must_use]
    pub fn properties(&self) -> &BTreeMap<String, String> {
        &self.properties
    }

    /// Sets a subscription property (persisted by the next update).
    pub fn set_property(&mut self, key: impl Into<String>, value: impl Into<String>) {
        let (key, value) = (key.into(), value.into());
        if self.properties.get(&key) != Some(&value) {
            self.properties.insert(key, value);
            self.dirty.header = true;
        }
    }

    /// Removes a subscription property, returning its old value.
    pub fn remove_property(&mut self, key: &str) -> Option<String> {
        let old = self.properties.remove(key);
        if old.is_some() {
            self.dirty.header = true;
        }
        old
    }

    /// Makes the next [`Cursor::take_update`] rewrite the whole cursor. Call this after an
    /// update failed to persist: the stored state is then unknown, and the changes that update
    /// carried are no longer tracked.
    pub fn force_full_update(&mut self) {
        self.dirty.full = true;
    }

    /// Moves the floor up to `new_floor`, dropping acks below it. Never moves it down.
    fn raise_floor(&mut self, new_floor: u64) {
        if new_floor <= self.floor {
            return;
        }
        let (floor_chunk, floor_bit) = split(new_floor);
        let kept = self.chunks.split_off(&floor_chunk);
        let below = std::mem::replace(&mut self.chunks, kept);
        self.dirty.chunks.extend(below.into_keys());
        if let Some(bm) = self.chunks.get_mut(&floor_chunk) {
            if bm.remove_range(..floor_bit) > 0 {
                self.dirty.chunks.insert(floor_chunk);
                if bm.is_empty() {
                    self.chunks.remove(&floor_chunk);
                }
            }
        }
        let kept = self.batches.split_off(&new_floor);
        let below = std::mem::replace(&mut self.batches, kept);
        self.dirty.batches.extend(below.into_keys());
        self.drop_deferred_below(new_floor);
        self.drop_redeliveries_below(new_floor);
        self.floor = new_floor;
        self.dirty.header = true;
    }

    /// Moves the floor over every contiguous individually acked id starting at it.
    fn advance_floor(&mut self) {
        loop {
            let (chunk, start) = split(self.floor);
            let Some(bm) = self.chunks.get(&chunk) else {
                return;
            };
            let mut end = start;
            while end < CHUNK_SIZE && bm.contains(end) {
                end += 1;
            }
            if end == start {
                return;
            }
            self.raise_floor(join(chunk, end));
            if end < CHUNK_SIZE || self.floor == u64::MAX {
                return;
            }
        }
    }
}
