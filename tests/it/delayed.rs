//! Delayed delivery with the `pulsar` crate: held back on Shared and Key_Shared until due,
//! delivered at once on Exclusive, kept on disk across a restart, nackable, switchable off.

use std::collections::HashMap;
use std::time::Duration;

use geminga::config::BrokerConfig;
use geminga_actors::registry::GetTopic;
use geminga_actors::subscription::{DeliveryStats, GetDeliveryStats};
use geminga_actors::topic::GetSubscription;
use pulsar::{producer, ConsumerOptions, Producer, SubType, TokioExecutor};

use crate::admin_http::{expect, topic_path};
use crate::common::*;
use crate::subscriptions::typed_consumer;

/// Longest a due message may wait past its delivery time: one tick (1 s by default) plus
/// scheduling slack on a loaded test machine.
const LATE_LIMIT_MS: u64 = 1_500;

/// Sends `payload` to be delivered at `deliver_at_ms`, waiting for the receipt.
pub async fn send_at(producer: &mut Producer<TokioExecutor>, payload: &str, deliver_at_ms: u64) {
    send_message(
        producer,
        producer::Message {
            payload: payload.as_bytes().to_vec(),
            deliver_at_time: Some(i64::try_from(deliver_at_ms).expect("time fits")),
            ..Default::default()
        },
    )
    .await;
}

/// Sends one message, waiting for the receipt.
pub async fn send_message(producer: &mut Producer<TokioExecutor>, message: producer::Message) {
    let receipt = within("queue send", producer.send_non_blocking(message))
        .await
        .expect("send accepted");
    within("receipt", receipt).await.expect("receipt");
}

/// The delivery figures of subscription `sub` of `topic` (short name), from the broker.
pub async fn delivery_stats(broker: &TestBroker, topic: &str, sub: &str) -> DeliveryStats {
    let registry = broker.context().registry().expect("registry").clone();
    let lookup = GetTopic {
        name: full_name(topic),
        create: false,
    };
    let topic = within("get topic", registry.send(lookup))
        .await
        .expect("registry answers")
        .expect("topic loaded");
    let name = sub.to_owned();
    let subscription = within("get subscription", topic.send(GetSubscription { name }))
        .await
        .expect("topic answers")
        .expect("subscription loaded");
    within("delivery stats", subscription.send(GetDeliveryStats))
        .await
        .expect("subscription answers")
        .expect("stats")
}

/// Goal: Shared and Key_Shared hold a delayed message back until its time, let later
/// undelayed messages pass, then deliver it within one tick. Method: one delayed (2 s) and
/// one plain message; the plain one comes first, the delayed one not before its time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shared_and_key_shared_hold_delayed_messages_until_due() {
    let broker = TestBroker::start();
    let client = broker.client().await;
    for sub_type in [SubType::Shared, SubType::KeyShared] {
        let topic = unique_topic("delayed-shared");
        let opts = ConsumerOptions::default();
        let mut consumer = typed_consumer(&client, &topic, sub_type, "c", 100, opts).await;
        let mut producer = producer(&client, &topic, "delayed-producer").await;
        let due = now_millis() + 2_000;
        send_at(&mut producer, "late", due).await;
        send_all(&mut producer, vec![b"now".to_vec()]).await;
        let first = receive(&mut consumer).await;
        assert_eq!(
            first.payload.data, b"now",
            "{sub_type:?}: the plain message passes"
        );
        within("ack", consumer.ack(&first)).await.expect("ack");
        assert_eq!(
            delivery_stats(&broker, &topic, "sub").await.msg_delayed,
            1,
            "{sub_type:?}: counted as delayed"
        );
        let late = receive(&mut consumer).await;
        let arrived = now_millis();
        assert_eq!(late.payload.data, b"late");
        assert!(arrived >= due, "{sub_type:?}: {} ms early", due - arrived);
        assert!(
            arrived <= due + LATE_LIMIT_MS,
            "{sub_type:?}: {} ms late",
            arrived - due
        );
        within("ack", consumer.ack(&late)).await.expect("ack");
        assert_eq!(delivery_stats(&broker, &topic, "sub").await.msg_delayed, 0);
    }
}

/// Goal: Exclusive (and Failover) deliver delayed messages at once, as Pulsar does.
/// Method: a message due in 30 s arrives within the receive timeout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exclusive_delivers_delayed_messages_at_once() {
    let broker = TestBroker::start();
    let client = broker.client().await;
    for sub_type in [SubType::Exclusive, SubType::Failover] {
        let topic = unique_topic("delayed-exclusive");
        let opts = ConsumerOptions::default();
        let mut consumer = typed_consumer(&client, &topic, sub_type, "c", 100, opts).await;
        let mut producer = producer(&client, &topic, "delayed-producer").await;
        send_at(&mut producer, "far", now_millis() + 30_000).await;
        let msg = within_for(Duration::from_secs(5), "immediate delivery", async {
            receive(&mut consumer).await
        })
        .await;
        assert_eq!(msg.payload.data, b"far", "{sub_type:?}");
    }
}

/// Goal: pending delayed messages are kept on disk: a broker restart loses none and delivers
/// none early. Method: 20 messages due in 4 s on a Shared subscription, restart the broker,
/// reconnect, receive all 20 at or after their time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pending_delayed_messages_survive_a_restart() {
    let mut broker = TestBroker::start();
    let topic = unique_topic("delayed-restart");
    let due = now_millis() + 4_000;
    {
        let client = broker.client().await;
        let opts = ConsumerOptions::default();
        let mut consumer = typed_consumer(&client, &topic, SubType::Shared, "c", 100, opts).await;
        let mut producer = producer(&client, &topic, "restart-producer").await;
        for i in 0..20 {
            send_at(&mut producer, &format!("d-{i}"), due + i).await;
        }
        assert_no_message(&mut consumer, "nothing is due yet").await;
        assert_eq!(delivery_stats(&broker, &topic, "sub").await.msg_delayed, 20);
    }
    broker.restart();
    assert_eq!(
        delivery_stats(&broker, &topic, "sub").await.msg_delayed,
        20,
        "the index came back from disk"
    );
    let client = broker.client().await;
    let opts = ConsumerOptions::default();
    let mut consumer = typed_consumer(&client, &topic, SubType::Shared, "c", 100, opts).await;
    let mut got = Vec::new();
    for _ in 0..20 {
        let msg = receive(&mut consumer).await;
        assert!(now_millis() >= due, "delivered before its time");
        within("ack", consumer.ack(&msg)).await.expect("ack");
        got.push(String::from_utf8_lossy(&msg.payload.data).into_owned());
    }
    assert!(now_millis() <= due + 20 + LATE_LIMIT_MS + 1_000);
    got.sort();
    let mut want: Vec<String> = (0..20).map(|i| format!("d-{i}")).collect();
    want.sort();
    assert_eq!(got, want);
    assert_no_message(&mut consumer, "each delivered once").await;
}

/// Goal: a nacked delayed message comes back at once, not after another delay.
/// Method: a message due in 1.5 s is received, nacked, and received again within 1 s.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_nacked_delayed_message_is_redelivered_without_waiting_again() {
    let broker = TestBroker::start();
    let client = broker.client().await;
    let topic = unique_topic("delayed-nack");
    let opts = ConsumerOptions::default();
    let mut consumer = typed_consumer(&client, &topic, SubType::Shared, "c", 100, opts).await;
    let mut producer = producer(&client, &topic, "nack-producer").await;
    send_at(&mut producer, "retry-me", now_millis() + 1_500).await;
    let first = receive(&mut consumer).await;
    within("nack", consumer.nack(&first)).await.expect("nack");
    let nacked_at = now_millis();
    let again = receive(&mut consumer).await;
    assert_eq!(again.payload.data, b"retry-me");
    assert!(now_millis() - nacked_at < 1_000, "redelivered at once");
    within("ack", consumer.ack(&again)).await.expect("ack");
}

/// Goal: the broker setting `delayedDeliveryEnabled=false` delivers delayed messages at once on
/// Shared. Method: broker with the switch off, a message due in 30 s.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_broker_switch_turns_delayed_delivery_off() {
    let broker = TestBroker::start_with(|c: &mut BrokerConfig| c.delayed_delivery_enabled = false);
    let client = broker.client().await;
    let topic = unique_topic("delayed-off");
    let opts = ConsumerOptions::default();
    let mut consumer = typed_consumer(&client, &topic, SubType::Shared, "c", 100, opts).await;
    let mut producer = producer(&client, &topic, "off-producer").await;
    send_at(&mut producer, "now", now_millis() + 30_000).await;
    let msg = within_for(Duration::from_secs(5), "immediate delivery", async {
        receive(&mut consumer).await
    })
    .await;
    assert_eq!(msg.payload.data, b"now");
}

/// Goal: a topic policy switching delayed delivery off releases messages already held back.
/// Method: two messages due in 60 s, then `delayedDelivery` off for the topic through the admin
/// API; both arrive within seconds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_topic_policy_switching_delays_off_releases_held_messages() {
    let broker = TestBroker::start();
    let client = broker.client().await;
    let topic = unique_topic("delayed-policy");
    let opts = ConsumerOptions::default();
    let mut consumer = typed_consumer(&client, &topic, SubType::Shared, "c", 100, opts).await;
    let mut producer = producer(&client, &topic, "policy-producer").await;
    let far = now_millis() + 60_000;
    send_at(&mut producer, "a", far).await;
    send_at(&mut producer, "b", far).await;
    assert_no_message(&mut consumer, "held back").await;
    let path = format!("{}/delayedDelivery", topic_path(&topic));
    let off = Some(r#"{"active": false}"#);
    expect("POST", &broker.admin_url, &path, off, 204).await;
    let mut got = HashMap::new();
    for _ in 0..2 {
        let msg = receive(&mut consumer).await;
        *got.entry(msg.payload.data.clone()).or_insert(0) += 1;
        within("ack", consumer.ack(&msg)).await.expect("ack");
    }
    assert_eq!(got.len(), 2, "both released once: {got:?}");
    assert!(now_millis() < far, "well before their time");
}
