//! Non-persistent topics: delivered from memory to connected consumers, never written to disk.
//!
//! A `non-persistent://` topic rides the same actors as a persistent one ([`crate::topic`],
//! [`crate::subscription`], [`crate::dispatcher`]) in a memory-only mode decided here:
//! - the registry never creates a storage record for it ([`transient_record`]); it exists while
//!   it is loaded;
//! - the topic skips the storage writer: an entry is "durable" as soon as it has an id, and it
//!   reaches subscriptions through the topic's in-memory entry cache only;
//! - its subscriptions keep their cursor in memory and end with their last consumer;
//! - entries a subscription's consumers have no permits for are dropped, not kept as backlog
//!   ([`drop_unread`]), and counted in stats (`msgDropRate`).

use std::time::{SystemTime, UNIX_EPOCH};

use geminga_storage::TopicRecord;

/// The scheme prefix of non-persistent topic names.
pub const NON_PERSISTENT_PREFIX: &str = "non-persistent://";

/// Whether `name` (a full topic name) is a non-persistent topic.
pub fn is_non_persistent(name: &str) -> bool {
    name.starts_with(NON_PERSISTENT_PREFIX)
}

/// The in-memory record of a non-persistent topic. `ledger_id` only has to tell incarnations of
/// the topic apart (message ids restart at entry 0 when the topic is loaded again), so a
/// process-unique id is used; nothing is ever stored under it.
pub fn transient_record(name: &str, ledger_id: u64) -> TopicRecord {
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0);
    TopicRecord {
        name: name.to_owned(),
        ledger_id,
        created_at_ms: now_ms,
    }
}

/// Whether a non-persistent subscription drops the entries it has not handed to its
/// dispatcher yet.
///
/// The subscription does not see permits directly: its dispatcher asks for
/// `min(available permits, read_batch)` entries at a time. So when the outstanding demand is
/// used up and the last demand was smaller than a full read batch, the consumers have no
/// permits left and new entries are dropped, as Pulsar's non-persistent dispatchers do. A last
/// demand of a full batch means more permits are likely and the next demand is on its way, so
/// the unread entries wait for it, but never more than `max_unread` of them.
pub fn drop_unread(demand: usize, last_demand: usize, read_batch: usize, unread: u64) -> bool {
    let max_unread =
        u64::try_from(read_batch.saturating_mul(MAX_UNREAD_BATCHES)).unwrap_or(u64::MAX);
    unread > 0 && demand == 0 && (last_demand < read_batch || unread > max_unread)
}

/// How many read batches of entries a non-persistent subscription keeps waiting for the next
/// demand before it drops them.
const MAX_UNREAD_BATCHES: usize = 10;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_told_apart_by_scheme() {
        assert!(is_non_persistent("non-persistent://public/default/t"));
        assert!(!is_non_persistent("persistent://public/default/t"));
        let record = transient_record("non-persistent://public/default/t", 42);
        assert_eq!(record.ledger_id, 42);
        assert!(record.created_at_ms > 0);
    }

    #[test]
    fn entries_are_dropped_only_when_consumers_have_no_permits() {
        // Never asked (no permits at all): drop.
        assert!(drop_unread(0, 0, 100, 5));
        // Demand outstanding: keep, the entries are read for it.
        assert!(!drop_unread(3, 3, 100, 5));
        // Last demand was a partial batch and is used up: permits exhausted, drop.
        assert!(drop_unread(0, 40, 100, 5));
        // Last demand was a full batch: the next demand is coming, keep a bounded amount.
        assert!(!drop_unread(0, 100, 100, 5));
        assert!(drop_unread(0, 100, 100, 1001));
        // Nothing unread: nothing to drop.
        assert!(!drop_unread(0, 0, 100, 0));
    }
}
