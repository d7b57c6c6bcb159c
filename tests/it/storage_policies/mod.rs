//! Storage policies end to end: retention and reclamation, message TTL, backlog quotas,
//! compaction, the storage-holds report and their CLI commands.

mod cli;
mod compaction;
mod compressed;
mod quotas;
mod retention;
mod ttl;

use std::time::Duration;

use geminga::config::BrokerConfig;
use pulsar::consumer::InitialPosition;
use pulsar::{ConsumerOptions, SubType};
use serde_json::Value;

use crate::admin_http::{call, expect, get_json, topic_path};
use crate::common::*;

/// Short periods so policies act within a test: no grace period, 1 s checks.
pub fn fast(config: &mut BrokerConfig) {
    config.storage_policies.retention_grace_seconds = 0;
    config.storage_policies.retention_check_seconds = 1;
    config.storage_policies.backlog_quota_check_seconds = 1;
    config.storage_policies.compaction_monitor_seconds = 1;
    config.storage_policies.message_expiry_check_seconds = Some(1);
}

/// `/admin/v2/namespaces/public/default/{policy}`.
pub fn ns_path(policy: &str) -> String {
    format!("/admin/v2/namespaces/public/default/{policy}")
}

/// The storage-holds report of a topic.
pub async fn holds(broker: &TestBroker, topic: &str) -> Value {
    get_json(
        &broker.admin_url,
        &format!("{}/storage-holds", topic_path(topic)),
    )
    .await
}

/// A subscription's `msgBacklog` from the topic stats.
pub async fn backlog(broker: &TestBroker, topic: &str, sub: &str) -> u64 {
    let stats = get_json(&broker.admin_url, &format!("{}/stats", topic_path(topic))).await;
    stats["subscriptions"][sub]["msgBacklog"]
        .as_u64()
        .unwrap_or_else(|| panic!("no backlog of {sub}: {stats}"))
}

/// Polls the storage-holds report until `check` holds (at most 15 s); answers the report.
pub async fn holds_until(
    broker: &TestBroker,
    topic: &str,
    what: &str,
    check: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        let report = holds(broker, topic).await;
        if check(&report) {
            return report;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}; last report {report:#}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Sets a namespace policy of public/default with POST, asserting 204.
pub async fn set_ns(broker: &TestBroker, policy: &str, body: &str) {
    expect("POST", &broker.admin_url, &ns_path(policy), Some(body), 204).await;
}

/// Sets a topic policy with POST (`suffix` may carry a query), asserting 204.
pub async fn set_topic(broker: &TestBroker, topic: &str, suffix: &str, body: &str) {
    let path = format!("{}/{suffix}", topic_path(topic));
    expect("POST", &broker.admin_url, &path, Some(body), 204).await;
}

/// A reader (non-durable, Exclusive) from the earliest message.
pub async fn reader_from_earliest(client: &Client, topic: &str, compacted: bool) -> ByteConsumer {
    let options = ConsumerOptions::default()
        .with_initial_position(InitialPosition::Earliest)
        .durable(false)
        .read_compacted(compacted);
    let build = client
        .consumer()
        .with_topic(topic)
        .with_subscription(format!("reader-{}", unique_topic("r")))
        .with_subscription_type(SubType::Exclusive)
        .with_options(options)
        .build::<Vec<u8>>();
    within("create reader", build).await.expect("create reader")
}

/// Receives `count` messages, acknowledging each; answers their payloads.
pub async fn receive_acking(consumer: &mut ByteConsumer, count: usize) -> Vec<String> {
    let mut out = Vec::with_capacity(count);
    for _ in 0..count {
        let msg = receive(consumer).await;
        within("ack", consumer.ack(&msg)).await.expect("ack");
        out.push(String::from_utf8_lossy(&msg.payload.data).into_owned());
    }
    out
}

/// `true` when a GET of `path` answers `status`.
pub async fn status_is(broker: &TestBroker, path: &str, status: u16) -> bool {
    call("GET", &broker.admin_url, path, None).await.status == status
}
