//! Exclusive, Failover and Shared dispatch, redelivery and read requests.

use super::*;

#[test]
fn nothing_is_requested_without_permits() {
    let mut d = unlimited();
    add(&mut d, consumer(1, "a", SubType::Exclusive));
    assert!(d.next_requests().is_empty());
    d.flow(1, 10);
    assert_eq!(d.next_requests(), vec![ReadRequest::Fresh(10)]);
    assert!(d.next_requests().is_empty(), "one fresh demand outstanding");
}

#[test]
fn exclusive_redelivery_replays_in_order_without_counting() {
    let mut d = unlimited();
    add(&mut d, consumer(1, "a", SubType::Exclusive));
    d.flow(1, 3);
    d.next_requests();
    assert_eq!(ids(&d.on_entries(0, read(0..3), false), 1), vec![0, 1, 2]);
    d.acked(&[1], None);
    d.redeliver(1, None);
    d.flow(1, 2);
    assert_eq!(replay(&d.next_requests()), Some(vec![0, 2]));
    let again = d.on_entries(0, [read(0..1), read(2..3)].concat(), true);
    assert_eq!(ids(&again, 1), vec![0, 2]);
    assert!(again[0].1.iter().all(|d| d.redelivery_count == 0));
}

#[test]
fn a_redelivery_is_requested_while_a_fresh_demand_waits_for_publishes() {
    let mut d = unlimited();
    add(&mut d, consumer(1, "a", SubType::Shared));
    d.flow(1, 10);
    assert_eq!(fresh(&d.next_requests()), Some(10));
    assert_eq!(ids(&d.on_entries(0, read(0..2), false), 1), vec![0, 1]);
    assert_eq!(
        fresh(&d.next_requests()),
        Some(8),
        "parked: the topic is idle"
    );
    d.redeliver(1, Some(&[1]));
    assert_eq!(d.next_requests(), vec![ReadRequest::Replay(vec![1])]);
    let out = d.on_entries(0, read(1..2), true);
    assert_eq!(out[0].1[0].redelivery_count, 1);
}

#[test]
fn single_active_holds_new_entries_behind_redeliveries() {
    let mut d = unlimited();
    add(&mut d, consumer(1, "a", SubType::Exclusive));
    d.flow(1, 10);
    d.next_requests();
    d.on_entries(0, read(0..3), false);
    assert_eq!(fresh(&d.next_requests()), Some(7));
    d.redeliver(1, None);
    assert_eq!(replay(&d.next_requests()), Some(vec![0, 1, 2]));
    // The parked demand is answered before the re-read: the new entries must wait.
    assert!(d.on_entries(0, read(3..5), false).is_empty());
    assert_eq!(ids(&d.on_entries(0, read(0..3), true), 1), vec![0, 1, 2]);
    assert_eq!(replay(&d.next_requests()), Some(vec![3, 4]));
    assert_eq!(ids(&d.on_entries(0, read(3..5), true), 1), vec![3, 4]);
}

#[test]
fn shared_round_robins_and_counts_redeliveries_when_a_consumer_leaves() {
    let mut d = unlimited();
    add(&mut d, consumer(1, "a", SubType::Shared));
    add(&mut d, consumer(2, "b", SubType::Shared));
    d.flow(1, 10);
    d.flow(2, 10);
    d.next_requests();
    let out = d.on_entries(0, read(0..4), false);
    assert_eq!(ids(&out, 1), vec![0, 2]);
    assert_eq!(ids(&out, 2), vec![1, 3]);
    d.remove_consumer(1);
    assert_eq!(replay(&d.next_requests()), Some(vec![0, 2]));
    let out = d.on_entries(0, [read(0..1), read(2..3)].concat(), true);
    assert_eq!(ids(&out, 2), vec![0, 2]);
    assert!(out[0].1.iter().all(|d| d.redelivery_count == 1));
    assert_eq!(d.unacked_messages(2), 4);
}

#[test]
fn a_consumer_without_permits_does_not_stall_the_others() {
    let mut d = unlimited();
    add(&mut d, consumer(1, "slow", SubType::Shared));
    add(&mut d, consumer(2, "fast", SubType::Shared));
    d.flow(2, 5);
    assert_eq!(fresh(&d.next_requests()), Some(5));
    let out = d.on_entries(0, read(0..5), false);
    assert_eq!(ids(&out, 2), vec![0, 1, 2, 3, 4]);
    assert!(ids(&out, 1).is_empty());
}

#[test]
fn shared_serves_the_best_priority_level_while_it_has_permits() {
    let mut d = unlimited();
    let mut low = consumer(1, "low", SubType::Shared);
    low.priority_level = 1;
    add(&mut d, low);
    add(&mut d, consumer(2, "high", SubType::Shared));
    d.flow(1, 10);
    d.flow(2, 3);
    d.next_requests();
    let out = d.on_entries(0, read(0..6), false);
    assert_eq!(ids(&out, 2), vec![0, 1, 2], "priority 0 first");
    assert_eq!(ids(&out, 1), vec![3, 4, 5], "then priority 1");
}

#[test]
fn redeliver_ignores_ids_pending_elsewhere_and_counts_per_entry() {
    let mut d = unlimited();
    add(&mut d, consumer(1, "a", SubType::Shared));
    add(&mut d, consumer(2, "b", SubType::Shared));
    d.flow(1, 10);
    d.flow(2, 10);
    d.next_requests();
    d.on_entries(0, read(0..2), false); // 0 -> a, 1 -> b
    d.redeliver(1, Some(&[0, 1, 99]));
    assert_eq!(d.holder_of(1), Some(2), "1 is b's, not a's to give back");
    assert_eq!(replay(&d.next_requests()), Some(vec![0]));
    let out = d.on_entries(0, read(0..1), true);
    assert_eq!(out[0].1[0].redelivery_count, 1);
    let holder = out[0].0;
    d.redeliver(holder, Some(&[0]));
    d.next_requests();
    let out = d.on_entries(0, read(0..1), true);
    assert_eq!(out[0].1[0].redelivery_count, 2);
    d.acked(&[0], None);
    assert_eq!(d.pending_entries(), 1);
}

#[test]
fn replayed_entries_acked_or_missing_meanwhile_are_not_delivered() {
    let mut d = unlimited();
    add(&mut d, consumer(1, "a", SubType::Shared));
    d.flow(1, 10);
    d.next_requests();
    d.on_entries(0, read(0..3), false);
    d.redeliver(1, None);
    assert_eq!(replay(&d.next_requests()), Some(vec![0, 1, 2]));
    d.acked(&[0], None);
    // The subscription answered before it saw the ack, and no longer has entry 2.
    let out = d.on_entries(0, read(0..2), true);
    assert_eq!(ids(&out, 1), vec![1]);
    assert_eq!(d.replay_entries(), 0, "the missing entry stops waiting");
    assert_eq!(fresh(&d.next_requests()), Some(6));
}

#[test]
fn entries_of_a_stale_epoch_are_dropped() {
    let mut d = unlimited();
    add(&mut d, consumer(1, "a", SubType::Exclusive));
    d.flow(1, 5);
    d.next_requests();
    d.reset(3);
    assert!(d.on_entries(0, read(0..2), false).is_empty());
    assert_eq!(d.next_requests(), vec![ReadRequest::Fresh(5)]);
    assert_eq!(ids(&d.on_entries(3, read(0..2), false), 1), vec![0, 1]);
}

#[test]
fn failover_first_connected_is_active_and_everyone_hears_of_changes() {
    let mut d = unlimited();
    let first = add(&mut d, consumer(1, "zeta", SubType::Failover));
    assert_eq!(
        first,
        vec![ActiveChange {
            key: 1,
            is_active: true
        }]
    );
    let second = add(&mut d, consumer(2, "alpha", SubType::Failover));
    assert_eq!(
        second,
        vec![ActiveChange {
            key: 2,
            is_active: false
        }]
    );
    d.flow(1, 10);
    d.flow(2, 10);
    d.next_requests();
    assert_eq!(ids(&d.on_entries(0, read(0..3), false), 1), vec![0, 1, 2]);
    d.acked(&[0], None);
    let change = d.remove_consumer(1);
    assert_eq!(
        change,
        vec![ActiveChange {
            key: 2,
            is_active: true
        }]
    );
    assert_eq!(d.active_consumer(), Some(2));
    assert_eq!(replay(&d.next_requests()), Some(vec![1, 2]));
    let out = d.on_entries(0, read(1..3), true);
    assert_eq!(ids(&out, 2), vec![1, 2]);
    assert!(out[0].1.iter().all(|d| d.redelivery_count == 0));
}

#[test]
fn failover_on_a_partition_picks_partition_mod_count_by_name() {
    let mut d = unlimited();
    let partitioned = |key, name: &str| DispatchConsumer {
        partition: Some(1),
        ..consumer(key, name, SubType::Failover)
    };
    add(&mut d, partitioned(1, "c"));
    add(&mut d, partitioned(2, "a"));
    let changes = add(&mut d, partitioned(3, "b"));
    // Sorted: a, b, c; partition 1 -> b.
    assert_eq!(d.active_consumer(), Some(3));
    assert_eq!(changes.len(), 3, "every consumer is told");
    assert!(changes.contains(&ActiveChange {
        key: 3,
        is_active: true
    }));
    d.flow(3, 10);
    d.next_requests();
    d.on_entries(0, read(0..2), false);
    // "aa" sorts before "b": the active moves to "a"; b's unacked entries go to a, in order.
    add(&mut d, partitioned(4, "aa"));
    assert_eq!(d.active_consumer(), Some(4));
    assert_eq!(d.pending_entries(), 0);
    d.flow(4, 10);
    assert_eq!(replay(&d.next_requests()), Some(vec![0, 1]));
}

#[test]
fn failover_prefers_a_better_priority_level() {
    let mut d = unlimited();
    let mut standby = consumer(1, "a", SubType::Failover);
    standby.priority_level = 2;
    add(&mut d, standby);
    let changes = add(&mut d, consumer(2, "b", SubType::Failover));
    assert_eq!(d.active_consumer(), Some(2));
    assert!(changes.contains(&ActiveChange {
        key: 1,
        is_active: false
    }));
    assert!(changes.contains(&ActiveChange {
        key: 2,
        is_active: true
    }));
}

#[test]
fn a_new_type_can_take_over_an_emptied_subscription() {
    let mut d = unlimited();
    add(&mut d, consumer(1, "a", SubType::Shared));
    d.flow(1, 5);
    d.next_requests();
    d.on_entries(0, keyed(0, &["k", "k"]), false);
    d.remove_consumer(1);
    assert_eq!(d.sub_type(), None);
    add(&mut d, consumer(2, "b", SubType::KeyShared));
    d.flow(2, 5);
    assert_eq!(replay(&d.next_requests()), Some(vec![0, 1]));
    assert_eq!(
        ids(&d.on_entries(0, keyed(0, &["k", "k"]), true), 2),
        vec![0, 1]
    );
}
