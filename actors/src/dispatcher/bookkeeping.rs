//! Bookkeeping of pending and waiting entries: what each consumer holds, the replay queue, the
//! per-key index and the unacked counters, kept consistent in one place.

use super::state::{DispatcherState, Pending, Replay};

impl DispatcherState {
    pub(super) fn pending_of(&self, key: u64) -> Vec<u64> {
        let mut ids: Vec<u64> = self
            .pending
            .iter()
            .filter(|(_, p)| p.consumer == key)
            .map(|(id, _)| *id)
            .collect();
        ids.sort_unstable();
        ids
    }

    pub(super) fn requeue(&mut self, ids: &[u64], count: bool) {
        for id in ids {
            if let Some(pending) = self.settle(*id) {
                if count {
                    self.count_redelivery(*id);
                }
                self.enqueue_replay(*id, pending.hash, pending.messages);
            }
        }
        self.rescan = true;
    }

    /// Raises an entry's redelivery count by one and records it for persisting.
    pub(super) fn count_redelivery(&mut self, id: u64) -> u32 {
        let count = self.redelivery_counts.entry(id).or_insert(0);
        *count = count.saturating_add(1);
        let count = *count;
        self.counted.push((id, count));
        self.redeliveries_total += 1;
        count
    }

    pub(super) fn enqueue_replay(&mut self, id: u64, hash: Option<u32>, messages: u32) {
        self.replay.insert(id, Replay { hash, messages });
        if let (Some(hash), Some(_)) = (hash, &self.key_shared) {
            self.order.add_replay(hash, id);
        }
    }

    pub(super) fn dequeue_replay(&mut self, id: u64) -> Option<Replay> {
        let replay = self.replay.remove(&id)?;
        if let Some(hash) = replay.hash {
            self.order.remove_replay(hash, id);
        }
        Some(replay)
    }

    /// Records a delivery of entry `id` to `key`.
    pub(super) fn record_delivery(&mut self, key: u64, id: u64, hash: Option<u32>, messages: u32) {
        if let Some(slot) = self.slot_mut(key) {
            slot.permits -= i64::from(messages);
            slot.unacked_messages += u64::from(messages);
            slot.pending_entries += 1;
        }
        self.unacked_total += u64::from(messages);
        self.pending.insert(
            id,
            Pending {
                consumer: key,
                messages,
                hash,
            },
        );
        if let (Some(hash), Some(_)) = (hash, &self.key_shared) {
            self.order.add_pending(hash, key);
        }
    }

    /// Removes an entry from the pending set, giving its consumer credit back for unacked
    /// limits; a consumer or subscription leaving its limit makes replay entries worth a look.
    pub(super) fn settle(&mut self, id: u64) -> Option<Pending> {
        let pending = self.pending.remove(&id)?;
        let sub_was_over = self.subscription_over_limit();
        let messages = u64::from(pending.messages);
        self.unacked_total = self.unacked_total.saturating_sub(messages);
        let max = u64::from(self.limits.max_unacked_per_consumer);
        if let Some(slot) = self.slot_mut(pending.consumer) {
            let was_over = max > 0 && slot.unacked_messages >= max;
            slot.unacked_messages = slot.unacked_messages.saturating_sub(messages);
            slot.pending_entries = slot.pending_entries.saturating_sub(1);
            if was_over && slot.unacked_messages < max {
                self.rescan = true;
            }
        }
        if sub_was_over && !self.subscription_over_limit() {
            self.rescan = true;
        }
        if let (Some(hash), Some(_)) = (pending.hash, &self.key_shared) {
            self.order.remove_pending(hash, pending.consumer);
        }
        Some(pending)
    }
}
