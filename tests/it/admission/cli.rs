//! `geminga admin namespaces|topics|schemas ...` for deduplication, rates, limits, schema
//! strategies, permissions and schemas: the real binary against an in-process broker.

use std::ffi::OsStr;
use std::fmt::Debug;
use std::process::{Command, Output, Stdio};

use serde_json::{json, Value};

use crate::common::*;

fn run<S: AsRef<OsStr> + Debug>(broker: &TestBroker, args: &[S]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_geminga"))
        .args(["admin", "--admin-url", broker.admin_url.as_str()])
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run geminga")
}

/// Runs an admin command that must succeed; answers its stdout.
fn ok<S: AsRef<OsStr> + Debug>(broker: &TestBroker, args: &[S]) -> String {
    let output = run(broker, args);
    assert!(
        output.status.success(),
        "geminga admin {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("utf-8 output")
}

/// Runs a `get-` command; answers its output as JSON (`null` when it printed nothing, a
/// string for plain text such as a strategy name).
fn get<S: AsRef<OsStr> + Debug>(broker: &TestBroker, args: &[S]) -> Value {
    let out = ok(broker, args);
    if out.trim().is_empty() {
        return Value::Null;
    }
    serde_json::from_str(&out).unwrap_or_else(|_| Value::from(out.trim()))
}

/// Runs an admin command that must fail; answers its stderr.
fn fails<S: AsRef<OsStr> + Debug>(broker: &TestBroker, args: &[S]) -> String {
    let output = run(broker, args);
    assert!(!output.status.success(), "geminga admin {args:?} succeeded");
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Goal: every namespace policy command sets, shows and removes its policy with pulsar-admin's
/// flags (two-letter ones included), and bad input fails with the reason. Method: set each on
/// a fresh namespace, read it back, remove it, read nothing.
#[test]
fn namespace_policy_commands() {
    let broker = TestBroker::start();
    ok(&broker, &["namespaces", "create", "public/clins"]);
    let ns = "public/clins";
    let ns_cmd = |cmd: &str, extra: &[&str]| -> Vec<String> {
        let mut args = vec!["namespaces".to_owned(), cmd.to_owned(), ns.to_owned()];
        args.extend(extra.iter().map(|a| (*a).to_owned()));
        args
    };
    ok(&broker, &ns_cmd("set-deduplication", &["--enable"]));
    assert_eq!(get(&broker, &ns_cmd("get-deduplication", &[])), true);
    ok(&broker, &ns_cmd("remove-deduplication", &[]));
    assert_eq!(get(&broker, &ns_cmd("get-deduplication", &[])), Value::Null);
    let err = fails(&broker, &ns_cmd("set-deduplication", &[]));
    assert!(err.contains("--enable or --disable"), "{err}");

    let rate = ["-md", "100", "-bd", "2048", "-dt", "2"];
    ok(&broker, &ns_cmd("set-dispatch-rate", &rate));
    let shown = get(&broker, &ns_cmd("get-dispatch-rate", &[]));
    assert_eq!(
        shown,
        json!({"dispatchThrottlingRateInMsg": 100, "dispatchThrottlingRateInByte": 2048,
               "ratePeriodInSecond": 2, "relativeToPublishRate": false})
    );
    ok(&broker, &ns_cmd("remove-dispatch-rate", &[]));
    assert_eq!(get(&broker, &ns_cmd("get-dispatch-rate", &[])), Value::Null);
    ok(
        &broker,
        &ns_cmd("set-subscription-dispatch-rate", &["-md", "5"]),
    );
    let shown = get(&broker, &ns_cmd("get-subscription-dispatch-rate", &[]));
    assert_eq!(shown["dispatchThrottlingRateInMsg"], 5);
    assert_eq!(shown["dispatchThrottlingRateInByte"], -1);
    ok(
        &broker,
        &ns_cmd("set-publish-rate", &["-m", "10", "-b", "1000"]),
    );
    let shown = get(&broker, &ns_cmd("get-publish-rate", &[]));
    assert_eq!(
        shown,
        json!({"publishThrottlingRateInMsg": 10, "publishThrottlingRateInByte": 1000})
    );

    for (policy, flag) in [
        ("max-producers-per-topic", "-p"),
        ("max-consumers-per-topic", "-c"),
        ("max-consumers-per-subscription", "-c"),
    ] {
        ok(&broker, &ns_cmd(&format!("set-{policy}"), &[flag, "3"]));
        assert_eq!(get(&broker, &ns_cmd(&format!("get-{policy}"), &[])), 3);
        ok(&broker, &ns_cmd(&format!("remove-{policy}"), &[]));
        let unset = get(&broker, &ns_cmd(&format!("get-{policy}"), &[]));
        assert_eq!(unset, Value::Null, "{policy}");
    }

    let strategy = ns_cmd("get-schema-compatibility-strategy", &[]);
    assert_eq!(get(&broker, &strategy), "FULL", "the broker's default");
    ok(
        &broker,
        &ns_cmd("set-schema-compatibility-strategy", &["-c", "backward"]),
    );
    assert_eq!(get(&broker, &strategy), "BACKWARD");
    let err = fails(
        &broker,
        &ns_cmd("set-schema-compatibility-strategy", &["-c", "sideways"]),
    );
    assert!(err.contains("HTTP 400"), "{err}");

    let grant = ["--role", "alice", "--actions", "produce,consume"];
    ok(&broker, &ns_cmd("grant-permission", &grant));
    assert_eq!(
        get(&broker, &ns_cmd("permissions", &[])),
        json!({"alice": ["produce", "consume"]})
    );
    let err = fails(
        &broker,
        &ns_cmd("grant-permission", &["--role", "bob", "--actions", "fly"]),
    );
    assert!(err.contains("unknown action"), "{err}");
    ok(&broker, &ns_cmd("revoke-permission", &["--role", "alice"]));
    assert_eq!(get(&broker, &ns_cmd("permissions", &[])), json!({}));
}

/// Goal: the topic commands set their policies, `--applied`/`-ap` shows the namespace's value
/// when the topic sets none, topic permissions list with the namespace's, and the schema
/// commands upload, show, check and delete versions. Method: drive each command against one
/// topic and read the results back through the CLI.
#[test]
fn topic_policy_and_schema_commands() {
    let broker = TestBroker::start();
    let topic = format!("persistent://public/default/{}", unique_topic("clitp"));
    let t = topic.as_str();
    ok(&broker, &["topics", "create", t]);
    ok(
        &broker,
        &[
            "namespaces",
            "set-publish-rate",
            "public/default",
            "-m",
            "7",
        ],
    );
    ok(&broker, &["topics", "set-deduplication", t, "-d"]);
    assert_eq!(get(&broker, &["topics", "get-deduplication", t]), false);
    ok(&broker, &["topics", "set-publish-rate", t, "-m", "9"]);
    let own = get(&broker, &["topics", "get-publish-rate", t]);
    assert_eq!(own["publishThrottlingRateInMsg"], 9);
    ok(&broker, &["topics", "remove-publish-rate", t]);
    assert_eq!(
        get(&broker, &["topics", "get-publish-rate", t]),
        Value::Null
    );
    let applied = get(&broker, &["topics", "get-publish-rate", t, "-ap"]);
    assert_eq!(applied["publishThrottlingRateInMsg"], 7, "the namespace's");
    ok(
        &broker,
        &[
            "topics",
            "set-dispatch-rate",
            t,
            "-md",
            "4",
            "-dt",
            "3",
            "-rp",
        ],
    );
    let rate = get(&broker, &["topics", "get-dispatch-rate", t]);
    assert_eq!(rate["ratePeriodInSecond"], 3);
    assert_eq!(rate["relativeToPublishRate"], true);
    ok(
        &broker,
        &["topics", "set-subscription-dispatch-rate", t, "-bd", "4096"],
    );
    let rate = get(&broker, &["topics", "get-subscription-dispatch-rate", t]);
    assert_eq!(rate["dispatchThrottlingRateInByte"], 4096);

    ok(
        &broker,
        &[
            "topics",
            "set-schema-compatibility-strategy",
            t,
            "-s",
            "forward",
        ],
    );
    let strategy = ["topics", "get-schema-compatibility-strategy", t];
    assert_eq!(get(&broker, &strategy), "FORWARD");
    ok(
        &broker,
        &["topics", "remove-schema-compatibility-strategy", t],
    );
    assert_eq!(
        get(
            &broker,
            &[
                "topics",
                "get-schema-compatibility-strategy",
                t,
                "--applied"
            ]
        ),
        "FULL"
    );

    ok(
        &broker,
        &[
            "topics",
            "grant-permission",
            t,
            "--role",
            "bob",
            "--actions",
            "consume",
        ],
    );
    ok(
        &broker,
        &[
            "namespaces",
            "grant-permission",
            "public/default",
            "--role",
            "carol",
            "--actions",
            "produce",
        ],
    );
    assert_eq!(
        get(&broker, &["topics", "permissions", t]),
        json!({"bob": ["consume"], "carol": ["produce"]})
    );
    ok(
        &broker,
        &["topics", "revoke-permission", t, "--role", "bob"],
    );
    let err = fails(
        &broker,
        &["topics", "revoke-permission", t, "--role", "bob"],
    );
    assert!(err.contains("not set at the topic level"), "{err}");

    schema_commands(&broker, t);
}

fn schema_commands(broker: &TestBroker, t: &str) {
    let dir = tempfile::tempdir().expect("tempdir");
    let write = |name: &str, doc: Value| {
        let path = dir.path().join(name);
        std::fs::write(&path, doc.to_string()).expect("write schema file");
        path.to_string_lossy().into_owned()
    };
    let name = json!({"name": "name", "type": "string"});
    let v1 = write(
        "v1.json",
        json!({"type": "AVRO", "properties": {"k": "v"},
               "schema": {"type": "record", "name": "User", "fields": [name]}}),
    );
    let age = json!({"name": "age", "type": "int", "default": 0});
    let v2 = write(
        "v2.json",
        json!({"type": "AVRO",
               "schema": {"type": "record", "name": "User", "fields": [name, age]}}),
    );
    let email = json!({"name": "email", "type": "string"});
    let bad = write(
        "bad.json",
        json!({"type": "AVRO",
               "schema": {"type": "record", "name": "User", "fields": [name, email]}}),
    );
    let err = fails(broker, &["schemas", "get", t]);
    assert!(err.contains("404"), "{err}");
    ok(broker, &["schemas", "upload", t, "-f", &v1]);
    let latest = get(broker, &["schemas", "get", t]);
    assert_eq!(latest["version"], 0);
    assert_eq!(latest["schemaInfo"]["type"], "AVRO");
    assert_eq!(latest["schemaInfo"]["schema"]["fields"][0]["name"], "name");
    assert_eq!(latest["schemaInfo"]["properties"], json!({"k": "v"}));
    // The namespace strategy applies to the topic (BACKWARD: added fields need defaults).
    ok(
        broker,
        &[
            "namespaces",
            "set-schema-compatibility-strategy",
            "public/default",
            "-c",
            "BACKWARD",
        ],
    );
    let check = get(broker, &["schemas", "compatibility", t, "-f", &bad]);
    assert_eq!(check["isCompatibility"], false);
    let err = fails(broker, &["schemas", "upload", t, "--filename", &bad]);
    assert!(err.contains("HTTP 409"), "{err}");
    ok(broker, &["schemas", "upload", t, "-f", &v2]);
    let all = get(broker, &["schemas", "get", t, "--all"]);
    assert_eq!(all.as_array().map(Vec::len), Some(2));
    let first = get(broker, &["schemas", "get", t, "--version", "0"]);
    assert_eq!(first["schema"]["fields"].as_array().map(Vec::len), Some(1));
    ok(broker, &["schemas", "delete", t]);
    let err = fails(broker, &["schemas", "get", t]);
    assert!(err.contains("404"), "{err}");
    ok(
        broker,
        &[
            "namespaces",
            "set-schema-compatibility-strategy",
            "public/default",
            "-c",
            "FULL",
        ],
    );
}

/// Goal: limits set with the CLI are enforced on real clients. Method: `set-max-producers-
/// per-topic 1` on a namespace; a second producer on its topic is refused, the first works.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_limits_are_enforced() {
    let broker = TestBroker::start();
    let admin = |args: &'static [&'static str]| {
        let broker_url = broker.admin_url.clone();
        async move {
            tokio::task::spawn_blocking(move || {
                Command::new(env!("CARGO_BIN_EXE_geminga"))
                    .args(["admin", "--admin-url", broker_url.as_str()])
                    .args(args)
                    .output()
                    .expect("run geminga")
            })
            .await
            .expect("join")
        }
    };
    assert!(admin(&["namespaces", "create", "public/clilim"])
        .await
        .status
        .success());
    let set = admin(&[
        "namespaces",
        "set-max-producers-per-topic",
        "public/clilim",
        "-p",
        "1",
    ]);
    assert!(set.await.status.success());
    let client = broker.client_without_retries().await;
    let topic = "persistent://public/clilim/t";
    let mut first = producer(&client, topic, "p1").await;
    let second = client
        .producer()
        .with_topic(topic)
        .with_name("p2")
        .with_options(plain_producer_options())
        .build();
    let refused = within("second producer", second).await;
    assert!(refused.is_err(), "max producers per topic 1");
    let receipts = send_all(&mut first, numbered("m", 2)).await;
    assert_eq!(receipts.len(), 2);
}
