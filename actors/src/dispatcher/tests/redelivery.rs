//! Broker-side dead letters, redelivery backoff and persisted redelivery counts.

use std::time::Duration;

use super::*;
use crate::dispatcher::DispatchPolicy;
use crate::subscription::RedeliveryBackoff;

fn shared_with(policy: DispatchPolicy) -> DispatcherState {
    let mut d = unlimited();
    d.set_policy(policy);
    add(&mut d, consumer(1, "a", SubType::Shared));
    d.flow(1, 100);
    d
}

fn dead_letters_after(max: u32) -> DispatchPolicy {
    DispatchPolicy {
        max_redeliver_count: max,
        backoff: None,
    }
}

fn backoff() -> DispatchPolicy {
    DispatchPolicy {
        max_redeliver_count: 0,
        backoff: Some(RedeliveryBackoff {
            min_delay: Duration::from_millis(100),
            max_delay: Duration::from_millis(300),
            multiplier: 2,
        }),
    }
}

/// Nacks entry 0 (pending on consumer 1) and re-reads it; returns what was delivered.
fn nack_and_replay(d: &mut DispatcherState) -> Deliveries {
    d.redeliver(1, Some(&[0]));
    assert_eq!(replay(&d.next_requests()), Some(vec![0]));
    d.on_entries(0, read(0..1), true)
}

#[test]
fn the_delivery_after_max_redeliveries_becomes_a_dead_letter() {
    let mut d = shared_with(dead_letters_after(2));
    d.next_requests();
    assert_eq!(ids(&d.on_entries(0, read(0..1), false), 1), vec![0]);
    let second = nack_and_replay(&mut d);
    assert_eq!(second[0].1[0].redelivery_count, 1);
    assert!(
        nack_and_replay(&mut d).is_empty(),
        "the 3rd delivery (count 2) is not made"
    );
    let letters = d.take_dead_letters();
    assert_eq!(letters.len(), 1);
    assert_eq!(
        (letters[0].entry.entry_id, letters[0].redelivery_count),
        (0, 2)
    );
    assert_eq!(d.dead_lettering(), 1);
    assert_eq!(d.replay_entries(), 0);
    assert!(
        d.on_entries(0, read(0..1), false).is_empty(),
        "a re-read does not bring it back"
    );
    assert_eq!(
        d.take_counted(),
        vec![(0, 1), (0, 2)],
        "counts to persist, in order"
    );
    d.acked(&[0], None);
    assert_eq!(d.dead_lettering(), 0);
}

#[test]
fn a_count_read_from_the_cursor_survives_a_restart() {
    let mut d = shared_with(dead_letters_after(3));
    d.next_requests();
    let mut entries = read(0..2);
    entries[0].redelivery_count = 3;
    entries[1].redelivery_count = 1;
    let out = d.on_entries(0, entries, false);
    assert_eq!(ids(&out, 1), vec![1]);
    assert_eq!(out[0].1[0].redelivery_count, 1, "sent in MESSAGE");
    assert_eq!(
        d.take_dead_letters().len(),
        1,
        "entry 0 reached the limit before"
    );
    d.redeliver(1, Some(&[1]));
    assert_eq!(
        d.take_counted(),
        vec![(1, 2)],
        "counting goes on from the cursor's"
    );
}

#[test]
fn exclusive_never_dead_letters_as_in_pulsar() {
    let mut d = unlimited();
    d.set_policy(dead_letters_after(1));
    add(&mut d, consumer(1, "a", SubType::Exclusive));
    d.flow(1, 10);
    d.next_requests();
    let mut entries = read(0..1);
    entries[0].redelivery_count = 5;
    assert_eq!(ids(&d.on_entries(0, entries, false), 1), vec![0]);
    assert!(d.take_dead_letters().is_empty());
}

#[test]
fn a_failed_dead_letter_goes_back_to_dispatch() {
    let mut d = shared_with(dead_letters_after(1));
    d.next_requests();
    let mut entries = read(0..1);
    entries[0].redelivery_count = 1;
    d.on_entries(0, entries, false);
    let letter = d.take_dead_letters().remove(0);
    d.set_policy(dead_letters_after(0));
    d.dead_letter_failed(&letter.entry);
    assert_eq!(replay(&d.next_requests()), Some(vec![0]));
    let mut again = read(0..1);
    again[0].redelivery_count = 1;
    assert_eq!(ids(&d.on_entries(0, again, true), 1), vec![0]);
}

#[test]
fn a_nack_waits_out_a_backoff_that_grows_with_the_count() {
    let mut d = shared_with(backoff());
    d.next_requests();
    d.on_entries(0, read(0..2), false);
    d.redeliver_at(1, Some(&[0]), 1_000);
    assert_eq!(d.backoff_entries(), 1);
    assert_eq!(d.next_backoff_ms(), Some(1_100));
    assert_eq!(replay(&d.next_requests()), None, "held back");
    assert!(!d.release_backoff(1_099));
    assert!(d.release_backoff(1_100));
    assert_eq!(replay(&d.next_requests()), Some(vec![0]));
    let out = d.on_entries(0, read(0..1), true);
    assert_eq!(out[0].1[0].redelivery_count, 1);
    d.redeliver_at(1, Some(&[0]), 2_000);
    assert_eq!(d.next_backoff_ms(), Some(2_200), "doubled");
    d.acked(&[0], None);
    assert_eq!(d.backoff_entries(), 0, "an ack ends the wait");
    assert_eq!(d.next_backoff_ms(), None);
    assert_eq!(d.redeliveries(), 2);
}

#[test]
fn switching_the_backoff_off_releases_what_it_held() {
    let mut d = shared_with(backoff());
    d.next_requests();
    d.on_entries(0, read(0..1), false);
    d.redeliver_at(1, None, 0);
    d.set_policy(DispatchPolicy::default());
    assert_eq!(d.backoff_entries(), 0);
    assert_eq!(replay(&d.next_requests()), Some(vec![0]));
}

#[test]
fn exclusive_nacks_are_not_held_back() {
    let mut d = unlimited();
    d.set_policy(backoff());
    add(&mut d, consumer(1, "a", SubType::Exclusive));
    d.flow(1, 10);
    d.next_requests();
    d.on_entries(0, read(0..1), false);
    d.redeliver_at(1, Some(&[0]), 0);
    assert_eq!(d.backoff_entries(), 0);
    assert_eq!(replay(&d.next_requests()), Some(vec![0]));
}
