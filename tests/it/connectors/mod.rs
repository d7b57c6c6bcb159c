//! IO connectors: sources and sinks run by the broker, driven through `/admin/v3` and checked
//! with the `pulsar` crate, the file system and a real PostgreSQL server.

mod admin;
mod guarantees;
mod pg_server;
mod postgres;
mod secured;

use std::path::Path;
use std::time::Duration;

use geminga_actors::supervision::{ActorFault, ActorKind};
use pulsar::consumer::InitialPosition;
use serde_json::Value;

use crate::admin_http::{call, eventually, expect};
use crate::common::*;

/// `/admin/v3/{plural}/public/default/{name}`.
pub fn path(plural: &str, name: &str) -> String {
    format!("/admin/v3/{plural}/public/default/{name}")
}

/// Creates a connector from a JSON config, asserting 204.
pub async fn create(admin: &str, plural: &str, name: &str, config: &Value) {
    expect(
        "POST",
        admin,
        &path(plural, name),
        Some(&config.to_string()),
        204,
    )
    .await;
}

/// The connector's status document.
pub async fn status(admin: &str, plural: &str, name: &str) -> Value {
    let answer = call(
        "GET",
        admin,
        &format!("{}/status", path(plural, name)),
        None,
    )
    .await;
    assert_eq!(answer.status, 200, "status of {name}: {answer:?}");
    answer.json()
}

/// Sum over instances of a status counter.
pub fn total(status: &Value, field: &str) -> u64 {
    status["instances"]
        .as_array()
        .map(|all| {
            all.iter()
                .map(|i| i["status"][field].as_u64().unwrap_or(0))
                .sum()
        })
        .unwrap_or(0)
}

/// Waits until the connector's counter `field` reaches `at_least`.
pub async fn wait_counter(admin: &str, plural: &str, name: &str, field: &str, at_least: u64) {
    eventually(&format!("{name}: {field} >= {at_least}"), || async {
        total(&status(admin, plural, name).await, field) >= at_least
    })
    .await;
}

/// Waits until every instance of the connector runs.
pub async fn wait_running(admin: &str, plural: &str, name: &str) {
    eventually(&format!("{name} running"), || async {
        let s = status(admin, plural, name).await;
        s["numInstances"].as_u64() > Some(0) && s["numRunning"] == s["numInstances"]
    })
    .await;
}

/// Makes instance 0 of a connector panic (its supervisor restarts it).
pub fn kill(broker: &TestBroker, kind: &str, name: &str) {
    let actor = format!("{kind}/public/default/{name}/0");
    broker
        .context()
        .faults()
        .actor(ActorKind::Connector, &actor, ActorFault::Panic)
        .unwrap_or_else(|e| panic!("inject a panic into {actor}: {e}"));
}

/// Appends `rec-{from}`..`rec-{to-1}` lines to `file`.
pub fn append_lines(file: &Path, from: usize, to: usize) {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(file)
        .expect("open input file");
    let text: String = (from..to).map(|i| format!("rec-{i}\n")).collect();
    f.write_all(text.as_bytes()).expect("append lines");
}

/// Every message on `topic` from the start, read until `last` has arrived and then no
/// message came for [`QUIET_PERIOD`].
pub async fn drain_topic(broker: &TestBroker, topic: &str, last: &str) -> Vec<String> {
    drain_topic_as(broker, topic, last, str::to_owned).await
}

/// As [`drain_topic`], with each payload turned into what is compared and returned by `view`.
pub async fn drain_topic_as(
    broker: &TestBroker,
    topic: &str,
    last: &str,
    view: fn(&str) -> String,
) -> Vec<String> {
    let client = broker.client().await;
    let sub = format!("check-{}", unique_topic("sub"));
    let mut consumer = exclusive(&client, topic, &sub, InitialPosition::Earliest).await;
    let mut seen = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let wait = if seen.iter().any(|s| s == last) {
            QUIET_PERIOD
        } else {
            Duration::from_secs(5)
        };
        use futures_util::StreamExt;
        match tokio::time::timeout(wait, consumer.next()).await {
            Ok(Some(Ok(msg))) => {
                seen.push(view(&String::from_utf8_lossy(&msg.payload.data)));
                let _ = consumer.ack(&msg).await;
            }
            Ok(other) => panic!("consumer on {topic} ended: {:?}", other.map(|r| r.err())),
            Err(_) if seen.iter().any(|s| s == last) => return seen,
            Err(_) => assert!(
                tokio::time::Instant::now() < deadline,
                "{last} never arrived on {topic}; got {} messages",
                seen.len()
            ),
        }
    }
}

/// Lines of a file once `last` is among them and the file stopped growing for a while.
pub async fn settled_lines(file: &Path, last: &str) -> Vec<String> {
    let read = || {
        std::fs::read_to_string(file)
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect::<Vec<_>>()
    };
    eventually(&format!("{last} in {}", file.display()), || async {
        read().iter().any(|l| l == last)
    })
    .await;
    let mut previous = read();
    loop {
        tokio::time::sleep(QUIET_PERIOD).await;
        let now = read();
        if now == previous {
            return now;
        }
        previous = now;
    }
}

/// Checks the outputs of `rec-0`..`rec-{n-1}` against a guarantee: at-most-once loses at most
/// `in_flight` and repeats nothing, at-least-once loses nothing, effectively-once has exactly
/// one output per input.
pub fn check_outputs(guarantee: &str, n: usize, outputs: &[String], in_flight: usize) {
    let mut counts = std::collections::BTreeMap::<&str, usize>::new();
    for o in outputs {
        *counts.entry(o.as_str()).or_default() += 1;
    }
    let expected: Vec<String> = (0..n).map(|i| format!("rec-{i}")).collect();
    let missing = expected
        .iter()
        .filter(|e| !counts.contains_key(e.as_str()))
        .count();
    let repeated = counts.values().filter(|c| **c > 1).count();
    let strangers = counts
        .keys()
        .filter(|k| !expected.iter().any(|e| e == *k))
        .count();
    eprintln!(
        "{guarantee}: {n} inputs, {} outputs, {missing} missing, {repeated} repeated",
        outputs.len()
    );
    assert_eq!(strangers, 0, "outputs that are no input");
    match guarantee {
        "ATMOST_ONCE" => {
            assert_eq!(repeated, 0, "at-most-once repeated an input");
            assert!(
                missing <= in_flight,
                "at-most-once lost {missing} > {in_flight}"
            );
        }
        "ATLEAST_ONCE" => assert_eq!(missing, 0, "at-least-once lost inputs"),
        _ => {
            assert_eq!(missing, 0, "effectively-once lost inputs");
            assert_eq!(repeated, 0, "effectively-once repeated inputs");
        }
    }
}
