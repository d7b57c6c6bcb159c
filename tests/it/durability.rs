//! Clean restarts: the backlog and the acknowledgements survive a broker restart.

use pulsar::consumer::InitialPosition;

use crate::common::*;

/// Goal: after a clean restart only the unacked messages come back, in order.
/// Method: send 10, ack the even ones (leaving holes), close, restart, resubscribe.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_keeps_backlog_and_acks() {
    let mut broker = TestBroker::start();
    let topic = unique_topic("restart");
    {
        let client = broker.client().await;
        let mut consumer = exclusive(&client, &topic, "sub", InitialPosition::Earliest).await;
        let mut producer = producer(&client, &topic, "restart-producer").await;
        send_all(&mut producer, numbered("r", 10)).await;
        for i in 0..10 {
            let msg = receive(&mut consumer).await;
            assert_eq!(msg.payload.data, format!("r-{i}").into_bytes());
            if i % 2 == 0 {
                within("ack", consumer.ack(&msg)).await.expect("ack");
            }
        }
        // CLOSE_CONSUMER travels after the ACKs on the same connection, so the broker has
        // seen every ack before the close succeeds.
        within("close consumer", consumer.close())
            .await
            .expect("close consumer");
        within("close producer", producer.close())
            .await
            .expect("close producer");
    }

    broker.restart();

    let client = broker.client().await;
    let mut consumer = exclusive(&client, &topic, "sub", InitialPosition::Earliest).await;
    let got = receive_payloads(&mut consumer, 5).await;
    assert_eq!(got, vec!["r-1", "r-3", "r-5", "r-7", "r-9"]);
    assert_no_message(&mut consumer, "acked messages must not return").await;

    // The topic still accepts writes after the restart and they follow the old entries.
    let mut producer = producer(&client, &topic, "restart-producer-2").await;
    send_all(&mut producer, vec![b"after".to_vec()]).await;
    assert_eq!(receive_payloads(&mut consumer, 1).await, vec!["after"]);
}
