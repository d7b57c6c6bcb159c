//! Unacked-message limits per consumer and per subscription, as the stats show them.

use super::*;
use crate::dispatcher::BlockedReason;

#[test]
fn the_consumer_limit_pauses_dispatch_until_acks_arrive() {
    let mut d = DispatcherState::new(limits(2, 0));
    add(&mut d, consumer(1, "a", SubType::Shared));
    d.flow(1, 10);
    d.next_requests();
    let out = d.on_entries(0, read(0..3), false);
    assert_eq!(ids(&out, 1), vec![0, 1], "paused at 2 unacked");
    let stats = d.stats();
    assert!(stats.consumers[0].blocked);
    assert_eq!(
        stats.consumers[0].blocked_reason,
        Some(BlockedReason::ConsumerUnackedLimit)
    );
    assert_eq!(stats.consumers[0].unacked_messages, 2);
    assert!(d.next_requests().is_empty());
    d.acked(&[0], None);
    assert!(!d.stats().consumers[0].blocked, "resumes below the limit");
    assert_eq!(replay(&d.next_requests()), Some(vec![2]));
}

#[test]
fn the_subscription_limit_pauses_every_consumer_and_resumes_on_any_ack() {
    let mut d = DispatcherState::new(limits(0, 3));
    add(&mut d, consumer(1, "a", SubType::Shared));
    add(&mut d, consumer(2, "b", SubType::Shared));
    d.flow(1, 10);
    d.flow(2, 10);
    d.next_requests();
    let out = d.on_entries(0, read(0..5), false);
    assert_eq!(ids(&out, 1).len() + ids(&out, 2).len(), 3);
    let stats = d.stats();
    assert!(stats.blocked_on_unacked_messages);
    assert!(stats
        .consumers
        .iter()
        .all(|c| c.blocked_reason == Some(BlockedReason::SubscriptionUnackedLimit)));
    assert!(d.next_requests().is_empty());
    d.acked(&[0], None);
    assert!(!d.stats().blocked_on_unacked_messages);
    assert_eq!(replay(&d.next_requests()), Some(vec![3, 4]));
}

#[test]
fn a_consumer_leaving_releases_the_subscription_limit() {
    let mut d = DispatcherState::new(limits(0, 2));
    add(&mut d, consumer(1, "hog", SubType::Shared));
    d.flow(1, 2);
    d.next_requests();
    d.on_entries(0, read(0..2), false);
    add(&mut d, consumer(2, "late", SubType::Shared));
    d.flow(2, 10);
    assert!(
        d.next_requests().is_empty(),
        "the hog holds the whole limit"
    );
    d.remove_consumer(1);
    assert_eq!(replay(&d.next_requests()), Some(vec![0, 1]));
    assert_eq!(ids(&d.on_entries(0, read(0..2), true), 2), vec![0, 1]);
}

#[test]
fn single_active_subscriptions_have_no_unacked_limit() {
    let mut d = DispatcherState::new(limits(1, 1));
    add(&mut d, consumer(1, "a", SubType::Failover));
    d.flow(1, 10);
    d.next_requests();
    assert_eq!(ids(&d.on_entries(0, read(0..5), false), 1).len(), 5);
    assert!(!d.stats().consumers[0].blocked);
    assert_eq!(d.stats().consumers[0].is_active, Some(true));
}

#[test]
fn stats_serialize_to_json() {
    let mut d = DispatcherState::new(limits(1, 0));
    add(&mut d, consumer(1, "a", SubType::KeyShared));
    d.flow(1, 10);
    d.next_requests();
    d.on_entries(0, keyed(0, &["x", "y"]), false);
    let json = serde_json::to_value(d.stats()).unwrap();
    // Field names are camelCase, as in Pulsar's stats; reasons stay snake_case.
    assert_eq!(json["subType"], "Key_Shared");
    assert_eq!(
        json["consumers"][0]["blockedReason"],
        "consumer_unacked_limit"
    );
    assert_eq!(json["blockedHashes"][0]["reason"], "owner_cannot_take");
    assert_eq!(json["consumers"][0]["hashRanges"][0]["start"], 1);
}
