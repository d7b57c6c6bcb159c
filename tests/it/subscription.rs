//! Subscription rules: Exclusive ownership, unsubscribe, cumulative ack, last message id.

use pulsar::consumer::InitialPosition;

use crate::common::*;

/// Goal: a second consumer on an Exclusive subscription is refused with ConsumerBusy, and the
/// subscription is free again once the owner closes. Method: two clients, no retries on the second.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn second_exclusive_consumer_is_refused() {
    let broker = TestBroker::start();
    let owner_client = broker.client().await;
    let rival_client = broker.client_without_retries().await;
    let topic = unique_topic("busy");
    let mut owner = exclusive(&owner_client, &topic, "sub", InitialPosition::Earliest).await;

    let attempt = rival_client
        .consumer()
        .with_topic(topic.as_str())
        .with_subscription("sub")
        .with_subscription_type(pulsar::SubType::Exclusive)
        .build::<Vec<u8>>();
    match within("rival subscribe", attempt).await {
        Ok(_) => panic!("second Exclusive consumer was accepted"),
        Err(err) => {
            let text = format!("{err:?}");
            assert!(
                text.contains("ConsumerBusy"),
                "expected ConsumerBusy, got {text}"
            );
        }
    }

    within("close owner", owner.close())
        .await
        .expect("close owner");
    drop(owner);
    let mut successor = exclusive(&rival_client, &topic, "sub", InitialPosition::Earliest).await;
    let mut producer = producer(&owner_client, &topic, "busy-producer").await;
    send_all(&mut producer, vec![b"hello".to_vec()]).await;
    assert_eq!(receive_payloads(&mut successor, 1).await, vec!["hello"]);
}

/// Goal: unsubscribe deletes the subscription and its backlog. Method: leave 3 messages unacked,
/// unsubscribe, resubscribe the same name at Latest: only a message sent afterwards arrives.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unsubscribe_deletes_the_subscription() {
    let broker = TestBroker::start();
    let client = broker.client().await;
    let topic = unique_topic("unsub");
    let mut consumer = exclusive(&client, &topic, "sub", InitialPosition::Earliest).await;
    let mut producer = producer(&client, &topic, "unsub-producer").await;
    send_all(&mut producer, numbered("old", 3)).await;
    assert_eq!(receive_payloads(&mut consumer, 1).await, vec!["old-0"]);

    within("unsubscribe", consumer.unsubscribe())
        .await
        .expect("unsubscribe");
    drop(consumer);

    let mut fresh = exclusive(&client, &topic, "sub", InitialPosition::Latest).await;
    assert_no_message(&mut fresh, "old backlog must be gone").await;
    send_all(&mut producer, vec![b"new".to_vec()]).await;
    assert_eq!(receive_payloads(&mut fresh, 1).await, vec!["new"]);
}

/// Goal: a cumulative ack acknowledges everything up to and including its message.
/// Method: receive 10, cumulatively ack the 7th, reconnect: only the last 3 come back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cumulative_ack_acknowledges_all_previous() {
    let broker = TestBroker::start();
    let client = broker.client().await;
    let topic = unique_topic("cumulative");
    let mut consumer = exclusive(&client, &topic, "sub", InitialPosition::Earliest).await;
    let mut producer = producer(&client, &topic, "cumulative-producer").await;
    send_all(&mut producer, numbered("c", 10)).await;

    let mut seventh = None;
    for i in 0..10 {
        let msg = receive(&mut consumer).await;
        assert_eq!(msg.payload.data, format!("c-{i}").into_bytes());
        if i == 6 {
            seventh = Some(msg);
        }
    }
    let seventh = seventh.expect("received the 7th message");
    within("cumulative ack", consumer.cumulative_ack(&seventh))
        .await
        .expect("cumulative ack");
    within("close consumer", consumer.close())
        .await
        .expect("close consumer");
    drop(consumer);

    let mut again = exclusive(&client, &topic, "sub", InitialPosition::Earliest).await;
    assert_eq!(
        receive_payloads(&mut again, 3).await,
        vec!["c-7", "c-8", "c-9"]
    );
    assert_no_message(&mut again, "cumulatively acked messages must not return").await;
}

/// Goal: GET_LAST_MESSAGE_ID reports "no entry" on an empty topic and then the last stored entry.
/// Method: ask on an empty topic, send 3, ask again and compare with the last receipt.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_last_message_id_tracks_the_last_entry() {
    let broker = TestBroker::start();
    let client = broker.client().await;
    let topic = unique_topic("last-id");
    let mut consumer = exclusive(&client, &topic, "sub", InitialPosition::Earliest).await;

    let empty = within("last id on empty topic", consumer.get_last_message_id())
        .await
        .expect("get last message id");
    assert_eq!(empty.len(), 1);
    assert_eq!(
        empty[0].entry_id as i64, -1,
        "empty topic reports entry -1: {empty:?}"
    );

    let mut producer = producer(&client, &topic, "last-id-producer").await;
    let receipts = send_all(&mut producer, numbered("l", 3)).await;
    let last = within("last id", consumer.get_last_message_id())
        .await
        .expect("get last message id");
    assert_eq!(last.len(), 1);
    assert_eq!(position(&last[0]), position(&receipt_id(&receipts[2])));
}

/// Goal: messages a consumer received but did not ack go to the next consumer of the
/// subscription, and individually acked ones do not. Method: receive 10, ack 0-3 and 6, close,
/// resubscribe on the same broker (no restart).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unacked_messages_return_after_reconnect() {
    let broker = TestBroker::start();
    let client = broker.client().await;
    let topic = unique_topic("reconnect");
    let mut consumer = exclusive(&client, &topic, "sub", InitialPosition::Earliest).await;
    let mut producer = producer(&client, &topic, "reconnect-producer").await;
    send_all(&mut producer, numbered("u", 10)).await;

    for i in 0..10 {
        let msg = receive(&mut consumer).await;
        assert_eq!(msg.payload.data, format!("u-{i}").into_bytes());
        if i < 4 || i == 6 {
            within("ack", consumer.ack(&msg)).await.expect("ack");
        }
    }
    within("close consumer", consumer.close())
        .await
        .expect("close consumer");
    drop(consumer);

    let mut again = exclusive(&client, &topic, "sub", InitialPosition::Earliest).await;
    assert_eq!(
        receive_payloads(&mut again, 5).await,
        vec!["u-4", "u-5", "u-7", "u-8", "u-9"]
    );
    assert_no_message(&mut again, "acked messages must not return").await;
}
