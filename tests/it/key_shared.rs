//! Key_Shared with the `pulsar` crate (AUTO_SPLIT: it sends no `keySharedMeta`) and STICKY
//! ranges over a raw connection.

use std::collections::{BTreeMap, BTreeSet};

use geminga_protocol::proto::command_subscribe::SubType as WireSubType;
use geminga_protocol::proto::ServerError;
use pulsar::{ConsumerOptions, SubType};

use crate::admin_http::{get_json, topic_path};
use crate::common::*;
use crate::raw_client::{sticky_ranges, RawClient, SubscribeRequest};
use crate::subscriptions::{receive_until_quiet, typed_consumer};

/// Sends `key:round` for every key, keyed, and waits for the receipts.
async fn send_keyed(
    producer: &mut pulsar::Producer<pulsar::TokioExecutor>,
    keys: &[String],
    round: u32,
) {
    let mut pending = Vec::new();
    for key in keys {
        let send = producer
            .create_message()
            .with_content(format!("{key}:{round}").into_bytes())
            .with_key(key.clone())
            .send_non_blocking();
        pending.push(
            within("queue keyed send", send)
                .await
                .expect("send accepted"),
        );
    }
    for receipt in pending {
        within("receipt", receipt).await.expect("receipt");
    }
}

fn key_of(payload: &str) -> String {
    payload.split(':').next().unwrap_or_default().to_owned()
}

/// Goal: each key goes to one consumer, in order. Method: two consumers, 6 keys x 10 rounds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_key_sticks_to_one_consumer_in_order() {
    let broker = TestBroker::start();
    let client = broker.client().await;
    let topic = unique_topic("ks-order");
    let opts = ConsumerOptions::default;
    let mut a = typed_consumer(&client, &topic, SubType::KeyShared, "a", 1000, opts()).await;
    let mut b = typed_consumer(&client, &topic, SubType::KeyShared, "b", 1000, opts()).await;
    let mut producer = producer(&client, &topic, "ks-producer").await;
    let keys: Vec<String> = (0..6).map(|k| format!("key{k}")).collect();
    for round in 0..10 {
        send_keyed(&mut producer, &keys, round).await;
    }
    let got_a = receive_until_quiet(&mut a, true).await;
    let got_b = receive_until_quiet(&mut b, true).await;
    assert_eq!(got_a.len() + got_b.len(), 60);
    let keys_a: BTreeSet<String> = got_a.iter().map(|p| key_of(p)).collect();
    let keys_b: BTreeSet<String> = got_b.iter().map(|p| key_of(p)).collect();
    assert!(
        keys_a.is_disjoint(&keys_b),
        "a key went to both: {keys_a:?} / {keys_b:?}"
    );
    for got in [&got_a, &got_b] {
        let mut rounds: BTreeMap<String, Vec<u32>> = BTreeMap::new();
        for payload in got.iter() {
            let round = payload.split(':').nth(1).unwrap().parse().unwrap();
            rounds.entry(key_of(payload)).or_default().push(round);
        }
        for (key, seen) in rounds {
            assert_eq!(seen, (0..10).collect::<Vec<u32>>(), "order of {key}");
        }
    }
}

/// Goal: a joining consumer gets no message of a key while older messages of that key are
/// unacked on another consumer. Method: "a" holds round 1 of 20 keys unacked; "b" joins; round
/// 2 of b's keys arrives at b only after a acks round 1.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_joining_consumer_waits_for_older_messages_of_its_keys() {
    let broker = TestBroker::start();
    let client = broker.client().await;
    let topic = unique_topic("ks-join");
    let opts = ConsumerOptions::default;
    let mut a = typed_consumer(&client, &topic, SubType::KeyShared, "a", 1000, opts()).await;
    let mut producer = producer(&client, &topic, "ks-join-producer").await;
    let keys: Vec<String> = (0..20).map(|k| format!("key{k}")).collect();
    send_keyed(&mut producer, &keys, 1).await;
    let mut held = Vec::new();
    for _ in 0..20 {
        held.push(receive(&mut a).await);
    }

    let mut b = typed_consumer(&client, &topic, SubType::KeyShared, "b", 1000, opts()).await;
    send_keyed(&mut producer, &keys, 2).await;
    let a_round2 = receive_until_quiet(&mut a, true).await;
    assert_no_message(&mut b, "b's keys still have unacked messages on a").await;
    assert!(a_round2.len() < 20, "b owns some keys");
    assert_stats_explain_the_wait(&broker, &topic, 20 - a_round2.len()).await;

    for msg in &held {
        within("ack round 1", a.ack(msg)).await.expect("ack");
    }
    let b_round2 = receive_until_quiet(&mut b, true).await;
    assert_eq!(
        a_round2.len() + b_round2.len(),
        20,
        "a: {a_round2:?}, b: {b_round2:?}"
    );
    let keys_a: BTreeSet<String> = a_round2.iter().map(|p| key_of(p)).collect();
    assert!(b_round2
        .iter()
        .all(|p| p.ends_with(":2") && !keys_a.contains(&key_of(p))));
}

/// The topic stats name what blocks b: its hash ranges, and keys waiting for a's acks.
async fn assert_stats_explain_the_wait(broker: &TestBroker, topic: &str, waiting: usize) {
    let stats = get_json(&broker.admin_url, &format!("{}/stats", topic_path(topic))).await;
    let sub = &stats["subscriptions"]["sub"];
    assert_eq!(sub["keySharedMode"], "AUTO_SPLIT", "{sub}");
    let consumers = sub["consumers"].as_array().expect("consumers");
    assert_eq!(consumers.len(), 2, "{sub}");
    for consumer in consumers {
        let ranges = consumer["keyHashRanges"].as_array().expect("ranges");
        assert!(!ranges.is_empty(), "every consumer owns a range: {sub}");
    }
    let blocked = sub["dispatcher"]["blockedHashes"]
        .as_array()
        .expect("blocked hashes");
    let held: u64 = blocked
        .iter()
        .map(|h| {
            assert_eq!(h["reason"], "waits_for_ack", "{h}");
            assert_eq!(h["waitsForConsumer"], "a", "{h}");
            assert_eq!(h["owner"], "b", "{h}");
            h["waitingEntries"].as_u64().expect("count")
        })
        .sum();
    assert_eq!(held as usize, waiting, "{sub}");
}

/// Goal: STICKY consumers declare ranges; an overlap is refused with ConsumerAssignError and a
/// different mode with ConsumerBusy. Method: raw SUBSCRIBEs with `keySharedMeta`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sticky_ranges_must_not_overlap() {
    let broker = TestBroker::start();
    let topic = full_name(&unique_topic("ks-sticky"));
    let mut raw = RawClient::connect(&broker.service_url, 21).await;
    let request = |consumer_id, ranges: Option<&[(i32, i32)]>| SubscribeRequest {
        topic: &topic,
        subscription: "sub",
        sub_type: WireSubType::KeyShared,
        consumer_id,
        name: "sticky",
        key_shared: ranges.map(sticky_ranges),
    };
    let first = raw.subscribe(request(1, Some(&[(0, 32_767)]))).await;
    assert!(first.success.is_some(), "{first:?}");
    let overlap = raw.subscribe(request(2, Some(&[(30_000, 40_000)]))).await;
    assert_eq!(
        overlap.error.map(|e| e.error),
        Some(ServerError::ConsumerAssignError as i32)
    );
    let auto = raw.subscribe(request(3, None)).await;
    assert_eq!(
        auto.error.map(|e| e.error),
        Some(ServerError::ConsumerBusy as i32)
    );
    let second = raw.subscribe(request(4, Some(&[(32_768, 65_535)]))).await;
    assert!(second.success.is_some(), "{second:?}");
}

/// Goal: keyless messages are spread over Key_Shared consumers. Method: 20 unkeyed messages,
/// two consumers: both get some.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keyless_messages_are_spread() {
    let broker = TestBroker::start();
    let client = broker.client().await;
    let topic = unique_topic("ks-keyless");
    let opts = ConsumerOptions::default;
    let mut a = typed_consumer(&client, &topic, SubType::KeyShared, "a", 1000, opts()).await;
    let mut b = typed_consumer(&client, &topic, SubType::KeyShared, "b", 1000, opts()).await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let mut producer = producer(&client, &topic, "keyless-producer").await;
    send_all(&mut producer, numbered("n", 20)).await;
    let (got_a, got_b) = (
        receive_until_quiet(&mut a, true).await,
        receive_until_quiet(&mut b, true).await,
    );
    assert_eq!(got_a.len() + got_b.len(), 20);
    assert!(
        !got_a.is_empty() && !got_b.is_empty(),
        "a {got_a:?} b {got_b:?}"
    );
}
