//! Choosing what the subscription should read next: entries to redeliver, then new ones.

use std::collections::{HashMap, HashSet};

use geminga_protocol::proto::command_subscribe::SubType;

use super::state::{DispatcherState, ReadRequest, Replay};

impl DispatcherState {
    /// The reads to request now: at most one replay (entries to deliver again) and one fresh
    /// demand, each only when none of its kind is outstanding and some consumer can take
    /// messages.
    pub fn next_requests(&mut self) -> Vec<ReadRequest> {
        self.next_requests_within(None)
    }

    /// [`Self::next_requests`] asking for at most `cap` messages (a dispatch rate limit's
    /// tokens); `None` for no cap.
    pub fn next_requests_within(&mut self, cap: Option<u64>) -> Vec<ReadRequest> {
        let mut out = Vec::new();
        let budget = match cap {
            Some(cap) => self.budget().min(i64::try_from(cap).unwrap_or(i64::MAX)),
            None => self.budget(),
        };
        if budget <= 0 {
            return out;
        }
        let mut left = budget;
        if self.replay_in_flight.is_none() && !self.replay.is_empty() {
            let (ids, messages) = self.pick_replay(budget);
            if !ids.is_empty() {
                left -= messages;
                self.replay_in_flight = Some(ids.clone());
                out.push(ReadRequest::Replay(ids));
            }
        }
        if !self.fresh_outstanding && left > 0 && self.fresh_allowed() {
            let want = usize::try_from(left)
                .unwrap_or(usize::MAX)
                .min(self.limits.read_batch);
            self.fresh_outstanding = true;
            out.push(ReadRequest::Fresh(want));
        }
        out
    }

    /// Messages the consumers that may receive now can take.
    fn budget(&self) -> i64 {
        match self.sub_type {
            SubType::Exclusive | SubType::Failover => self
                .active
                .and_then(|key| self.slot(key))
                .map_or(0, |slot| slot.permits.max(0)),
            _ => self
                .consumers
                .iter()
                .filter(|c| self.eligible(c))
                .map(|c| c.permits)
                .sum(),
        }
    }

    /// Single-active and Shared read new entries only once nothing waits for redelivery, so
    /// redeliveries go first (and, for a single consumer, in order). Key_Shared keeps reading
    /// so keys of other consumers flow while some keys wait, up to the lookahead limit.
    fn fresh_allowed(&self) -> bool {
        match self.sub_type {
            SubType::KeyShared => self.replay.len() < self.limits.replay_lookahead,
            _ => self.replay.is_empty(),
        }
    }

    /// Replay entries to re-read now, and their message count.
    fn pick_replay(&mut self, budget: i64) -> (Vec<u64>, i64) {
        if self.sub_type == SubType::KeyShared {
            return self.pick_key_shared(budget);
        }
        let mut ids = Vec::new();
        let mut messages = 0i64;
        for (id, replay) in &self.replay {
            if ids.len() >= self.limits.read_batch || messages >= budget {
                break;
            }
            ids.push(*id);
            messages += i64::from(replay.messages);
        }
        (ids, messages)
    }

    /// Key_Shared: only entries their key's owner may take now. After a consumer-level change
    /// (permits, consumers, limits, a redelivery) the whole queue is scanned in id order;
    /// after an ack that drained a key, only that key's entries are looked at.
    fn pick_key_shared(&mut self, budget: i64) -> (Vec<u64>, i64) {
        let drained = self.order.take_drained();
        if !self.rescan && drained.is_empty() {
            return (Vec::new(), 0);
        }
        let full = std::mem::take(&mut self.rescan);
        let mut picker = Picker::new(self, budget);
        let complete = if full {
            self.replay
                .iter()
                .all(|(id, replay)| picker.consider(self, *id, replay))
        } else {
            drained.iter().all(|hash| {
                self.order.replay_ids(*hash).all(|id| {
                    self.replay
                        .get(&id)
                        .is_none_or(|replay| picker.consider(self, id, replay))
                })
            })
        };
        if !complete {
            // The read is full; more may be deliverable once it is answered.
            self.rescan = true;
        }
        (picker.ids, picker.messages)
    }
}

/// Simulates delivering replay entries in id order against the consumers' permits.
struct Picker {
    credit: HashMap<u64, i64>,
    left: i64,
    /// Keys with an earlier entry that cannot go now: their later entries wait too.
    blocked: HashSet<u32>,
    ids: Vec<u64>,
    messages: i64,
    read_batch: usize,
}

impl Picker {
    fn new(state: &DispatcherState, budget: i64) -> Self {
        let credit = state
            .consumers
            .iter()
            .filter(|c| state.eligible(c))
            .map(|c| (c.key, c.permits))
            .collect();
        Self {
            credit,
            left: budget,
            blocked: HashSet::new(),
            ids: Vec::new(),
            messages: 0,
            read_batch: state.limits.read_batch,
        }
    }

    /// Takes the entry if it could be delivered now; false once the read is full.
    fn consider(&mut self, state: &DispatcherState, id: u64, replay: &Replay) -> bool {
        if self.ids.len() >= self.read_batch || self.left <= 0 {
            return false;
        }
        let target = match replay.hash {
            None => self.credit.iter().find(|(_, c)| **c > 0).map(|(k, _)| *k),
            Some(hash) if self.blocked.contains(&hash) => None,
            Some(hash) => {
                let target = state
                    .key_shared
                    .as_ref()
                    .and_then(|ks| ks.select(hash).map(|t| (t, ks.allow_out_of_order())))
                    .filter(|(t, _)| self.credit.get(t).is_some_and(|c| *c > 0))
                    .filter(|(t, ooo)| *ooo || state.order.held_elsewhere(hash, *t).is_none())
                    .map(|(t, _)| t);
                if target.is_none() {
                    self.blocked.insert(hash);
                }
                target
            }
        };
        if let Some(credit) = target.and_then(|t| self.credit.get_mut(&t)) {
            let messages = i64::from(replay.messages);
            *credit -= messages;
            self.left -= messages;
            self.messages += messages;
            self.ids.push(id);
        }
        true
    }
}
