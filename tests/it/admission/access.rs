//! Producer access modes with their errors and the topic epoch, and the producer and
//! consumer limits of namespaces and topics.

use std::time::Duration;

use geminga_protocol::commands;
use geminga_protocol::proto::ProducerAccessMode as Mode;
use pulsar::{consumer::InitialPosition, ConsumerOptions, ProducerOptions, SubType};

use super::namespace;
use crate::admin_http::expect;
use crate::common::*;
use crate::raw_client::RawClient;

fn options(mode: Mode) -> ProducerOptions {
    ProducerOptions {
        access_mode: Some(mode as i32),
        ..plain_producer_options()
    }
}

/// Tries to create a producer; the error text on failure.
async fn try_producer(
    client: &Client,
    topic: &str,
    name: &str,
    mode: Mode,
) -> Result<pulsar::Producer<pulsar::TokioExecutor>, String> {
    let build = client
        .producer()
        .with_topic(topic)
        .with_name(name)
        .with_options(options(mode))
        .build();
    within("create producer", build)
        .await
        .map_err(|e| format!("{e:?}"))
}

/// Goal: an Exclusive producer keeps others out with Pulsar's errors (ProducerFenced for
/// another exclusive one, ProducerBusy for a shared one) until it leaves. Method: pulsar-rs
/// without retries.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exclusive_keeps_others_out_until_it_leaves() {
    let broker = TestBroker::start();
    let client = broker.client_without_retries().await;
    let topic = unique_topic("exclusive");
    let mut a = try_producer(&client, &topic, "a", Mode::Exclusive)
        .await
        .expect("first exclusive");
    send_all(&mut a, numbered("a", 1)).await;
    let err = try_producer(&client, &topic, "b", Mode::Exclusive)
        .await
        .err()
        .expect("refused");
    assert!(err.contains("ProducerFenced"), "{err}");
    let err = try_producer(&client, &topic, "c", Mode::Shared)
        .await
        .err()
        .expect("refused");
    assert!(err.contains("ProducerBusy"), "{err}");
    a.close().await.expect("close");
    let mut b = try_producer(&client, &topic, "b", Mode::Exclusive)
        .await
        .expect("free again");
    send_all(&mut b, numbered("b", 1)).await;
    let err = try_producer(&client, &topic, "d", Mode::Exclusive)
        .await
        .err()
        .expect("refused");
    assert!(err.contains("ProducerFenced"), "{err}");
}

/// Goal: ExclusiveWithFencing takes the topic from the current producers, which are closed
/// and then refused. Method: a shared producer, then a fencing one; the shared one's next
/// send fails while the fencing one publishes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fencing_takes_the_topic() {
    let broker = TestBroker::start();
    let client = broker.client_without_retries().await;
    let topic = unique_topic("fencing");
    let mut shared = try_producer(&client, &topic, "s", Mode::Shared)
        .await
        .expect("shared");
    send_all(&mut shared, numbered("s", 1)).await;
    let mut fencer = try_producer(&client, &topic, "f", Mode::ExclusiveWithFencing)
        .await
        .expect("fencing producer");
    send_all(&mut fencer, numbered("f", 2)).await;
    let late = within_for(Duration::from_secs(60), "fenced send", async {
        match shared.send_non_blocking(b"late".to_vec()).await {
            Ok(receipt) => receipt.await.map(|_| ()),
            Err(e) => Err(e),
        }
    })
    .await;
    assert!(late.is_err(), "the fenced producer must not publish");
    let mut consumer = exclusive(&client, &topic, "sub", InitialPosition::Earliest).await;
    assert_eq!(
        receive_payloads(&mut consumer, 3).await,
        ["s-0", "f-0", "f-1"]
    );
    assert_no_message(&mut consumer, "nothing from the fenced producer").await;
}

/// Goal: a WaitForExclusive producer is queued (pulsar-rs waits for the second
/// PRODUCER_SUCCESS) and gets the topic when the holder leaves. Method: an exclusive holder;
/// the waiter's creation is still pending after 1.5 s; the holder closes; the waiter publishes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wait_for_exclusive_queues_until_the_holder_leaves() {
    let broker = TestBroker::start();
    let client = broker.client_without_retries().await;
    let topic = unique_topic("waitexclusive");
    let mut holder = try_producer(&client, &topic, "h", Mode::Exclusive)
        .await
        .expect("holder");
    let waiter = {
        let (client, topic) = (client.clone(), topic.clone());
        tokio::spawn(async move {
            client
                .producer()
                .with_topic(&topic)
                .with_name("w")
                .with_options(options(Mode::WaitForExclusive))
                .build()
                .await
        })
    };
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(
        !waiter.is_finished(),
        "the waiter must wait while the holder is attached"
    );
    send_all(&mut holder, numbered("h", 1)).await;
    holder.close().await.expect("close");
    let mut waiter = within("waiter ready", waiter)
        .await
        .expect("task")
        .expect("the waiter gets the topic");
    send_all(&mut waiter, numbered("w", 1)).await;
    let mut consumer = exclusive(&client, &topic, "sub", InitialPosition::Earliest).await;
    assert_eq!(receive_payloads(&mut consumer, 2).await, ["h-0", "w-0"]);
}

/// Goal: on the wire, a queued producer gets PRODUCER_SUCCESS with producer_ready=false, then
/// one with producer_ready=true and the next topic epoch; a producer presenting a stale epoch
/// is fenced. Method: bare frames.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn producer_ready_and_topic_epoch_on_the_wire() {
    let broker = TestBroker::start();
    let topic = full_name(&unique_topic("epoch"));
    let mut raw = RawClient::connect(&broker.service_url, 20).await;
    let create = |producer_id: u64, request_id: u64, mode: Mode, epoch: Option<u64>| {
        let mut command = commands::client::producer(&topic, producer_id, request_id, None);
        if let Some(p) = command.producer.as_mut() {
            p.producer_access_mode = Some(mode as i32);
            p.topic_epoch = epoch;
        }
        command
    };
    raw.send(create(1, 10, Mode::Exclusive, None)).await;
    let first = raw
        .wait_for("first", |c| c.producer_success.is_some())
        .await;
    let first = first.producer_success.unwrap();
    assert_eq!(
        (first.topic_epoch, first.producer_ready),
        (Some(1), Some(true))
    );
    raw.send(create(2, 11, Mode::WaitForExclusive, None)).await;
    let queued = raw
        .wait_for("queued", |c| c.producer_success.is_some())
        .await;
    let queued = queued.producer_success.unwrap();
    assert_eq!(
        (queued.request_id, queued.producer_ready),
        (11, Some(false))
    );
    raw.send(commands::client::close_producer(1, 12)).await;
    let ready = raw
        .wait_for("ready", |c| {
            c.producer_success
                .as_ref()
                .is_some_and(|s| s.request_id == 11)
        })
        .await;
    let ready = ready.producer_success.unwrap();
    assert_eq!(
        (ready.producer_ready, ready.topic_epoch),
        (Some(true), Some(2))
    );
    raw.send(commands::client::close_producer(2, 13)).await;
    raw.wait_for("closed", |c| {
        c.success.as_ref().is_some_and(|s| s.request_id == 13)
    })
    .await;
    raw.send(create(3, 14, Mode::Exclusive, Some(1))).await;
    let stale = raw
        .wait_for("stale", |c| c.error.is_some())
        .await
        .error
        .unwrap();
    assert_eq!(
        stale.error,
        geminga_protocol::proto::ServerError::ProducerFenced as i32
    );
    raw.send(create(4, 15, Mode::Exclusive, Some(2))).await;
    let current = raw
        .wait_for("current", |c| c.producer_success.is_some())
        .await;
    assert_eq!(
        current.producer_success.unwrap().topic_epoch,
        Some(2),
        "a reconnect keeps it"
    );
}

/// Goal: namespace limits on producers per topic, consumers per topic and consumers per
/// subscription apply, and a topic policy overrides the namespace. Method: limits of 1.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn namespace_limits_on_producers_and_consumers() {
    let broker = TestBroker::start();
    let admin = &broker.admin_url;
    let ns = namespace(admin, "limits").await;
    let base = format!("/admin/v2/namespaces/{ns}");
    expect(
        "POST",
        admin,
        &format!("{base}/maxProducersPerTopic"),
        Some("1"),
        204,
    )
    .await;
    expect(
        "POST",
        admin,
        &format!("{base}/maxConsumersPerTopic"),
        Some("2"),
        204,
    )
    .await;
    expect(
        "POST",
        admin,
        &format!("{base}/maxConsumersPerSubscription"),
        Some("1"),
        204,
    )
    .await;
    assert_eq!(
        crate::admin_http::get_json(admin, &format!("{base}/maxConsumersPerTopic")).await,
        2
    );
    let client = broker.client_without_retries().await;
    let topic = format!("persistent://{ns}/t");
    let _p = try_producer(&client, &topic, "p1", Mode::Shared)
        .await
        .expect("first producer");
    assert!(
        try_producer(&client, &topic, "p2", Mode::Shared)
            .await
            .is_err(),
        "max producers 1"
    );
    let subscribe = |sub: &'static str| {
        let (client, topic) = (client.clone(), topic.clone());
        async move {
            let build = client
                .consumer()
                .with_topic(topic)
                .with_subscription(sub)
                .with_subscription_type(SubType::Shared)
                .with_options(ConsumerOptions::default())
                .build::<Vec<u8>>();
            within("subscribe", build)
                .await
                .map_err(|e| format!("{e:?}"))
        }
    };
    let _c1 = subscribe("s1").await.expect("first consumer");
    let err = subscribe("s1")
        .await
        .err()
        .expect("max consumers per subscription 1");
    assert!(err.contains("ConsumerBusy"), "{err}");
    let _c2 = subscribe("s2").await.expect("second consumer on the topic");
    let err = subscribe("s3")
        .await
        .err()
        .expect("max consumers per topic 2");
    assert!(err.contains("ConsumerBusy"), "{err}");
    // The topic level overrides the namespace.
    expect(
        "POST",
        admin,
        &format!("/admin/v2/persistent/{ns}/t/maxProducers"),
        Some("2"),
        204,
    )
    .await;
    let _p2 = try_producer(&client, &topic, "p2", Mode::Shared)
        .await
        .expect("topic allows 2");
}
