//! Message TTL: unacknowledged messages older than the TTL expire from every subscription;
//! the namespace sets it, a topic overrides it.

use std::time::Duration;

use pulsar::consumer::InitialPosition;

use super::*;
use crate::admin_http::{expect, topic_path};

/// Goal: a namespace TTL expires unacknowledged messages of every subscription, and the
/// storage they held is reclaimed. Method: TTL 2 s on public/default (check every second);
/// two subscriptions, 5 messages; both backlogs reach 0 and the log is emptied.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn namespace_ttl_expires_every_subscription() {
    let broker = TestBroker::start_with(fast);
    set_ns(&broker, "messageTTL", "2").await;
    assert_eq!(get_json(&broker.admin_url, &ns_path("messageTTL")).await, 2);
    let client = broker.client().await;
    let topic = unique_topic("ttl-ns");
    let _a = exclusive(&client, &topic, "a", InitialPosition::Earliest).await;
    let _b = exclusive(&client, &topic, "b", InitialPosition::Earliest).await;
    let mut producer = producer(&client, &topic, "p").await;
    send_all(&mut producer, numbered("t", 5)).await;
    assert_eq!(backlog(&broker, &topic, "a").await, 5);

    let report = holds(&broker, &topic).await;
    let ttl = &report["holds"][0]["messageTTL"];
    assert_eq!(ttl["seconds"], 2, "{report:#}");
    assert_eq!(ttl["source"], "namespace");
    assert!(ttl["oldestExpiresAt"].as_u64().is_some());

    holds_until(&broker, &topic, "expiry and reclamation", |r| {
        r["storedEntries"] == 0
    })
    .await;
    assert_eq!(backlog(&broker, &topic, "a").await, 0);
    assert_eq!(backlog(&broker, &topic, "b").await, 0);
}

/// Goal: a topic's own TTL overrides the namespace's, including 0 (never expire). Method:
/// namespace TTL 1 s; topic TTL 0 on one topic; after 3 s its backlog is intact while a
/// topic without its own TTL has expired; removing the topic TTL lets it expire too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn topic_ttl_overrides_the_namespace() {
    let broker = TestBroker::start_with(fast);
    set_ns(&broker, "messageTTL", "1").await;
    let client = broker.client().await;
    let kept = unique_topic("ttl-kept");
    let expiring = unique_topic("ttl-expiring");
    let mut consumers = Vec::new();
    for topic in [&kept, &expiring] {
        consumers.push(exclusive(&client, topic, "s", InitialPosition::Earliest).await);
    }
    let path = format!("{}/messageTTL?messageTTL=0", topic_path(&kept));
    expect("POST", &broker.admin_url, &path, None, 204).await;
    for topic in [&kept, &expiring] {
        let mut producer = producer(&client, topic, "p").await;
        send_all(&mut producer, numbered("x", 3)).await;
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(backlog(&broker, &kept, "s").await, 3, "topic TTL 0 wins");
    assert_eq!(backlog(&broker, &expiring, "s").await, 0);

    let path = format!("{}/messageTTL", topic_path(&kept));
    expect("DELETE", &broker.admin_url, &path, None, 204).await;
    let applied = get_json(&broker.admin_url, &format!("{path}?applied=true")).await;
    assert_eq!(applied, 1, "the namespace's value applies again");
    holds_until(&broker, &kept, "the namespace TTL", |r| {
        r["storedEntries"] == 0
    })
    .await;
}
