//! Redelivery with the `pulsar` crate: nack, ack timeout, counts reaching the dead-letter topic,
//! and the unacked-message limit pausing and resuming dispatch.

use std::path::PathBuf;
use std::time::Duration;

use geminga::broker::{start_in_thread, BrokerHandle};
use geminga::config::BrokerConfig;
use pulsar::consumer::{DeadLetterPolicy, InitialPosition};
use pulsar::{ConsumerOptions, SubType};
use tempfile::TempDir;

use crate::admin_http::{get_json, topic_path};
use crate::common::*;
use crate::subscriptions::{receive_until_quiet, typed_consumer};

/// Goal: a nacked message comes back at once on an idle topic, with a redelivery count the
/// client acts on: after 2 deliveries pulsar-rs moves it to the dead-letter topic.
/// Method: Shared consumer with a DLQ policy (max 2) nacking everything.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nacks_are_redelivered_and_counted_into_the_dead_letter_topic() {
    let broker = TestBroker::start();
    let client = broker.client().await;
    let topic = unique_topic("nack-dlq");
    let dlq = full_name(&format!("{topic}-DLQ"));
    let mut dead = exclusive(&client, &dlq, "dlq-sub", InitialPosition::Earliest).await;
    let build = client
        .consumer()
        .with_topic(topic.as_str())
        .with_subscription("sub")
        .with_subscription_type(SubType::Shared)
        .with_dead_letter_policy(DeadLetterPolicy {
            max_redeliver_count: 2,
            dead_letter_topic: dlq.clone(),
        })
        .with_options(ConsumerOptions::default().with_initial_position(InitialPosition::Earliest))
        .build::<Vec<u8>>();
    let mut consumer: ByteConsumer = within("subscribe", build).await.expect("subscribe");
    let mut producer = producer(&client, &topic, "nack-producer").await;
    send_all(&mut producer, vec![b"poison".to_vec()]).await;

    for delivery in 0..2 {
        let msg = receive(&mut consumer).await;
        assert_eq!(msg.payload.data, b"poison", "delivery {delivery}");
        within("nack", consumer.nack(&msg)).await.expect("nack");
    }
    assert_eq!(receive_payloads(&mut dead, 1).await, vec!["poison"]);
    assert_no_message(&mut consumer, "the dead-lettered message is acked").await;
}

/// Goal: pulsar-rs's ack timeout (unacked resend delay) gets an unacked message back, on
/// Shared and on Exclusive. Method: receive without acking; it returns within a few seconds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ack_timeout_redelivers_unacked_messages() {
    let broker = TestBroker::start();
    let client = broker.client().await;
    for sub_type in [SubType::Shared, SubType::Exclusive] {
        let topic = unique_topic("ack-timeout");
        let build = client
            .consumer()
            .with_topic(topic.as_str())
            .with_subscription("sub")
            .with_subscription_type(sub_type)
            .with_unacked_message_resend_delay(Some(Duration::from_secs(1)))
            .with_options(
                ConsumerOptions::default().with_initial_position(InitialPosition::Earliest),
            )
            .build::<Vec<u8>>();
        let mut consumer: ByteConsumer = within("subscribe", build).await.expect("subscribe");
        let mut producer = producer(&client, &topic, "timeout-producer").await;
        send_all(&mut producer, vec![b"late".to_vec()]).await;
        assert_eq!(receive_payloads(&mut consumer, 1).await, vec!["late"]);
        let again = receive(&mut consumer).await;
        assert_eq!(
            again.payload.data, b"late",
            "{sub_type:?}: redelivered after the timeout"
        );
        within("ack", consumer.ack(&again)).await.expect("ack");
    }
}

/// A broker with small unacked limits.
struct LimitedBroker {
    _dir: TempDir,
    handle: Option<BrokerHandle>,
}

impl LimitedBroker {
    fn start(per_consumer: u32, per_subscription: u32) -> LimitedBroker {
        let dir = tempfile::tempdir().expect("temp dir");
        let config = BrokerConfig {
            data_dir: PathBuf::from(dir.path()).join("data"),
            bind: "127.0.0.1:0".to_owned(),
            admin_bind: "127.0.0.1:0".to_owned(),
            max_unacked_messages_per_consumer: per_consumer,
            max_unacked_messages_per_subscription: per_subscription,
            ..BrokerConfig::default()
        };
        let handle = start_in_thread(config).expect("broker starts");
        LimitedBroker {
            _dir: dir,
            handle: Some(handle),
        }
    }

    fn url(&self) -> String {
        self.handle.as_ref().expect("running").service_url.clone()
    }

    fn admin_url(&self) -> String {
        self.handle.as_ref().expect("running").admin_url.clone()
    }
}

impl Drop for LimitedBroker {
    fn drop(&mut self) {
        if let Some(handle) = self.handle.take() {
            handle.shutdown();
        }
    }
}

/// Receives messages until nothing arrives for [`QUIET_PERIOD`], without acking.
async fn collect_until_quiet(
    consumer: &mut ByteConsumer,
) -> Vec<pulsar::consumer::Message<Vec<u8>>> {
    use futures_util::StreamExt;
    let mut out = Vec::new();
    while let Ok(Some(item)) = tokio::time::timeout(QUIET_PERIOD, consumer.next()).await {
        out.push(item.expect("receive"));
    }
    out
}

/// Goal: the per-consumer unacked limit pauses dispatch and acks resume it.
/// Method: limit 5, 12 messages, a consumer with 100 permits that acks only when paused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_unacked_limit_pauses_and_acks_resume_dispatch() {
    let broker = LimitedBroker::start(5, 0);
    let client = client_for(&broker.url(), Some(3)).await;
    let topic = unique_topic("unacked-limit");
    let mut consumer = typed_consumer(
        &client,
        &topic,
        SubType::Shared,
        "limited",
        100,
        ConsumerOptions::default(),
    )
    .await;
    let mut producer = producer(&client, &topic, "limit-producer").await;
    send_all(&mut producer, numbered("u", 12)).await;

    let mut seen = Vec::new();
    for expected in [5, 5, 2] {
        let batch = collect_until_quiet(&mut consumer).await;
        assert_eq!(
            batch.len(),
            expected,
            "paused at 5 unacked, resumed by acks"
        );
        let path = format!("{}/stats", topic_path(&topic));
        let stats = get_json(&broker.admin_url(), &path).await;
        let limited = &stats["subscriptions"]["sub"]["consumers"][0];
        assert_eq!(limited["unackedMessages"], expected as u64, "{limited}");
        assert_eq!(
            limited["blockedConsumerOnUnackedMsgs"],
            expected == 5,
            "stats show the pause: {limited}"
        );
        for msg in &batch {
            within("ack", consumer.ack(msg)).await.expect("ack");
            seen.push(String::from_utf8_lossy(&msg.payload.data).into_owned());
        }
    }
    seen.sort();
    let mut all: Vec<String> = (0..12).map(|i| format!("u-{i}")).collect();
    all.sort();
    assert_eq!(seen, all);
}

/// Goal: the per-subscription limit pauses every consumer; any ack resumes.
/// Method: subscription limit 4, two consumers; the holder closes and the other gets the rest.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_subscription_limit_pauses_all_consumers() {
    let broker = LimitedBroker::start(0, 4);
    let client = client_for(&broker.url(), Some(3)).await;
    let topic = unique_topic("sub-limit");
    let opts = ConsumerOptions::default;
    let mut holder = typed_consumer(&client, &topic, SubType::Shared, "holder", 100, opts()).await;
    let mut producer = producer(&client, &topic, "sub-limit-producer").await;
    send_all(&mut producer, numbered("s", 10)).await;
    let held = receive_until_quiet(&mut holder, false).await;
    assert_eq!(held.len(), 4, "paused at the subscription limit: {held:?}");

    let mut other = typed_consumer(&client, &topic, SubType::Shared, "other", 100, opts()).await;
    assert_no_message(&mut other, "the subscription is paused for everyone").await;
    within("close holder", holder.close()).await.expect("close");
    drop(holder);
    let rest = receive_until_quiet(&mut other, true).await;
    assert_eq!(rest.len(), 10, "released by the holder leaving: {rest:?}");
}
