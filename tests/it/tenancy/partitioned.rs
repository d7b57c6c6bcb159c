//! Partitioned topics: the admin paths, client routing over partitions, growth seen by a
//! running consumer, deletion, and partitioned auto-creation.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use pulsar::consumer::InitialPosition;
use pulsar::producer::Message as ProducerMessage;
use pulsar::routing_policy::{CustomRoutingPolicy, RoutingPolicy};
use pulsar::{ConsumerOptions, ProducerOptions, SubType};

use super::http::{self, expect};
use crate::common::*;

fn partitions_path(topic: &str) -> String {
    format!("/admin/v2/persistent/public/default/{topic}/partitions")
}

async fn create_partitioned(broker: &TestBroker, topic: &str, partitions: u32) {
    let body = partitions.to_string();
    expect(
        http::put(&broker.admin_url, &partitions_path(topic), Some(&body)).await,
        204,
    );
}

/// A consumer of every partition of `topic`, refreshing its partitions every `refresh`.
async fn partitioned_consumer(client: &Client, topic: &str, refresh: Duration) -> ByteConsumer {
    let build = client
        .consumer()
        .with_topic(full_name(topic))
        .with_subscription("sub")
        .with_subscription_type(SubType::Shared)
        .with_topic_refresh(refresh)
        .with_options(ConsumerOptions::default().with_initial_position(InitialPosition::Earliest))
        .build::<Vec<u8>>();
    within("subscribe partitioned", build)
        .await
        .expect("subscribe")
}

/// Receives `count` messages and counts them per partition topic; payloads per key.
async fn receive_by_partition(
    consumer: &mut ByteConsumer,
    count: usize,
) -> BTreeMap<String, Vec<String>> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for _ in 0..count {
        let msg = receive(consumer).await;
        consumer.ack(&msg).await.expect("ack");
        let payload = String::from_utf8_lossy(&msg.payload.data).into_owned();
        out.entry(msg.topic.clone()).or_default().push(payload);
    }
    out
}

/// Goal: the partitioned admin paths follow Pulsar: the count is accepted as a number or a
/// quoted string, creation twice is 409, shrinking 412, growth 204, deletion 204 then 404,
/// a missing namespace 404. Method: walk one topic through its life over HTTP.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partitioned_admin_paths_follow_pulsar() {
    let broker = TestBroker::start();
    let a = &broker.admin_url;
    let topic = unique_topic("padmin");
    let path = partitions_path(&topic);
    expect(http::put(a, &path, Some("\"3\"")).await, 204);
    expect(http::put(a, &path, Some("3")).await, 409);
    assert_eq!(
        expect(http::get(a, &path).await, 200).json()["partitions"],
        3
    );
    expect(http::post(a, &path, Some("2")).await, 412);
    expect(http::post(a, &path, Some("3")).await, 412);
    expect(http::post(a, &path, Some("5")).await, 204);
    assert_eq!(
        expect(http::get(a, &path).await, 200).json()["partitions"],
        5
    );
    expect(http::put(a, &path, Some("many")).await, 400);
    let other = partitions_path(&format!("{topic}-zero"));
    expect(http::put(a, &other, Some("0")).await, 400);

    let listed = expect(
        http::get(a, "/admin/v2/persistent/public/default").await,
        200,
    )
    .json();
    let expected: Vec<String> = (0..5)
        .map(|i| format!("{}-partition-{i}", full_name(&topic)))
        .collect();
    assert_eq!(listed, serde_json::json!(expected));
    let partitioned = expect(
        http::get(a, "/admin/v2/persistent/public/default/partitioned").await,
        200,
    )
    .json();
    assert_eq!(partitioned, serde_json::json!([full_name(&topic)]));
    let empty = expect(
        http::get(a, "/admin/v2/non-persistent/public/default/partitioned").await,
        200,
    )
    .json();
    assert_eq!(empty, serde_json::json!([]));

    expect(http::delete(a, &path).await, 204);
    expect(http::delete(a, &path).await, 404);
    assert_eq!(
        expect(http::get(a, &path).await, 200).json()["partitions"],
        0
    );
    expect(
        http::put(
            a,
            "/admin/v2/persistent/public/ghost/t/partitions",
            Some("2"),
        )
        .await,
        404,
    );
    expect(
        http::get(a, "/admin/v2/persistent/public/ghost/t/partitions").await,
        404,
    );
    expect(
        http::get(a, "/admin/v2/persistent/public/ghost/partitioned").await,
        404,
    );
}

/// Goal: a partitioned topic may not shadow an existing non-partitioned topic. Method:
/// produce to a plain topic, then PUT partitions for the same name: 409.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partitioned_create_over_a_plain_topic_conflicts() {
    let broker = TestBroker::start();
    let client = broker.client().await;
    let topic = unique_topic("shadow");
    let mut p = producer(&client, &topic, "p").await;
    send_all(&mut p, numbered("s", 1)).await;
    expect(
        http::put(&broker.admin_url, &partitions_path(&topic), Some("2")).await,
        409,
    );
}

/// Goal: round-robin routing spreads unkeyed messages evenly over the partitions and the
/// partitioned consumer gets all of them. Method: 3 partitions, 9 messages from pulsar-rs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn round_robin_reaches_every_partition() {
    let broker = TestBroker::start();
    let client = broker.client().await;
    let topic = unique_topic("rr");
    create_partitioned(&broker, &topic, 3).await;
    let mut consumer = partitioned_consumer(&client, &topic, Duration::from_secs(30)).await;
    let options = ProducerOptions {
        routing_policy: Some(RoutingPolicy::RoundRobin),
        ..plain_producer_options()
    };
    let mut p = producer_with(&client, &full_name(&topic), "rr", options).await;
    send_all(&mut p, numbered("r", 9)).await;
    let by_partition = receive_by_partition(&mut consumer, 9).await;
    let counts: Vec<usize> = by_partition.values().map(Vec::len).collect();
    assert_eq!(counts, [3, 3, 3], "{by_partition:?}");
    let names: BTreeSet<&String> = by_partition.keys().collect();
    let expected: Vec<String> = (0..3)
        .map(|i| format!("{}-partition-{i}", full_name(&topic)))
        .collect();
    assert_eq!(names, expected.iter().collect());

    let stats_path =
        format!("/admin/v2/persistent/public/default/{topic}/partitioned-stats?perPartition=true");
    let stats = expect(http::get(&broker.admin_url, &stats_path).await, 200).json();
    assert_eq!(stats["metadata"]["partitions"], 3, "{stats}");
    assert_eq!(stats["msgInCounter"], 9, "{stats}");
    assert_eq!(stats["subscriptions"]["sub"]["msgOutCounter"], 9, "{stats}");
    assert!(stats.get("bundle").is_none(), "partitions have their own");
    for name in &expected {
        let partition = &stats["partitions"][name];
        assert_eq!(partition["msgInCounter"], 3, "{name}: {stats}");
        let bundle = partition["bundle"].as_str().expect("bundle named");
        assert!(
            bundle.starts_with("0x") && bundle.contains("_0x"),
            "{bundle}"
        );
    }
}

/// Goal: keyed messages land on one partition per key. Method: 4 partitions, 4 keys x 3
/// messages; every key's messages come from a single partition topic.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_hash_to_one_partition_each() {
    let broker = TestBroker::start();
    let client = broker.client().await;
    let topic = unique_topic("keys");
    create_partitioned(&broker, &topic, 4).await;
    let mut consumer = partitioned_consumer(&client, &topic, Duration::from_secs(30)).await;
    // pulsar-rs hashes keys only under the RoundRobin policy (its default ignores keys).
    let options = ProducerOptions {
        routing_policy: Some(RoutingPolicy::RoundRobin),
        ..plain_producer_options()
    };
    let mut p = producer_with(&client, &full_name(&topic), "k", options).await;
    for round in 0..3 {
        for key in 0..4 {
            let message = ProducerMessage {
                payload: format!("k{key}-{round}").into_bytes(),
                partition_key: Some(format!("key-{key}")),
                ..Default::default()
            };
            let receipt = within("send", p.send_non_blocking(message))
                .await
                .expect("send");
            within("receipt", receipt).await.expect("receipt");
        }
    }
    let mut partitions_of_key: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for _ in 0..12 {
        let msg = receive(&mut consumer).await;
        let key = msg.key().expect("keyed");
        partitions_of_key
            .entry(key)
            .or_default()
            .insert(msg.topic.clone());
    }
    assert_eq!(partitions_of_key.len(), 4);
    assert!(
        partitions_of_key.values().all(|p| p.len() == 1),
        "{partitions_of_key:?}"
    );
}

struct LastPartition;

impl CustomRoutingPolicy for LastPartition {
    fn route(&self, _message: &ProducerMessage, num_producers: usize) -> usize {
        num_producers - 1
    }
}

/// Goal: single-partition and custom routing pick the partition the policy says. Method: 3
/// partitions; 4 messages with `Single` land on one partition, 3 with a custom router on
/// the last one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn single_and_custom_routing_choose_their_partition() {
    let broker = TestBroker::start();
    let client = broker.client().await;
    let topic = unique_topic("route");
    create_partitioned(&broker, &topic, 3).await;
    let mut consumer = partitioned_consumer(&client, &topic, Duration::from_secs(30)).await;
    let single = ProducerOptions {
        routing_policy: Some(RoutingPolicy::Single),
        ..plain_producer_options()
    };
    let mut p = producer_with(&client, &full_name(&topic), "single", single).await;
    send_all(&mut p, numbered("s", 4)).await;
    let by_partition = receive_by_partition(&mut consumer, 4).await;
    assert_eq!(by_partition.len(), 1, "{by_partition:?}");

    let custom = ProducerOptions {
        routing_policy: Some(RoutingPolicy::Custom(Arc::new(LastPartition))),
        ..plain_producer_options()
    };
    let mut p = producer_with(&client, &full_name(&topic), "custom", custom).await;
    send_all(&mut p, numbered("c", 3)).await;
    let by_partition = receive_by_partition(&mut consumer, 3).await;
    let last = format!("{}-partition-2", full_name(&topic));
    assert_eq!(by_partition.keys().collect::<Vec<_>>(), [&last]);
}

/// Goal: a running consumer sees partitions added later. pulsar-rs re-reads only the
/// partition names it started with for a partitioned topic, so the running consumer here
/// follows the topic's partitions by regex, which re-lists the namespace (where new
/// partitions appear at once). Method: 2 partitions, a regex consumer refreshing every
/// second, grow to 3, produce to partition 2, receive it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn growth_is_seen_by_a_running_consumer() {
    let broker = TestBroker::start();
    let client = broker.client().await;
    let topic = unique_topic("grow");
    create_partitioned(&broker, &topic, 2).await;
    let regex = regex::Regex::new(&format!("{}-partition-[0-9]+", full_name(&topic))).unwrap();
    let build = client
        .consumer()
        .with_topic_regex(regex)
        .with_topic_refresh(Duration::from_secs(1))
        .with_subscription("sub")
        .with_subscription_type(SubType::Shared)
        .with_options(ConsumerOptions::default().with_initial_position(InitialPosition::Earliest))
        .build::<Vec<u8>>();
    let mut consumer = within("subscribe", build).await.expect("subscribe");
    let old_partition = format!("{}-partition-1", full_name(&topic));
    let mut p = producer(&client, &old_partition, "early").await;
    send_all(&mut p, numbered("early", 1)).await;
    assert_eq!(receive(&mut consumer).await.topic, old_partition);

    expect(
        http::post(&broker.admin_url, &partitions_path(&topic), Some("3")).await,
        204,
    );
    let new_partition = format!("{}-partition-2", full_name(&topic));
    let mut p = producer(&client, &new_partition, "late").await;
    send_all(&mut p, numbered("late", 1)).await;
    let msg = receive(&mut consumer).await;
    assert_eq!(msg.topic, new_partition);
    assert_eq!(msg.payload.data, b"late-0");
}

/// Goal: a partition past the count is not created when auto-creation is off, while
/// partitions within it are. Method: strict broker, 2 partitions; a producer on partition 1
/// works, on partition 5 fails.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partitions_within_the_count_exist_even_on_a_strict_broker() {
    let broker = TestBroker::start_with(|c| c.allow_auto_topic_creation = false);
    let client = broker.client_without_retries().await;
    let topic = unique_topic("strict-parts");
    create_partitioned(&broker, &topic, 2).await;
    let mut p = producer(&client, &format!("{}-partition-1", full_name(&topic)), "in").await;
    send_all(&mut p, numbered("in", 1)).await;
    let outside = client
        .producer()
        .with_topic(format!("{}-partition-5", full_name(&topic)))
        .build();
    assert!(within("producer", outside).await.is_err());
}

/// Goal: deleting a partitioned topic with a connected producer is refused (412) unless
/// forced; forced deletion removes the partitions. Method: produce, DELETE, DELETE?force.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_refuses_busy_partitions_unless_forced() {
    let broker = TestBroker::start();
    let a = &broker.admin_url;
    let client = broker.client().await;
    let topic = unique_topic("pdel");
    create_partitioned(&broker, &topic, 2).await;
    let mut p = producer(&client, &full_name(&topic), "busy").await;
    send_all(&mut p, numbered("b", 2)).await;
    let refused = expect(http::delete(a, &partitions_path(&topic)).await, 412);
    assert!(refused.reason().contains("partition"), "{}", refused.body);
    expect(
        http::delete(a, &format!("{}?force=true", partitions_path(&topic))).await,
        204,
    );
    let listed = expect(
        http::get(a, "/admin/v2/persistent/public/default").await,
        200,
    )
    .json();
    assert_eq!(listed, serde_json::json!([]));
}

/// Goal: a broker configured with `allowAutoTopicCreationType=partitioned` and
/// `defaultNumPartitions=2` creates new topics with 2 partitions. Method: produce to a new
/// topic with pulsar-rs, then read the metadata and the topic list.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broker_partitioned_auto_creation_creates_partitions() {
    let broker = TestBroker::start_with(|c| {
        c.allow_auto_topic_creation_type = "partitioned".to_owned();
        c.default_num_partitions = 2;
    });
    let client = broker.client().await;
    let topic = unique_topic("autopart");
    let mut consumer = partitioned_consumer(&client, &topic, Duration::from_secs(30)).await;
    let mut p = producer_with(&client, &full_name(&topic), "a", plain_producer_options()).await;
    send_all(&mut p, numbered("a", 4)).await;
    let by_partition = receive_by_partition(&mut consumer, 4).await;
    assert_eq!(by_partition.len(), 2, "{by_partition:?}");
    let meta = expect(
        http::get(&broker.admin_url, &partitions_path(&topic)).await,
        200,
    )
    .json();
    assert_eq!(meta["partitions"], 2);
}
