//! Topic compaction: `PUT|GET .../compaction`, read-compacted consumers and readers, the
//! namespace threshold, and the compacted view surviving retention and restarts.

use pulsar::consumer::InitialPosition;
use pulsar::{producer, ConsumerOptions, SubType};

use super::*;
use crate::admin_http::{expect, topic_path};

/// Publishes `(key, value)` pairs; an empty value is a tombstone.
async fn publish(producer: &mut pulsar::Producer<pulsar::TokioExecutor>, pairs: &[(&str, &str)]) {
    for (key, value) in pairs {
        let message = producer::Message {
            payload: value.as_bytes().to_vec(),
            partition_key: Some((*key).to_owned()),
            ..Default::default()
        };
        let receipt = within("queue", producer.send_non_blocking(message))
            .await
            .expect("queued");
        within("receipt", receipt).await.expect("receipt");
    }
}

/// Triggers a compaction and waits for SUCCESS; answers the status.
async fn compact(broker: &TestBroker, topic: &str) -> Value {
    let path = format!("{}/compaction", topic_path(topic));
    expect("PUT", &broker.admin_url, &path, None, 204).await;
    wait_compacted(broker, topic).await
}

async fn wait_compacted(broker: &TestBroker, topic: &str) -> Value {
    let path = format!("{}/compaction", topic_path(topic));
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(15);
    loop {
        let status = get_json(&broker.admin_url, &path).await;
        if status["status"] == "SUCCESS" {
            return status;
        }
        assert_ne!(status["status"], "ERROR", "{status}");
        assert!(tokio::time::Instant::now() < deadline, "{status}");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

/// Goal: after a compaction, read-compacted readers see only the latest value of each key
/// (no tombstoned key) up to the compaction point and then the rest of the log, while other
/// readers see everything. Method: a1 b1 a2 c1 b(tombstone) keyless; compact; a read-compacted
/// reader gets a2 c1, then d1 published after; a plain reader gets all 7.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_compacted_sees_the_latest_value_of_each_key() {
    let broker = TestBroker::start_with(fast);
    let client = broker.client().await;
    let topic = unique_topic("compact");
    let _keep = exclusive(&client, &topic, "keep", InitialPosition::Earliest).await;
    let status_path = format!("{}/compaction", topic_path(&topic));
    assert_eq!(
        get_json(&broker.admin_url, &status_path).await["status"],
        "NOT_RUN"
    );
    let mut producer = producer(&client, &topic, "p").await;
    publish(
        &mut producer,
        &[
            ("a", "a1"),
            ("b", "b1"),
            ("a", "a2"),
            ("c", "c1"),
            ("b", ""),
        ],
    )
    .await;
    send_all(&mut producer, [b"keyless".to_vec()]).await;
    let status = compact(&broker, &topic).await;
    assert_eq!(status["horizon"], 5);
    assert_eq!(status["keptMessages"], 2);
    assert_eq!(status["removedMessages"], 4);
    publish(&mut producer, &[("d", "d1")]).await;

    let mut compacted = reader_from_earliest(&client, &topic, true).await;
    assert_eq!(
        receive_payloads(&mut compacted, 3).await,
        vec!["a2", "c1", "d1"]
    );
    assert_no_message(&mut compacted, "nothing else is compacted in").await;
    let mut plain = reader_from_earliest(&client, &topic, false).await;
    assert_eq!(receive_payloads(&mut plain, 7).await.len(), 7);

    let subs = get_json(
        &broker.admin_url,
        &format!("{}/subscriptions", topic_path(&topic)),
    )
    .await;
    assert!(
        subs.as_array().unwrap().iter().any(|s| s == "__compaction"),
        "{subs}"
    );
}

/// Goal: the compacted view survives trimming and restarts: once everything is acknowledged
/// the log below the compaction point is deleted (the `__compaction` cursor holds only what
/// is not compacted yet), and after a restart read-compacted readers still get the latest
/// values. A second compaction builds on the first. Method: k1 k2 j1; compact; ack all;
/// report shows the compaction hold; restart; reader gets k2 j1; publish k3, compact again,
/// reader gets j1 k3.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_compacted_view_survives_trimming_and_restarts() {
    let mut broker = TestBroker::start_with(fast);
    let client = broker.client().await;
    let topic = unique_topic("compact-restart");
    let mut consumer = exclusive(&client, &topic, "s", InitialPosition::Earliest).await;
    let mut producer = producer(&client, &topic, "p").await;
    publish(&mut producer, &[("k", "k1"), ("k", "k2"), ("j", "j1")]).await;
    compact(&broker, &topic).await;
    receive_acking(&mut consumer, 3).await;
    let report = holds_until(&broker, &topic, "the log below the horizon trimmed", |r| {
        r["trimmedBefore"] == 3
    })
    .await;
    let compaction = report["holds"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["type"] == "compaction")
        .cloned()
        .unwrap_or_else(|| panic!("no compaction hold: {report:#}"));
    assert_eq!(compaction["position"], 3);
    drop((consumer, producer, client));

    broker.restart();
    let client = broker.client().await;
    let mut reader = reader_from_earliest(&client, &topic, true).await;
    assert_eq!(receive_payloads(&mut reader, 2).await, vec!["k2", "j1"]);
    drop(reader);
    let mut producer = crate::common::producer(&client, &topic, "p2").await;
    publish(&mut producer, &[("k", "k3")]).await;
    compact(&broker, &topic).await;
    let mut reader = reader_from_earliest(&client, &topic, true).await;
    assert_eq!(receive_payloads(&mut reader, 2).await, vec!["j1", "k3"]);
}

/// Goal: the namespace compaction threshold compacts automatically. Method: threshold 100
/// bytes on public/default; an idle subscription keeps the log; publish a few keyed messages; the status turns SUCCESS without
/// a PUT, and a read-compacted consumer (durable, Failover) sees one value per key; a Shared
/// read-compacted consumer is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_compaction_threshold_compacts_automatically() {
    let broker = TestBroker::start_with(fast);
    expect(
        "PUT",
        &broker.admin_url,
        &ns_path("compactionThreshold"),
        Some("100"),
        204,
    )
    .await;
    assert_eq!(
        get_json(&broker.admin_url, &ns_path("compactionThreshold")).await,
        100
    );
    let client = broker.client().await;
    let topic = unique_topic("compact-auto");
    // A subscription keeps the log: without one it may be trimmed (grace 0 here) before the
    // first threshold compaction creates the compaction cursor that holds it.
    let _keep = exclusive(&client, &topic, "keep", InitialPosition::Earliest).await;
    let mut producer = producer(&client, &topic, "p").await;
    let pairs: Vec<(String, String)> = (0..20)
        .map(|i| {
            (
                format!("key-{}", i % 2),
                format!("value-{i:02}-{}", "x".repeat(20)),
            )
        })
        .collect();
    let refs: Vec<(&str, &str)> = pairs
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    publish(&mut producer, &refs).await;
    let status = wait_compacted(&broker, &topic).await;
    assert!(status["horizon"].as_u64().is_some(), "{status}");

    let options = ConsumerOptions::default()
        .with_initial_position(InitialPosition::Earliest)
        .read_compacted(true);
    let build = client
        .consumer()
        .with_topic(topic.as_str())
        .with_subscription("compacted")
        .with_subscription_type(SubType::Failover)
        .with_options(options.clone())
        .build::<Vec<u8>>();
    let mut consumer = within("subscribe", build).await.expect("subscribe");
    let mut seen = Vec::new();
    while let Ok(Some(Ok(msg))) =
        tokio::time::timeout(QUIET_PERIOD, futures_util::StreamExt::next(&mut consumer)).await
    {
        seen.push(String::from_utf8_lossy(&msg.payload.data)[..8].to_owned());
    }
    assert!(
        seen.len() < 20,
        "superseded values were compacted away: {seen:?}"
    );
    assert_eq!(seen[seen.len() - 2..], ["value-18", "value-19"], "{seen:?}");

    let refused = broker.client_without_retries().await;
    let build = refused
        .consumer()
        .with_topic(topic.as_str())
        .with_subscription("shared")
        .with_subscription_type(SubType::Shared)
        .with_options(options)
        .build::<Vec<u8>>();
    let error = within("shared read-compacted", build)
        .await
        .err()
        .expect("read compacted needs Exclusive or Failover");
    assert!(format!("{error:?}").contains("NotAllowed"), "{error:?}");
}
