//! Placing read entries on consumers, per subscription type, keeping each key in order.

use geminga_protocol::proto::command_subscribe::SubType;

use super::state::{Delivery, DispatcherState, ReadEntry};

/// Deliveries grouped per consumer, each list in id order.
pub type Deliveries = Vec<(u64, Vec<Delivery>)>;

impl DispatcherState {
    /// Assigns read entries to consumers. Entries nobody may take now wait in the replay queue.
    pub fn on_entries(
        &mut self,
        epoch: u64,
        entries: Vec<ReadEntry>,
        replayed: bool,
    ) -> Deliveries {
        if epoch != self.epoch {
            return Vec::new();
        }
        let requested = if replayed {
            // Whatever happens now may make other waiting entries deliverable.
            self.rescan = true;
            self.replay_in_flight.take()
        } else {
            self.fresh_outstanding = false;
            None
        };
        let mut returned: Vec<u64> = Vec::with_capacity(entries.len());
        let mut out: Deliveries = Vec::new();
        for read in entries {
            let id = read.entry.entry_id;
            returned.push(id);
            let queued = self.replay.contains_key(&id);
            // A replayed entry acked meanwhile, or a duplicate read, is not delivered again.
            if self.pending.contains_key(&id)
                || (replayed != queued)
                || self.dead_lettering.contains(&id)
                || self.backoff_due.contains_key(&id)
            {
                continue;
            }
            let count = self.known_redelivery_count(id, read.redelivery_count);
            if self.should_dead_letter(count) {
                self.dead_letter(read, count);
                continue;
            }
            let hash = Self::entry_hash(&read.entry);
            let messages = read.entry.meta.num_messages.max(1);
            let Some(key) = self.place(id, hash) else {
                if !queued {
                    self.enqueue_replay(id, hash, messages);
                }
                continue;
            };
            self.dequeue_replay(id);
            self.record_delivery(key, id, hash, messages);
            let delivery = Delivery {
                redelivery_count: count,
                entry: read.entry,
                ack_set: read.ack_set,
            };
            match out.iter_mut().find(|(k, _)| *k == key) {
                Some((_, list)) => list.push(delivery),
                None => out.push((key, vec![delivery])),
            }
        }
        // Requested entries the subscription no longer has (acked, trimmed) stop waiting.
        returned.sort_unstable();
        for id in requested.unwrap_or_default() {
            if returned.binary_search(&id).is_err() {
                self.dequeue_replay(id);
            }
        }
        out
    }

    /// The consumer that may take entry `id` now, if any.
    fn place(&mut self, id: u64, hash: Option<u32>) -> Option<u64> {
        match self.sub_type {
            SubType::Exclusive | SubType::Failover => {
                // Older entries waiting for redelivery go first: the active consumer sees the
                // log in order.
                if self.replay.keys().next().is_some_and(|first| *first < id) {
                    return None;
                }
                let active = self.active.and_then(|key| self.slot(key))?;
                (active.permits > 0).then_some(active.key)
            }
            SubType::Shared => self.pick_any(),
            SubType::KeyShared => match hash {
                None => self.pick_any(),
                Some(hash) => self.place_key(id, hash),
            },
        }
    }

    /// Shared placement (also Key_Shared keyless messages): round-robin, best priority first.
    fn pick_any(&mut self) -> Option<u64> {
        let mut round_robin = std::mem::take(&mut self.round_robin);
        let picked = round_robin.pick(&self.consumers, |c| self.eligible(c));
        self.round_robin = round_robin;
        picked
    }

    /// Key_Shared placement of a keyed entry: only to the key's owner, only after every older
    /// entry of the key waiting here, and only when no other consumer holds unacked entries of
    /// the key (unless out-of-order delivery is allowed).
    fn place_key(&mut self, id: u64, hash: u32) -> Option<u64> {
        if self
            .order
            .first_replay(hash)
            .is_some_and(|first| first < id)
        {
            return None;
        }
        let key_shared = self.key_shared.as_ref()?;
        let target = key_shared.select(hash)?;
        let slot = self.slot(target)?;
        if !self.eligible(slot) {
            return None;
        }
        if !key_shared.allow_out_of_order() && self.order.held_elsewhere(hash, target).is_some() {
            return None;
        }
        Some(target)
    }
}
