//! Volume and order: many messages arrive once each, in publish order.

use std::time::Duration;

use pulsar::consumer::InitialPosition;

use crate::common::*;

const COUNT: usize = 10_000;

/// Goal: 10k unbatched messages arrive exactly once and in order, with increasing ids.
/// Method: pipeline all sends, then consume and ack every message, then expect silence.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_messages_arrive_in_order() {
    let broker = TestBroker::start();
    let client = broker.client().await;
    let topic = unique_topic("order");
    let mut consumer = exclusive(&client, &topic, "sub", InitialPosition::Earliest).await;
    let mut producer = producer(&client, &topic, "order-producer").await;

    let receipts = within_for(
        Duration::from_secs(180),
        "send 10k messages",
        send_all(&mut producer, numbered("m", COUNT)),
    )
    .await;
    assert_eq!(receipts.len(), COUNT);
    let ids: Vec<(u64, u64)> = receipts.iter().map(|r| position(&receipt_id(r))).collect();
    if let Some(i) = (1..ids.len()).find(|&i| ids[i - 1] >= ids[i]) {
        panic!(
            "receipt ids must strictly increase: send {} got {:?} after {:?} (seq {} then {})",
            i,
            ids[i],
            ids[i - 1],
            receipts[i - 1].sequence_id,
            receipts[i].sequence_id
        );
    }

    let receive_all = async {
        let mut last = None;
        for i in 0..COUNT {
            let msg = receive(&mut consumer).await;
            let got = String::from_utf8_lossy(&msg.payload.data).into_owned();
            assert_eq!(got, format!("m-{i}"), "message {i} out of order");
            let pos = position(msg.message_id());
            assert!(last < Some(pos), "ids increase at message {i}");
            last = Some(pos);
            consumer.ack(&msg).await.expect("ack");
        }
    };
    within_for(
        Duration::from_secs(180),
        "receive 10k messages",
        receive_all,
    )
    .await;
    assert_no_message(&mut consumer, "after 10k messages").await;
}
