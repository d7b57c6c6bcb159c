//! Per-key bookkeeping that keeps Key_Shared deliveries in order.
//!
//! Keys are tracked by their raw Murmur3 hash: two keys with the same hash are treated as one,
//! which can only hold back more, never reorder.

use std::collections::{BTreeSet, HashMap};

/// Which consumers hold unacked entries of each key hash, and which entries of each key hash
/// wait in the replay queue.
#[derive(Debug, Default)]
pub struct KeyOrder {
    /// Hash -> (consumer, unacked entries of that hash on it). Usually one holder; more only
    /// when out-of-order delivery is allowed.
    pending: HashMap<u32, Vec<(u64, u32)>>,
    /// Hash -> entry ids waiting in the replay queue.
    replay: HashMap<u32, BTreeSet<u64>>,
    /// Hashes with replay entries whose last unacked entry was settled since the dispatcher
    /// last looked.
    drained: Vec<u32>,
}

impl KeyOrder {
    /// An entry of `hash` was delivered to `consumer`.
    pub fn add_pending(&mut self, hash: u32, consumer: u64) {
        let holders = self.pending.entry(hash).or_default();
        match holders.iter_mut().find(|(c, _)| *c == consumer) {
            Some((_, count)) => *count += 1,
            None => holders.push((consumer, 1)),
        }
    }

    /// An entry of `hash` on `consumer` was acked or taken back.
    pub fn remove_pending(&mut self, hash: u32, consumer: u64) {
        let Some(holders) = self.pending.get_mut(&hash) else {
            return;
        };
        if let Some(pos) = holders.iter().position(|(c, _)| *c == consumer) {
            if let Some((_, count)) = holders.get_mut(pos) {
                *count = count.saturating_sub(1);
                if *count == 0 {
                    holders.swap_remove(pos);
                }
            }
        }
        if holders.is_empty() {
            self.pending.remove(&hash);
            // Only a hash with entries waiting can be unblocked by draining.
            if self.replay.contains_key(&hash) {
                self.drained.push(hash);
            }
        }
    }

    /// A consumer other than `target` holding unacked entries of `hash`.
    pub fn held_elsewhere(&self, hash: u32, target: u64) -> Option<u64> {
        self.pending
            .get(&hash)
            .and_then(|holders| holders.iter().find(|(c, _)| *c != target))
            .map(|(c, _)| *c)
    }

    /// Whether any consumer holds unacked entries of `hash`.
    pub fn is_held(&self, hash: u32) -> bool {
        self.pending.contains_key(&hash)
    }

    /// An entry of `hash` entered the replay queue.
    pub fn add_replay(&mut self, hash: u32, id: u64) {
        self.replay.entry(hash).or_default().insert(id);
    }

    /// An entry of `hash` left the replay queue.
    pub fn remove_replay(&mut self, hash: u32, id: u64) {
        if let Some(ids) = self.replay.get_mut(&hash) {
            ids.remove(&id);
            if ids.is_empty() {
                self.replay.remove(&hash);
            }
        }
    }

    /// The oldest entry of `hash` waiting in the replay queue.
    pub fn first_replay(&self, hash: u32) -> Option<u64> {
        self.replay.get(&hash).and_then(|ids| ids.first().copied())
    }

    /// Entries of `hash` waiting in the replay queue, oldest first.
    pub fn replay_ids(&self, hash: u32) -> impl Iterator<Item = u64> + '_ {
        self.replay.get(&hash).into_iter().flatten().copied()
    }

    /// Takes the hashes drained since the last call.
    pub fn take_drained(&mut self) -> Vec<u32> {
        std::mem::take(&mut self.drained)
    }

    /// Hashes with entries in the replay queue and their ids, oldest first.
    pub fn replay_hashes(&self) -> impl Iterator<Item = (u32, &BTreeSet<u64>)> + '_ {
        self.replay.iter().map(|(hash, ids)| (*hash, ids))
    }

    /// Forgets everything (subscription rewind).
    pub fn clear(&mut self) {
        self.pending.clear();
        self.replay.clear();
        self.drained.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hash_drains_when_its_last_holder_settles() {
        let mut order = KeyOrder::default();
        order.add_pending(7, 1);
        order.add_pending(7, 1);
        order.add_pending(8, 1);
        order.add_replay(7, 40);
        assert_eq!(order.held_elsewhere(7, 2), Some(1));
        assert_eq!(order.held_elsewhere(7, 1), None);
        order.remove_pending(7, 1);
        assert!(order.take_drained().is_empty());
        order.remove_pending(7, 1);
        order.remove_pending(8, 1);
        assert_eq!(order.take_drained(), vec![7], "8 has nothing waiting");
        assert!(!order.is_held(7));
    }

    #[test]
    fn replay_ids_stay_sorted_per_hash() {
        let mut order = KeyOrder::default();
        order.add_replay(3, 9);
        order.add_replay(3, 4);
        assert_eq!(order.first_replay(3), Some(4));
        order.remove_replay(3, 4);
        assert_eq!(order.replay_ids(3).collect::<Vec<_>>(), vec![9]);
        order.remove_replay(3, 9);
        assert_eq!(order.first_replay(3), None);
    }
}
