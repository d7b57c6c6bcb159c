//! Broker-side dead letters, redelivery backoff and the retry-letter flow, with the `pulsar`
//! crate (client-side dead letters are covered in `redelivery`).

use std::collections::HashMap;
use std::time::Duration;

use geminga::config::BrokerConfig;
use pulsar::consumer::{InitialPosition, Message};
use pulsar::{producer, ConsumerOptions, SubType};

use crate::admin_http::{expect, topic_path};
use crate::common::*;
use crate::delayed::{delivery_stats, send_message};
use crate::subscriptions::typed_consumer;

fn property(msg: &Message<Vec<u8>>, key: &str) -> Option<String> {
    msg.payload
        .metadata
        .properties
        .iter()
        .find(|kv| kv.key == key)
        .map(|kv| kv.value.clone())
}

fn keyed_message(payload: &str) -> producer::Message {
    producer::Message {
        payload: payload.as_bytes().to_vec(),
        partition_key: Some("key-1".into()),
        properties: HashMap::from([("app".to_owned(), "v".to_owned())]),
        ..Default::default()
    }
}

/// Goal: with `maxRedeliverCount = 2` the broker moves a message that is about to be delivered
/// a third time to `<topic>-<subscription>-DLQ` (key, properties and origin kept) and acks it,
/// for a client without any dead-letter support. Method: nack twice, then watch both topics.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_broker_dead_letters_a_message_redelivered_too_often() {
    let broker =
        TestBroker::start_with(|c: &mut BrokerConfig| c.dead_letter_max_redeliver_count = 2);
    let client = broker.client().await;
    let topic = unique_topic("broker-dlq");
    let opts = ConsumerOptions::default();
    let mut consumer = typed_consumer(&client, &topic, SubType::Shared, "c", 100, opts).await;
    let mut producer = producer(&client, &topic, "dlq-producer").await;
    send_message(&mut producer, keyed_message("poison")).await;
    let mut origin = None;
    for delivery in 1..=2 {
        let msg = receive(&mut consumer).await;
        assert_eq!(msg.payload.data, b"poison", "delivery {delivery}");
        origin = Some(msg.message_id.id.clone());
        within("nack", consumer.nack(&msg)).await.expect("nack");
    }
    assert_no_message(&mut consumer, "the third delivery goes to the DLQ instead").await;
    let dlq = format!("{}-sub-DLQ", full_name(&topic));
    let mut dead = exclusive(&client, &dlq, "inspect", InitialPosition::Earliest).await;
    let letter = receive(&mut dead).await;
    assert_eq!(letter.payload.data, b"poison");
    assert_eq!(
        letter.payload.metadata.partition_key.as_deref(),
        Some("key-1")
    );
    assert_eq!(property(&letter, "app").as_deref(), Some("v"));
    assert_eq!(
        property(&letter, "REAL_TOPIC").as_deref(),
        Some(full_name(&topic).as_str())
    );
    let origin = origin.expect("delivered");
    assert_eq!(
        property(&letter, "ORIGIN_MESSAGE_ID"),
        Some(format!("{}:{}:-1", origin.ledger_id, origin.entry_id))
    );
    let stats = delivery_stats(&broker, &topic, "sub").await;
    assert_eq!(stats.msg_dead_lettered, 1);
    assert_eq!(stats.msg_redelivered, 2);
    assert_eq!(stats.dead_letter_topic, dlq);
}

/// Goal: a topic policy set through the admin API picks the threshold and the dead-letter
/// topic. Method: POST `deadLetterPolicy` (`maxRedeliverCount = 1` and a topic); one nack
/// sends the message there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_topic_policy_sets_threshold_and_dead_letter_topic() {
    let broker = TestBroker::start();
    let client = broker.client().await;
    let topic = unique_topic("policy-dlq");
    let target = full_name(&unique_topic("custom-dead"));
    let opts = ConsumerOptions::default();
    let mut consumer = typed_consumer(&client, &topic, SubType::Shared, "c", 100, opts).await;
    let body = format!(r#"{{"maxRedeliverCount": 1, "deadLetterTopic": "{target}"}}"#);
    let path = format!("{}/deadLetterPolicy", topic_path(&topic));
    expect("POST", &broker.admin_url, &path, Some(&body), 204).await;
    // Subscriptions pick policy changes up on their next tick (1 s by default).
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let mut producer = producer(&client, &topic, "policy-producer").await;
    send_all(&mut producer, vec![b"once".to_vec()]).await;
    let msg = receive(&mut consumer).await;
    within("nack", consumer.nack(&msg)).await.expect("nack");
    let mut dead = exclusive(&client, &target, "inspect", InitialPosition::Earliest).await;
    assert_eq!(receive_payloads(&mut dead, 1).await, vec!["once"]);
    assert_no_message(&mut consumer, "dead-lettered, not redelivered").await;
}

/// Subscribes a Shared consumer, receives the poison message and "crashes": the client goes
/// away without acking, so the broker counts a redelivery.
async fn crash_on_poison(broker: &TestBroker, topic: &str) {
    let client = broker.client().await;
    let opts = ConsumerOptions::default();
    let mut consumer = typed_consumer(&client, topic, SubType::Shared, "c", 100, opts).await;
    let msg = receive(&mut consumer).await;
    assert_eq!(msg.payload.data, b"poison");
    drop(consumer);
    drop(client);
}

/// Waits until the broker has counted `n` redeliveries in all, then a little more so the count
/// is written with the cursor.
async fn wait_for_count(broker: &TestBroker, topic: &str, n: u64) {
    within("redelivery counted", async {
        while delivery_stats(broker, topic, "sub").await.msg_redelivered < n {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
}

/// Goal: a poison message that crashes every consumer before it acks still reaches the
/// dead-letter topic, with the count surviving a broker restart. Method: `maxRedeliverCount
/// = 3`; two crashes, restart, one more crash; the next consumer gets nothing and the DLQ has
/// the message.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_poison_message_reaches_the_dead_letter_topic_across_a_restart() {
    let mut broker =
        TestBroker::start_with(|c: &mut BrokerConfig| c.dead_letter_max_redeliver_count = 3);
    let topic = unique_topic("poison");
    {
        let client = broker.client().await;
        let mut producer = producer(&client, &topic, "poison-producer").await;
        send_all(&mut producer, vec![b"poison".to_vec()]).await;
    }
    crash_on_poison(&broker, &topic).await;
    wait_for_count(&broker, &topic, 1).await;
    crash_on_poison(&broker, &topic).await;
    wait_for_count(&broker, &topic, 2).await;
    broker.restart();
    assert_eq!(
        delivery_stats(&broker, &topic, "sub")
            .await
            .entries_with_redelivery_count,
        1,
        "the count came back with the cursor"
    );
    crash_on_poison(&broker, &topic).await;
    let client = broker.client().await;
    let opts = ConsumerOptions::default();
    let mut survivor = typed_consumer(&client, &topic, SubType::Shared, "c", 100, opts).await;
    assert_no_message(&mut survivor, "the 4th delivery goes to the DLQ").await;
    let dlq = format!("{}-sub-DLQ", full_name(&topic));
    let mut dead = exclusive(&client, &dlq, "inspect", InitialPosition::Earliest).await;
    assert_eq!(receive_payloads(&mut dead, 1).await, vec!["poison"]);
}

/// Goal: broker-side redelivery backoff: the delay before a nacked message comes back grows
/// from the minimum with each redelivery. Method: min 400 ms, max 2 s; nack twice and time it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nacked_messages_come_back_after_a_growing_backoff() {
    let broker = TestBroker::start_with(|c: &mut BrokerConfig| {
        c.redelivery_backoff_min_ms = 400;
        c.redelivery_backoff_max_ms = 2_000;
    });
    let client = broker.client().await;
    let topic = unique_topic("backoff");
    let opts = ConsumerOptions::default();
    let mut consumer = typed_consumer(&client, &topic, SubType::Shared, "c", 100, opts).await;
    let mut producer = producer(&client, &topic, "backoff-producer").await;
    send_all(&mut producer, vec![b"slow".to_vec()]).await;
    let mut msg = receive(&mut consumer).await;
    for expected_ms in [400, 800] {
        within("nack", consumer.nack(&msg)).await.expect("nack");
        let nacked = now_millis();
        msg = receive(&mut consumer).await;
        let waited = now_millis() - nacked;
        assert!(waited >= expected_ms - 20, "came back after {waited} ms");
        assert!(waited < expected_ms + 1_500, "came back after {waited} ms");
    }
    within("ack", consumer.ack(&msg)).await.expect("ack");
}

/// Goal: the retry-letter flow (Java's `reconsumeLater`, done by hand with pulsar-rs): the
/// consumer republishes a failed message to `<topic>-<subscription>-RETRY` with a delivery
/// time, acks the original, and gets the copy back from the retry topic once due. Method: one
/// consumer on both topics, a 1.5 s retry delay.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_retry_letter_flow_redelivers_through_the_delayed_retry_topic() {
    let broker = TestBroker::start();
    let client = broker.client().await;
    let topic = full_name(&unique_topic("retry"));
    let retry = format!("{topic}-sub-RETRY");
    let build = client
        .consumer()
        .with_topics([topic.as_str(), retry.as_str()])
        .with_subscription("sub")
        .with_subscription_type(SubType::Shared)
        .with_options(ConsumerOptions::default().with_initial_position(InitialPosition::Earliest))
        .build::<Vec<u8>>();
    let mut consumer: ByteConsumer = within("subscribe", build).await.expect("subscribe");
    let mut producer = producer(&client, &topic, "job-producer").await;
    send_all(&mut producer, vec![b"job".to_vec()]).await;
    let first = receive(&mut consumer).await;
    assert_eq!(first.topic, topic);
    let mut retry_producer = crate::common::producer(&client, &retry, "retry-producer").await;
    let due = now_millis() + 1_500;
    let origin = first.message_id.id.clone();
    let copy = producer::Message {
        payload: first.payload.data.clone(),
        deliver_at_time: Some(i64::try_from(due).expect("fits")),
        properties: HashMap::from([
            ("RECONSUMETIMES".to_owned(), "1".to_owned()),
            ("DELAY_TIME".to_owned(), "1500".to_owned()),
            ("REAL_TOPIC".to_owned(), topic.clone()),
            (
                "ORIGIN_MESSAGE_ID".to_owned(),
                format!("{}:{}:-1", origin.ledger_id, origin.entry_id),
            ),
        ]),
        ..Default::default()
    };
    send_message(&mut retry_producer, copy).await;
    within("ack", consumer.ack(&first)).await.expect("ack");
    let again = receive(&mut consumer).await;
    assert!(now_millis() >= due, "the retry copy waited for its time");
    assert_eq!(again.topic, retry);
    assert_eq!(again.payload.data, b"job");
    assert_eq!(property(&again, "RECONSUMETIMES").as_deref(), Some("1"));
    within("ack", consumer.ack(&again)).await.expect("ack");
    assert_no_message(&mut consumer, "done").await;
}
