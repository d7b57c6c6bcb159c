//! SubscriptionState: who is attached, the cursor, and what to read next, without actix.

use geminga_protocol::proto::{command_ack::AckType, command_subscribe::SubType, MessageIdData};
use geminga_storage::{Cursor, Entry};

use super::delayed_state::DelayedScan;
use crate::{dispatcher::ReadEntry, error::RequestError};

/// A consumer attached to the subscription, as the subscription sees it.
#[derive(Clone, Debug)]
pub struct AttachedConsumer {
    /// Process-unique consumer handle id.
    pub key: u64,
    /// Consumer name.
    pub name: String,
    /// Requested subscription type.
    pub sub_type: SubType,
}

/// What an ACK changed.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct AckOutcome {
    /// Entries that became fully acked.
    pub acked: Vec<u64>,
    /// Set by a cumulative ack: everything up to this entry is acked.
    pub up_to: Option<u64>,
}

/// The subscription's decisions: attachment rules, acks, and the sequential read position.
#[derive(Debug)]
pub struct SubscriptionState {
    ledger_id: u64,
    durable: bool,
    pub(super) cursor: Cursor,
    /// Next entry id to read for first-time dispatch.
    read_position: u64,
    /// Entries below this id are durable in the topic.
    durable_next: u64,
    /// Bumped on every rewind; reads and demands of an older epoch are stale.
    epoch: u64,
    /// Entries the dispatcher asked for and has not received.
    demand: usize,
    consumers: Vec<AttachedConsumer>,
    /// Set by a seek so a reader subscription survives its consumers' reconnect.
    seeking: bool,
    max_consumers: u32,
    /// Delayed delivery switched on by policy (it applies to Shared and Key_Shared only).
    pub(super) delays_enabled: bool,
    /// Whether entries were last being deferred; switching off clears the deferred set.
    pub(super) delays_were_active: bool,
    /// Bookkeeping of scans of the on-disk delayed index.
    pub(super) delayed: DelayedScan,
    /// Entries to read beyond the demand while reads find only delayed entries.
    pub(super) read_ahead: usize,
}

impl SubscriptionState {
    /// State over `cursor` for a topic whose durable end is `durable_next`.
    pub fn new(
        ledger_id: u64,
        cursor: Cursor,
        durable: bool,
        durable_next: u64,
        max_consumers: u32,
    ) -> Self {
        let read_position = cursor.ack_floor();
        Self {
            ledger_id,
            durable,
            cursor,
            read_position,
            durable_next,
            epoch: 1,
            demand: 0,
            consumers: Vec::new(),
            seeking: false,
            max_consumers,
            delays_enabled: true,
            delays_were_active: true,
            delayed: DelayedScan::default(),
            read_ahead: 0,
        }
    }

    /// Subscription name.
    pub fn name(&self) -> &str {
        self.cursor.name()
    }

    /// Whether the cursor is persisted.
    pub fn durable(&self) -> bool {
        self.durable
    }

    /// The cursor.
    pub fn cursor(&self) -> &Cursor {
        &self.cursor
    }

    /// The cursor, for taking persisted updates.
    pub fn cursor_mut(&mut self) -> &mut Cursor {
        &mut self.cursor
    }

    /// Makes the epoch larger than `previous`, so reads of an earlier instance are stale.
    pub fn advance_epoch_past(&mut self, previous: u64) {
        self.epoch = self.epoch.max(previous + 1);
    }

    /// Current read epoch.
    pub fn epoch(&self) -> u64 {
        self.epoch
    }

    /// Entries below this id are durable.
    pub fn durable_next(&self) -> u64 {
        self.durable_next
    }

    /// The attached consumers.
    pub fn consumers(&self) -> &[AttachedConsumer] {
        &self.consumers
    }

    /// Whether one consumer at a time receives everything (Exclusive, Failover).
    pub fn is_single_active(&self) -> bool {
        matches!(
            self.sub_type(),
            Some(SubType::Exclusive | SubType::Failover)
        )
    }

    /// The type set by the attached consumers, if any are attached.
    pub fn sub_type(&self) -> Option<SubType> {
        self.consumers.first().map(|c| c.sub_type)
    }

    /// Applies Pulsar's attachment rules: one type at a time, one consumer for Exclusive.
    pub fn add_consumer(&mut self, consumer: AttachedConsumer) -> Result<(), RequestError> {
        let busy = |reason: &str| RequestError::ConsumerBusy {
            subscription: self.cursor.name().to_owned(),
            reason: reason.to_owned(),
        };
        if let Some(current) = self.sub_type() {
            if current != consumer.sub_type {
                return Err(busy(&format!(
                    "subscription is of type {}, not {}",
                    current.as_str_name(),
                    consumer.sub_type.as_str_name()
                )));
            }
            if current == SubType::Exclusive {
                return Err(busy("an exclusive consumer is already connected"));
            }
        }
        if self.max_consumers > 0 && self.consumers.len() >= self.max_consumers as usize {
            return Err(busy(
                "the subscription has reached its maximum number of consumers",
            ));
        }
        self.seeking = false;
        self.consumers.push(consumer);
        Ok(())
    }

    /// Detaches a consumer; true if it was attached.
    pub fn remove_consumer(&mut self, key: u64) -> bool {
        let before = self.consumers.len();
        self.consumers.retain(|c| c.key != key);
        before != self.consumers.len()
    }

    /// A reader subscription ends when its last consumer leaves, unless a seek caused it.
    pub fn should_retire(&self) -> bool {
        !self.durable && self.consumers.is_empty() && !self.seeking
    }

    /// Applies an ACK. Cumulative acks are refused on Shared and Key_Shared, as in Pulsar.
    pub fn apply_ack(
        &mut self,
        ack_type: AckType,
        ids: &[MessageIdData],
    ) -> Result<AckOutcome, RequestError> {
        let mut outcome = AckOutcome::default();
        let shared = matches!(self.sub_type(), Some(SubType::Shared | SubType::KeyShared));
        if ack_type == AckType::Cumulative && shared {
            return Err(RequestError::NotAllowed {
                reason: "cumulative ack is not allowed on Shared and Key_Shared subscriptions"
                    .into(),
            });
        }
        for id in ids.iter().filter(|id| id.ledger_id == self.ledger_id) {
            // Ids past the durable end were never delivered; ignore them.
            if id.entry_id >= self.durable_next {
                continue;
            }
            let entry = id.entry_id;
            match ack_type {
                AckType::Cumulative => {
                    if id.ack_set.is_empty() {
                        self.cursor.ack_cumulative(entry);
                        outcome.up_to = Some(entry);
                    } else {
                        if let Some(before) = entry.checked_sub(1) {
                            self.cursor.ack_cumulative(before);
                            outcome.up_to = Some(before);
                        }
                        if self.cursor.ack_batch_index(entry, &id.ack_set) {
                            outcome.acked.push(entry);
                        }
                    }
                }
                AckType::Individual => {
                    let done = if id.ack_set.is_empty() {
                        self.cursor.ack(entry)
                    } else {
                        self.cursor.ack_batch_index(entry, &id.ack_set)
                    };
                    if done {
                        outcome.acked.push(entry);
                    }
                }
            }
        }
        Ok(outcome)
    }

    /// Rewinds to `ack_floor` (seek): all acks are forgotten and a new epoch begins.
    pub fn reset(&mut self, ack_floor: u64) {
        self.cursor.reset(ack_floor.min(self.durable_next));
        // The reset cursor names a fresh (empty) delayed index.
        self.delayed = DelayedScan::default();
        self.rewind();
        self.seeking = true;
    }

    /// Re-reads from the ack floor (after the dispatcher lost its state).
    pub fn rewind(&mut self) {
        self.read_position = self.cursor.ack_floor();
        self.epoch += 1;
        self.demand = 0;
        self.read_ahead = 0;
    }

    /// Records that the topic's durable end moved.
    pub fn set_durable_next(&mut self, durable_next: u64) {
        self.durable_next = self.durable_next.max(durable_next);
    }

    /// Records the dispatcher's demand; stale epochs are ignored.
    pub fn set_demand(&mut self, epoch: u64, entries: usize) -> bool {
        if epoch != self.epoch {
            return false;
        }
        self.demand = entries;
        true
    }

    /// The next sequential read, if the dispatcher wants entries and some are durable. Runs
    /// of acked and deferred (delayed) entries are skipped without reading them.
    pub fn next_read(&mut self) -> Option<(u64, usize)> {
        if self.demand == 0 || self.read_position >= self.durable_next {
            return None;
        }
        self.read_position = self
            .cursor
            .next_readable(self.read_position, self.durable_next);
        let available = usize::try_from(self.durable_next.saturating_sub(self.read_position))
            .unwrap_or(usize::MAX);
        let want = self.demand.max(self.read_ahead);
        (available > 0).then(|| (self.read_position, want.min(available)))
    }

    /// Takes entries read from `from` onwards at `now_ms`: skips acked and deferred ones,
    /// defers those due later (Shared and Key_Shared with delayed delivery on), attaches
    /// partial batch acks and redelivery counts, advances the read position and consumes
    /// demand.
    pub fn on_read(&mut self, from: u64, entries: Vec<Entry>, now_ms: u64) -> Vec<ReadEntry> {
        let end = self.durable_next;
        self.on_read_until(from, entries, end, now_ms)
    }

    /// Like [`Self::on_read`] for a read of a log that ends at `skip_to` (a compacted log up to
    /// its horizon): an empty read moves the read position to `skip_to`.
    pub fn on_read_until(
        &mut self,
        from: u64,
        entries: Vec<Entry>,
        skip_to: u64,
        now_ms: u64,
    ) -> Vec<ReadEntry> {
        if from != self.read_position {
            return Vec::new(); // a rewind happened while reading
        }
        // Nothing stored from here to the end (trimmed, or compacted away): skip ahead.
        let mut next = entries
            .last()
            .map_or(skip_to.min(self.durable_next), |last| last.entry_id + 1);
        let now = self.tick_clock(now_ms);
        let mut out = Vec::new();
        let mut deferred = 0usize;
        for entry in entries {
            if out.len() >= self.demand {
                // A read ahead over delayed entries found more than was asked for: the rest is
                // read again later.
                next = entry.entry_id;
                break;
            }
            let id = entry.entry_id;
            if self.cursor.is_acked(id) || self.cursor.is_deferred(id) {
                continue;
            }
            if self.defer_if_due_later(&entry, now) {
                deferred += 1;
                continue;
            }
            out.push(self.read_entry(entry));
        }
        self.read_position = next;
        self.demand = self.demand.saturating_sub(out.len());
        self.adapt_read_ahead(out.is_empty() && deferred > 0);
        out
    }

    /// Drops acked and deferred entries and attaches the partial ack set of batches and the
    /// persisted redelivery count.
    pub fn filter_unacked(&self, entries: Vec<Entry>) -> Vec<ReadEntry> {
        entries
            .into_iter()
            .filter(|e| !self.cursor.is_acked(e.entry_id) && !self.cursor.is_deferred(e.entry_id))
            .map(|entry| self.read_entry(entry))
            .collect()
    }

    /// Entries handed to the dispatcher and not acked yet (batches count once): the
    /// subscription's view of what its consumers hold unacknowledged.
    pub fn dispatched_unacked(&self) -> u64 {
        match self.read_position.checked_sub(1) {
            Some(last) => self.cursor.unacked_in(self.cursor.ack_floor(), last),
            None => 0,
        }
    }

    /// Next entry id to read for first-time dispatch.
    pub fn read_position(&self) -> u64 {
        self.read_position
    }

    /// An entry as the dispatcher gets it: with its partial ack set and redelivery count.
    pub(super) fn read_entry(&self, entry: Entry) -> ReadEntry {
        let id = entry.entry_id;
        ReadEntry {
            ack_set: self.cursor.batch_ack_set(id).map(<[i64]>::to_vec),
            redelivery_count: self.cursor.redelivery_count(id),
            entry,
        }
    }

    /// Consumes demand for entries handed to the dispatcher outside the sequential read.
    pub(super) fn consume_demand(&mut self, entries: usize) {
        self.demand = self.demand.saturating_sub(entries);
    }

    /// Entries the dispatcher asked for and has not received yet.
    pub fn demand(&self) -> usize {
        self.demand
    }

    /// Changes the consumer limit (a topic policy); 0 means unlimited.
    pub fn set_max_consumers(&mut self, max_consumers: u32) {
        self.max_consumers = max_consumers;
    }

    /// Moves the read position to the durable end without handing the entries out, and acks
    /// them: a non-persistent subscription drops what its consumers have no permits for.
    /// Returns the dropped ids.
    pub fn skip_unread(&mut self) -> std::ops::Range<u64> {
        let skipped = self.read_position..self.durable_next.max(self.read_position);
        for id in skipped.clone() {
            self.cursor.ack(id);
        }
        self.read_position = skipped.end;
        skipped
    }

    /// Messages not yet acked, counted in entries (batches count once).
    pub fn backlog_entries(&self) -> u64 {
        let floor = self.cursor.ack_floor();
        match self.durable_next.checked_sub(1) {
            Some(last) if last >= floor => self.cursor.unacked_in(floor, last),
            _ => 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;
    use geminga_storage::EntryMeta;

    use super::*;

    fn consumer(key: u64, sub_type: SubType) -> AttachedConsumer {
        AttachedConsumer {
            key,
            name: format!("c{key}"),
            sub_type,
        }
    }

    fn id(entry_id: u64) -> MessageIdData {
        MessageIdData {
            ledger_id: 7,
            entry_id,
            ..Default::default()
        }
    }

    fn entries(range: std::ops::Range<u64>) -> Vec<Entry> {
        range
            .map(|i| Entry {
                entry_id: i,
                meta: EntryMeta::default(),
                data: Bytes::from_static(b"x"),
            })
            .collect()
    }

    fn state(durable_next: u64) -> SubscriptionState {
        SubscriptionState::new(7, Cursor::new("s", 0), true, durable_next, 0)
    }

    #[test]
    fn exclusive_refuses_a_second_consumer_and_other_types() {
        let mut s = state(0);
        s.add_consumer(consumer(1, SubType::Exclusive)).unwrap();
        assert!(matches!(
            s.add_consumer(consumer(2, SubType::Exclusive)),
            Err(RequestError::ConsumerBusy { .. })
        ));
        assert!(matches!(
            s.add_consumer(consumer(2, SubType::Shared)),
            Err(RequestError::ConsumerBusy { .. })
        ));
        assert!(s.remove_consumer(1));
        s.add_consumer(consumer(2, SubType::Shared)).unwrap();
        s.add_consumer(consumer(3, SubType::Shared)).unwrap();
        assert_eq!(s.consumers().len(), 2);
    }

    #[test]
    fn reads_follow_demand_and_skip_acked_entries() {
        let mut s = state(10);
        assert_eq!(s.next_read(), None, "no demand yet");
        assert!(s.set_demand(s.epoch(), 4));
        assert_eq!(s.next_read(), Some((0, 4)));
        s.apply_ack(AckType::Individual, &[id(1)]).unwrap();
        let got = s.on_read(0, entries(0..4), 0);
        assert_eq!(
            got.iter().map(|r| r.entry.entry_id).collect::<Vec<_>>(),
            vec![0, 2, 3]
        );
        assert_eq!(s.next_read(), Some((4, 1)), "one entry of demand left");
    }

    #[test]
    fn stale_reads_and_demands_are_ignored_after_a_rewind() {
        let mut s = state(10);
        let old = s.epoch();
        s.set_demand(old, 5);
        s.reset(3);
        assert!(!s.set_demand(old, 5));
        assert!(s.on_read(0, entries(0..3), 0).is_empty());
        assert!(s.set_demand(s.epoch(), 5));
        assert_eq!(s.next_read(), Some((3, 5)));
    }

    #[test]
    fn cumulative_ack_is_refused_on_shared() {
        let mut s = state(10);
        s.add_consumer(consumer(1, SubType::Shared)).unwrap();
        assert!(s.apply_ack(AckType::Cumulative, &[id(3)]).is_err());
        let outcome = s.apply_ack(AckType::Individual, &[id(3), id(99)]).unwrap();
        assert_eq!(
            outcome.acked,
            vec![3],
            "ids past the durable end are ignored"
        );
    }

    #[test]
    fn cumulative_ack_moves_the_floor_and_backlog() {
        let mut s = state(10);
        s.add_consumer(consumer(1, SubType::Exclusive)).unwrap();
        let outcome = s.apply_ack(AckType::Cumulative, &[id(4)]).unwrap();
        assert_eq!(outcome.up_to, Some(4));
        assert_eq!(s.cursor().ack_floor(), 5);
        assert_eq!(s.backlog_entries(), 5);
    }

    #[test]
    fn skipping_unread_entries_acks_them_and_moves_the_read_position() {
        let mut s = SubscriptionState::new(7, Cursor::new("np", 0), false, 5, 0);
        assert_eq!(s.skip_unread(), 0..5);
        assert_eq!(s.read_position(), 5);
        assert_eq!(s.backlog_entries(), 0, "dropped entries are no backlog");
        assert_eq!(s.skip_unread(), 5..5);
    }

    #[test]
    fn a_reader_survives_a_seek_but_not_its_last_consumer_leaving() {
        let mut s = SubscriptionState::new(7, Cursor::new("r", 0), false, 10, 0);
        s.add_consumer(consumer(1, SubType::Exclusive)).unwrap();
        s.reset(2);
        s.remove_consumer(1);
        assert!(!s.should_retire());
        s.add_consumer(consumer(2, SubType::Exclusive)).unwrap();
        s.remove_consumer(2);
        assert!(s.should_retire());
    }
}
