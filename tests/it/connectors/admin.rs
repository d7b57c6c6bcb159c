//! `/admin/v3/sources|sinks` and `geminga admin sources|sinks`: Pulsar's request shapes
//! (multipart and JSON), the lifecycle commands, status, metrics, parallelism, the HTTP source
//! and log sink, and a crashing connector's status.

use std::process::Command;
use std::time::Duration;

use serde_json::{json, Value};

use super::*;
use crate::admin_http::get_json;

/// POSTs or PUTs a Pulsar-style multipart form with one JSON part.
async fn multipart(method: &str, url: String, part: &str, config: &Value) -> u16 {
    let body = format!(
        "--XyZ\r\nContent-Disposition: form-data; name=\"{part}\"\r\n\
         Content-Type: application/json\r\n\r\n{config}\r\n--XyZ--\r\n"
    );
    let method = method.to_owned();
    tokio::task::spawn_blocking(move || {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .into();
        let request = if method == "PUT" {
            agent.put(&url)
        } else {
            agent.post(&url)
        };
        request
            .header("Content-Type", "multipart/form-data; boundary=XyZ")
            .send(body)
            .expect("send form")
            .status()
            .as_u16()
    })
    .await
    .expect("HTTP task")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_api_runs_a_connector_through_its_lifecycle() {
    let broker = TestBroker::start();
    let admin = broker.admin_url.clone();
    let sources = get_json(&admin, "/admin/v3/sources/builtinsources").await;
    let names: Vec<&str> = sources
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|c| c["name"].as_str())
        .collect();
    for expected in ["file", "postgres", "http"] {
        assert!(names.contains(&expected), "{expected} in {names:?}");
    }
    let sinks = get_json(&admin, "/admin/v3/sinks/builtinsinks").await;
    assert!(sinks.to_string().contains("\"log\""), "{sinks}");
    expect(
        "POST",
        &admin,
        "/admin/v3/sinks/reloadBuiltInSinks",
        None,
        204,
    )
    .await;

    let dir = tempfile::tempdir().expect("temp dir");
    let topic = unique_topic("admin-src");
    let config = json!({
        "topicName": topic,
        "archive": "builtin://file",
        "configs": {"inputDirectory": dir.path(), "pollingInterval": 20},
    });
    let url = format!("{admin}{}", path("sources", "lines"));
    assert_eq!(
        multipart("POST", url.clone(), "sourceConfig", &config).await,
        204
    );
    assert_eq!(
        multipart("POST", url.clone(), "sourceConfig", &config).await,
        409
    );
    let no_topic = json!({"archive": "builtin://file", "configs": {"inputDirectory": dir.path()}});
    expect(
        "POST",
        &admin,
        &path("sources", "bad"),
        Some(&no_topic.to_string()),
        400,
    )
    .await;
    let unknown = json!({"topicName": "x", "sourceType": "kafka"});
    expect(
        "POST",
        &admin,
        &path("sources", "bad"),
        Some(&unknown.to_string()),
        400,
    )
    .await;

    let listed = get_json(&admin, "/admin/v3/sources/public/default").await;
    assert_eq!(listed, json!(["lines"]));
    let stored = get_json(&admin, &path("sources", "lines")).await;
    assert_eq!(stored["topicName"], topic);
    wait_running(&admin, "sources", "lines").await;
    append_lines(&dir.path().join("a.txt"), 0, 3);
    wait_counter(&admin, "sources", "lines", "numWritten", 3).await;

    let update = json!({"processingGuarantees": "EFFECTIVELY_ONCE"});
    assert_eq!(multipart("PUT", url, "sourceConfig", &update).await, 204);
    let stored = get_json(&admin, &path("sources", "lines")).await;
    assert_eq!(stored["processingGuarantees"], "EFFECTIVELY_ONCE");
    assert_eq!(
        stored["topicName"], topic,
        "an update keeps the fields it does not set"
    );

    expect(
        "POST",
        &admin,
        &format!("{}/stop", path("sources", "lines")),
        None,
        204,
    )
    .await;
    eventually("stopped", || async {
        status(&admin, "sources", "lines").await["numRunning"] == 0
    })
    .await;
    expect(
        "POST",
        &admin,
        &format!("{}/start", path("sources", "lines")),
        None,
        204,
    )
    .await;
    wait_running(&admin, "sources", "lines").await;
    expect(
        "POST",
        &admin,
        &format!("{}/0/restart", path("sources", "lines")),
        None,
        204,
    )
    .await;
    wait_running(&admin, "sources", "lines").await;
    append_lines(&dir.path().join("a.txt"), 3, 5);
    let outputs = drain_topic(&broker, &topic, "rec-4").await;
    check_outputs("EFFECTIVELY_ONCE", 5, &outputs, 0);

    let one = get_json(&admin, &format!("{}/0/status", path("sources", "lines"))).await;
    assert_eq!(one["running"], true, "{one}");
    let stats = get_json(&admin, &format!("{}/stats", path("sources", "lines"))).await;
    assert!(stats.is_object(), "{stats}");

    let metrics = crate::admin_http::call("GET", &admin, "/metrics", None).await;
    let text = String::from_utf8_lossy(&metrics.body);
    assert!(
        text.lines()
            .any(|l| l.starts_with("pulsar_source_written_total{") && l.contains("lines")),
        "connector metrics on /metrics"
    );

    expect("DELETE", &admin, &path("sources", "lines"), None, 204).await;
    expect("GET", &admin, &path("sources", "lines"), None, 404).await;
    assert_eq!(
        get_json(&admin, "/admin/v3/sources/public/default").await,
        json!([])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_source_publishes_post_bodies_and_the_log_sink_reads_them() {
    let broker = TestBroker::start();
    let admin = broker.admin_url.clone();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("port")
        .local_addr()
        .expect("addr")
        .port();
    let topic = unique_topic("http");
    let source = json!({
        "topicName": topic,
        "sourceType": "http",
        "configs": {"port": port, "path": "/ingest"},
    });
    create(&admin, "sources", "web", &source).await;
    let sink =
        json!({"inputs": [topic], "sinkType": "log", "sourceSubscriptionPosition": "Earliest"});
    create(&admin, "sinks", "logger", &sink).await;
    wait_running(&admin, "sources", "web").await;
    let url = format!("http://127.0.0.1:{port}/ingest");
    for i in 0..3 {
        let answer = crate::admin_http::call("POST", &url, "", Some(&format!("rec-{i}"))).await;
        assert!((200..300).contains(&answer.status), "POST {i}: {answer:?}");
    }
    let outputs = drain_topic(&broker, &topic, "rec-2").await;
    check_outputs("EFFECTIVELY_ONCE", 3, &outputs, 0);
    wait_counter(&admin, "sinks", "logger", "numWrittenToSink", 3).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_connector_is_restarted_with_backoff_and_shows_its_error() {
    let broker = TestBroker::start();
    let admin = broker.admin_url.clone();
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("port")
        .local_addr()
        .expect("addr")
        .port();
    let sink = json!({
        "inputs": [unique_topic("pg-down")],
        "sinkType": "postgres",
        "configs": {"host": "127.0.0.1", "port": closed, "table": "t"},
    });
    create(&admin, "sinks", "down", &sink).await;
    eventually("two restarts", || async {
        total(&status(&admin, "sinks", "down").await, "numRestarts") >= 2
    })
    .await;
    let s = status(&admin, "sinks", "down").await;
    let instance = &s["instances"][0]["status"];
    assert_eq!(instance["running"], false, "{s}");
    let errors = instance["latestSinkExceptions"].to_string();
    assert!(
        errors.contains("postgres"),
        "the error shows in the status: {s}"
    );
    assert!(total(&s, "numSinkExceptions") >= 2, "{s}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parallel_sink_instances_share_the_subscription() {
    let broker = TestBroker::start();
    let admin = broker.admin_url.clone();
    let dir = tempfile::tempdir().expect("temp dir");
    let topic = unique_topic("par");
    let sink = json!({
        "inputs": [topic],
        "sinkType": "file",
        "parallelism": 2,
        "sourceSubscriptionPosition": "Earliest",
        "configs": {"outputDirectory": dir.path()},
    });
    create(&admin, "sinks", "par", &sink).await;
    wait_running(&admin, "sinks", "par").await;
    assert_eq!(status(&admin, "sinks", "par").await["numInstances"], 2);
    let client = broker.client().await;
    let mut producer = producer(&client, &topic, "par").await;
    send_all(
        &mut producer,
        (0..200).map(|i| format!("rec-{i}").into_bytes()),
    )
    .await;
    wait_counter(&admin, "sinks", "par", "numWrittenToSink", 200).await;
    let mut lines = Vec::new();
    for i in 0..2 {
        let text =
            std::fs::read_to_string(dir.path().join(format!("par-{i}.txt"))).unwrap_or_default();
        lines.extend(text.lines().map(str::to_owned));
    }
    check_outputs("EFFECTIVELY_ONCE", 200, &lines, 0);
    let s = status(&admin, "sinks", "par").await;
    let per_instance: Vec<u64> = (0..2)
        .map(|i| {
            s["instances"][i]["status"]["numWrittenToSink"]
                .as_u64()
                .unwrap_or(0)
        })
        .collect();
    eprintln!("written per instance: {per_instance:?}");
    assert_eq!(per_instance.iter().sum::<u64>(), 200);
}

fn cli(broker: &TestBroker, args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_geminga"))
        .arg("admin")
        .args(["--admin-url", &broker.admin_url])
        .args(args)
        .output()
        .expect("run geminga");
    assert!(
        out.status.success(),
        "geminga admin {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_manages_sources_and_sinks_with_pulsar_admin_flags() {
    let broker = TestBroker::start();
    let dir = tempfile::tempdir().expect("temp dir");
    let (input, output) = (dir.path().join("in"), dir.path().join("out"));
    std::fs::create_dir(&input).expect("in");
    let topic = unique_topic("cli");
    let source_config = json!({"inputDirectory": input, "pollingInterval": 20}).to_string();
    let created = tokio::task::block_in_place(|| {
        cli(
            &broker,
            &[
                "sources",
                "create",
                "--tenant",
                "public",
                "--namespace",
                "default",
                "--name",
                "cli-src",
                "--source-type",
                "file",
                "--destination-topic-name",
                &topic,
                "--processing-guarantees",
                "ATMOST_ONCE",
                "--source-config",
                &source_config,
            ],
        )
    });
    assert!(created.contains("Created"), "{created}");
    let file = dir.path().join("sink.json");
    let sink_file =
        json!({"configs": {"outputDirectory": output}, "sourceSubscriptionPosition": "Earliest"});
    std::fs::write(&file, sink_file.to_string()).expect("config file");
    tokio::task::block_in_place(|| {
        cli(
            &broker,
            &[
                "sinks",
                "create",
                "--name",
                "cli-sink",
                "--sink-type",
                "file",
                "--inputs",
                &topic,
                "--subs-name",
                "cli-subs",
                "--parallelism",
                "1",
                "--sink-config-file",
                file.to_str().expect("path"),
            ],
        )
    });
    append_lines(&input.join("a.txt"), 0, 4);
    let lines = settled_lines(&output.join("cli-sink-0.txt"), "rec-3").await;
    check_outputs("EFFECTIVELY_ONCE", 4, &lines, 0);
    let (listed, got, sink_status) = tokio::task::block_in_place(|| {
        cli(
            &broker,
            &[
                "sources",
                "update",
                "--name",
                "cli-src",
                "--processing-guarantees",
                "ATLEAST_ONCE",
            ],
        );
        (
            cli(&broker, &["sources", "list"]),
            cli(&broker, &["sources", "get", "--name", "cli-src"]),
            cli(&broker, &["sinks", "status", "--name", "cli-sink"]),
        )
    });
    assert_eq!(listed.trim(), "cli-src");
    let got: Value = serde_json::from_str(&got).expect("JSON");
    assert_eq!(got["processingGuarantees"], "ATLEAST_ONCE");
    let sink_status: Value = serde_json::from_str(&sink_status).expect("JSON");
    assert_eq!(total(&sink_status, "numWrittenToSink"), 4);
    let sink = get_json(&broker.admin_url, &path("sinks", "cli-sink")).await;
    assert_eq!(sink["sourceSubscriptionName"], "cli-subs");
    tokio::task::block_in_place(|| {
        cli(
            &broker,
            &["sinks", "stop", "--name", "cli-sink", "--instance-id", "0"],
        );
    });
    eventually("sink stopped", || async {
        status(&broker.admin_url, "sinks", "cli-sink").await["numRunning"] == 0
    })
    .await;
    tokio::task::block_in_place(|| {
        cli(&broker, &["sinks", "start", "--name", "cli-sink"]);
        cli(&broker, &["sinks", "restart", "--name", "cli-sink"]);
    });
    wait_running(&broker.admin_url, "sinks", "cli-sink").await;
    let available = tokio::task::block_in_place(|| cli(&broker, &["sinks", "available-sinks"]));
    assert!(available.contains("postgres"), "{available}");
    tokio::task::block_in_place(|| {
        cli(&broker, &["sinks", "delete", "--name", "cli-sink"]);
        cli(&broker, &["sources", "delete", "--name", "cli-src"]);
    });
    tokio::time::sleep(Duration::from_millis(10)).await;
    assert_eq!(
        get_json(&broker.admin_url, "/admin/v3/sinks/public/default").await,
        json!([])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_ordered_sink_instances_split_the_input_by_key() {
    let broker = TestBroker::start();
    let admin = broker.admin_url.clone();
    let dir = tempfile::tempdir().expect("temp dir");
    let topic = unique_topic("keyed");
    let sink = json!({
        "inputs": [topic],
        "sinkType": "file",
        "parallelism": 2,
        "retainKeyOrdering": true,
        "sourceSubscriptionPosition": "Earliest",
        "configs": {"outputDirectory": dir.path()},
    });
    create(&admin, "sinks", "keyed", &sink).await;
    wait_running(&admin, "sinks", "keyed").await;
    let client = broker.client().await;
    let mut producer = producer(&client, &topic, "keyed").await;
    let mut pending = Vec::new();
    for i in 0..200 {
        let key = format!("k{}", i % 20);
        let send = producer
            .create_message()
            .with_content(format!("{key}:{i}").into_bytes())
            .with_key(key)
            .send_non_blocking();
        pending.push(within("queue keyed send", send).await.expect("send"));
    }
    for receipt in pending {
        within("receipt", receipt).await.expect("receipt");
    }
    wait_counter(&admin, "sinks", "keyed", "numWrittenToSink", 200).await;
    let mut owner = std::collections::BTreeMap::<String, usize>::new();
    let mut per_instance = [0usize; 2];
    for (i, count) in per_instance.iter_mut().enumerate() {
        let text =
            std::fs::read_to_string(dir.path().join(format!("keyed-{i}.txt"))).unwrap_or_default();
        for line in text.lines() {
            *count += 1;
            let key = line.split(':').next().expect("key").to_owned();
            let first = *owner.entry(key.clone()).or_insert(i);
            assert_eq!(first, i, "key {key} was written by two instances");
        }
    }
    assert_eq!(per_instance.iter().sum::<usize>(), 200);
    assert!(
        per_instance.iter().all(|n| *n > 0),
        "both instances got keys: {per_instance:?}"
    );
}
