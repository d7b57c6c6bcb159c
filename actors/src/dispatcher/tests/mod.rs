//! Unit tests of the dispatcher state, with a small model of the subscription's log.

mod basic;
mod key_shared;
mod limits;
mod property;
mod redelivery;
mod sim;

use bytes::Bytes;
use geminga_protocol::proto::{command_subscribe::SubType, IntRange, KeySharedMeta};
use geminga_storage::{Entry, EntryMeta};

use super::{
    key_shared::hash::murmur3_32, ActiveChange, Deliveries, DispatchConsumer, DispatchLimits,
    DispatcherState, ReadEntry, ReadRequest,
};

/// An entry of `messages` messages with an optional sticky key.
pub(super) fn entry(id: u64, key: Option<&str>, messages: u32) -> Entry {
    Entry {
        entry_id: id,
        meta: EntryMeta {
            num_messages: messages,
            key_hash: key.map(|k| murmur3_32(k.as_bytes())),
            ..EntryMeta::default()
        },
        data: Bytes::from_static(b"m"),
    }
}

/// Single keyless messages `ids`.
pub(super) fn read(ids: std::ops::Range<u64>) -> Vec<ReadEntry> {
    ids.map(|id| ReadEntry {
        entry: entry(id, None, 1),
        ack_set: None,
        redelivery_count: 0,
    })
    .collect()
}

/// Single messages with the given keys, ids from `first`.
pub(super) fn keyed(first: u64, keys: &[&str]) -> Vec<ReadEntry> {
    keys.iter()
        .zip(first..)
        .map(|(key, id)| ReadEntry {
            entry: entry(id, Some(key), 1),
            ack_set: None,
            redelivery_count: 0,
        })
        .collect()
}

/// Entry ids delivered to `key`.
pub(super) fn ids(out: &Deliveries, key: u64) -> Vec<u64> {
    out.iter()
        .filter(|(k, _)| *k == key)
        .flat_map(|(_, d)| d.iter().map(|d| d.entry.entry_id))
        .collect()
}

pub(super) fn limits(max_per_consumer: u32, max_per_subscription: u32) -> DispatchLimits {
    DispatchLimits {
        read_batch: 100,
        max_unacked_per_consumer: max_per_consumer,
        max_unacked_per_subscription: max_per_subscription,
        replay_lookahead: 20_000,
    }
}

pub(super) fn unlimited() -> DispatcherState {
    DispatcherState::new(limits(0, 0))
}

pub(super) fn consumer(key: u64, name: &str, sub_type: SubType) -> DispatchConsumer {
    DispatchConsumer {
        key,
        name: name.into(),
        priority_level: 0,
        sub_type,
        key_shared: None,
        partition: None,
    }
}

pub(super) fn sticky(key: u64, ranges: &[(i32, i32)]) -> DispatchConsumer {
    DispatchConsumer {
        key_shared: Some(KeySharedMeta {
            key_shared_mode: geminga_protocol::proto::KeySharedMode::Sticky as i32,
            hash_ranges: ranges
                .iter()
                .map(|(start, end)| IntRange {
                    start: *start,
                    end: *end,
                })
                .collect(),
            allow_out_of_order_delivery: None,
        }),
        ..consumer(key, &format!("sticky-{key}"), SubType::KeyShared)
    }
}

pub(super) fn add(d: &mut DispatcherState, c: DispatchConsumer) -> Vec<ActiveChange> {
    d.add_consumer(c).expect("consumer accepted")
}

/// The fresh demand among `requests`, if any.
pub(super) fn fresh(requests: &[ReadRequest]) -> Option<usize> {
    requests.iter().find_map(|r| match r {
        ReadRequest::Fresh(n) => Some(*n),
        ReadRequest::Replay(_) => None,
    })
}

/// The replay ids among `requests`, if any.
pub(super) fn replay(requests: &[ReadRequest]) -> Option<Vec<u64>> {
    requests.iter().find_map(|r| match r {
        ReadRequest::Replay(ids) => Some(ids.clone()),
        ReadRequest::Fresh(_) => None,
    })
}
