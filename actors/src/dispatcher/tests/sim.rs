//! A model of the subscription's log and of client consumers, driving a [`DispatcherState`]
//! the way the actors do: requests are answered later, acks and nacks arrive in between.

use std::collections::HashMap;

use super::*;

/// splitmix64: small, seeded, good enough to pick actions.
pub(crate) struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (`n > 0`).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    /// True with probability `percent`%.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

/// What a delivery violated, if anything.
pub(crate) type Violation = String;

/// The log, the cursor, the requests in flight and what each client consumer holds.
pub(crate) struct Sim {
    pub d: DispatcherState,
    pub log: Vec<Entry>,
    pub acked: Vec<bool>,
    /// Batch indexes acked so far (bit i = index i), for partially acked batches.
    pub batch_acks: HashMap<u64, u64>,
    read_pos: u64,
    /// Entries the parked fresh demand still wants.
    demand: usize,
    /// Replay requests not answered yet.
    replays: Vec<Vec<u64>>,
    /// Consumer -> entry ids it received and has not acked or given back, in arrival order.
    pub received: HashMap<u64, Vec<u64>>,
    /// Check per-key order on every delivery.
    pub check_order: bool,
    pub violations: Vec<Violation>,
    pub delivered: u64,
}

impl Sim {
    pub fn new(d: DispatcherState) -> Self {
        Sim {
            d,
            log: Vec::new(),
            acked: Vec::new(),
            batch_acks: HashMap::new(),
            read_pos: 0,
            demand: 0,
            replays: Vec::new(),
            received: HashMap::new(),
            check_order: true,
            violations: Vec::new(),
            delivered: 0,
        }
    }

    pub fn publish(&mut self, key: Option<&str>, messages: u32) {
        let id = self.log.len() as u64;
        self.log.push(entry(id, key, messages));
        self.acked.push(false);
    }

    /// Sends the dispatcher's due requests "to the subscription".
    pub fn pump(&mut self) {
        for request in self.d.next_requests() {
            match request {
                ReadRequest::Fresh(n) => self.demand = n,
                ReadRequest::Replay(ids) => self.replays.push(ids),
            }
        }
    }

    fn read_entry(&self, id: u64) -> Option<ReadEntry> {
        let entry = self.log.get(id as usize)?.clone();
        let ack_set = self.batch_acks.get(&id).map(|acked| {
            let all = (1u64 << entry.meta.num_messages) - 1;
            vec![(all & !acked) as i64]
        });
        Some(ReadEntry {
            entry,
            ack_set,
            redelivery_count: 0,
        })
    }

    /// Answers the parked fresh demand with what is published, as the subscription does.
    pub fn serve_fresh(&mut self) {
        if self.demand == 0 || self.read_pos as usize >= self.log.len() {
            return;
        }
        let end = (self.read_pos as usize + self.demand).min(self.log.len());
        let entries: Vec<ReadEntry> = (self.read_pos..end as u64)
            .filter(|id| !self.acked[*id as usize])
            .filter_map(|id| self.read_entry(id))
            .collect();
        self.read_pos = end as u64;
        self.demand = self.demand.saturating_sub(entries.len());
        if !entries.is_empty() {
            let out = self.d.on_entries(0, entries, false);
            self.take(out);
        }
    }

    /// Answers one replay request (the oldest, or a random one when `rng` is given).
    pub fn serve_replay(&mut self, rng: Option<&mut Rng>) {
        if self.replays.is_empty() {
            return;
        }
        // The dispatcher keeps at most one replay in flight; the index is for safety.
        let index = rng.map_or(0, |r| r.below(self.replays.len() as u64) as usize);
        let ids = self.replays.remove(index);
        let entries: Vec<ReadEntry> = ids
            .into_iter()
            .filter(|id| !self.acked[*id as usize])
            .filter_map(|id| self.read_entry(id))
            .collect();
        let out = self.d.on_entries(0, entries, true);
        self.take(out);
    }

    fn take(&mut self, out: Deliveries) {
        for (consumer, deliveries) in out {
            for delivery in deliveries {
                let id = delivery.entry.entry_id;
                self.delivered += 1;
                if self.check_order {
                    self.check(consumer, &delivery.entry);
                }
                if let (Some(set), Some(acked)) = (&delivery.ack_set, self.batch_acks.get(&id)) {
                    if set.first().is_some_and(|word| (*word as u64) & acked != 0) {
                        self.violations
                            .push(format!("entry {id}: acked index shown again"));
                    }
                }
                self.received.entry(consumer).or_default().push(id);
            }
        }
    }

    /// Every older entry of the same key is acked or held by the same consumer.
    fn check(&mut self, consumer: u64, entry: &Entry) {
        let Some(hash) = DispatcherState::entry_hash(entry) else {
            return;
        };
        for older in &self.log[..entry.entry_id as usize] {
            let id = older.entry_id;
            if DispatcherState::entry_hash(older) != Some(hash) || self.acked[id as usize] {
                continue;
            }
            if self.d.holder_of(id) != Some(consumer) {
                self.violations.push(format!(
                    "entry {} (hash {hash:#x}) went to {consumer} while older entry {id} is {:?}",
                    entry.entry_id,
                    self.d.holder_of(id)
                ));
            }
        }
    }

    /// The client acks entry `id` completely.
    pub fn ack(&mut self, consumer: u64, id: u64) {
        if let Some(list) = self.received.get_mut(&consumer) {
            list.retain(|e| *e != id);
        }
        if !self.acked[id as usize] {
            self.acked[id as usize] = true;
            self.batch_acks.remove(&id);
            self.d.acked(&[id], None);
        }
    }

    /// The client acks one index of a batch; the last index completes the entry.
    pub fn ack_index(&mut self, consumer: u64, id: u64, index: u32) {
        let messages = self.log[id as usize].meta.num_messages.max(1);
        let acked = self.batch_acks.entry(id).or_insert(0);
        *acked |= 1 << index.min(messages - 1);
        if acked.count_ones() >= messages {
            self.ack(consumer, id);
        }
    }

    /// The client nacks entries (REDELIVER with ids).
    pub fn nack(&mut self, consumer: u64, ids: &[u64]) {
        if let Some(list) = self.received.get_mut(&consumer) {
            list.retain(|e| !ids.contains(e));
        }
        self.d.redeliver(consumer, Some(ids));
    }

    /// The consumer closes or crashes: what it held goes back.
    pub fn leave(&mut self, consumer: u64) {
        self.received.remove(&consumer);
        self.d.remove_consumer(consumer);
    }

    pub fn all_acked(&self) -> bool {
        self.acked.iter().all(|a| *a)
    }

    /// After a pump with no re-read in flight, nothing deliverable may be left waiting: a key
    /// whose holder acked (or whose owner got permits) must have been asked for at once.
    pub fn check_nothing_deliverable_waits(&mut self) {
        if !self.replays.is_empty() {
            return;
        }
        let d = &self.d;
        let Some(ks) = d.key_shared.as_ref() else {
            return;
        };
        for (hash, ids) in d.order.replay_hashes() {
            let owner = ks.select(hash).and_then(|o| d.slot(o));
            let free = ks.allow_out_of_order()
                || owner.is_some_and(|o| d.order.held_elsewhere(hash, o.key).is_none());
            if owner.is_some_and(|o| d.eligible(o)) && free {
                self.violations.push(format!(
                    "hash {hash:#x} could go to {:?} but waits: entries {ids:?}",
                    owner.map(|o| o.key)
                ));
                return;
            }
        }
        let keyless = d.replay.values().any(|r| r.hash.is_none());
        if keyless && d.consumers.iter().any(|c| d.eligible(c)) {
            self.violations
                .push("a keyless entry waits while a consumer could take it".into());
        }
    }

    /// Asserts that every blocked key waits for an entry its holder really holds.
    pub fn check_blocked_hashes(&mut self) {
        for blocked in self.d.stats().blocked_hashes {
            if blocked.reason != crate::dispatcher::HashBlockReason::WaitsForAck {
                continue;
            }
            let holds = blocked
                .waits_for_entry
                .is_some_and(|e| self.d.holder_of(e) == blocked.waits_for_consumer_key);
            if !holds {
                self.violations.push(format!(
                    "hash {:#x} blocked without a holder: {blocked:?}",
                    blocked.key_hash
                ));
            }
        }
    }
}
