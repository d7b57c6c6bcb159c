//! Processing guarantees under failure: a file source and a file sink are disrupted
//! mid-stream, once by killing the connector instance (an injected panic; its supervisor
//! restarts it) and once by restarting the broker on the same data directory, and their
//! outputs are counted.

use std::time::Duration;

use serde_json::json;

use super::*;

/// Inputs per run, fed in chunks so the disruption lands while input is still arriving.
const N: usize = 600;
const CHUNK: usize = 50;
/// The disruption comes after this many chunks.
const DISRUPT_AFTER: usize = 4;
/// The file source's batch: what an at-most-once source may lose per disruption.
const SOURCE_BATCH: usize = 20;
/// The runtime's sink batch: what an at-most-once sink may lose per disruption.
const SINK_BATCH: usize = 100;

#[derive(Clone, Copy, Debug)]
enum Disruption {
    /// Panic the connector instance.
    Kill,
    /// Restart the broker.
    Restart,
}

fn disrupt(broker: &mut TestBroker, disruption: Disruption, kind: &str, name: &str) {
    match disruption {
        Disruption::Kill => kill(broker, kind, name),
        Disruption::Restart => tokio::task::block_in_place(|| broker.restart()),
    }
}

async fn source_run(guarantee: &str, disruption: Disruption) {
    let mut broker = TestBroker::start();
    let dir = tempfile::tempdir().expect("temp dir");
    let input = dir.path().join("in");
    std::fs::create_dir(&input).expect("input dir");
    let file = input.join("data.txt");
    let topic = unique_topic("src-out");
    let name = format!("src-{}", guarantee.to_ascii_lowercase().replace('_', "-"));
    let config = json!({
        "topicName": topic,
        "sourceType": "file",
        "processingGuarantees": guarantee,
        "configs": {
            "inputDirectory": input,
            "pollingInterval": 20,
            "maxBatch": SOURCE_BATCH,
        },
    });
    create(&broker.admin_url, "sources", &name, &config).await;
    wait_running(&broker.admin_url, "sources", &name).await;
    for chunk in 0..N / CHUNK {
        append_lines(&file, chunk * CHUNK, (chunk + 1) * CHUNK);
        if chunk == DISRUPT_AFTER {
            let written = (CHUNK * 2) as u64;
            wait_counter(&broker.admin_url, "sources", &name, "numWritten", written).await;
            disrupt(&mut broker, disruption, "source", &name);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let outputs = drain_topic(&broker, &topic, &format!("rec-{}", N - 1)).await;
    check_outputs(guarantee, N, &outputs, SOURCE_BATCH);
    // Effectively-once rests on broker deduplication, which the source turned on for its
    // destination (a topic-level policy); the other guarantees leave it alone.
    let policy = call(
        "GET",
        &broker.admin_url,
        &format!("/admin/v2/persistent/public/default/{topic}/deduplicationEnabled"),
        None,
    )
    .await;
    assert!(matches!(policy.status, 200 | 204), "{policy:?}");
    let enabled = policy.json() == json!(true);
    assert_eq!(enabled, guarantee == "EFFECTIVELY_ONCE", "{policy:?}");
    if let Disruption::Kill = disruption {
        let s = status(&broker.admin_url, "sources", &name).await;
        assert!(
            total(&s, "numRestarts") >= 1,
            "the kill shows as a restart: {s}"
        );
    }
}

async fn sink_run(guarantee: &str, disruption: Disruption) {
    let mut broker = TestBroker::start();
    let dir = tempfile::tempdir().expect("temp dir");
    let topic = unique_topic("sink-in");
    let name = format!("sink-{}", guarantee.to_ascii_lowercase().replace('_', "-"));
    let config = json!({
        "inputs": [topic],
        "sinkType": "file",
        "processingGuarantees": guarantee,
        "sourceSubscriptionPosition": "Earliest",
        "configs": {"outputDirectory": dir.path()},
    });
    create(&broker.admin_url, "sinks", &name, &config).await;
    wait_running(&broker.admin_url, "sinks", &name).await;
    let mut client = broker.client().await;
    let mut producer = producer(&client, &topic, "feeder").await;
    for chunk in 0..N / CHUNK {
        let payloads =
            (chunk * CHUNK..(chunk + 1) * CHUNK).map(|i| format!("rec-{i}").into_bytes());
        send_all(&mut producer, payloads).await;
        if chunk == DISRUPT_AFTER {
            let written = (CHUNK * 2) as u64;
            wait_counter(
                &broker.admin_url,
                "sinks",
                &name,
                "numWrittenToSink",
                written,
            )
            .await;
            drop(producer);
            disrupt(&mut broker, disruption, "sink", &name);
            client = broker.client().await;
            producer = super::producer(&client, &topic, "feeder").await;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let file = dir.path().join(format!("{name}-0.txt"));
    let lines = settled_lines(&file, &format!("rec-{}", N - 1)).await;
    check_outputs(guarantee, N, &lines, SINK_BATCH);
    if let Disruption::Kill = disruption {
        let s = status(&broker.admin_url, "sinks", &name).await;
        assert!(
            total(&s, "numRestarts") >= 1,
            "the kill shows as a restart: {s}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_most_once_source_survives_a_connector_kill() {
    source_run("ATMOST_ONCE", Disruption::Kill).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_least_once_source_survives_a_connector_kill() {
    source_run("ATLEAST_ONCE", Disruption::Kill).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn effectively_once_source_survives_a_connector_kill() {
    source_run("EFFECTIVELY_ONCE", Disruption::Kill).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_most_once_source_survives_a_broker_restart() {
    source_run("ATMOST_ONCE", Disruption::Restart).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_least_once_source_survives_a_broker_restart() {
    source_run("ATLEAST_ONCE", Disruption::Restart).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn effectively_once_source_survives_a_broker_restart() {
    source_run("EFFECTIVELY_ONCE", Disruption::Restart).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_most_once_sink_survives_a_connector_kill() {
    sink_run("ATMOST_ONCE", Disruption::Kill).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_least_once_sink_survives_a_connector_kill() {
    sink_run("ATLEAST_ONCE", Disruption::Kill).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn effectively_once_sink_survives_a_connector_kill() {
    sink_run("EFFECTIVELY_ONCE", Disruption::Kill).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_most_once_sink_survives_a_broker_restart() {
    sink_run("ATMOST_ONCE", Disruption::Restart).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_least_once_sink_survives_a_broker_restart() {
    sink_run("ATLEAST_ONCE", Disruption::Restart).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn effectively_once_sink_survives_a_broker_restart() {
    sink_run("EFFECTIVELY_ONCE", Disruption::Restart).await;
}
