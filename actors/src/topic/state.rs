//! TopicState: entry-id allocation, the durable watermark and producer names, without actix.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use bytes::Bytes;
use geminga_storage::{Entry, EntryMeta};

use crate::error::RequestError;

/// Everything a topic decides, kept apart from the actor so unit tests can drive it.
#[derive(Debug)]
pub struct TopicState {
    name: String,
    ledger_id: u64,
    /// Id the next published entry gets.
    next_entry_id: u64,
    /// Every entry below this id is durable and may be dispatched.
    durable_next: u64,
    /// Entries handed to the writer and not yet durable, by id.
    in_flight: BTreeMap<u64, Entry>,
    /// In-flight entries already durable, waiting for an older one before they count.
    persisted_early: BTreeSet<u64>,
    /// Set after a failed write: publishes are refused until the state is reloaded, so the
    /// log never gets a hole.
    fenced: bool,
    /// Producer handle id -> producer name.
    producers: HashMap<u64, String>,
    /// Counter for broker-generated producer names.
    generated_names: u64,
}

impl TopicState {
    /// State of topic `name` whose log `ledger_id` continues at `next_entry_id`.
    pub fn new(name: String, ledger_id: u64, next_entry_id: u64) -> Self {
        Self {
            name,
            ledger_id,
            next_entry_id,
            durable_next: next_entry_id,
            in_flight: BTreeMap::new(),
            persisted_early: BTreeSet::new(),
            fenced: false,
            producers: HashMap::new(),
            generated_names: 0,
        }
    }

    /// The full topic name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The topic's ledger.
    pub fn ledger_id(&self) -> u64 {
        self.ledger_id
    }

    /// Entries below this id are durable.
    pub fn durable_next(&self) -> u64 {
        self.durable_next
    }

    /// The newest durable entry, if any.
    pub fn last_durable(&self) -> Option<u64> {
        self.durable_next.checked_sub(1)
    }

    /// Assigns the next entry id to a published message.
    pub fn allocate(&mut self, meta: EntryMeta, data: Bytes) -> Result<Entry, RequestError> {
        if self.fenced {
            return Err(RequestError::ServiceNotReady {
                reason: format!("topic {} is recovering from a storage error", self.name),
            });
        }
        let entry = Entry {
            entry_id: self.next_entry_id,
            meta,
            data,
        };
        self.next_entry_id += 1;
        self.in_flight.insert(entry.entry_id, entry.clone());
        Ok(entry)
    }

    /// Records that `entry_id` is durable; returns the entries that became dispatchable, in order.
    pub fn on_persisted(&mut self, entry_id: u64) -> Vec<Entry> {
        self.persisted_early.insert(entry_id);
        let mut ready = Vec::new();
        while self.persisted_early.remove(&self.durable_next) {
            if let Some(entry) = self.in_flight.remove(&self.durable_next) {
                ready.push(entry);
            }
            self.durable_next += 1;
        }
        ready
    }

    /// Records that writing `entry_id` failed: the topic is fenced until [`Self::recover`].
    pub fn on_failed(&mut self, entry_id: u64) {
        self.in_flight.remove(&entry_id);
        self.persisted_early.remove(&entry_id);
        self.fenced = true;
    }

    /// Whether the topic is fenced and no write is outstanding, so it can reload its log end.
    pub fn ready_to_recover(&self) -> bool {
        self.fenced && self.in_flight.is_empty()
    }

    /// Whether appends are still on their way to storage.
    pub fn has_in_flight(&self) -> bool {
        !self.in_flight.is_empty()
    }

    /// Whether publishes are being refused.
    pub fn is_fenced(&self) -> bool {
        self.fenced
    }

    /// Continues after a failure from what storage holds: `next_entry_id` = last stored + 1.
    pub fn recover(&mut self, next_entry_id: u64) {
        self.fenced = false;
        self.persisted_early.clear();
        self.next_entry_id = next_entry_id.max(self.durable_next);
        self.durable_next = self.next_entry_id;
    }

    /// Registers a producer; generates a name when none is requested and refuses a name in use.
    pub fn add_producer(
        &mut self,
        handle: u64,
        requested: Option<String>,
        name_prefix: &str,
        max_producers: u32,
    ) -> Result<String, RequestError> {
        if let Some(existing) = self.producers.get(&handle) {
            return Ok(existing.clone());
        }
        if max_producers > 0 && self.producers.len() >= max_producers as usize {
            return Err(RequestError::NotAllowed {
                reason: format!("topic {} already has {max_producers} producers", self.name),
            });
        }
        let name = match requested.filter(|n| !n.is_empty()) {
            Some(name) => {
                if self.producers.values().any(|n| *n == name) {
                    return Err(RequestError::ProducerBusy {
                        topic: self.name.clone(),
                        name,
                        reason: "a producer with this name is already connected".into(),
                    });
                }
                name
            }
            None => loop {
                self.generated_names += 1;
                let candidate = format!("{name_prefix}-{}", self.generated_names);
                if !self.producers.values().any(|n| *n == candidate) {
                    break candidate;
                }
            },
        };
        self.producers.insert(handle, name.clone());
        Ok(name)
    }

    /// Forgets a producer.
    pub fn remove_producer(&mut self, handle: u64) {
        self.producers.remove(&handle);
    }

    /// Connected producers.
    pub fn producer_count(&self) -> usize {
        self.producers.len()
    }

    /// The name of a registered producer.
    pub fn producer_name(&self, handle: u64) -> Option<&str> {
        self.producers.get(&handle).map(String::as_str)
    }

    /// Handles of the registered producers.
    pub fn producer_handles(&self) -> Vec<u64> {
        self.producers.keys().copied().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn publish(state: &mut TopicState) -> u64 {
        state
            .allocate(EntryMeta::default(), Bytes::from_static(b"m"))
            .unwrap()
            .entry_id
    }

    #[test]
    fn entries_become_dispatchable_in_order_even_if_persisted_out_of_order() {
        let mut state = TopicState::new("t".into(), 1, 10);
        let (a, b, c) = (
            publish(&mut state),
            publish(&mut state),
            publish(&mut state),
        );
        assert_eq!((a, b, c), (10, 11, 12));
        assert!(state.on_persisted(b).is_empty(), "11 waits for 10");
        let ready: Vec<u64> = state.on_persisted(a).iter().map(|e| e.entry_id).collect();
        assert_eq!(ready, vec![10, 11]);
        assert_eq!(state.last_durable(), Some(11));
        assert_eq!(state.on_persisted(c).len(), 1);
        assert_eq!(state.durable_next(), 13);
    }

    #[test]
    fn a_failed_write_fences_until_recovered_from_storage() {
        let mut state = TopicState::new("t".into(), 1, 0);
        let a = publish(&mut state);
        let b = publish(&mut state);
        state.on_failed(a);
        assert!(state.is_fenced());
        assert!(state.allocate(EntryMeta::default(), Bytes::new()).is_err());
        assert!(!state.ready_to_recover(), "entry 1 is still in flight");
        state.on_failed(b);
        assert!(state.ready_to_recover());
        // Storage says entry 0 made it after all (written, fsync failed): continue after it.
        state.recover(1);
        assert!(!state.is_fenced());
        assert_eq!(publish(&mut state), 1);
        assert_eq!(state.durable_next(), 1);
    }

    #[test]
    fn producer_names_are_unique_and_generated_when_absent() {
        let mut state = TopicState::new("t".into(), 1, 0);
        assert_eq!(
            state.add_producer(1, Some("p".into()), "gen", 0).unwrap(),
            "p"
        );
        assert!(matches!(
            state.add_producer(2, Some("p".into()), "gen", 0),
            Err(RequestError::ProducerBusy { .. })
        ));
        assert_eq!(
            state.add_producer(1, Some("p".into()), "gen", 0).unwrap(),
            "p",
            "retry"
        );
        assert_eq!(state.add_producer(3, None, "gen", 0).unwrap(), "gen-1");
        assert!(
            state.add_producer(4, None, "gen", 2).is_err(),
            "limit of 2 producers"
        );
        state.remove_producer(1);
        assert_eq!(
            state.add_producer(2, Some("p".into()), "gen", 0).unwrap(),
            "p"
        );
    }
}
