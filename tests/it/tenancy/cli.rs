//! The `geminga admin` CLI, run as the real binary against an in-process broker.

use std::process::{Command, Output};

use crate::common::*;

/// Runs `geminga admin --admin-url URL args...`.
fn admin(broker: &TestBroker, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_geminga"))
        .arg("admin")
        .args(["--admin-url", &broker.admin_url])
        .args(args)
        .output()
        .expect("run geminga")
}

/// Runs a command that must succeed; returns its stdout.
#[track_caller]
fn ok(broker: &TestBroker, args: &[&str]) -> String {
    let out = admin(broker, args);
    assert!(
        out.status.success(),
        "geminga admin {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8 output")
}

/// Runs a command that must fail; returns its stderr.
#[track_caller]
fn fails(broker: &TestBroker, args: &[&str]) -> String {
    let out = admin(broker, args);
    assert!(!out.status.success(), "geminga admin {args:?} succeeded");
    String::from_utf8(out.stderr).expect("utf-8 output")
}

fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("{text:?} is not JSON: {e}"))
}

/// Goal: `clusters` and `tenants` commands print what pulsar-admin prints and fail with the
/// broker's status. Method: list, get, create (twice), update, delete, get a missing one.
#[test]
fn clusters_and_tenants_commands() {
    let broker = TestBroker::start();
    assert_eq!(ok(&broker, &["clusters", "list"]), "standalone\n");
    let cluster = json(&ok(&broker, &["clusters", "get", "standalone"]));
    assert_eq!(cluster["brokerServiceUrl"], broker.service_url.as_str());

    assert_eq!(
        ok(
            &broker,
            &["tenants", "create", "acme", "-r", "a,b", "-c", "standalone"]
        ),
        ""
    );
    assert!(fails(&broker, &["tenants", "create", "acme"]).contains("HTTP 409"));
    assert_eq!(ok(&broker, &["tenants", "list"]), "acme\npublic\n");
    let info = json(&ok(&broker, &["tenants", "get", "acme"]));
    assert_eq!(info["adminRoles"], serde_json::json!(["a", "b"]));
    ok(
        &broker,
        &["tenants", "update", "acme", "--admin-roles", "c"],
    );
    let info = json(&ok(&broker, &["tenants", "get", "acme"]));
    assert_eq!(info["adminRoles"], serde_json::json!(["c"]));
    // Without -c, the tenant may use every cluster (as pulsar-admin does).
    assert_eq!(info["allowedClusters"], serde_json::json!(["standalone"]));
    assert!(fails(&broker, &["tenants", "create", "bad", "-c", "nowhere"]).contains("HTTP 412"));
    ok(&broker, &["tenants", "delete", "acme"]);
    assert!(fails(&broker, &["tenants", "get", "acme"]).contains("HTTP 404"));
}

/// Goal: `namespaces` commands create, show, split, unload and delete namespaces and set
/// auto topic creation. Method: one namespace through its life with the CLI.
#[test]
fn namespaces_commands() {
    let broker = TestBroker::start();
    ok(
        &broker,
        &["namespaces", "create", "public/ns", "--bundles", "2"],
    );
    assert_eq!(
        ok(&broker, &["namespaces", "list", "public"]),
        "public/default\npublic/ns\n"
    );
    let policies = json(&ok(&broker, &["namespaces", "policies", "public/ns"]));
    assert_eq!(policies["bundles"]["numBundles"], 2);
    let bundles = json(&ok(&broker, &["namespaces", "bundles", "public/ns"]));
    assert_eq!(
        bundles["boundaries"],
        serde_json::json!(["0x00000000", "0x80000000", "0xffffffff"])
    );
    ok(
        &broker,
        &[
            "namespaces",
            "split-bundle",
            "public/ns",
            "-b",
            "0x00000000_0x80000000",
            "--unload",
        ],
    );
    let bundles = json(&ok(&broker, &["namespaces", "bundles", "public/ns"]));
    assert_eq!(bundles["numBundles"], 3);
    ok(&broker, &["namespaces", "unload", "public/ns"]);
    ok(
        &broker,
        &[
            "namespaces",
            "unload",
            "public/ns",
            "-b",
            "0x80000000_0xffffffff",
        ],
    );
    assert!(fails(
        &broker,
        &[
            "namespaces",
            "unload",
            "public/ns",
            "-b",
            "0x00000000_0x80000000"
        ]
    )
    .contains("HTTP 404"));

    ok(
        &broker,
        &[
            "namespaces",
            "set-auto-topic-creation",
            "public/ns",
            "--enable",
            "--type",
            "partitioned",
            "--num-partitions",
            "3",
        ],
    );
    let auto = json(&ok(
        &broker,
        &["namespaces", "get-auto-topic-creation", "public/ns"],
    ));
    assert_eq!(auto["defaultNumPartitions"], 3);
    assert_eq!(auto["topicType"], "partitioned");
    ok(
        &broker,
        &["namespaces", "remove-auto-topic-creation", "public/ns"],
    );
    assert_eq!(
        ok(
            &broker,
            &["namespaces", "get-auto-topic-creation", "public/ns"]
        ),
        ""
    );
    assert!(fails(
        &broker,
        &["namespaces", "set-auto-topic-creation", "public/ns"]
    )
    .contains("--enable"));

    assert_eq!(ok(&broker, &["namespaces", "topics", "public/ns"]), "");
    ok(&broker, &["namespaces", "delete", "public/ns"]);
    assert!(fails(&broker, &["namespaces", "policies", "public/ns"]).contains("HTTP 404"));
    assert!(fails(&broker, &["namespaces", "create", "ghost/ns"]).contains("HTTP 404"));
    assert!(fails(&broker, &["namespaces", "policies", "no-slash"]).contains("tenant/namespace"));
}

/// Goal: the partitioned-topic commands mirror pulsar-admin's. Method: create with `-p 3`,
/// get, update, list, lookup, bundle-range, refuse shrinking, delete.
#[test]
fn partitioned_topic_commands() {
    let broker = TestBroker::start();
    let topic = "persistent://public/default/cli-orders";
    ok(
        &broker,
        &["topics", "create-partitioned-topic", topic, "-p", "3"],
    );
    let meta = json(&ok(
        &broker,
        &["topics", "get-partitioned-topic-metadata", topic],
    ));
    assert_eq!(meta["partitions"], 3);
    ok(
        &broker,
        &[
            "topics",
            "update-partitioned-topic",
            topic,
            "--partitions",
            "4",
        ],
    );
    assert!(fails(
        &broker,
        &["topics", "update-partitioned-topic", topic, "-p", "2"]
    )
    .contains("HTTP 412"));
    let listed = ok(&broker, &["topics", "list", "public/default"]);
    let expected: String = (0..4).map(|i| format!("{topic}-partition-{i}\n")).collect();
    assert_eq!(listed, expected);
    assert_eq!(
        ok(
            &broker,
            &["topics", "list-partitioned-topics", "public/default"]
        ),
        format!("{topic}\n")
    );
    // Short names work as in pulsar-admin.
    let lookup = ok(&broker, &["topics", "lookup", "cli-orders-partition-0"]);
    assert_eq!(lookup, format!("{}\n", broker.service_url));
    let range = ok(&broker, &["topics", "bundle-range", topic]);
    assert!(
        range.starts_with("0x") && range.trim().len() == 21,
        "{range:?}"
    );
    ok(&broker, &["topics", "delete-partitioned-topic", topic]);
    let meta = json(&ok(
        &broker,
        &["topics", "get-partitioned-topic-metadata", topic],
    ));
    assert_eq!(meta["partitions"], 0);
    assert!(fails(&broker, &["topics", "delete-partitioned-topic", topic]).contains("HTTP 404"));
    assert!(fails(
        &broker,
        &[
            "topics",
            "create-partitioned-topic",
            "persistent://public/ghost/t",
            "-p",
            "2"
        ]
    )
    .contains("HTTP 404"));
}

/// Goal: an unreachable admin URL is an error naming the URL, and `--admin-url` may follow
/// the subcommand. Method: point the CLI at a closed port, then at the broker after the
/// subcommand.
#[test]
fn unreachable_broker_and_flag_position() {
    let broker = TestBroker::start();
    let out = Command::new(env!("CARGO_BIN_EXE_geminga"))
        .args([
            "admin",
            "--admin-url",
            "http://127.0.0.1:1",
            "tenants",
            "list",
        ])
        .output()
        .expect("run geminga");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr)
        .contains("cannot reach the admin API at http://127.0.0.1:1"));
    let out = Command::new(env!("CARGO_BIN_EXE_geminga"))
        .args(["admin", "tenants", "list", "--admin-url", &broker.admin_url])
        .output()
        .expect("run geminga");
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stdout), "public\n");
}
