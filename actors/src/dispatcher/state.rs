//! DispatcherState: permits, pending entries, the replay queue and consumer choice, without actix.
//!
//! Selection per subscription type lives in [`super::exclusive`], [`super::failover`],
//! [`super::shared`] and [`super::key_shared`]; placing read entries is in [`super::placement`],
//! choosing what to read next in [`super::requests`], keeping the pending and waiting entries
//! consistent in [`super::bookkeeping`], redelivery backoff and dead letters in
//! [`super::redelivery`], and the stats view in [`super::stats`].

use std::collections::{BTreeMap, HashMap, HashSet};

use geminga_protocol::proto::command_subscribe::SubType;
use geminga_storage::Entry;

use super::{
    consumers::{ActiveChange, AddConsumerError, DispatchConsumer, Slot},
    exclusive, failover,
    key_shared::{hash::none_key_hash, order::KeyOrder, KeyShared},
    redelivery::{DeadLetter, DispatchPolicy},
    shared::RoundRobin,
};

/// An entry read for dispatch, with the batch indexes already acked (if partially acked).
#[derive(Clone, Debug, PartialEq)]
pub struct ReadEntry {
    /// The stored entry.
    pub entry: Entry,
    /// Bits still unacked of a partially acked batch (Java BitSet long-array layout).
    pub ack_set: Option<Vec<i64>>,
    /// Redelivery count persisted with the cursor (it survives restarts; 0 when none).
    pub redelivery_count: u32,
}

impl ReadEntry {
    /// An entry never redelivered before, with no partial ack.
    pub fn new(entry: Entry) -> Self {
        Self {
            entry,
            ack_set: None,
            redelivery_count: 0,
        }
    }
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

/// Dispatch limits; the defaults are Pulsar's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DispatchLimits {
    /// Most entries asked for in one read.
    pub read_batch: usize,
    /// Unacked messages a Shared/Key_Shared consumer may hold before dispatch to it pauses
    /// (0 = unlimited).
    pub max_unacked_per_consumer: u32,
    /// Unacked messages a Shared/Key_Shared subscription may hold before its dispatch pauses
    /// (0 = unlimited).
    pub max_unacked_per_subscription: u32,
    /// Key_Shared stops reading new entries while this many wait in the replay queue, so
    /// consumers without permits cannot make the broker buffer the whole backlog.
    pub replay_lookahead: usize,
}

impl Default for DispatchLimits {
    fn default() -> Self {
        Self {
            read_batch: 100,
            max_unacked_per_consumer: 50_000,
            max_unacked_per_subscription: 200_000,
            replay_lookahead: 20_000,
        }
    }
}

/// A delivered, unacked entry.
#[derive(Clone, Copy, Debug)]
pub(super) struct Pending {
    pub consumer: u64,
    pub messages: u32,
    /// Raw sticky-key hash (see [`DispatcherState::entry_hash`]).
    pub hash: Option<u32>,
}

/// An entry waiting to be (re)delivered.
#[derive(Clone, Copy, Debug)]
pub(super) struct Replay {
    pub hash: Option<u32>,
    pub messages: u32,
}

/// Permits, pending entries, the replay queue and the choice of consumer for one subscription.
#[derive(Debug)]
pub struct DispatcherState {
    pub(super) limits: DispatchLimits,
    pub(super) sub_type: SubType,
    pub(super) partition: Option<u32>,
    pub(super) consumers: Vec<Slot>,
    pub(super) next_order: u64,
    /// Exclusive/Failover: the consumer receiving everything.
    pub(super) active: Option<u64>,
    pub(super) round_robin: RoundRobin,
    /// Set for Key_Shared subscriptions.
    pub(super) key_shared: Option<KeyShared>,
    /// Per-key holders and replay entries; maintained for Key_Shared only.
    pub(super) order: KeyOrder,
    pub(super) pending: HashMap<u64, Pending>,
    /// Entries to read again and deliver, in id order.
    pub(super) replay: BTreeMap<u64, Replay>,
    pub(super) redelivery_counts: HashMap<u64, u32>,
    /// Unacked messages over all consumers.
    pub(super) unacked_total: u64,
    pub(super) epoch: u64,
    /// A `Fresh` demand is parked at the subscription.
    pub(super) fresh_outstanding: bool,
    /// The ids of the `Replay` request in flight.
    pub(super) replay_in_flight: Option<Vec<u64>>,
    /// Something changed that may make replay entries deliverable (Key_Shared scans again).
    pub(super) rescan: bool,
    /// Dead-letter and backoff settings (from the subscription policy).
    pub(super) policy: DispatchPolicy,
    /// Redelivery counts raised since the actor last took them (persisted with the cursor).
    pub(super) counted: Vec<(u64, u32)>,
    /// Entries handed over for dead-lettering: never dispatched again unless reset.
    pub(super) dead_lettering: HashSet<u64>,
    /// Dead letters not yet taken by the actor.
    pub(super) dead_letters: Vec<DeadLetter>,
    /// Nacked entries waiting out their backoff, by (due ms, id).
    pub(super) backoff: BTreeMap<(u64, u64), Replay>,
    /// Entry id -> its due time in `backoff`.
    pub(super) backoff_due: HashMap<u64, u64>,
    /// Redeliveries counted since start (stats).
    pub(super) redeliveries_total: u64,
}

impl DispatcherState {
    /// An empty dispatcher.
    pub fn new(limits: DispatchLimits) -> Self {
        Self {
            limits: DispatchLimits {
                read_batch: limits.read_batch.max(1),
                ..limits
            },
            sub_type: SubType::Exclusive,
            partition: None,
            consumers: Vec::new(),
            next_order: 0,
            active: None,
            round_robin: RoundRobin::default(),
            key_shared: None,
            order: KeyOrder::default(),
            pending: HashMap::new(),
            replay: BTreeMap::new(),
            redelivery_counts: HashMap::new(),
            unacked_total: 0,
            epoch: 0,
            fresh_outstanding: false,
            replay_in_flight: None,
            rescan: false,
            policy: DispatchPolicy::default(),
            counted: Vec::new(),
            dead_lettering: HashSet::new(),
            dead_letters: Vec::new(),
            backoff: BTreeMap::new(),
            backoff_due: HashMap::new(),
            redeliveries_total: 0,
        }
    }

    /// The current read epoch.
    pub fn epoch(&self) -> u64 {
        self.epoch
    }

    /// The type set by the attached consumers, if any are attached.
    pub fn sub_type(&self) -> Option<SubType> {
        (!self.consumers.is_empty()).then_some(self.sub_type)
    }

    /// Attaches a consumer. Returns the ACTIVE_CONSUMER_CHANGE notices to send (Failover).
    ///
    /// # Errors
    /// Key_Shared consumers whose settings do not fit the subscription (see
    /// [`AddConsumerError`]); the subscription already checked the type rules.
    pub fn add_consumer(
        &mut self,
        consumer: DispatchConsumer,
    ) -> Result<Vec<ActiveChange>, AddConsumerError> {
        if self.consumers.iter().any(|c| c.key == consumer.key) {
            return Ok(Vec::new());
        }
        if self.consumers.is_empty() {
            self.become_type(&consumer);
        }
        if let Some(key_shared) = self.key_shared.as_mut() {
            key_shared.add(&consumer)?;
        }
        self.partition = consumer.partition;
        self.consumers.push(Slot {
            key: consumer.key,
            name: consumer.name,
            priority: consumer.priority_level,
            order: self.next_order,
            permits: 0,
            unacked_messages: 0,
            pending_entries: 0,
        });
        self.next_order += 1;
        self.rescan = true;
        Ok(self.refresh_active(Some(consumer.key)))
    }

    /// The first consumer of an empty subscription sets its type (and Key_Shared mode).
    fn become_type(&mut self, first: &DispatchConsumer) {
        self.sub_type = first.sub_type;
        self.active = None;
        self.order.clear();
        self.key_shared = None;
        if first.sub_type == SubType::KeyShared {
            self.key_shared = Some(KeyShared::for_first(first.key_shared.as_ref()));
            // Entries left by earlier consumers keep their place in key order.
            for (id, replay) in &self.replay {
                if let Some(hash) = replay.hash {
                    self.order.add_replay(hash, *id);
                }
            }
        }
    }

    /// Detaches a consumer; its pending entries are queued for redelivery. Returns the
    /// ACTIVE_CONSUMER_CHANGE notices to send (Failover).
    pub fn remove_consumer(&mut self, key: u64) -> Vec<ActiveChange> {
        let Some(position) = self.consumers.iter().position(|c| c.key == key) else {
            return Vec::new();
        };
        let orphaned = self.pending_of(key);
        self.requeue(&orphaned, self.counts_redeliveries());
        self.consumers.remove(position);
        if let Some(key_shared) = self.key_shared.as_mut() {
            key_shared.remove(key);
        }
        self.rescan = true;
        self.refresh_active(None)
    }

    /// Recomputes the single active consumer. When it changes, the previous one's unacked
    /// entries go to the new one (in order, ahead of new entries) and every Failover consumer
    /// is told; otherwise only a newcomer learns that it stands by.
    fn refresh_active(&mut self, newcomer: Option<u64>) -> Vec<ActiveChange> {
        let new = match self.sub_type {
            SubType::Exclusive => exclusive::active(&self.consumers),
            SubType::Failover => failover::active(&self.consumers, self.partition),
            _ => None,
        };
        let old = std::mem::replace(&mut self.active, new);
        let failover = self.sub_type == SubType::Failover;
        if new == old {
            return match newcomer {
                Some(key) if failover => vec![ActiveChange {
                    key,
                    is_active: new == Some(key),
                }],
                _ => Vec::new(),
            };
        }
        if let Some(old) = old.filter(|old| self.consumers.iter().any(|c| c.key == *old)) {
            let ids = self.pending_of(old);
            self.requeue(&ids, false);
        }
        if !failover {
            return Vec::new();
        }
        self.consumers
            .iter()
            .map(|c| ActiveChange {
                key: c.key,
                is_active: Some(c.key) == new,
            })
            .collect()
    }

    /// Changes the unacked-message limit per consumer (a topic policy; 0 = none).
    pub fn set_max_unacked_per_consumer(&mut self, limit: u32) {
        self.limits.max_unacked_per_consumer = limit;
    }

    /// Adds FLOW permits.
    pub fn flow(&mut self, key: u64, permits: u32) {
        if let Some(slot) = self.slot_mut(key) {
            slot.permits += i64::from(permits);
            self.rescan = true;
        }
    }

    /// Queues entries pending on `key` for redelivery at once (see [`Self::redeliver_at`]).
    pub fn redeliver(&mut self, key: u64, ids: Option<&[u64]>) {
        self.redeliver_at(key, ids, 0);
    }

    /// Queues entries pending on `key` for redelivery: the given ids (those pending on `key`),
    /// or everything pending on it when `ids` is `None`. With a backoff policy (Shared and
    /// Key_Shared) they wait until `now_ms` plus the backoff of their new count.
    pub fn redeliver_at(&mut self, key: u64, ids: Option<&[u64]>, now_ms: u64) {
        let chosen: Vec<u64> = match ids {
            Some(ids) => ids
                .iter()
                .copied()
                .filter(|id| self.pending.get(id).is_some_and(|p| p.consumer == key))
                .collect(),
            None => self.pending_of(key),
        };
        match self.policy.backoff.filter(|_| self.counts_redeliveries()) {
            Some(backoff) => self.hold_back(&chosen, backoff, now_ms),
            None => self.requeue(&chosen, self.counts_redeliveries()),
        }
    }

    /// Entries fully acked: no longer pending or waiting anywhere.
    pub fn acked(&mut self, ids: &[u64], up_to: Option<u64>) {
        for id in ids {
            self.forget(*id);
        }
        if let Some(up_to) = up_to {
            let mut settled: Vec<u64> = self
                .pending
                .keys()
                .copied()
                .filter(|id| *id <= up_to)
                .collect();
            settled.extend(self.replay.range(..=up_to).map(|(id, _)| *id));
            for id in settled {
                self.forget(id);
            }
            self.redelivery_counts.retain(|id, _| *id > up_to);
            self.dead_lettering.retain(|id| *id > up_to);
            let held: Vec<u64> = self
                .backoff_due
                .keys()
                .copied()
                .filter(|id| *id <= up_to)
                .collect();
            for id in held {
                self.forget(id);
            }
        }
    }

    fn forget(&mut self, id: u64) {
        self.settle(id);
        if self.dequeue_replay(id).is_some() {
            self.rescan = true;
        }
        self.redelivery_counts.remove(&id);
        self.dead_lettering.remove(&id);
        if let Some(due) = self.backoff_due.remove(&id) {
            self.backoff.remove(&(due, id));
        }
    }

    /// Forgets everything pending (seek or subscription restart) and starts epoch `epoch`.
    pub fn reset(&mut self, epoch: u64) {
        self.epoch = epoch;
        self.pending.clear();
        self.replay.clear();
        self.order.clear();
        self.redelivery_counts.clear();
        self.dead_lettering.clear();
        self.dead_letters.clear();
        self.backoff.clear();
        self.backoff_due.clear();
        self.counted.clear();
        self.fresh_outstanding = false;
        self.replay_in_flight = None;
        self.unacked_total = 0;
        self.rescan = true;
        for slot in &mut self.consumers {
            slot.unacked_messages = 0;
            slot.pending_entries = 0;
        }
    }

    /// Entries delivered and not yet acked.
    pub fn pending_entries(&self) -> usize {
        self.pending.len()
    }

    /// Entries waiting to be (re)delivered.
    pub fn replay_entries(&self) -> usize {
        self.replay.len()
    }

    /// Messages delivered to `key` and not yet acked.
    pub fn unacked_messages(&self, key: u64) -> u64 {
        self.slot(key).map_or(0, |c| c.unacked_messages)
    }

    /// Permits of `key`.
    pub fn permits(&self, key: u64) -> i64 {
        self.slot(key).map_or(0, |c| c.permits)
    }

    /// The consumer receiving everything on Exclusive and Failover subscriptions.
    pub fn active_consumer(&self) -> Option<u64> {
        self.active
    }

    /// The consumer holding entry `id`, if it is delivered and unacked.
    pub fn holder_of(&self, id: u64) -> Option<u64> {
        self.pending.get(&id).map(|p| p.consumer)
    }

    pub(super) fn slot(&self, key: u64) -> Option<&Slot> {
        self.consumers.iter().find(|c| c.key == key)
    }

    pub(super) fn slot_mut(&mut self, key: u64) -> Option<&mut Slot> {
        self.consumers.iter_mut().find(|c| c.key == key)
    }

    /// Shared and Key_Shared count redeliveries and apply unacked limits, as in Pulsar.
    pub(super) fn counts_redeliveries(&self) -> bool {
        matches!(self.sub_type, SubType::Shared | SubType::KeyShared)
    }

    pub(super) fn consumer_over_limit(&self, slot: &Slot) -> bool {
        let max = u64::from(self.limits.max_unacked_per_consumer);
        self.counts_redeliveries() && max > 0 && slot.unacked_messages >= max
    }

    pub(super) fn subscription_over_limit(&self) -> bool {
        let max = u64::from(self.limits.max_unacked_per_subscription);
        self.counts_redeliveries() && max > 0 && self.unacked_total >= max
    }

    /// Whether a consumer can be given entries now.
    pub(super) fn eligible(&self, slot: &Slot) -> bool {
        slot.permits > 0 && !self.consumer_over_limit(slot) && !self.subscription_over_limit()
    }

    /// The raw sticky-key hash that orders an entry: its key's hash; a batch without an outer
    /// key uses Pulsar's `NONE_KEY` (its messages may carry keys we cannot see); a single
    /// keyless message has none and may go anywhere.
    pub(super) fn entry_hash(entry: &Entry) -> Option<u32> {
        match entry.meta.key_hash {
            Some(hash) => Some(hash),
            None if entry.meta.num_messages > 1 => Some(none_key_hash()),
            None => None,
        }
    }
}
