//! The storage policy commands of `geminga admin namespaces|topics`, run as the real binary.

use std::process::{Command, Output, Stdio};

use serde_json::Value;

use super::fast;
use crate::common::{unique_topic, TestBroker};

fn geminga(broker: &TestBroker, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_geminga"))
        .args(["admin", "--admin-url", broker.admin_url.as_str()])
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run geminga")
}

/// Runs an admin command, asserting success; answers stdout.
fn admin(broker: &TestBroker, args: &[&str]) -> String {
    let output = geminga(broker, args);
    assert!(
        output.status.success(),
        "geminga admin {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("utf-8")
}

fn admin_json(broker: &TestBroker, args: &[&str]) -> Value {
    let out = admin(broker, args);
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("not JSON ({e}): {out}"))
}

/// Goal: pulsar-admin's namespace policy commands set, show and remove retention, message
/// TTL, backlog quotas and the compaction threshold. Method: each command against a broker;
/// the REST view agrees; invalid flags fail with a message.
#[test]
fn namespace_policy_commands() {
    let broker = TestBroker::start();
    let ns = "public/default";
    admin(
        &broker,
        &["namespaces", "set-retention", ns, "-t", "2h", "-s", "1G"],
    );
    let retention = admin_json(&broker, &["namespaces", "get-retention", ns]);
    assert_eq!(retention["retentionTimeInMinutes"], 120);
    assert_eq!(retention["retentionSizeInMB"], 1024);
    admin(
        &broker,
        &["namespaces", "set-retention", ns, "-t", "-1", "-s", "-1"],
    );
    let retention = admin_json(&broker, &["namespaces", "get-retention", ns]);
    assert_eq!(retention["retentionTimeInMinutes"], -1);
    admin(&broker, &["namespaces", "remove-retention", ns]);
    assert_eq!(
        admin(&broker, &["namespaces", "get-retention", ns]).trim(),
        ""
    );

    admin(
        &broker,
        &["namespaces", "set-message-ttl", ns, "--messageTTL", "10m"],
    );
    assert_eq!(
        admin(&broker, &["namespaces", "get-message-ttl", ns]).trim(),
        "600"
    );
    admin(&broker, &["namespaces", "remove-message-ttl", ns]);

    admin(
        &broker,
        &[
            "namespaces",
            "set-backlog-quota",
            ns,
            "-l",
            "10M",
            "-p",
            "producer_exception",
        ],
    );
    admin(
        &broker,
        &[
            "namespaces",
            "set-backlog-quota",
            ns,
            "--limitTime",
            "1h",
            "-p",
            "consumer_backlog_eviction",
            "-t",
            "message_age",
        ],
    );
    let quotas = admin_json(&broker, &["namespaces", "get-backlog-quotas", ns]);
    assert_eq!(quotas["destination_storage"]["limitSize"], 10 << 20);
    assert_eq!(
        quotas["destination_storage"]["policy"],
        "producer_exception"
    );
    assert_eq!(quotas["message_age"]["limitTime"], 3600);
    admin(
        &broker,
        &[
            "namespaces",
            "remove-backlog-quota",
            ns,
            "-t",
            "message_age",
        ],
    );
    let quotas = admin_json(&broker, &["namespaces", "get-backlog-quotas", ns]);
    assert!(quotas.get("message_age").is_none(), "{quotas}");
    let policies = admin_json(&broker, &["namespaces", "policies", ns]);
    assert_eq!(
        policies["backlog_quota_map"]["destination_storage"]["limitSize"],
        10 << 20
    );

    admin(
        &broker,
        &["namespaces", "set-compaction-threshold", ns, "-t", "1M"],
    );
    let threshold = admin(&broker, &["namespaces", "get-compaction-threshold", ns]);
    assert_eq!(threshold.trim(), (1 << 20).to_string());
    admin(&broker, &["namespaces", "remove-compaction-threshold", ns]);

    let bad = geminga(
        &broker,
        &[
            "namespaces",
            "set-backlog-quota",
            ns,
            "-l",
            "1M",
            "-p",
            "drop_it",
        ],
    );
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("invalid policy"));
}

/// Goal: the topic commands set and remove backlog quotas and the compaction threshold,
/// trigger and report compaction, and print the storage holds. Method: produce keyed
/// messages with `geminga client`, then run each command.
#[test]
fn topic_storage_commands() {
    let broker = TestBroker::start_with(fast);
    let topic = unique_topic("cli-storage");
    admin(&broker, &["topics", "create", &topic]);
    admin(
        &broker,
        &[
            "topics",
            "create-subscription",
            &topic,
            "-s",
            "s",
            "-m",
            "earliest",
        ],
    );
    let produced = Command::new(env!("CARGO_BIN_EXE_geminga"))
        .args(["client", "--url", broker.service_url.as_str()])
        .args(["produce", &topic, "-m", "a,b,c", "--disable-batching"])
        .output()
        .expect("run geminga client");
    assert!(produced.status.success(), "{produced:?}");

    admin(
        &broker,
        &[
            "topics",
            "set-backlog-quota",
            &topic,
            "-l",
            "1K",
            "-p",
            "producer_request_hold",
        ],
    );
    let quotas = admin_json(&broker, &["topics", "get-backlog-quotas", &topic]);
    assert_eq!(quotas["destination_storage"]["limitSize"], 1024);
    admin(&broker, &["topics", "remove-backlog-quota", &topic]);
    let quotas = admin_json(&broker, &["topics", "get-backlog-quotas", &topic]);
    assert_eq!(quotas, serde_json::json!({}));

    admin(
        &broker,
        &["topics", "set-compaction-threshold", &topic, "-t", "5M"],
    );
    let threshold = admin(&broker, &["topics", "get-compaction-threshold", &topic]);
    assert_eq!(threshold.trim(), (5 << 20).to_string());
    admin(&broker, &["topics", "remove-compaction-threshold", &topic]);

    let status = admin(&broker, &["topics", "compaction-status", &topic]);
    assert_eq!(status.trim(), "Compaction has not been run");
    let requested = admin(&broker, &["topics", "compact", &topic]);
    assert!(
        requested.contains("Topic compaction requested for"),
        "{requested}"
    );
    let status = admin(&broker, &["topics", "compaction-status", &topic, "-w"]);
    assert_eq!(status.trim(), "Compaction was a success");

    let report = admin_json(&broker, &["topics", "storage-holds", &topic]);
    assert_eq!(report["storedEntries"], 3, "{report:#}");
    let names: Vec<&str> = report["holds"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|h| h["name"].as_str())
        .collect();
    assert!(
        names.contains(&"s") && names.contains(&"__compaction"),
        "{names:?}"
    );
}

/// Goal: pulsar-admin's `set-/get-/remove-delayed-delivery` work on namespaces and topics,
/// and the topic's policy is the one in effect. Method: set each level with the binary, read
/// it back with the binary (`--applied` for the topic), remove both; a bad time fails.
#[test]
fn delayed_delivery_commands() {
    let broker = TestBroker::start();
    let ns = "public/default";
    let topic = unique_topic("cli-delayed");
    admin(&broker, &["topics", "create", &topic]);
    admin(
        &broker,
        &["namespaces", "set-delayed-delivery", ns, "-d", "-t", "2s"],
    );
    let policy = admin_json(&broker, &["namespaces", "get-delayed-delivery", ns]);
    assert_eq!(policy["active"], false);
    assert_eq!(policy["tickTime"], 2000);

    admin(
        &broker,
        &[
            "topics",
            "set-delayed-delivery",
            &topic,
            "--enable",
            "--time",
            "1s",
            "--maxDelay",
            "1m",
        ],
    );
    let applied = admin_json(
        &broker,
        &["topics", "get-delayed-delivery", &topic, "--applied"],
    );
    assert_eq!(applied["active"], true);
    assert_eq!(applied["tickTime"], 1000);
    assert_eq!(applied["maxDeliveryDelayInMillis"], 60_000);

    admin(&broker, &["topics", "remove-delayed-delivery", &topic]);
    let applied = admin_json(
        &broker,
        &["topics", "get-delayed-delivery", &topic, "--applied"],
    );
    assert_eq!(
        applied["active"], false,
        "the namespace's policy applies again"
    );
    admin(&broker, &["namespaces", "remove-delayed-delivery", ns]);
    assert_eq!(
        admin(&broker, &["namespaces", "get-delayed-delivery", ns]).trim(),
        ""
    );

    let bad = geminga(
        &broker,
        &["namespaces", "set-delayed-delivery", ns, "-e", "-t", "soon"],
    );
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("invalid time"));
}

/// Goal: `set-/get-/remove-dead-letter-policy` work on namespaces and topics, and a topic
/// without its own policy shows the namespace's with `--applied`. Method: set both levels
/// with the binary, read back, remove both.
#[test]
fn dead_letter_policy_commands() {
    let broker = TestBroker::start();
    let ns = "public/default";
    let topic = unique_topic("cli-dlq");
    admin(&broker, &["topics", "create", &topic]);
    let dlq = "persistent://public/default/cli-dlq-letters";
    admin(
        &broker,
        &[
            "namespaces",
            "set-dead-letter-policy",
            ns,
            "-m",
            "3",
            "-t",
            dlq,
        ],
    );
    let policy = admin_json(&broker, &["namespaces", "get-dead-letter-policy", ns]);
    assert_eq!(policy["maxRedeliverCount"], 3);
    assert_eq!(policy["deadLetterTopic"], dlq);

    admin(
        &broker,
        &[
            "topics",
            "set-dead-letter-policy",
            &topic,
            "--maxRedeliverCount",
            "5",
        ],
    );
    let own = admin_json(&broker, &["topics", "get-dead-letter-policy", &topic]);
    assert_eq!(own["maxRedeliverCount"], 5);
    assert!(own.get("deadLetterTopic").is_none(), "{own}");
    admin(&broker, &["topics", "remove-dead-letter-policy", &topic]);
    let applied = admin_json(
        &broker,
        &["topics", "get-dead-letter-policy", &topic, "--applied"],
    );
    assert_eq!(
        applied["maxRedeliverCount"], 3,
        "the namespace's policy applies"
    );

    admin(&broker, &["namespaces", "remove-dead-letter-policy", ns]);
    assert_eq!(
        admin(&broker, &["namespaces", "get-dead-letter-policy", ns]).trim(),
        ""
    );
}
