//! Message deduplication: duplicates dropped yet answered, across producer reconnects and
//! broker restarts, at topic, namespace and broker level, with batches.

use geminga_protocol::commands;
use geminga_protocol::proto::MessageMetadata;
use geminga_protocol::{Frame, Payload};
use pulsar::consumer::InitialPosition;

use super::namespace;
use crate::admin_http::expect;
use crate::common::*;
use crate::raw_client::RawClient;

/// A receipt for a dropped duplicate names no entry (`-1:-1`).
fn is_duplicate(receipt: &pulsar::CommandSendReceipt) -> bool {
    receipt
        .message_id
        .as_ref()
        .is_some_and(|id| id.ledger_id == u64::MAX && id.entry_id == u64::MAX)
}

async fn count_all(client: &Client, topic: &str, sub: &str, expected: usize) -> Vec<String> {
    let mut consumer = exclusive(client, topic, sub, InitialPosition::Earliest).await;
    let got = receive_payloads(&mut consumer, expected).await;
    assert_no_message(&mut consumer, "after the expected messages").await;
    got
}

/// Goal: with topic-level deduplication a producer re-created under the same name (pulsar-rs
/// numbers from 0 again) has its re-sent ids dropped, answered with `-1:-1` receipts; the
/// record survives a restart. Method: p sends 3; p again sends 5 (3 dropped); restart; p
/// sends 6 (5 dropped); a reader sees 3 + 2 + 1 messages.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicates_are_dropped_across_reconnects_and_restarts() {
    let mut broker = TestBroker::start();
    let topic = unique_topic("dedup");
    let path = crate::admin_http::topic_path(&topic);
    expect("PUT", &broker.admin_url, &path, None, 204).await;
    expect(
        "POST",
        &broker.admin_url,
        &format!("{path}/deduplicationEnabled"),
        Some("true"),
        204,
    )
    .await;
    let client = broker.client().await;
    let mut p = producer(&client, &topic, "p").await;
    let first = send_all(&mut p, numbered("a", 3)).await;
    assert!(first.iter().all(|r| !is_duplicate(r)));
    p.close().await.expect("close");
    let mut p = producer(&client, &topic, "p").await;
    let second = send_all(&mut p, numbered("b", 5)).await;
    let dropped: Vec<bool> = second.iter().map(is_duplicate).collect();
    assert_eq!(dropped, [true, true, true, false, false]);
    drop(p);
    drop(client);
    broker.restart();
    let client = broker.client().await;
    let mut p = producer(&client, &topic, "p").await;
    let third = send_all(&mut p, numbered("c", 6)).await;
    assert_eq!(third.iter().filter(|r| is_duplicate(r)).count(), 5);
    let got = count_all(&client, &topic, "s", 6).await;
    assert_eq!(got, ["a-0", "a-1", "a-2", "b-3", "b-4", "c-5"]);
}

/// Goal: the namespace and broker levels apply, the topic level overrides them, and turning
/// deduplication off forgets the record. Method: a namespace with deduplication on drops a
/// re-sent id; the topic turns it off (the id is stored again); on again starts afresh.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn namespace_level_with_topic_override() {
    let broker = TestBroker::start();
    let admin = &broker.admin_url;
    let ns = namespace(admin, "dedupns").await;
    expect(
        "POST",
        admin,
        &format!("/admin/v2/namespaces/{ns}/deduplication"),
        Some("true"),
        204,
    )
    .await;
    assert_eq!(
        crate::admin_http::get_json(admin, &format!("/admin/v2/namespaces/{ns}/deduplication"))
            .await,
        true
    );
    let topic = format!("persistent://{ns}/t");
    let client = broker.client().await;
    let mut p = producer(&client, &topic, "p").await;
    send_all(&mut p, numbered("a", 2)).await;
    p.close().await.expect("close");
    let mut p = producer(&client, &topic, "p").await;
    assert!(send_all(&mut p, numbered("b", 1))
        .await
        .iter()
        .all(is_duplicate));
    let policy = format!("/admin/v2/persistent/{ns}/t/deduplicationEnabled");
    expect("POST", admin, &policy, Some("false"), 204).await;
    let stored = send_all(&mut p, numbered("c", 1)).await;
    assert!(!is_duplicate(&stored[0]), "off at the topic level");
    p.close().await.expect("close");
    expect("DELETE", admin, &policy, None, 204).await;
    let mut p = producer(&client, &topic, "p").await;
    let fresh = send_all(&mut p, numbered("d", 1)).await;
    assert!(
        !is_duplicate(&fresh[0]),
        "the record was forgotten while off"
    );
    let got = count_all(&client, &topic, "s", 4).await;
    assert_eq!(got, ["a-0", "a-1", "c-0", "d-0"]);
}

/// Goal: `brokerDeduplicationEnabled` turns it on everywhere. Method: two producers with the
/// same name in turn; the second one's first id is dropped.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broker_level_default() {
    let broker = TestBroker::start_with(|c| c.policy.broker_deduplication_enabled = true);
    let topic = unique_topic("dedup-broker");
    let client = broker.client().await;
    let mut p = producer(&client, &topic, "p").await;
    send_all(&mut p, numbered("a", 1)).await;
    p.close().await.expect("close");
    let mut p = producer(&client, &topic, "p").await;
    let receipts = send_all(&mut p, numbered("b", 2)).await;
    assert_eq!(
        receipts.iter().map(is_duplicate).collect::<Vec<_>>(),
        [true, false]
    );
}

fn send_frame(producer_id: u64, sequence: u64, highest: Option<u64>, count: i32) -> Frame {
    let mut command = commands::client::send(producer_id, sequence, Some(count));
    if let Some(send) = command.send.as_mut() {
        send.highest_sequence_id = highest;
    }
    let metadata = MessageMetadata {
        producer_name: "raw".into(),
        sequence_id: sequence,
        publish_time: now_millis(),
        num_messages_in_batch: (count > 1).then_some(count),
        ..Default::default()
    };
    Frame::with_payload(command, Payload::new(&metadata, b"x"))
}

/// Goal: a batch covering ids 10..=14 (`highest_sequence_id`) makes any id up to 14 a
/// duplicate; PRODUCER_SUCCESS tells a reconnecting producer its last id. Method: bare frames.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batches_count_up_to_their_highest_sequence_id() {
    let broker = TestBroker::start_with(|c| c.policy.broker_deduplication_enabled = true);
    let topic = full_name(&unique_topic("dedup-raw"));
    let mut raw = RawClient::connect(&broker.service_url, 20).await;
    let request_id = raw.request_id();
    raw.send(commands::client::producer(
        &topic,
        1,
        request_id,
        Some("raw".into()),
    ))
    .await;
    let success = raw
        .wait_for("PRODUCER_SUCCESS", |c| c.producer_success.is_some())
        .await;
    assert_eq!(success.producer_success.unwrap().last_sequence_id, Some(-1));
    for frame in [
        send_frame(1, 10, Some(14), 5),
        send_frame(1, 12, None, 1),
        send_frame(1, 15, None, 1),
    ] {
        raw.send_frame(frame).await;
    }
    let mut receipts = Vec::new();
    while receipts.len() < 3 {
        let command = raw.next().await;
        assert!(command.send_error.is_none(), "{command:?}");
        if let Some(receipt) = command.send_receipt {
            receipts.push(receipt);
        }
    }
    let ids: Vec<(u64, u64)> = receipts
        .iter()
        .map(|r| (r.sequence_id, r.message_id.as_ref().unwrap().entry_id))
        .collect();
    assert_eq!(ids[0], (10, 0));
    assert_eq!(ids[1], (12, u64::MAX), "12 <= 14: a duplicate");
    assert_eq!(ids[2], (15, 1));
    // A second producer under the same name learns the last id.
    let mut other = RawClient::connect(&broker.service_url, 20).await;
    raw.send(commands::client::close_producer(1, 99)).await;
    raw.wait_for("close answer", |c| c.success.is_some()).await;
    let request_id = other.request_id();
    other
        .send(commands::client::producer(
            &topic,
            7,
            request_id,
            Some("raw".into()),
        ))
        .await;
    let success = other
        .wait_for("PRODUCER_SUCCESS", |c| c.producer_success.is_some())
        .await;
    assert_eq!(success.producer_success.unwrap().last_sequence_id, Some(15));
}
