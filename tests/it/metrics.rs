//! Metrics, broker stats and the actor tree over HTTP, and the fault-injection admin path.

use std::time::Duration;

use pulsar::consumer::InitialPosition;
use serde_json::Value;

use crate::common::*;
use crate::supervisor_harness::{http, FaultBroker};

/// The value of the sample `name{labels...}` whose label set contains every `needle`.
fn sample(metrics: &str, name: &str, needles: &[&str]) -> Option<f64> {
    metrics
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter(|l| l.starts_with(&format!("{name}{{")) || l.starts_with(&format!("{name} ")))
        .find(|l| needles.iter().all(|n| l.contains(n)))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

/// Goal: `/metrics` serves Pulsar's topic and subscription metrics with Pulsar's labels and
/// the actor metrics, `/admin/v2/broker-stats/topics` has Pulsar's nesting, and the actor
/// tree links topic -> subscription -> dispatcher and connection -> producer/consumer.
/// Method: produce 40 messages over 2 s, consume and ack them, then scrape.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_stats_and_actor_tree_describe_a_running_topic() {
    let broker = FaultBroker::start();
    let client = broker_client(&broker).await;
    let topic = unique_topic("metrics");
    let full = full_name(&topic);
    let mut consumer = exclusive(&client, &topic, "msub", InitialPosition::Earliest).await;
    let mut producer = producer(&client, &topic, "metrics-producer").await;
    let mut rate_seen = 0.0_f64;
    for round in 0..4 {
        send_all(&mut producer, numbered(&format!("r{round}"), 10)).await;
        tokio::time::sleep(Duration::from_millis(550)).await;
        let (_, text) = http("GET", &format!("{}/metrics", broker.admin_url), None).await;
        let topic_label = format!("topic=\"{full}\"");
        rate_seen = rate_seen.max(sample(&text, "pulsar_rate_in", &[&topic_label]).unwrap_or(0.0));
    }
    assert!(rate_seen > 0.0, "the sampler computed a publish rate");
    for _ in 0..40 {
        let msg = receive(&mut consumer).await;
        within("ack", consumer.ack(&msg)).await.expect("ack");
    }
    let t = format!("topic=\"{full}\"");
    // Acks are fire-and-forget: wait until the subscription applied them all.
    let sub = [t.as_str(), "subscription=\"msub\""];
    let metrics_url = format!("{}/metrics", broker.admin_url);
    let text = within("acks applied", async {
        loop {
            let (status, text) = http("GET", &metrics_url, None).await;
            assert_eq!(status, 200);
            if sample(&text, "pulsar_subscription_back_log", &sub) == Some(0.0) {
                return text;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
    let labels = [
        t.as_str(),
        "cluster=\"standalone\"",
        "namespace=\"public/default\"",
    ];
    assert_eq!(
        sample(&text, "pulsar_in_messages_total", &labels),
        Some(40.0)
    );
    assert_eq!(sample(&text, "pulsar_producers_count", &labels), Some(1.0));
    assert_eq!(sample(&text, "pulsar_consumers_count", &labels), Some(1.0));
    assert_eq!(sample(&text, "pulsar_msg_backlog", &labels), Some(0.0));
    assert!(sample(&text, "pulsar_storage_size", &labels).unwrap() > 0.0);
    assert_eq!(
        sample(&text, "pulsar_subscription_back_log", &sub),
        Some(0.0)
    );
    assert_eq!(
        sample(&text, "pulsar_subscription_unacked_messages", &sub),
        Some(0.0)
    );
    assert_eq!(
        sample(&text, "pulsar_subscription_delayed", &sub),
        Some(0.0)
    );
    for name in [
        "pulsar_rate_out",
        "pulsar_throughput_in",
        "pulsar_throughput_out",
    ] {
        assert!(sample(&text, name, &labels).is_some(), "{name} is exported");
    }
    assert_eq!(
        sample(&text, "geminga_actors_live", &["kind=\"topic\""]),
        Some(1.0)
    );
    assert!(
        sample(
            &text,
            "geminga_actor_messages_handled_total",
            &["kind=\"topic\""]
        )
        .unwrap()
            >= 40.0
    );
    assert!(
        sample(
            &text,
            "geminga_actor_handler_latency_seconds_count",
            &["kind=\"producer\""]
        )
        .unwrap()
            >= 40.0
    );
    assert!(sample(&text, "geminga_actor_mailbox_depth", &["kind=\"consumer\""]).is_some());
    // Every acknowledged send went through a group commit, whose fsync was timed.
    assert!(sample(&text, "geminga_storage_committed_writes_total", &[]).unwrap() >= 40.0);
    let syncs = sample(&text, "geminga_storage_commit_sync_seconds_count", &[]).unwrap();
    assert!(syncs >= 1.0, "{syncs}");
    assert!(sample(&text, "geminga_storage_commit_write_seconds_sum", &[]).unwrap() > 0.0);
    // Histogram buckets are cumulative once: the +Inf bucket holds exactly every observation.
    for (name, labels) in [
        ("geminga_storage_commit_sync_seconds", &[][..]),
        (
            "geminga_actor_handler_latency_seconds",
            &["kind=\"producer\""][..],
        ),
    ] {
        let mut inf = labels.to_vec();
        inf.push("le=\"+Inf\"");
        assert_eq!(
            sample(&text, &format!("{name}_bucket"), &inf),
            sample(&text, &format!("{name}_count"), labels),
            "{name}"
        );
    }
    assert_eq!(
        sample(&text, "geminga_actor_restarts_total", &["kind=\"topic\""]),
        Some(0.0)
    );

    let (_, stats) = http(
        "GET",
        &format!("{}/admin/v2/broker-stats/topics", broker.admin_url),
        None,
    )
    .await;
    let stats: Value = serde_json::from_str(&stats).expect("stats JSON");
    // Topics are grouped by the namespace bundle they fall in (4 bundles by default).
    let bundles = stats["standalone"]["public/default"]
        .as_object()
        .expect("bundles");
    let (bundle, in_bundle) = bundles
        .iter()
        .find(|(_, domains)| domains["persistent"].get(&full).is_some())
        .expect("the topic is listed under one bundle");
    assert_ne!(
        bundle, "0x00000000_0xffffffff",
        "named after its real bundle"
    );
    let topic_stats = &in_bundle["persistent"][&full];
    assert_eq!(topic_stats["msgInCounter"], 40);
    assert_eq!(topic_stats["subscriptions"]["msub"]["msgOutCounter"], 40);
    assert_eq!(topic_stats["subscriptions"]["msub"]["type"], "Exclusive");

    let (_, actors) = http(
        "GET",
        &format!("{}/admin/v2/broker/actors", broker.admin_url),
        None,
    )
    .await;
    let actors: Vec<Value> = serde_json::from_str(&actors).expect("actors JSON");
    let find = |kind: &str, name: &str| {
        actors
            .iter()
            .find(|a| a["kind"] == kind && a["name"].as_str().is_some_and(|n| n.starts_with(name)))
            .unwrap_or_else(|| panic!("no {kind} {name} in {actors:?}"))
    };
    let registry = find("registry", "topic-registry");
    let topic_actor = find("topic", &full);
    let subscription = find("subscription", &format!("{full}/msub"));
    let dispatcher = find("dispatcher", &format!("{full}/msub"));
    assert_eq!(topic_actor["parent"], registry["id"]);
    assert_eq!(subscription["parent"], topic_actor["id"]);
    assert_eq!(dispatcher["parent"], subscription["id"]);
    let producer_actor = find("producer", &full);
    let consumer_actor = find("consumer", &full);
    let connection = find("connection", "127.0.0.1");
    assert_eq!(producer_actor["parent"], connection["id"]);
    assert_eq!(consumer_actor["parent"], connection["id"]);
    for field in ["state", "restarts", "mailbox_depth"] {
        assert!(topic_actor.get(field).is_some(), "{field} listed");
    }

    // A crash moves the restart and panic counters of its kind.
    broker.inject(
        geminga_actors::supervision::ActorKind::Topic,
        &full,
        geminga_actors::supervision::ActorFault::Panic,
    );
    let text = within("restart counted", async {
        loop {
            let (_, text) = http("GET", &metrics_url, None).await;
            if sample(&text, "geminga_actor_restarts_total", &["kind=\"topic\""]) != Some(0.0) {
                return text;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
    assert_eq!(
        sample(&text, "geminga_actor_restarts_total", &["kind=\"topic\""]),
        Some(1.0)
    );
    assert_eq!(
        sample(&text, "geminga_actor_panics_total", &["kind=\"topic\""]),
        Some(1.0)
    );
}

async fn broker_client(broker: &FaultBroker) -> Client {
    client_for(&broker.service_url, None).await
}

/// Goal: the fault paths are refused unless enabled, and work over HTTP when enabled.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fault_injection_over_http_is_refused_unless_enabled() {
    let plain = TestBroker::start();
    let url = format!("{}/admin/v2/broker/faults", plain.admin_url);
    let body = r#"{"kind":"registry","name":"topic-registry","action":"panic"}"#;
    let (status, text) = http("POST", &url, Some(body)).await;
    assert_eq!(status, 403, "{text}");
    assert!(text.contains("faultInjectionEnabled"), "{text}");
    assert_eq!(http("GET", &url, None).await.0, 403);
    assert_eq!(http("DELETE", &url, None).await.0, 403);

    let broker = FaultBroker::start();
    let url = format!("{}/admin/v2/broker/faults", broker.admin_url);
    let stall =
        r#"{"kind":"registry","name":"topic-registry","action":"stall","durationMs":60000}"#;
    let (status, text) = http("POST", &url, Some(stall)).await;
    assert_eq!(status, 200, "{text}");
    let fsync = r#"{"storage":"fsync","durationMs":60000}"#;
    assert_eq!(http("POST", &url, Some(fsync)).await.0, 200);
    // The stall is listed once the registry's supervisor applied it.
    within("faults listed", async {
        loop {
            let (_, active) = http("GET", &url, None).await;
            let active: Vec<Value> = serde_json::from_str(&active).expect("faults JSON");
            let kinds: Vec<&str> = active.iter().filter_map(|f| f["fault"].as_str()).collect();
            if kinds.contains(&"stall") && kinds.contains(&"fsync") {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
    assert_eq!(http("DELETE", &url, None).await.0, 204);
    let (_, active) = http("GET", &url, None).await;
    assert_eq!(active, "[]");
    // The registry serves again once the stall is cleared.
    let client = broker_client(&broker).await;
    let mut p = producer(&client, &unique_topic("faults-http"), "fh").await;
    send_all(&mut p, numbered("x", 2)).await;

    let missing = r#"{"kind":"topic","name":"persistent://public/default/nope","action":"panic"}"#;
    assert_eq!(http("POST", &url, Some(missing)).await.0, 404);
    let bad = r#"{"kind":"topic","name":"x","action":"explode"}"#;
    assert_eq!(http("POST", &url, Some(bad)).await.0, 400);
    let no_duration = r#"{"kind":"registry","name":"topic-registry","action":"stall"}"#;
    assert_eq!(http("POST", &url, Some(no_duration)).await.0, 400);
}
