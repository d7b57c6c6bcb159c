//! Seek: resetting a subscription to a message id or to a publish time.

use std::time::Duration;

use pulsar::consumer::InitialPosition;

use crate::common::*;

/// Goal: seeking to a message id makes that message the next one delivered (inclusive), even
/// after everything was acked. Method: send 10, consume and ack all, seek to the 6th.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seek_to_message_id_redelivers_from_that_message() {
    let broker = TestBroker::start();
    let client = broker.client().await;
    let topic = unique_topic("seek-id");
    let mut consumer = exclusive(&client, &topic, "sub", InitialPosition::Earliest).await;
    let mut producer = producer(&client, &topic, "seek-producer").await;
    let receipts = send_all(&mut producer, numbered("s", 10)).await;

    let first: Vec<String> = (0..10).map(|i| format!("s-{i}")).collect();
    assert_eq!(receive_payloads_acking(&mut consumer, 10).await, first);

    let target = receipt_id(&receipts[5]);
    let sought = within(
        "seek to message id",
        consumer.seek(None, Some(target), None, client.clone()),
    )
    .await;
    seek_took_effect(sought, "seek to message id");

    let got = receive_payloads(&mut consumer, 4).await;
    assert_eq!(got, vec!["s-5", "s-6", "s-7", "s-8"]);
    assert_eq!(receive_payloads(&mut consumer, 1).await, vec!["s-9"]);
    assert_no_message(&mut consumer, "after seek replay").await;
}

/// Goal: seeking to a publish time delivers from the first message published at or after it.
/// Method: send 5, wait, note the time, wait, send 5 more, ack all, seek to the noted time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seek_to_publish_time_redelivers_later_messages() {
    let broker = TestBroker::start();
    let client = broker.client().await;
    let topic = unique_topic("seek-time");
    let mut consumer = exclusive(&client, &topic, "sub", InitialPosition::Earliest).await;
    let mut producer = producer(&client, &topic, "seek-time-producer").await;

    send_all(&mut producer, numbered("early", 5)).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let boundary = now_millis();
    tokio::time::sleep(Duration::from_millis(200)).await;
    send_all(&mut producer, numbered("late", 5)).await;
    receive_payloads_acking(&mut consumer, 10).await;

    let sought = within(
        "seek to publish time",
        consumer.seek(None, None, Some(boundary), client.clone()),
    )
    .await;
    seek_took_effect(sought, "seek to publish time");

    let got = receive_payloads(&mut consumer, 5).await;
    assert_eq!(got, vec!["late-0", "late-1", "late-2", "late-3", "late-4"]);
    assert_no_message(&mut consumer, "early messages stay acked").await;
}

/// Fails the test unless the broker carried out the seek. pulsar-rs answers a successful seek
/// by subscribing a fresh consumer, while its old one, which the broker closed (as Pulsar does
/// after a seek), reconnects by itself. When the old one attaches first the fresh one is
/// refused as busy and `seek` returns that error, but the consumer object keeps the old one,
/// now attached at the new position: the deliveries the tests check are the same either way.
fn seek_took_effect(result: Result<(), pulsar::Error>, what: &str) {
    if let Err(e) = result {
        assert!(format!("{e:?}").contains("ConsumerBusy"), "{what}: {e:?}");
    }
}

async fn receive_payloads_acking(consumer: &mut ByteConsumer, count: usize) -> Vec<String> {
    let mut out = Vec::with_capacity(count);
    for _ in 0..count {
        let msg = receive(consumer).await;
        within("ack", consumer.ack(&msg)).await.expect("ack");
        out.push(String::from_utf8_lossy(&msg.payload.data).into_owned());
    }
    out
}
