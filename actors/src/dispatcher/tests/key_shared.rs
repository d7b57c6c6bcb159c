//! Key_Shared: key ownership, per-key order across consumer changes, STICKY ranges, stats.

use super::*;
use crate::dispatcher::{AddConsumerError, HashBlockReason};

/// Keys `key-N` owned by `consumer`, first `count` of them.
fn keys_of(d: &DispatcherState, consumer: u64, count: usize) -> Vec<String> {
    let ks = d.key_shared.as_ref().expect("a Key_Shared dispatcher");
    (0..)
        .map(|i| format!("key-{i}"))
        .filter(|k| ks.select(murmur3_32(k.as_bytes())) == Some(consumer))
        .take(count)
        .collect()
}

fn key_shared_pair() -> DispatcherState {
    let mut d = unlimited();
    add(&mut d, consumer(1, "a", SubType::KeyShared));
    add(&mut d, consumer(2, "b", SubType::KeyShared));
    d
}

#[test]
fn each_key_goes_to_its_owner() {
    let mut d = key_shared_pair();
    d.flow(1, 100);
    d.flow(2, 100);
    let (a, b) = (keys_of(&d, 1, 2), keys_of(&d, 2, 2));
    d.next_requests();
    let keys = [&a[0], &b[0], &a[1], &b[1], &a[0]].map(String::as_str);
    let out = d.on_entries(0, keyed(0, &keys), false);
    assert_eq!(ids(&out, 1), vec![0, 2, 4]);
    assert_eq!(ids(&out, 2), vec![1, 3]);
}

#[test]
fn a_joining_consumer_waits_until_older_messages_of_its_keys_are_acked() {
    let mut d = unlimited();
    add(&mut d, consumer(1, "a", SubType::KeyShared));
    d.flow(1, 100);
    d.next_requests();
    // Find a key that the newcomer will own, then deliver two of its messages to "a".
    let mut probe = unlimited();
    add(&mut probe, consumer(1, "a", SubType::KeyShared));
    add(&mut probe, consumer(2, "b", SubType::KeyShared));
    let moving = keys_of(&probe, 2, 1).remove(0);
    let staying = keys_of(&probe, 1, 1).remove(0);
    let first = d.on_entries(0, keyed(0, &[&moving, &moving]), false);
    assert_eq!(ids(&first, 1), vec![0, 1]);

    add(&mut d, consumer(2, "b", SubType::KeyShared));
    d.flow(2, 100);
    d.next_requests();
    let out = d.on_entries(0, keyed(2, &[&moving, &staying]), false);
    assert!(ids(&out, 2).is_empty(), "entry 2 must wait for a's acks");
    assert_eq!(ids(&out, 1), vec![3], "other keys keep flowing");

    let stats = d.stats();
    let blocked = &stats.blocked_hashes[0];
    assert_eq!(blocked.reason, HashBlockReason::WaitsForAck);
    assert_eq!(blocked.waits_for_consumer.as_deref(), Some("a"));
    assert_eq!(blocked.waits_for_entry, Some(0));
    assert_eq!(blocked.owner.as_deref(), Some("b"));
    assert_eq!(blocked.oldest_waiting_entry, 2);

    d.acked(&[0], None);
    assert!(
        replay(&d.next_requests()).is_none(),
        "entry 1 is still unacked on a"
    );
    d.acked(&[1], None);
    assert_eq!(replay(&d.next_requests()), Some(vec![2]));
    assert_eq!(
        ids(&d.on_entries(0, keyed(2, &[&moving]), true), 2),
        vec![2]
    );
    assert!(d.stats().blocked_hashes.is_empty());
}

#[test]
fn out_of_order_delivery_lets_a_key_move_at_once() {
    let allow = |key, name: &str| DispatchConsumer {
        key_shared: Some(KeySharedMeta {
            key_shared_mode: 0,
            hash_ranges: vec![],
            allow_out_of_order_delivery: Some(true),
        }),
        ..consumer(key, name, SubType::KeyShared)
    };
    let mut d = unlimited();
    add(&mut d, allow(1, "a"));
    d.flow(1, 100);
    d.next_requests();
    let mut probe = unlimited();
    add(&mut probe, consumer(1, "a", SubType::KeyShared));
    add(&mut probe, consumer(2, "b", SubType::KeyShared));
    let moving = keys_of(&probe, 2, 1).remove(0);
    d.on_entries(0, keyed(0, &[&moving]), false);
    add(&mut d, allow(2, "b"));
    d.flow(2, 100);
    d.next_requests();
    assert_eq!(
        ids(&d.on_entries(0, keyed(1, &[&moving]), false), 2),
        vec![1]
    );
    assert!(
        matches!(
            d.add_consumer(consumer(3, "c", SubType::KeyShared)),
            Err(AddConsumerError::Incompatible { .. })
        ),
        "the out-of-order flag is the subscription's"
    );
}

#[test]
fn a_leaving_consumers_keys_go_to_the_new_owner_before_newer_messages() {
    let mut d = key_shared_pair();
    d.flow(1, 100);
    d.flow(2, 100);
    let key = keys_of(&d, 1, 1).remove(0);
    d.next_requests();
    d.on_entries(0, keyed(0, &[&key, &key]), false);
    d.remove_consumer(1);
    let requests = d.next_requests();
    assert_eq!(replay(&requests), Some(vec![0, 1]));
    // A fresh read answered before the re-read: entry 2 of the key waits behind 0 and 1.
    assert!(d.on_entries(0, keyed(2, &[&key]), false).is_empty());
    let out = d.on_entries(0, keyed(0, &[&key, &key]), true);
    assert_eq!(ids(&out, 2), vec![0, 1]);
    assert!(out[0].1.iter().all(|d| d.redelivery_count == 1));
    assert_eq!(replay(&d.next_requests()), Some(vec![2]));
    assert_eq!(ids(&d.on_entries(0, keyed(2, &[&key]), true), 2), vec![2]);
}

#[test]
fn keyless_messages_spread_and_keyless_batches_keep_one_owner() {
    let mut d = key_shared_pair();
    d.flow(1, 100);
    d.flow(2, 100);
    d.next_requests();
    let out = d.on_entries(0, read(0..4), false);
    assert_eq!(ids(&out, 1).len(), 2);
    assert_eq!(ids(&out, 2).len(), 2);
    let batches: Vec<ReadEntry> = (4..8)
        .map(|id| ReadEntry {
            entry: entry(id, None, 3),
            ack_set: None,
            redelivery_count: 0,
        })
        .collect();
    let out = d.on_entries(0, batches, false);
    assert_eq!(
        out.len(),
        1,
        "batches without an outer key all go to NONE_KEY's owner"
    );
    assert_eq!(out[0].1.len(), 4);
}

#[test]
fn an_owner_without_permits_does_not_stall_other_keys() {
    let mut d = key_shared_pair();
    d.flow(2, 100);
    let (a, b) = (keys_of(&d, 1, 1).remove(0), keys_of(&d, 2, 1).remove(0));
    d.next_requests();
    let out = d.on_entries(0, keyed(0, &[&a, &b, &a, &b]), false);
    assert_eq!(ids(&out, 2), vec![1, 3]);
    assert_eq!(d.replay_entries(), 2);
    assert_eq!(fresh(&d.next_requests()), Some(98), "reading goes on for b");
    let stats = d.stats();
    assert_eq!(
        stats.blocked_hashes[0].reason,
        HashBlockReason::OwnerCannotTake
    );
    d.flow(1, 10);
    assert_eq!(replay(&d.next_requests()), Some(vec![0, 2]));
}

#[test]
fn sticky_consumers_serve_their_declared_ranges() {
    let mut d = unlimited();
    add(&mut d, sticky(1, &[(0, 32_767)]));
    assert!(matches!(
        d.add_consumer(sticky(2, &[(30_000, 40_000)])),
        Err(AddConsumerError::HashRangeConflict { .. })
    ));
    assert!(matches!(
        d.add_consumer(consumer(3, "auto", SubType::KeyShared)),
        Err(AddConsumerError::Incompatible { .. })
    ));
    d.flow(1, 100);
    d.next_requests();
    let ks = d.key_shared.as_ref().unwrap();
    let find = |upper: bool| {
        (0..)
            .map(|i| format!("k{i}"))
            .find(|k| (ks.slot(murmur3_32(k.as_bytes())) > 32_767) == upper)
            .unwrap()
    };
    let (lower, upper) = (find(false), find(true));
    let out = d.on_entries(0, keyed(0, &[&lower, &upper]), false);
    assert_eq!(ids(&out, 1), vec![0], "slots above 32767 have no owner yet");
    let stats = d.stats();
    assert_eq!(
        stats.blocked_hashes[0].reason,
        HashBlockReason::NoConsumerForSlot
    );
    assert_eq!(stats.blocked_hashes[0].oldest_waiting_entry, 1);
    add(&mut d, sticky(2, &[(32_768, 65_535)]));
    d.flow(2, 10);
    assert_eq!(replay(&d.next_requests()), Some(vec![1]));
    assert_eq!(
        d.stats().consumers[1].hash_ranges,
        vec![crate::dispatcher::HashRange {
            start: 32_768,
            end: 65_535
        }]
    );
}

#[test]
fn auto_split_ranges_are_reported_per_consumer() {
    let d = key_shared_pair();
    let stats = d.stats();
    assert_eq!(stats.key_shared_mode.as_deref(), Some("AUTO_SPLIT"));
    let total: u32 = stats
        .consumers
        .iter()
        .flat_map(|c| c.hash_ranges.iter())
        .map(|r| r.end - r.start + 1)
        .sum();
    assert_eq!(total, 65_535, "slots 1..=65535 are all assigned");
    assert!(stats.consumers.iter().all(|c| !c.hash_ranges.is_empty()));
}
