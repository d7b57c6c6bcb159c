//! `geminga admin topics ...` and `geminga client produce|consume`: the real binary against an
//! in-process broker.

use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::common::{unique_topic, TestBroker};

fn geminga(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_geminga"))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run geminga")
}

/// Runs `geminga admin --admin-url URL topics ARGS`, asserting success; answers stdout.
fn topics(broker: &TestBroker, args: &[&str]) -> String {
    let mut full = vec!["admin", "--admin-url", broker.admin_url.as_str(), "topics"];
    full.extend_from_slice(args);
    let output = geminga(&full);
    assert!(
        output.status.success(),
        "geminga {full:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("utf-8 output")
}

fn topics_json(broker: &TestBroker, args: &[&str]) -> Value {
    let out = topics(broker, args);
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("not JSON ({e}): {out}"))
}

fn client(broker: &TestBroker, args: &[&str]) -> String {
    let mut full = vec!["client", "--url", broker.service_url.as_str()];
    full.extend_from_slice(args);
    let output = geminga(&full);
    assert!(
        output.status.success(),
        "geminga {full:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("utf-8 output")
}

fn backlog(broker: &TestBroker, topic: &str, sub: &str) -> u64 {
    topics_json(broker, &["stats", topic])["subscriptions"][sub]["msgBacklog"]
        .as_u64()
        .expect("msgBacklog")
}

/// Goal: the topic commands work end to end and print like pulsar-admin. Method: create,
/// produce with `geminga client`, then list, stats, peek, skip, reset, expire, clear, last id,
/// get by id, unsubscribe, unload, terminate, delete.
#[test]
fn admin_topics_commands_run_against_a_broker() {
    let broker = TestBroker::start();
    let topic = unique_topic("cli");
    topics(&broker, &["create", &topic]);
    topics(
        &broker,
        &["create-subscription", &topic, "-s", "s", "-m", "earliest"],
    );
    let produced = client(
        &broker,
        &["produce", &topic, "-m", "a,b,c", "--disable-batching"],
    );
    assert!(
        produced.contains("3 messages successfully produced"),
        "{produced}"
    );

    let listed = topics(&broker, &["list", "public/default"]);
    assert!(listed
        .lines()
        .any(|l| l == format!("persistent://public/default/{topic}")));
    assert_eq!(topics(&broker, &["subscriptions", &topic]).trim(), "s");
    let stats = topics_json(&broker, &["stats", &topic]);
    assert_eq!(stats["msgInCounter"], 3);
    let internal = topics_json(&broker, &["stats-internal", &topic]);
    assert_eq!(internal["numberOfEntries"], 3);
    let ledger = internal["ledgers"][0]["ledgerId"]
        .as_u64()
        .unwrap()
        .to_string();

    let peeked = topics(&broker, &["peek-messages", &topic, "-s", "s", "-n", "2"]);
    assert!(
        peeked.contains("Payload: a") && peeked.contains("Payload: b"),
        "{peeked}"
    );
    assert!(!peeked.contains("Payload: c"), "{peeked}");
    topics(&broker, &["skip", &topic, "-s", "s", "-n", "1"]);
    assert_eq!(backlog(&broker, &topic, "s"), 2);
    topics(
        &broker,
        &[
            "reset-cursor",
            &topic,
            "-s",
            "s",
            "-m",
            &format!("{ledger}:0"),
        ],
    );
    assert_eq!(backlog(&broker, &topic, "s"), 3);
    topics(&broker, &["reset-cursor", &topic, "-s", "s", "-t", "1h"]);
    assert_eq!(backlog(&broker, &topic, "s"), 3);
    std::thread::sleep(Duration::from_millis(20));
    topics(&broker, &["expire-messages", &topic, "-s", "s", "-t", "0"]);
    assert_eq!(backlog(&broker, &topic, "s"), 0);
    topics(
        &broker,
        &["reset-cursor", &topic, "-s", "s", "-m", "earliest"],
    );
    topics(&broker, &["clear-backlog", &topic, "-s", "s"]);
    assert_eq!(backlog(&broker, &topic, "s"), 0);
    topics(
        &broker,
        &["expire-messages-all-subscriptions", &topic, "-t", "1h"],
    );

    let last = topics_json(&broker, &["last-message-id", &topic]);
    assert_eq!(last["entryId"], 2);
    let by_id = topics(
        &broker,
        &["get-message-by-id", &topic, "-l", &ledger, "-e", "1"],
    );
    assert!(by_id.contains(&format!("Message ID: {ledger}:1")) && by_id.contains("Payload: b"));

    topics(&broker, &["unsubscribe", &topic, "-s", "s"]);
    assert_eq!(topics(&broker, &["subscriptions", &topic]).trim(), "");
    topics(&broker, &["unload", &topic]);
    let terminated = topics(&broker, &["terminate", &topic]);
    assert!(
        terminated.contains("Topic successfully terminated"),
        "{terminated}"
    );
    topics(&broker, &["delete", &topic]);
    let again = geminga(&[
        "admin",
        "--admin-url",
        &broker.admin_url,
        "topics",
        "delete",
        &topic,
    ]);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("404"));
}

/// Goal: the policy commands set, show and remove topic policies. Method: each command once.
#[test]
fn admin_topic_policy_commands() {
    let broker = TestBroker::start();
    let topic = unique_topic("cli-policy");
    topics(&broker, &["create", &topic]);
    topics(
        &broker,
        &["set-max-unacked-messages-per-consumer", &topic, "-m", "5"],
    );
    assert_eq!(
        topics(&broker, &["get-max-unacked-messages-per-consumer", &topic]).trim(),
        "5"
    );
    topics(
        &broker,
        &["remove-max-unacked-messages-per-consumer", &topic],
    );
    assert_eq!(
        topics(&broker, &["get-max-unacked-messages-per-consumer", &topic]).trim(),
        "null"
    );
    let applied = topics(
        &broker,
        &["get-max-unacked-messages-per-consumer", &topic, "--applied"],
    );
    assert_eq!(applied.trim(), "50000");
    topics(&broker, &["set-message-ttl", &topic, "-t", "2m"]);
    assert_eq!(topics(&broker, &["get-message-ttl", &topic]).trim(), "120");
    topics(&broker, &["set-retention", &topic, "-t", "1h", "-s", "1G"]);
    let retention = topics_json(&broker, &["get-retention", &topic]);
    assert_eq!(retention["retentionTimeInMinutes"], 60);
    assert_eq!(retention["retentionSizeInMB"], 1024);
    topics(&broker, &["set-max-producers", &topic, "-p", "3"]);
    assert_eq!(topics(&broker, &["get-max-producers", &topic]).trim(), "3");
    let missing = geminga(&[
        "admin",
        "--admin-url",
        &broker.admin_url,
        "topics",
        "get-message-ttl",
        "nope-never",
    ]);
    assert!(!missing.status.success());
}

/// Goal: `geminga client consume` prints messages like pulsar-client. Method: start a consumer
/// process, wait for its subscription, produce 3 messages with a key and a property.
#[test]
fn client_consume_prints_what_client_produce_sent() {
    let broker = TestBroker::start();
    let topic = unique_topic("cli-client");
    let consumer = Command::new(env!("CARGO_BIN_EXE_geminga"))
        .args(["client", "--url", &broker.service_url, "consume", &topic])
        .args(["-s", "c", "-t", "Shared", "-n", "3"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start consumer");
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        let out = geminga(&[
            "admin",
            "--admin-url",
            &broker.admin_url,
            "topics",
            "subscriptions",
            &topic,
        ]);
        if String::from_utf8_lossy(&out.stdout).trim() == "c" {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let produced = client(
        &broker,
        &[
            "produce", &topic, "-m", "x|y|z", "-s", "|", "-k", "key1", "-p", "p=1",
        ],
    );
    assert!(produced.contains("3 messages successfully produced"));
    let output = consumer.wait_with_output().expect("consumer exits");
    let out = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{out} {}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(out.matches("----- got message -----").count(), 3, "{out}");
    assert!(
        out.contains("key:[key1], properties:[p=1], content:x"),
        "{out}"
    );
    assert!(out.contains("content:z"), "{out}");
    assert!(out.contains("3 messages successfully consumed"), "{out}");
}
