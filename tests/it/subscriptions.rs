//! Shared and Failover subscriptions with the `pulsar` crate, plus what only the wire shows:
//! ACTIVE_CONSUMER_CHANGE and the ACK_RESPONSE refusing a cumulative ack on Shared.

use std::collections::BTreeSet;
use std::time::Duration;

use geminga_protocol::commands;
use geminga_protocol::proto::command_ack::AckType;
use geminga_protocol::proto::command_subscribe::SubType as WireSubType;
use geminga_protocol::proto::ServerError;
use pulsar::consumer::InitialPosition;
use pulsar::{ConsumerOptions, SubType};

use crate::common::*;
use crate::raw_client::{RawClient, SubscribeRequest};

/// A consumer of `sub_type` named `name` taking `queue` messages ahead, at Earliest.
pub async fn typed_consumer(
    client: &Client,
    topic: &str,
    sub_type: SubType,
    name: &str,
    queue: u32,
    options: ConsumerOptions,
) -> ByteConsumer {
    let build = client
        .consumer()
        .with_topic(topic)
        .with_subscription("sub")
        .with_subscription_type(sub_type)
        .with_consumer_name(name)
        .with_batch_size(queue)
        .with_options(options.with_initial_position(InitialPosition::Earliest))
        .build::<Vec<u8>>();
    within("subscribe", build)
        .await
        .unwrap_or_else(|e| panic!("subscribe {name} on {topic}: {e}"))
}

/// Receives until nothing arrives for [`QUIET_PERIOD`]; acks each message when `ack`.
pub async fn receive_until_quiet(consumer: &mut ByteConsumer, ack: bool) -> Vec<String> {
    use futures_util::StreamExt;
    let mut out = Vec::new();
    while let Ok(Some(item)) = tokio::time::timeout(QUIET_PERIOD, consumer.next()).await {
        let msg = item.expect("receive");
        if ack {
            within("ack", consumer.ack(&msg)).await.expect("ack");
        }
        out.push(String::from_utf8_lossy(&msg.payload.data).into_owned());
    }
    out
}

fn set(items: &[String]) -> BTreeSet<String> {
    items.iter().cloned().collect()
}

/// Goal: Shared alternates entries between consumers with permits, and a consumer that leaves
/// gives its unacked messages to the others. Method: two consumers, 20 messages; close the one
/// that did not ack and see the other receive its 10.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shared_round_robins_and_redelivers_a_leavers_messages() {
    let broker = TestBroker::start();
    let client = broker.client().await;
    let topic = unique_topic("shared-rr");
    let opts = ConsumerOptions::default;
    let mut a = typed_consumer(&client, &topic, SubType::Shared, "a", 100, opts()).await;
    let mut b = typed_consumer(&client, &topic, SubType::Shared, "b", 100, opts()).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut producer = producer(&client, &topic, "rr-producer").await;
    send_all(&mut producer, numbered("m", 20)).await;

    let got_a = receive_until_quiet(&mut a, false).await;
    let got_b = receive_until_quiet(&mut b, true).await;
    assert_eq!(got_a.len(), 10, "a: {got_a:?}");
    assert_eq!(got_b.len(), 10, "b: {got_b:?}");
    assert!(
        set(&got_a).is_disjoint(&set(&got_b)),
        "one consumer at a time"
    );

    within("close a", a.close()).await.expect("close a");
    drop(a);
    let again = receive_until_quiet(&mut b, true).await;
    assert_eq!(set(&again), set(&got_a), "a's unacked messages go to b");
}

/// Goal: a Shared consumer that stops taking messages does not stall the others.
/// Method: a consumer with a queue of one that is never read, a normal one, 20 messages.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shared_consumer_without_permits_does_not_stall_the_others() {
    let broker = TestBroker::start();
    let client = broker.client().await;
    let topic = unique_topic("shared-slow");
    let slow_options = ConsumerOptions::default().with_receiver_queue_size(1);
    let slow = typed_consumer(&client, &topic, SubType::Shared, "slow", 1, slow_options).await;
    let mut fast = typed_consumer(
        &client,
        &topic,
        SubType::Shared,
        "fast",
        100,
        ConsumerOptions::default(),
    )
    .await;
    let mut producer = producer(&client, &topic, "slow-producer").await;
    send_all(&mut producer, numbered("m", 20)).await;

    let first = receive_until_quiet(&mut fast, true).await;
    assert!(first.len() >= 15, "fast got only {} of 20", first.len());
    drop(slow);
    let rest = receive_until_quiet(&mut fast, true).await;
    let all: BTreeSet<String> = first.iter().chain(rest.iter()).cloned().collect();
    assert_eq!(
        all.len(),
        20,
        "every message reaches fast once the slow one is gone"
    );
}

/// Goal: Shared serves the best priority level while it has permits.
/// Method: a priority-0 and a priority-1 consumer; 10 messages all go to priority 0.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shared_prefers_the_better_priority_level() {
    let broker = TestBroker::start();
    let client = broker.client().await;
    let topic = unique_topic("shared-priority");
    let low_options = ConsumerOptions::default().with_priority_level(1);
    let mut low = typed_consumer(&client, &topic, SubType::Shared, "low", 100, low_options).await;
    let mut high = typed_consumer(
        &client,
        &topic,
        SubType::Shared,
        "high",
        100,
        ConsumerOptions::default(),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut producer = producer(&client, &topic, "priority-producer").await;
    send_all(&mut producer, numbered("m", 10)).await;
    assert_eq!(receive_until_quiet(&mut high, true).await.len(), 10);
    assert_no_message(&mut low, "priority 1 waits while priority 0 has permits").await;
}

/// Goal: Failover delivers everything to the first consumer, and when it leaves its unacked
/// messages and everything after go to the next, in order. Method: two consumers, 10 messages,
/// the active acks 4 and closes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failover_hands_over_unacked_messages_in_order() {
    let broker = TestBroker::start();
    let client = broker.client().await;
    let topic = unique_topic("failover");
    let opts = ConsumerOptions::default;
    let mut first =
        typed_consumer(&client, &topic, SubType::Failover, "z-first", 100, opts()).await;
    let mut standby =
        typed_consumer(&client, &topic, SubType::Failover, "a-next", 100, opts()).await;
    let mut producer = producer(&client, &topic, "failover-producer").await;
    send_all(&mut producer, numbered("f", 10)).await;

    for i in 0..10 {
        let msg = receive(&mut first).await;
        assert_eq!(msg.payload.data, format!("f-{i}").into_bytes());
        if i < 4 {
            within("ack", first.ack(&msg)).await.expect("ack");
        }
    }
    assert_no_message(&mut standby, "the standby receives nothing").await;
    within("close first", first.close()).await.expect("close");
    drop(first);
    let expected: Vec<String> = (4..10).map(|i| format!("f-{i}")).collect();
    assert_eq!(receive_payloads(&mut standby, 6).await, expected);
}

/// Goal: on a partition, Failover sorts consumers by name and partition N goes to N % count.
/// Method: consumers c, a, b on `...-partition-1`: b (index 1 of a, b, c) receives everything.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failover_on_a_partition_picks_by_name() {
    let broker = TestBroker::start();
    let client = broker.client().await;
    let topic = format!("{}-partition-1", unique_topic("failover-part"));
    let opts = ConsumerOptions::default;
    let mut c = typed_consumer(&client, &topic, SubType::Failover, "c", 100, opts()).await;
    let mut a = typed_consumer(&client, &topic, SubType::Failover, "a", 100, opts()).await;
    let mut b = typed_consumer(&client, &topic, SubType::Failover, "b", 100, opts()).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut producer = producer(&client, &topic, "part-producer").await;
    send_all(&mut producer, numbered("p", 5)).await;
    assert_eq!(receive_until_quiet(&mut b, true).await.len(), 5);
    assert_no_message(&mut a, "a stands by").await;
    assert_no_message(&mut c, "c stands by").await;
}

/// Goal: every Failover consumer hears ACTIVE_CONSUMER_CHANGE on every change, and clients
/// below protocol 12 never do. Method: raw connections; subscribe two, close the active one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failover_sends_active_consumer_change() {
    let broker = TestBroker::start();
    let topic = full_name(&unique_topic("failover-acc"));
    let mut raw = RawClient::connect(&broker.service_url, 21).await;
    let request = |consumer_id, name| SubscribeRequest {
        topic: &topic,
        subscription: "sub",
        sub_type: WireSubType::Failover,
        consumer_id,
        name,
        key_shared: None,
    };
    let change = |id: u64| {
        move |c: &geminga_protocol::proto::BaseCommand| {
            c.active_consumer_change
                .as_ref()
                .is_some_and(|a| a.consumer_id == id)
        }
    };
    assert!(raw.subscribe(request(1, "first")).await.success.is_some());
    let first = raw.wait_for("change for 1", change(1)).await;
    assert_eq!(first.active_consumer_change.unwrap().is_active, Some(true));
    assert!(raw.subscribe(request(2, "second")).await.success.is_some());
    let second = raw.wait_for("change for 2", change(2)).await;
    assert_eq!(
        second.active_consumer_change.unwrap().is_active,
        Some(false)
    );

    let close_id = raw.request_id();
    raw.send(commands::client::close_consumer(1, close_id))
        .await;
    let promoted = raw.wait_for("promotion of 2", change(2)).await;
    assert_eq!(
        promoted.active_consumer_change.unwrap().is_active,
        Some(true)
    );

    let mut old = RawClient::connect(&broker.service_url, 11).await;
    let mut old_request = request(7, "old");
    old_request.subscription = "old-sub";
    assert!(old.subscribe(old_request).await.success.is_some());
    let seen = old.drain_for(Duration::from_millis(800)).await;
    assert!(
        seen.iter().all(|c| c.active_consumer_change.is_none()),
        "protocol 11 knows no ACTIVE_CONSUMER_CHANGE: {seen:?}"
    );
}

/// Goal: a cumulative ack on Shared is refused and the client sees the error in ACK_RESPONSE.
/// Method: raw Shared consumer; ACK cumulative with a request id, then an individual one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cumulative_ack_on_shared_is_refused_with_an_ack_response() {
    let broker = TestBroker::start();
    let client = broker.client().await;
    let short = unique_topic("shared-cumulative");
    let topic = full_name(&short);
    let mut raw = RawClient::connect(&broker.service_url, 21).await;
    let subscribed = raw
        .subscribe(SubscribeRequest {
            topic: &topic,
            subscription: "sub",
            sub_type: WireSubType::Shared,
            consumer_id: 1,
            name: "raw",
            key_shared: None,
        })
        .await;
    assert!(subscribed.success.is_some(), "{subscribed:?}");
    raw.send(commands::client::flow(1, 10)).await;
    let mut producer = producer(&client, &short, "cumulative-producer").await;
    send_all(&mut producer, vec![b"x".to_vec()]).await;
    let message = raw.wait_for("MESSAGE", |c| c.message.is_some()).await;
    let id = message.message.unwrap().message_id;

    let refused_id = raw.request_id();
    raw.send(commands::client::ack(
        1,
        AckType::Cumulative,
        vec![id.clone()],
        Some(refused_id),
    ))
    .await;
    let refused = raw
        .wait_for("ACK_RESPONSE", |c| c.ack_response.is_some())
        .await
        .ack_response
        .unwrap();
    assert_eq!(refused.request_id, Some(refused_id));
    assert_eq!(refused.error, Some(ServerError::NotAllowedError as i32));

    let accepted_id = raw.request_id();
    raw.send(commands::client::ack(
        1,
        AckType::Individual,
        vec![id],
        Some(accepted_id),
    ))
    .await;
    let accepted = raw
        .wait_for("ACK_RESPONSE", |c| c.ack_response.is_some())
        .await
        .ack_response
        .unwrap();
    assert_eq!(accepted.request_id, Some(accepted_id));
    assert_eq!(accepted.error, None);
}
