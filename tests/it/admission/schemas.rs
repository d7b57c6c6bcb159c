//! The schema registry with the `pulsar` crate and the admin API: versions, compatibility
//! strategies at namespace and topic level, GET_SCHEMA, consumers' schemas, restarts.

use pulsar::consumer::InitialPosition;
use pulsar::proto::{schema::Type as SchemaType, Schema};
use pulsar::{ConsumerOptions, ProducerOptions, SubType};

use super::namespace;
use crate::admin_http::{call, expect, get_json};
use crate::common::*;

fn avro(fields: &str) -> Schema {
    Schema {
        name: "user".into(),
        schema_data: format!(r#"{{"type":"record","name":"User","fields":[{fields}]}}"#)
            .into_bytes(),
        r#type: SchemaType::Avro as i32,
        properties: Vec::new(),
    }
}

const NAME: &str = r#"{"name":"name","type":"string"}"#;
const AGE_OPTIONAL: &str = r#"{"name":"age","type":["null","int"],"default":null}"#;
const AGE_REQUIRED: &str = r#"{"name":"age","type":"int"}"#;

async fn producer_with_schema(
    client: &Client,
    topic: &str,
    name: &str,
    schema: Schema,
) -> Result<pulsar::Producer<pulsar::TokioExecutor>, String> {
    let build = client
        .producer()
        .with_topic(topic)
        .with_name(name)
        .with_options(ProducerOptions {
            schema: Some(schema),
            ..plain_producer_options()
        })
        .build();
    within("create producer", build)
        .await
        .map_err(|e| format!("{e:?}"))
}

async fn consumer_with_schema(
    client: &Client,
    topic: &str,
    sub: &str,
    schema: Option<Schema>,
) -> Result<ByteConsumer, String> {
    let mut options = ConsumerOptions::default().with_initial_position(InitialPosition::Earliest);
    options.schema = schema;
    let build = client
        .consumer()
        .with_topic(topic)
        .with_subscription(sub)
        .with_subscription_type(SubType::Exclusive)
        .with_options(options)
        .build::<Vec<u8>>();
    within("subscribe", build)
        .await
        .map_err(|e| format!("{e:?}"))
}

fn schema_path(topic: &str) -> String {
    format!("/admin/v2/schemas/public/default/{topic}")
}

/// Goal: producers register versions; compatible changes add one, an incompatible one is
/// refused with IncompatibleSchema under the default FULL strategy; messages carry their
/// schema version; GET_SCHEMA and the admin API show the versions, also after a restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn producers_register_versions_under_full() {
    let mut broker = TestBroker::start();
    let topic = unique_topic("schema");
    let client = broker.client_without_retries().await;
    let mut v0 = producer_with_schema(&client, &topic, "p0", avro(NAME))
        .await
        .expect("v0");
    send_all(&mut v0, numbered("v0", 1)).await;
    let mut v1 = producer_with_schema(
        &client,
        &topic,
        "p1",
        avro(&format!("{NAME},{AGE_OPTIONAL}")),
    )
    .await
    .expect("an optional field is FULL compatible");
    send_all(&mut v1, numbered("v1", 1)).await;
    let err = producer_with_schema(
        &client,
        &topic,
        "p2",
        avro(&format!("{NAME},{AGE_REQUIRED}")),
    )
    .await
    .err()
    .expect("a required field is not backward compatible");
    assert!(err.contains("IncompatibleSchema"), "{err}");
    let mut consumer = consumer_with_schema(&client, &topic, "s", None)
        .await
        .expect("bytes consumer");
    let first = receive(&mut consumer).await;
    let second = receive(&mut consumer).await;
    assert_eq!(
        first.metadata().schema_version.as_deref(),
        Some(&0u64.to_be_bytes()[..])
    );
    assert_eq!(
        second.metadata().schema_version.as_deref(),
        Some(&1u64.to_be_bytes()[..])
    );
    let latest = within("GET_SCHEMA", consumer.get_schema(&full_name(&topic), None))
        .await
        .expect("get schema")
        .expect("a schema");
    assert_eq!(
        latest.schema_data,
        avro(&format!("{NAME},{AGE_OPTIONAL}")).schema_data
    );
    let old = within(
        "GET_SCHEMA v0",
        consumer.get_schema(&full_name(&topic), Some(0u64.to_be_bytes().to_vec())),
    )
    .await
    .expect("get schema")
    .expect("version 0");
    assert_eq!(old.schema_data, avro(NAME).schema_data);
    drop((v0, v1, consumer, client));
    broker.restart();
    let admin = &broker.admin_url;
    let path = schema_path(&topic);
    let latest = get_json(admin, &format!("{path}/schema")).await;
    assert_eq!(latest["version"], 1);
    assert_eq!(latest["type"], "AVRO");
    assert!(latest["data"].as_str().unwrap().contains("\"age\""));
    assert_eq!(
        get_json(admin, &format!("{path}/schema/0")).await["version"],
        0
    );
    assert_eq!(
        get_json(admin, &format!("{path}/versions")).await,
        serde_json::json!([0, 1])
    );
    let all = get_json(admin, &format!("{path}/schemas")).await;
    assert_eq!(all["getSchemaResponseList"].as_array().unwrap().len(), 2);
    expect("GET", admin, &format!("{path}/schema/7"), None, 404).await;
}

/// Goal: the namespace's `schemaCompatibilityStrategy` decides (ALWAYS_COMPATIBLE accepts the
/// required field, ALWAYS_INCOMPATIBLE accepts nothing new) and a topic policy overrides it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn namespace_and_topic_strategies() {
    let broker = TestBroker::start();
    let admin = &broker.admin_url;
    let ns = namespace(admin, "schemans").await;
    let policy = format!("/admin/v2/namespaces/{ns}/schemaCompatibilityStrategy");
    assert_eq!(
        get_json(admin, &policy).await,
        "FULL",
        "the broker's default shows"
    );
    expect("PUT", admin, &policy, Some("\"ALWAYS_COMPATIBLE\""), 204).await;
    assert_eq!(get_json(admin, &policy).await, "ALWAYS_COMPATIBLE");
    expect("PUT", admin, &policy, Some("\"SIDEWAYS\""), 400).await;
    let client = broker.client_without_retries().await;
    let topic = format!("persistent://{ns}/t");
    producer_with_schema(&client, &topic, "a", avro(NAME))
        .await
        .expect("v0");
    producer_with_schema(
        &client,
        &topic,
        "b",
        avro(&format!("{NAME},{AGE_REQUIRED}")),
    )
    .await
    .expect("anything goes under ALWAYS_COMPATIBLE");
    expect("PUT", admin, &policy, Some("ALWAYS_INCOMPATIBLE"), 204).await;
    let err = producer_with_schema(
        &client,
        &topic,
        "c",
        avro(&format!("{NAME},{AGE_OPTIONAL}")),
    )
    .await
    .err()
    .expect("nothing new under ALWAYS_INCOMPATIBLE");
    assert!(err.contains("IncompatibleSchema"), "{err}");
    producer_with_schema(&client, &topic, "d", avro(NAME))
        .await
        .expect("a known version is always accepted");
    let topic_policy = format!("/admin/v2/persistent/{ns}/t/schemaCompatibilityStrategy");
    expect("PUT", admin, &topic_policy, Some("\"FORWARD\""), 204).await;
    // A new required field: old readers skip it (FORWARD), new readers could not read old data.
    let email = r#"{"name":"email","type":"string"}"#;
    producer_with_schema(
        &client,
        &topic,
        "e",
        avro(&format!("{NAME},{AGE_REQUIRED},{email}")),
    )
    .await
    .expect("FORWARD at the topic level accepts it");
}

/// Goal: a consumer's schema registers on an idle topic, must read the topic's schema
/// otherwise, and a topic with data but no schema refuses one (as Pulsar).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consumer_schemas() {
    let broker = TestBroker::start();
    let client = broker.client_without_retries().await;
    let idle = unique_topic("schema-idle");
    consumer_with_schema(&client, &idle, "s", Some(avro(NAME)))
        .await
        .expect("registers");
    let path = schema_path(&idle);
    assert_eq!(
        get_json(&broker.admin_url, &format!("{path}/schema")).await["version"],
        0
    );
    let err = consumer_with_schema(
        &client,
        &idle,
        "s2",
        Some(avro(&format!("{NAME},{AGE_REQUIRED}"))),
    )
    .await
    .err()
    .expect("cannot read data written without age");
    assert!(err.contains("IncompatibleSchema"), "{err}");
    consumer_with_schema(
        &client,
        &idle,
        "s3",
        Some(avro(&format!("{NAME},{AGE_OPTIONAL}"))),
    )
    .await
    .expect("an optional field reads it");
    let busy = unique_topic("schema-busy");
    let mut p = producer(&client, &busy, "bytes").await;
    send_all(&mut p, numbered("b", 1)).await;
    let err = consumer_with_schema(&client, &busy, "s", Some(avro(NAME)))
        .await
        .err()
        .expect("no schema to check against");
    assert!(err.contains("IncompatibleSchema"), "{err}");
}

/// Goal: the admin API uploads, checks, finds and deletes schemas. Method: POST, the
/// compatibility and version paths, DELETE (a marker: GET is 404, the next schema starts
/// afresh), forced DELETE.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_upload_check_and_delete() {
    let broker = TestBroker::start();
    let admin = &broker.admin_url;
    let topic = unique_topic("schema-admin");
    let path = schema_path(&topic);
    expect("GET", admin, &format!("{path}/schema"), None, 404).await;
    let payload = |fields: &str| {
        serde_json::json!({
            "type": "AVRO",
            "schema": format!(r#"{{"type":"record","name":"User","fields":[{fields}]}}"#),
            "properties": {"owner": "it"},
        })
        .to_string()
    };
    let posted = expect(
        "POST",
        admin,
        &format!("{path}/schema"),
        Some(&payload(NAME)),
        200,
    )
    .await;
    assert_eq!(posted.json()["version"]["version"], 0);
    let check = expect(
        "POST",
        admin,
        &format!("{path}/compatibility"),
        Some(&payload(&format!("{NAME},{AGE_REQUIRED}"))),
        200,
    )
    .await;
    assert_eq!(check.json()["isCompatibility"], false);
    assert_eq!(check.json()["schemaCompatibilityStrategy"], "FULL");
    expect(
        "POST",
        admin,
        &format!("{path}/schema"),
        Some(&payload(&format!("{NAME},{AGE_REQUIRED}"))),
        409,
    )
    .await;
    expect(
        "POST",
        admin,
        &format!("{path}/schema"),
        Some(r#"{"type":"AVRO","schema":"{"}"#),
        422,
    )
    .await;
    let found = expect(
        "POST",
        admin,
        &format!("{path}/version"),
        Some(&payload(NAME)),
        200,
    )
    .await;
    assert_eq!(found.json()["version"], 0);
    assert_eq!(
        get_json(admin, &format!("{path}/schema")).await["properties"]["owner"],
        "it"
    );
    let deleted = expect("DELETE", admin, &format!("{path}/schema"), None, 200).await;
    assert_eq!(deleted.json()["version"], 1);
    expect("GET", admin, &format!("{path}/schema"), None, 404).await;
    let again = expect(
        "POST",
        admin,
        &format!("{path}/schema"),
        Some(&payload(&format!("{NAME},{AGE_REQUIRED}"))),
        200,
    )
    .await;
    assert_eq!(
        again.json()["version"]["version"],
        2,
        "after a delete anything may start"
    );
    expect(
        "DELETE",
        admin,
        &format!("{path}/schema?force=true"),
        None,
        200,
    )
    .await;
    assert_eq!(
        call("GET", admin, &format!("{path}/versions"), None)
            .await
            .json(),
        serde_json::json!([])
    );
}
