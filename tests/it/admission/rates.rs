//! Dispatch and publish rate limits: throttled consumers and producers get everything, only
//! slower. Only lower bounds on time are asserted (a loaded machine is slower, never faster).

use std::time::{Duration, Instant};

use pulsar::consumer::InitialPosition;

use super::namespace;
use crate::admin_http::{expect, get_json, topic_path};
use crate::common::*;

const TEN_PER_SECOND: &str = r#"{"dispatchThrottlingRateInMsg":10,"dispatchThrottlingRateInByte":-1,"ratePeriodInSecond":1}"#;

/// Goal: a subscription dispatch rate of 10 msg/s delivers all 30 messages, in order, over
/// about two seconds (the first 10 at once). Method: topic policy; 30 unbatched messages.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscription_dispatch_rate_slows_but_delivers_everything() {
    let broker = TestBroker::start();
    let admin = &broker.admin_url;
    let topic = unique_topic("subrate");
    let path = topic_path(&topic);
    expect("PUT", admin, &path, None, 204).await;
    expect(
        "POST",
        admin,
        &format!("{path}/subscriptionDispatchRate"),
        Some(TEN_PER_SECOND),
        204,
    )
    .await;
    assert_eq!(
        get_json(admin, &format!("{path}/subscriptionDispatchRate")).await
            ["dispatchThrottlingRateInMsg"],
        10
    );
    let client = broker.client().await;
    let mut p = producer(&client, &topic, "p").await;
    send_all(&mut p, numbered("m", 30)).await;
    let started = Instant::now();
    let mut consumer = exclusive(&client, &topic, "sub", InitialPosition::Earliest).await;
    let got = receive_payloads(&mut consumer, 30).await;
    let elapsed = started.elapsed();
    assert_eq!(
        got,
        numbered("m", 30)
            .into_iter()
            .map(|b| String::from_utf8(b).unwrap())
            .collect::<Vec<_>>()
    );
    assert!(
        elapsed >= Duration::from_millis(1700),
        "throttled to 10/s: took {elapsed:?}"
    );
    // Removing the limit lets the rest through at once.
    expect(
        "DELETE",
        admin,
        &format!("{path}/subscriptionDispatchRate"),
        None,
        204,
    )
    .await;
    send_all(&mut p, numbered("n", 30)).await;
    let started = Instant::now();
    receive_payloads(&mut consumer, 30).await;
    assert!(
        started.elapsed() < Duration::from_millis(1700),
        "unthrottled took {:?}",
        started.elapsed()
    );
}

/// Goal: a namespace topic-level dispatch rate is shared by the topic's subscriptions.
/// Method: 10 msg/s for the topic; two subscriptions read 15 messages each (30 deliveries).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn topic_dispatch_rate_is_shared_by_subscriptions() {
    let broker = TestBroker::start();
    let admin = &broker.admin_url;
    let ns = namespace(admin, "rates").await;
    expect(
        "POST",
        admin,
        &format!("/admin/v2/namespaces/{ns}/dispatchRate"),
        Some(TEN_PER_SECOND),
        204,
    )
    .await;
    let topic = format!("persistent://{ns}/t");
    let client = broker.client().await;
    let mut p = producer(&client, &topic, "p").await;
    send_all(&mut p, numbered("m", 15)).await;
    let started = Instant::now();
    let mut a = exclusive(&client, &topic, "a", InitialPosition::Earliest).await;
    let mut b = exclusive(&client, &topic, "b", InitialPosition::Earliest).await;
    let (got_a, got_b) = tokio::join!(receive_payloads(&mut a, 15), receive_payloads(&mut b, 15));
    assert_eq!((got_a.len(), got_b.len()), (15, 15));
    let elapsed = started.elapsed();
    assert!(
        elapsed >= Duration::from_millis(1700),
        "30 deliveries at 10/s took {elapsed:?}"
    );
}

/// Goal: a topic publish rate of 10 msg/s stores all 30 messages but takes about two
/// seconds (the connection stops reading while the bucket is empty). Method: topic policy.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publish_rate_slows_producers() {
    let broker = TestBroker::start();
    let admin = &broker.admin_url;
    let topic = unique_topic("pubrate");
    let path = topic_path(&topic);
    expect("PUT", admin, &path, None, 204).await;
    let rate = r#"{"publishThrottlingRateInMsg":10,"publishThrottlingRateInByte":-1}"#;
    expect(
        "POST",
        admin,
        &format!("{path}/publishRate"),
        Some(rate),
        204,
    )
    .await;
    let client = broker.client().await;
    let mut p = producer(&client, &topic, "p").await;
    let started = Instant::now();
    let receipts = send_all(&mut p, numbered("m", 30)).await;
    let elapsed = started.elapsed();
    assert_eq!(receipts.len(), 30);
    assert!(
        elapsed >= Duration::from_millis(1700),
        "publishing at 10/s took {elapsed:?}"
    );
    let mut consumer = exclusive(&client, &topic, "sub", InitialPosition::Earliest).await;
    assert_eq!(receive_payloads(&mut consumer, 30).await.len(), 30);
}

/// Goal: a byte rate throttles too, and the broker-wide subscription default applies.
/// Method: `dispatchThrottlingRatePerSubscriptionInByte` = 100 bytes/s; 6 messages of ~60
/// bytes (with metadata) take over two seconds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broker_byte_rate_default() {
    let broker = TestBroker::start_with(|c| c.policy.dispatch_rate_per_subscription_byte = 100);
    let topic = unique_topic("byterate");
    let client = broker.client().await;
    let mut p = producer(&client, &topic, "p").await;
    let payloads: Vec<Vec<u8>> = (0..6).map(|i| format!("{i:0>50}").into_bytes()).collect();
    send_all(&mut p, payloads).await;
    let started = Instant::now();
    let mut consumer = exclusive(&client, &topic, "sub", InitialPosition::Earliest).await;
    assert_eq!(receive_payloads(&mut consumer, 6).await.len(), 6);
    let elapsed = started.elapsed();
    assert!(
        elapsed >= Duration::from_millis(2000),
        "~360 bytes at 100 B/s took {elapsed:?}"
    );
}
