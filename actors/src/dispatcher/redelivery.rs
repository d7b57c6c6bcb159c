//! Broker-side redelivery policy: backoff before a nacked entry goes out again, and handing
//! entries that were redelivered too often to the dead-letter path.

use geminga_storage::Entry;

use super::state::{DispatcherState, ReadEntry, Replay};
use crate::subscription::RedeliveryBackoff;

/// The part of the subscription policy the dispatcher applies.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DispatchPolicy {
    /// An entry whose redelivery count reached this is dead-lettered instead of delivered
    /// (0 = never). Only Shared and Key_Shared count redeliveries, as in Pulsar.
    pub max_redeliver_count: u32,
    /// Delay before a nacked entry is redelivered (Shared and Key_Shared).
    pub backoff: Option<RedeliveryBackoff>,
}

/// An entry to move to the dead-letter topic (then ack) instead of delivering it again.
#[derive(Clone, Debug, PartialEq)]
pub struct DeadLetter {
    /// The stored entry.
    pub entry: Entry,
    /// Bits still unacked of a partially acked batch.
    pub ack_set: Option<Vec<i64>>,
    /// How often it was redelivered.
    pub redelivery_count: u32,
}

impl DispatcherState {
    /// Sets the dead-letter and backoff policy. A backoff switched off releases what it held.
    pub fn set_policy(&mut self, policy: DispatchPolicy) {
        self.policy = policy;
        if policy.backoff.is_none() {
            self.release_backoff(u64::MAX);
        }
    }

    /// The current policy.
    pub fn policy(&self) -> DispatchPolicy {
        self.policy
    }

    /// Redelivery counts raised since the last call, to persist with the cursor.
    pub fn take_counted(&mut self) -> Vec<(u64, u32)> {
        std::mem::take(&mut self.counted)
    }

    /// Entries to dead-letter, taken once; they stay out of dispatch until acked or reset.
    pub fn take_dead_letters(&mut self) -> Vec<DeadLetter> {
        std::mem::take(&mut self.dead_letters)
    }

    /// Dead letters handed over and not yet acked.
    pub fn dead_lettering(&self) -> usize {
        self.dead_lettering.len()
    }

    /// A dead letter could not be written: dispatch it again (it comes straight back to the
    /// dead-letter path while its count stays at the limit).
    pub fn dead_letter_failed(&mut self, entry: &Entry) {
        let id = entry.entry_id;
        if self.dead_lettering.remove(&id) {
            let messages = entry.meta.num_messages.max(1);
            self.enqueue_replay(id, Self::entry_hash(entry), messages);
            self.rescan = true;
        }
    }

    /// Moves entries whose backoff ended by `now_ms` to the replay queue; true if any moved.
    pub fn release_backoff(&mut self, now_ms: u64) -> bool {
        let later = self.backoff.split_off(&(now_ms.saturating_add(1), 0));
        let due = std::mem::replace(&mut self.backoff, later);
        let moved = !due.is_empty();
        for ((_, id), replay) in due {
            self.backoff_due.remove(&id);
            self.enqueue_replay(id, replay.hash, replay.messages);
        }
        if moved {
            self.rescan = true;
        }
        moved
    }

    /// When the next held-back entry is due (epoch ms).
    pub fn next_backoff_ms(&self) -> Option<u64> {
        self.backoff.keys().next().map(|(due, _)| *due)
    }

    /// Entries waiting out a redelivery backoff.
    pub fn backoff_entries(&self) -> usize {
        self.backoff.len()
    }

    /// Redeliveries counted since the dispatcher started.
    pub fn redeliveries(&self) -> u64 {
        self.redeliveries_total
    }

    /// Takes nacked entries off their consumer, counts the redelivery and holds them until
    /// their backoff ends.
    pub(super) fn hold_back(&mut self, ids: &[u64], backoff: RedeliveryBackoff, now_ms: u64) {
        for id in ids {
            let Some(pending) = self.settle(*id) else {
                continue;
            };
            let count = self.count_redelivery(*id);
            let delay = u64::try_from(backoff.delay(count).as_millis()).unwrap_or(u64::MAX);
            let due = now_ms.saturating_add(delay);
            let replay = Replay {
                hash: pending.hash,
                messages: pending.messages,
            };
            self.backoff.insert((due, *id), replay);
            self.backoff_due.insert(*id, due);
        }
        self.rescan = true;
    }

    /// The larger of the count kept here and the one read from the cursor (after a restart the
    /// cursor's is the only one), remembered for the next delivery.
    pub(super) fn known_redelivery_count(&mut self, id: u64, from_cursor: u32) -> u32 {
        let known = self.redelivery_counts.get(&id).copied().unwrap_or(0);
        if from_cursor > known {
            self.redelivery_counts.insert(id, from_cursor);
            return from_cursor;
        }
        known
    }

    /// Whether an entry redelivered `count` times must be dead-lettered rather than
    /// delivered once more (it would be delivery number `count + 1`).
    pub(super) fn should_dead_letter(&self, count: u32) -> bool {
        let max = self.policy.max_redeliver_count;
        max > 0 && count >= max && self.counts_redeliveries()
    }

    /// Takes an entry out of dispatch for good and hands it to the dead-letter path.
    pub(super) fn dead_letter(&mut self, read: ReadEntry, count: u32) {
        let id = read.entry.entry_id;
        self.dequeue_replay(id);
        self.dead_lettering.insert(id);
        self.dead_letters.push(DeadLetter {
            entry: read.entry,
            ack_set: read.ack_set,
            redelivery_count: count,
        });
    }
}
