//! Backlog quotas: `producer_exception` and `producer_request_hold` refuse producers with
//! Pulsar's error codes (held sends resume or time out), `consumer_backlog_eviction` moves the
//! slowest subscriptions forward.

use std::time::Duration;

use pulsar::consumer::InitialPosition;
use pulsar::{OperationRetryOptions, Pulsar, TokioExecutor};

use super::*;

/// A quota body of `limit` bytes with `policy`.
fn size_quota(limit: u64, policy: &str) -> String {
    format!(r#"{{"limitSize":{limit},"limitTime":-1,"policy":"{policy}"}}"#)
}

/// Payloads of 600 bytes: two of them exceed a 1 KiB quota.
fn big(count: usize) -> Vec<Vec<u8>> {
    (0..count)
        .map(|i| vec![b'a' + (i % 26) as u8; 600])
        .collect()
}

/// A client whose refused producer creations are retried every 300 ms without limit, and
/// whose sends give up after `timeout`.
async fn patient_client(url: &str, timeout: Duration) -> Client {
    let options = OperationRetryOptions {
        operation_timeout: timeout,
        retry_delay: Duration::from_millis(300),
        max_retries: None,
    };
    let builder = Pulsar::builder(url, TokioExecutor).with_operation_retry_options(options);
    within("connect", builder.build()).await.expect("connect")
}

async fn blocked(broker: &TestBroker, topic: &str) {
    holds_until(broker, topic, "producers blocked", |r| {
        r["producersBlocked"] == true
    })
    .await;
}

/// Goal: over a `producer_exception` quota, new producers get
/// `ProducerBlockedQuotaExceededException` until the backlog is acknowledged. Method: topic
/// quota 1 KiB; an unacknowledging subscription; two 600-byte messages; a new producer is
/// refused with that code; after the acks a producer is accepted again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn producer_exception_refuses_producers_until_the_backlog_drops() {
    let broker = TestBroker::start_with(fast);
    let client = broker.client().await;
    let topic = unique_topic("quota-exc");
    let mut consumer = exclusive(&client, &topic, "s", InitialPosition::Earliest).await;
    set_topic(
        &broker,
        &topic,
        "backlogQuota?backlogQuotaType=destination_storage",
        &size_quota(1024, "producer_exception"),
    )
    .await;
    let quotas = get_json(
        &broker.admin_url,
        &format!("{}/backlogQuotaMap", crate::admin_http::topic_path(&topic)),
    )
    .await;
    assert_eq!(
        quotas["destination_storage"]["policy"],
        "producer_exception"
    );
    let mut producer = producer(&client, &topic, "p").await;
    send_all(&mut producer, big(2)).await;
    blocked(&broker, &topic).await;
    let report = holds(&broker, &topic).await;
    let quota = &report["backlogQuotas"]["destination_storage"];
    assert_eq!(quota["exceeded"], true, "{report:#}");
    assert_eq!(quota["source"], "topic");

    let refused = broker.client_without_retries().await;
    let attempt = refused
        .producer()
        .with_topic(topic.as_str())
        .with_name("late")
        .build();
    let Err(error) = within("refused producer", attempt).await else {
        panic!("the quota refuses producers");
    };
    let shown = format!("{error:?}");
    assert!(
        shown.contains("ProducerBlockedQuotaExceededException"),
        "{shown}"
    );

    receive_acking(&mut consumer, 2).await;
    holds_until(&broker, &topic, "producers accepted", |r| {
        r["producersBlocked"] == false
    })
    .await;
    let mut again = crate::common::producer(&client, &topic, "again").await;
    send_all(&mut again, numbered("ok", 1)).await;
    assert_eq!(receive_acking(&mut consumer, 1).await, vec!["ok-0"]);
}

/// Goal: under `producer_request_hold` a producer's sends are held unpersisted while the
/// backlog is over quota and go through once it drops; a held send times out if it never
/// does. Method: namespace quota 1 KiB; fill it; a send is held (no receipt, not stored)
/// until the subscription acknowledges, then it is stored and delivered. A second client
/// with a 2 s timeout sees its held send fail and nothing stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn producer_request_hold_holds_sends_until_the_backlog_drops() {
    let broker = TestBroker::start_with(fast);
    set_ns(
        &broker,
        "backlogQuota",
        &size_quota(1024, "producer_request_hold"),
    )
    .await;
    let map = get_json(&broker.admin_url, &ns_path("backlogQuotaMap")).await;
    assert_eq!(map["destination_storage"]["limitSize"], 1024);
    let client = patient_client(&broker.service_url, Duration::from_secs(15)).await;
    let topic = unique_topic("quota-hold");
    let mut consumer = exclusive(&client, &topic, "s", InitialPosition::Earliest).await;
    let mut producer = producer(&client, &topic, "held").await;
    send_all(&mut producer, big(2)).await;
    blocked(&broker, &topic).await;

    // The client holds the send while it re-creates the refused producer: a task waits for it.
    let mut held = tokio::spawn(async move {
        let receipt = producer.send_non_blocking(b"held".to_vec()).await?;
        receipt.await.map(drop)?;
        Ok::<_, pulsar::Error>(producer)
    });
    assert!(
        tokio::time::timeout(Duration::from_millis(1500), &mut held)
            .await
            .is_err(),
        "the send is held while the backlog is over quota"
    );
    assert_eq!(holds(&broker, &topic).await["lastEntryId"], 1, "not stored");

    receive_acking(&mut consumer, 2).await;
    let mut producer = within_for(Duration::from_secs(15), "held send", held)
        .await
        .expect("the task runs")
        .expect("the held send completes once the backlog dropped");
    assert_eq!(receive_acking(&mut consumer, 1).await, vec!["held"]);

    // Over quota again, and this time nobody acknowledges: a held send times out.
    let impatient = patient_client(&broker.service_url, Duration::from_secs(2)).await;
    let mut short = crate::common::producer(&impatient, &topic, "short").await;
    send_all(&mut producer, big(2)).await;
    blocked(&broker, &topic).await;
    let outcome = within("held send", async {
        short.send_non_blocking(b"never".to_vec()).await?.await
    })
    .await;
    assert!(outcome.is_err(), "the held send times out: {outcome:?}");
    let report = holds(&broker, &topic).await;
    assert_eq!(
        report["lastEntryId"], 4,
        "the timed-out send was never stored"
    );
    assert_eq!(report["producersBlocked"], true);
}

/// Goal: `consumer_backlog_eviction` moves the slowest subscription forward instead of
/// blocking producers. Method: namespace quota 1 KiB with eviction; an unacknowledging
/// subscription; ten 600-byte messages all succeed; its backlog is cut to what fits in 90%
/// of the quota (one message), and the evicted part of the log is reclaimed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consumer_backlog_eviction_moves_the_slowest_subscription() {
    let broker = TestBroker::start_with(fast);
    set_ns(
        &broker,
        "backlogQuota",
        &size_quota(1024, "consumer_backlog_eviction"),
    )
    .await;
    let client = broker.client().await;
    let topic = unique_topic("quota-evict");
    let slow = exclusive(&client, &topic, "slow", InitialPosition::Earliest).await;
    let mut producer = producer(&client, &topic, "p").await;
    for payload in big(10) {
        send_all(&mut producer, [payload]).await;
    }
    holds_until(&broker, &topic, "eviction", |r| {
        r["storedEntries"].as_u64().is_some_and(|n| n <= 1)
    })
    .await;
    assert!(backlog(&broker, &topic, "slow").await <= 1);
    assert_eq!(holds(&broker, &topic).await["producersBlocked"], false);
    drop(slow);
}

/// Goal: a `message_age` quota evicts messages older than its limit. Method: namespace age
/// quota of 1 s with eviction; 3 messages; the backlog reaches 0.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn message_age_quota_evicts_old_messages() {
    let broker = TestBroker::start_with(fast);
    let path = format!("{}?backlogQuotaType=message_age", ns_path("backlogQuota"));
    let body = r#"{"limitTime":1,"policy":"consumer_backlog_eviction"}"#;
    crate::admin_http::expect("POST", &broker.admin_url, &path, Some(body), 204).await;
    let bad = r#"{"limitSize":5,"policy":"consumer_backlog_eviction"}"#;
    crate::admin_http::expect("POST", &broker.admin_url, &path, Some(bad), 400).await;
    let client = broker.client().await;
    let topic = unique_topic("quota-age");
    let _slow = exclusive(&client, &topic, "slow", InitialPosition::Earliest).await;
    let mut producer = producer(&client, &topic, "p").await;
    send_all(&mut producer, numbered("old", 3)).await;
    holds_until(&broker, &topic, "age eviction", |r| r["storedEntries"] == 0).await;
    assert_eq!(backlog(&broker, &topic, "slow").await, 0);
}
