//! DispatcherState: permits, pending entries and consumer choice, without actix.

use std::collections::{BTreeSet, HashMap};

use geminga_protocol::proto::command_subscribe::SubType;
use geminga_storage::Entry;

/// An entry read for dispatch, with the batch indexes already acked (if partially acked).
#[derive(Clone, Debug, PartialEq)]
pub struct ReadEntry {
    /// The stored entry.
    pub entry: Entry,
    /// Bits still unacked of a partially acked batch (Java BitSet long-array layout).
    pub ack_set: Option<Vec<i64>>,
}

/// One entry going to one consumer.
#[derive(Clone, Debug, PartialEq)]
pub struct Delivery {
    /// The stored entry.
    pub entry: Entry,
    /// How many times it was delivered before (Shared and Key_Shared count).
    pub redelivery_count: u32,
    /// Bits still unacked of a partially acked batch.
    pub ack_set: Option<Vec<i64>>,
}

/// What the dispatcher asks the subscription to read next.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReadRequest {
    /// Up to this many entries after the last read.
    Fresh(usize),
    /// These entries again.
    Replay(Vec<u64>),
}

#[derive(Debug)]
struct Slot {
    key: u64,
    name: String,
    priority: i32,
    /// Messages the consumer can still take; may go negative when a batch overshoots.
    permits: i64,
    /// Messages delivered and not acked.
    unacked_messages: u64,
}

/// Permits, pending entries and the choice of consumer for one subscription.
#[derive(Debug)]
pub struct DispatcherState {
    sub_type: SubType,
    consumers: Vec<Slot>,
    /// Entry id -> (consumer key, messages in the entry) for every delivered, unacked entry.
    pending: HashMap<u64, (u64, u32)>,
    /// Entries to read again and deliver before new ones.
    replay: BTreeSet<u64>,
    redelivery_counts: HashMap<u64, u32>,
    epoch: u64,
    /// A read request is outstanding.
    awaiting: bool,
    read_batch: usize,
    /// Next consumer index for Shared round-robin.
    next_shared: usize,
    max_unacked_per_consumer: u64,
}

impl DispatcherState {
    /// An empty dispatcher reading at most `read_batch` entries at a time.
    pub fn new(read_batch: usize, max_unacked_per_consumer: u32) -> Self {
        Self {
            sub_type: SubType::Exclusive,
            consumers: Vec::new(),
            pending: HashMap::new(),
            replay: BTreeSet::new(),
            redelivery_counts: HashMap::new(),
            epoch: 0,
            awaiting: false,
            read_batch: read_batch.max(1),
            next_shared: 0,
            max_unacked_per_consumer: u64::from(max_unacked_per_consumer),
        }
    }

    /// The current read epoch.
    pub fn epoch(&self) -> u64 {
        self.epoch
    }

    /// Attaches a consumer; the subscription already checked the type rules.
    pub fn add_consumer(&mut self, key: u64, name: String, priority: i32, sub_type: SubType) {
        if self.consumers.is_empty() {
            self.sub_type = sub_type;
        }
        if self.consumers.iter().all(|c| c.key != key) {
            self.consumers.push(Slot {
                key,
                name,
                priority,
                permits: 0,
                unacked_messages: 0,
            });
        }
    }

    /// Detaches a consumer; its pending entries are queued for redelivery.
    pub fn remove_consumer(&mut self, key: u64) {
        self.consumers.retain(|c| c.key != key);
        let orphaned: Vec<u64> = self
            .pending
            .iter()
            .filter(|(_, (owner, _))| *owner == key)
            .map(|(id, _)| *id)
            .collect();
        self.requeue(&orphaned, self.counts_redeliveries());
    }

    /// Changes the unacked-message limit per consumer (a topic policy; 0 = none).
    pub fn set_max_unacked_per_consumer(&mut self, limit: u32) {
        self.max_unacked_per_consumer = u64::from(limit);
    }

    /// Adds FLOW permits.
    pub fn flow(&mut self, key: u64, permits: u32) {
        if let Some(slot) = self.consumers.iter_mut().find(|c| c.key == key) {
            slot.permits += i64::from(permits);
        }
    }

    /// Queues entries pending on `key` for redelivery (all of them when `ids` is `None`).
    pub fn redeliver(&mut self, key: u64, ids: Option<&[u64]>) {
        let chosen: Vec<u64> = match ids {
            Some(ids) => ids
                .iter()
                .copied()
                .filter(|id| self.pending.get(id).is_some_and(|(o, _)| *o == key))
                .collect(),
            None => self
                .pending
                .iter()
                .filter(|(_, (o, _))| *o == key)
                .map(|(id, _)| *id)
                .collect(),
        };
        self.requeue(&chosen, self.counts_redeliveries());
    }

    /// Entries fully acked: no longer pending anywhere.
    pub fn acked(&mut self, ids: &[u64], up_to: Option<u64>) {
        for id in ids {
            self.settle(*id);
            self.redelivery_counts.remove(id);
            self.replay.remove(id);
        }
        if let Some(up_to) = up_to {
            let settled: Vec<u64> = self
                .pending
                .keys()
                .copied()
                .filter(|id| *id <= up_to)
                .collect();
            for id in settled {
                self.settle(id);
            }
            self.replay.retain(|id| *id > up_to);
            self.redelivery_counts.retain(|id, _| *id > up_to);
        }
    }

    /// Forgets everything pending (seek or subscription restart) and starts epoch `epoch`.
    pub fn reset(&mut self, epoch: u64) {
        self.epoch = epoch;
        self.pending.clear();
        self.replay.clear();
        self.redelivery_counts.clear();
        self.awaiting = false;
        for slot in &mut self.consumers {
            slot.unacked_messages = 0;
        }
    }

    /// The next read to request, if any consumer can take messages and none is outstanding.
    pub fn next_request(&mut self) -> Option<ReadRequest> {
        if self.awaiting {
            return None;
        }
        let permits = self.available_permits();
        if permits <= 0 {
            return None;
        }
        let want = usize::try_from(permits)
            .unwrap_or(usize::MAX)
            .min(self.read_batch);
        let request = if self.replay.is_empty() {
            ReadRequest::Fresh(want)
        } else {
            ReadRequest::Replay(self.replay.iter().take(want).copied().collect())
        };
        self.awaiting = true;
        Some(request)
    }

    /// Assigns read entries to consumers. Entries nobody can take now are re-read later.
    pub fn on_entries(
        &mut self,
        epoch: u64,
        entries: Vec<ReadEntry>,
        replayed: bool,
    ) -> Vec<(u64, Vec<Delivery>)> {
        if epoch != self.epoch {
            return Vec::new();
        }
        self.awaiting = false;
        let mut out: Vec<(u64, Vec<Delivery>)> = Vec::new();
        for read in entries {
            let id = read.entry.entry_id;
            if replayed {
                self.replay.remove(&id);
            }
            if self.pending.contains_key(&id) {
                continue; // already out with a consumer
            }
            let Some(key) = self.choose(&read.entry) else {
                self.replay.insert(id);
                continue;
            };
            let messages = read.entry.meta.num_messages.max(1);
            if let Some(slot) = self.consumers.iter_mut().find(|c| c.key == key) {
                slot.permits -= i64::from(messages);
                slot.unacked_messages += u64::from(messages);
            }
            self.pending.insert(id, (key, messages));
            let delivery = Delivery {
                redelivery_count: self.redelivery_counts.get(&id).copied().unwrap_or(0),
                entry: read.entry,
                ack_set: read.ack_set,
            };
            match out.iter_mut().find(|(k, _)| *k == key) {
                Some((_, list)) => list.push(delivery),
                None => out.push((key, vec![delivery])),
            }
        }
        out
    }

    /// Entries delivered and not yet acked.
    pub fn pending_entries(&self) -> usize {
        self.pending.len()
    }

    /// Messages delivered to `key` and not yet acked.
    pub fn unacked_messages(&self, key: u64) -> u64 {
        self.consumers
            .iter()
            .find(|c| c.key == key)
            .map_or(0, |c| c.unacked_messages)
    }

    /// Permits of `key`.
    pub fn permits(&self, key: u64) -> i64 {
        self.consumers
            .iter()
            .find(|c| c.key == key)
            .map_or(0, |c| c.permits)
    }

    /// The consumer receiving everything on Exclusive and Failover subscriptions.
    pub fn active_consumer(&self) -> Option<u64> {
        match self.sub_type {
            SubType::Failover => self
                .consumers
                .iter()
                .min_by(|a, b| (a.priority, &a.name).cmp(&(b.priority, &b.name)))
                .map(|c| c.key),
            _ => self.consumers.first().map(|c| c.key),
        }
    }

    fn counts_redeliveries(&self) -> bool {
        matches!(self.sub_type, SubType::Shared | SubType::KeyShared)
    }

    fn requeue(&mut self, ids: &[u64], count: bool) {
        for id in ids {
            self.settle(*id);
            if count {
                *self.redelivery_counts.entry(*id).or_insert(0) += 1;
            }
            self.replay.insert(*id);
        }
    }

    /// Removes an entry from the pending set and gives its consumer credit back for unacked limits.
    fn settle(&mut self, id: u64) {
        if let Some((owner, messages)) = self.pending.remove(&id) {
            if let Some(slot) = self.consumers.iter_mut().find(|c| c.key == owner) {
                slot.unacked_messages = slot.unacked_messages.saturating_sub(u64::from(messages));
            }
        }
    }

    /// Whether a consumer can be given entries now. As in Pulsar, the unacked-message limit
    /// applies to Shared and Key_Shared consumers only.
    fn eligible(&self, slot: &Slot) -> bool {
        let limited = self.counts_redeliveries() && self.max_unacked_per_consumer > 0;
        slot.permits > 0 && !(limited && slot.unacked_messages >= self.max_unacked_per_consumer)
    }

    fn available_permits(&self) -> i64 {
        match self.sub_type {
            SubType::Exclusive | SubType::Failover => self
                .active_consumer()
                .and_then(|key| self.consumers.iter().find(|c| c.key == key))
                .filter(|slot| self.eligible(slot))
                .map_or(0, |slot| slot.permits),
            SubType::Shared | SubType::KeyShared => self
                .consumers
                .iter()
                .filter(|c| self.eligible(c))
                .map(|c| c.permits)
                .sum(),
        }
    }

    fn choose(&mut self, _entry: &Entry) -> Option<u64> {
        match self.sub_type {
            // Single active consumer: it gets the whole read, even past its permits, so order holds.
            SubType::Exclusive | SubType::Failover => self.active_consumer(),
            SubType::Shared | SubType::KeyShared => self.next_shared_consumer(),
        }
    }

    /// Round-robin over the best priority level that has an eligible consumer.
    fn next_shared_consumer(&mut self) -> Option<u64> {
        let best = self
            .consumers
            .iter()
            .filter(|c| self.eligible(c))
            .map(|c| c.priority)
            .min()?;
        let n = self.consumers.len();
        for step in 0..n {
            let index = (self.next_shared + step) % n;
            let Some(slot) = self.consumers.get(index) else {
                continue;
            };
            if slot.priority == best && self.eligible(slot) {
                self.next_shared = index + 1;
                return Some(slot.key);
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;
    use geminga_storage::EntryMeta;

    use super::*;

    fn read(ids: std::ops::Range<u64>) -> Vec<ReadEntry> {
        ids.map(|entry_id| ReadEntry {
            entry: Entry {
                entry_id,
                meta: EntryMeta {
                    num_messages: 1,
                    ..EntryMeta::default()
                },
                data: Bytes::from_static(b"m"),
            },
            ack_set: None,
        })
        .collect()
    }

    fn ids(out: &[(u64, Vec<Delivery>)], key: u64) -> Vec<u64> {
        out.iter()
            .filter(|(k, _)| *k == key)
            .flat_map(|(_, d)| d.iter().map(|d| d.entry.entry_id))
            .collect()
    }

    #[test]
    fn nothing_is_requested_without_permits() {
        let mut d = DispatcherState::new(100, 0);
        d.add_consumer(1, "a".into(), 0, SubType::Exclusive);
        assert_eq!(d.next_request(), None);
        d.flow(1, 10);
        assert_eq!(d.next_request(), Some(ReadRequest::Fresh(10)));
        assert_eq!(d.next_request(), None, "one request outstanding at a time");
    }

    #[test]
    fn exclusive_gets_everything_and_redelivery_replays_without_counting() {
        let mut d = DispatcherState::new(100, 0);
        d.add_consumer(1, "a".into(), 0, SubType::Exclusive);
        d.flow(1, 3);
        d.next_request();
        let out = d.on_entries(0, read(0..3), false);
        assert_eq!(ids(&out, 1), vec![0, 1, 2]);
        d.acked(&[1], None);
        d.redeliver(1, None);
        d.flow(1, 2);
        assert_eq!(d.next_request(), Some(ReadRequest::Replay(vec![0, 2])));
        let again = d.on_entries(0, read(0..1).into_iter().chain(read(2..3)).collect(), true);
        assert!(again[0].1.iter().all(|d| d.redelivery_count == 0));
    }

    #[test]
    fn shared_round_robins_and_counts_redeliveries_when_a_consumer_leaves() {
        let mut d = DispatcherState::new(100, 0);
        d.add_consumer(1, "a".into(), 0, SubType::Shared);
        d.add_consumer(2, "b".into(), 0, SubType::Shared);
        d.flow(1, 10);
        d.flow(2, 10);
        d.next_request();
        let out = d.on_entries(0, read(0..4), false);
        assert_eq!(ids(&out, 1), vec![0, 2]);
        assert_eq!(ids(&out, 2), vec![1, 3]);
        d.remove_consumer(1);
        assert_eq!(d.next_request(), Some(ReadRequest::Replay(vec![0, 2])));
        let out = d.on_entries(0, read(0..1).into_iter().chain(read(2..3)).collect(), true);
        assert_eq!(ids(&out, 2), vec![0, 2]);
        assert!(out[0].1.iter().all(|d| d.redelivery_count == 1));
    }

    #[test]
    fn a_consumer_without_permits_does_not_stall_the_others() {
        let mut d = DispatcherState::new(100, 0);
        d.add_consumer(1, "slow".into(), 0, SubType::Shared);
        d.add_consumer(2, "fast".into(), 0, SubType::Shared);
        d.flow(2, 5);
        d.next_request();
        let out = d.on_entries(0, read(0..5), false);
        assert_eq!(ids(&out, 2), vec![0, 1, 2, 3, 4]);
        assert!(ids(&out, 1).is_empty());
    }

    #[test]
    fn entries_of_a_stale_epoch_are_dropped() {
        let mut d = DispatcherState::new(100, 0);
        d.add_consumer(1, "a".into(), 0, SubType::Exclusive);
        d.flow(1, 5);
        d.next_request();
        d.reset(3);
        assert!(d.on_entries(0, read(0..2), false).is_empty());
        assert_eq!(d.next_request(), Some(ReadRequest::Fresh(5)));
        assert_eq!(ids(&d.on_entries(3, read(0..2), false), 1), vec![0, 1]);
    }

    #[test]
    fn unacked_limit_pauses_shared_dispatch_until_acks_arrive() {
        let mut d = DispatcherState::new(100, 2);
        d.add_consumer(1, "a".into(), 0, SubType::Shared);
        d.flow(1, 10);
        d.next_request();
        let out = d.on_entries(0, read(0..3), false);
        assert_eq!(ids(&out, 1), vec![0, 1], "blocked at 2 unacked");
        assert_eq!(d.next_request(), None);
        d.acked(&[0, 1], None);
        assert_eq!(d.next_request(), Some(ReadRequest::Replay(vec![2])));
    }
}
