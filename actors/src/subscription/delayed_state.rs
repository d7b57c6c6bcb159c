//! Delayed delivery on the plain subscription state: deferring entries into the on-disk index,
//! and taking due entries out of it, without actix and without a clock of its own.
//!
//! The index itself lives in storage (`Storage::due_delayed`); the cursor keeps one bit per
//! deferred entry. This file keeps what is needed to scan the index cheaply and correctly:
//! where scans may start (keys before that are gone), when the next key is due, and which
//! index writes are not yet visible to a scan.

use geminga_protocol::proto::command_subscribe::SubType;
use geminga_storage::{DueDelayed, Entry};

use super::state::SubscriptionState;
use crate::dispatcher::ReadEntry;

/// Most due keys taken out of the index in one scan.
pub const MAX_DUE_BATCH: usize = 1_000;
/// Most entries read at once while reads find only delayed entries (they cost no demand, so
/// reading just the demand would crawl over a long run of them).
pub const MAX_READ_AHEAD: usize = 10_000;

/// Bookkeeping of scans of the delayed index.
#[derive(Clone, Debug)]
pub struct DelayedScan {
    /// Keys due before this time are removed or being removed: scans start here, so the
    /// tombstones of dispatched keys are not walked again and again.
    floor_ms: u64,
    /// Earliest time a stored key may be due; `Some(0)` when unknown (look at once).
    next_due_ms: Option<u64>,
    /// A scan is in flight.
    scanning: bool,
    /// Earliest delivery time among keys staged since the last persist began.
    staged_min_ms: Option<u64>,
    /// Earliest delivery time among keys in the persist in flight.
    writing_min_ms: Option<u64>,
    /// Earliest delivery time among keys staged while a scan was in flight.
    during_scan_min_ms: Option<u64>,
    /// The largest clock reading seen: time never runs backwards for the index.
    clock_ms: u64,
}

impl Default for DelayedScan {
    fn default() -> Self {
        Self {
            floor_ms: 0,
            next_due_ms: Some(0),
            scanning: false,
            staged_min_ms: None,
            writing_min_ms: None,
            during_scan_min_ms: None,
            clock_ms: 0,
        }
    }
}

/// A scan of the index to run on the blocking pool.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DueRead {
    /// The read epoch it belongs to.
    pub epoch: u64,
    /// The cursor incarnation whose keys are scanned.
    pub incarnation: u64,
    /// Scan from this delivery time.
    pub from_ms: u64,
    /// Keys due by this time.
    pub now_ms: u64,
    /// At most this many keys.
    pub limit: usize,
    /// Earliest key not yet visible to the scan (staged or being written) when it started.
    invisible_min_ms: Option<u64>,
}

fn min_opt(a: Option<u64>, b: Option<u64>) -> Option<u64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

impl SubscriptionState {
    /// Switches delayed delivery on or off (policy). Returns true when entries were deferred
    /// and are now released: the caller must rewind so they are read (in order) again.
    pub fn set_delays_enabled(&mut self, enabled: bool) -> bool {
        self.delays_enabled = enabled;
        self.refresh_delays()
    }

    /// Whether entries are deferred now: delayed delivery on, on a Shared or Key_Shared
    /// subscription. Without consumers the last answer holds (a Shared subscription whose
    /// consumers reconnect keeps its index).
    pub fn delays_active(&self) -> bool {
        match self.sub_type() {
            Some(SubType::Shared | SubType::KeyShared) => self.delays_enabled,
            Some(_) => false,
            None => self.delays_were_active && self.delays_enabled,
        }
    }

    /// Re-evaluates [`Self::delays_active`] after the consumers or the policy changed. When
    /// delays stop applying (the subscription became Exclusive/Failover, or delayed delivery
    /// was switched off), every deferred entry is released, as in Pulsar where those
    /// subscriptions deliver at once. Returns true when the caller must rewind.
    pub fn refresh_delays(&mut self) -> bool {
        let active = self.delays_active();
        let was = std::mem::replace(&mut self.delays_were_active, active);
        if was && !active && self.cursor.clear_deferred() {
            self.delayed = DelayedScan::default();
            return true;
        }
        false
    }

    /// Deferred entries waiting in the index (Pulsar's `msgDelayed`).
    pub fn delayed_messages(&self) -> u64 {
        self.cursor.deferred_count()
    }

    /// Defers an unacked entry of a sequential read if it is due after `now`; true if so.
    pub(super) fn defer_if_due_later(&mut self, entry: &Entry, now: u64) -> bool {
        let Some(at) = entry.meta.deliver_at_ms.filter(|at| *at > now) else {
            return false;
        };
        if !self.delays_active() {
            return false;
        }
        if self.cursor.defer(entry.entry_id, at) {
            self.note_staged(at);
        }
        true
    }

    /// Grows the read size while reads find only delayed entries, back to the demand as soon
    /// as one finds something to deliver.
    pub(super) fn adapt_read_ahead(&mut self, only_delayed: bool) {
        self.read_ahead = if only_delayed {
            (self.read_ahead.max(self.demand()).max(1) * 2).min(MAX_READ_AHEAD)
        } else {
            0
        };
    }

    /// The index scan to run now, if deferred entries may be due and the dispatcher wants
    /// entries. Marks the scan in flight.
    pub fn due_read(&mut self, now_ms: u64) -> Option<DueRead> {
        let now = self.tick_clock(now_ms);
        let due = self.delayed.next_due_ms.is_some_and(|at| at <= now);
        if self.demand() == 0 || self.delayed.scanning || !due {
            return None;
        }
        if self.cursor.deferred_count() == 0 {
            // Nothing live: dead keys wait for the next scan that has work anyway.
            self.delayed.next_due_ms = None;
            return None;
        }
        self.delayed.scanning = true;
        self.delayed.during_scan_min_ms = None;
        Some(DueRead {
            epoch: self.epoch(),
            incarnation: self.cursor.incarnation(),
            from_ms: self.delayed.floor_ms,
            now_ms: now,
            limit: self.demand().clamp(1, MAX_DUE_BATCH),
            invisible_min_ms: min_opt(self.delayed.staged_min_ms, self.delayed.writing_min_ms),
        })
    }

    /// Takes the answer of a scan: every returned key leaves the index (its removal is
    /// staged); entries still deferred go to the dispatcher, in key order. `entries` are the
    /// entries of the returned keys that could be read (in any order).
    pub fn on_due(
        &mut self,
        read: &DueRead,
        due: DueDelayed,
        entries: Vec<Entry>,
    ) -> Vec<ReadEntry> {
        self.delayed.scanning = false;
        let staged_meanwhile = self.delayed.during_scan_min_ms.take();
        if read.epoch != self.epoch() || read.incarnation != self.cursor.incarnation() {
            // Rewound or reset meanwhile: look again from scratch.
            self.delayed.next_due_ms = Some(0);
            return Vec::new();
        }
        let complete = due.next_at_ms.is_none_or(|at| at > read.now_ms);
        let last_at = due.due.last().map(|k| k.deliver_at_ms);
        let mut live = Vec::with_capacity(due.due.len());
        for key in &due.due {
            if self.cursor.undefer(key.entry_id, key.deliver_at_ms) {
                live.push(key.entry_id);
            }
        }
        // Every key before the new floor was returned or is being removed; keys that were not
        // yet visible when the scan started may lie before it, so they bound it.
        let scanned_to = match (complete, last_at) {
            (true, _) => read.now_ms.saturating_add(1),
            (false, Some(at)) => at,
            (false, None) => read.from_ms,
        };
        let floor = min_opt(Some(scanned_to), read.invisible_min_ms).unwrap_or(scanned_to);
        self.delayed.floor_ms = self.delayed.floor_ms.max(floor);
        // Keys that were invisible to this scan are looked for again once their write is done
        // (see `on_persist_finished`), not in a busy loop now.
        self.delayed.next_due_ms = if complete {
            min_opt(due.next_at_ms, staged_meanwhile)
        } else {
            Some(read.now_ms)
        };
        let mut by_id: std::collections::HashMap<u64, Entry> =
            entries.into_iter().map(|e| (e.entry_id, e)).collect();
        let out: Vec<ReadEntry> = live
            .into_iter()
            .filter_map(|id| by_id.remove(&id))
            .filter(|e| !self.cursor().is_acked(e.entry_id))
            .map(|e| self.read_entry(e))
            .collect();
        self.consume_demand(out.len());
        out
    }

    /// When the index next needs a look (epoch ms), if anything is deferred.
    pub fn next_due_ms(&self) -> Option<u64> {
        if self.cursor.deferred_count() == 0 {
            return None;
        }
        self.delayed.next_due_ms
    }

    /// Makes the next [`Self::due_read`] scan the index (a periodic safety net: keys written
    /// while a scan was in flight are found within one tick at the latest).
    pub fn look_again(&mut self, now_ms: u64) {
        self.delayed.next_due_ms = min_opt(self.delayed.next_due_ms, Some(now_ms));
    }

    /// The cursor update carrying the staged index keys is being written.
    pub fn on_persist_started(&mut self) {
        self.delayed.writing_min_ms = self.delayed.staged_min_ms.take();
    }

    /// The write finished (successfully or not: on failure the subscription reloads). Its
    /// keys are visible to scans from now on.
    pub fn on_persist_finished(&mut self) {
        let written = self.delayed.writing_min_ms.take();
        self.delayed.next_due_ms = min_opt(self.delayed.next_due_ms, written);
    }

    fn note_staged(&mut self, at: u64) {
        let d = &mut self.delayed;
        d.staged_min_ms = min_opt(d.staged_min_ms, Some(at));
        d.next_due_ms = min_opt(d.next_due_ms, Some(at));
        if d.scanning {
            d.during_scan_min_ms = min_opt(d.during_scan_min_ms, Some(at));
        }
    }

    pub(super) fn tick_clock(&mut self, now_ms: u64) -> u64 {
        self.delayed.clock_ms = self.delayed.clock_ms.max(now_ms);
        self.delayed.clock_ms
    }
}
