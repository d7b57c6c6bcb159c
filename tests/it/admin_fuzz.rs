//! Proptest over the admin API's JSON bodies against a running broker: random bytes, random
//! JSON and valid bodies with one field replaced are answered with 2xx or 4xx, never a 5xx or a
//! dropped connection, and the broker keeps serving. A fixed number of cases keeps CI short.

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use serde_json::{json, Value};

use crate::common::TestBroker;

/// Endpoints taking a body, with a valid body for each.
fn endpoints() -> Vec<(&'static str, &'static str, Value)> {
    vec![
        (
            "PUT",
            "/admin/v2/tenants/fuzz-t",
            json!({"adminRoles": ["a"], "allowedClusters": ["standalone"]}),
        ),
        (
            "POST",
            "/admin/v2/tenants/public",
            json!({"adminRoles": [], "allowedClusters": ["standalone"]}),
        ),
        (
            "PUT",
            "/admin/v2/namespaces/public/fuzz-ns",
            json!({"bundles": {"numBundles": 4}}),
        ),
        (
            "POST",
            "/admin/v2/namespaces/public/default/autoTopicCreation",
            json!({"allowAutoTopicCreation": true, "topicType": "partitioned", "defaultNumPartitions": 2}),
        ),
        (
            "PUT",
            "/admin/v2/persistent/public/default/fuzz-p/partitions",
            json!(3),
        ),
        (
            "POST",
            "/admin/v2/persistent/public/default/fuzz-q/retention",
            json!({"retentionTimeInMinutes": 10, "retentionSizeInMB": 5}),
        ),
        (
            "POST",
            "/admin/v2/persistent/public/default/fuzz-q/maxConsumers",
            json!(4),
        ),
    ]
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        ".{0,12}".prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map("[a-zA-Z]{1,12}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// A body: random bytes, random JSON, or a valid body with one field (or the whole) replaced.
fn body(valid: Value) -> impl Strategy<Value = Vec<u8>> {
    let keys: Vec<String> = valid
        .as_object()
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default();
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..64),
        json_value().prop_map(|v| v.to_string().into_bytes()),
        (json_value(), any::<prop::sample::Index>()).prop_map(move |(v, i)| {
            let mut doc = valid.clone();
            match doc.as_object_mut() {
                Some(o) if !keys.is_empty() => {
                    o.insert(keys[i.index(keys.len())].clone(), v);
                }
                _ => doc = v,
            }
            doc.to_string().into_bytes()
        }),
    ]
}

fn send(agent: &ureq::Agent, method: &str, url: &str, body: &[u8]) -> u16 {
    let request = match method {
        "PUT" => agent.put(url),
        _ => agent.post(url),
    };
    let response = request
        .header("Content-Type", "application/json")
        .send(body)
        .unwrap_or_else(|e| panic!("{method} {url}: the broker dropped the request: {e}"));
    response.status().as_u16()
}

#[test]
fn admin_bodies_never_cause_a_server_error() {
    let broker = TestBroker::start();
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let topic = format!(
        "{}/admin/v2/persistent/public/default/fuzz-q",
        broker.admin_url
    );
    assert!(send(&agent, "PUT", &topic, b"") < 300, "create fuzz-q");
    for (method, path, valid) in endpoints() {
        let url = format!("{}{path}", broker.admin_url);
        // The endpoint is real: its valid body is accepted.
        let status = send(&agent, method, &url, valid.to_string().as_bytes());
        assert!((200..300).contains(&status), "{method} {path}: {status}");
        let mut runner = TestRunner::new(Config {
            cases: 40,
            failure_persistence: None,
            ..Config::default()
        });
        runner
            .run(&body(valid), |bytes| {
                let status = send(&agent, method, &url, &bytes);
                prop_assert!(
                    status < 500,
                    "{method} {path} with {:?} answered {status}",
                    String::from_utf8_lossy(&bytes)
                );
                Ok(())
            })
            .unwrap();
    }
    let status = agent
        .get(&format!("{}/admin/v2/tenants", broker.admin_url))
        .call()
        .unwrap()
        .status()
        .as_u16();
    assert_eq!(status, 200, "the admin API still serves");
}
