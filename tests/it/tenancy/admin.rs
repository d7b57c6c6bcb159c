//! The admin REST API for clusters, tenants and namespaces, and how the binary protocol
//! treats topics of missing tenants and namespaces.

use pulsar::consumer::InitialPosition;
use pulsar::error::{ConsumerError, ProducerError, ServiceDiscoveryError};
use pulsar::message::proto::ServerError;
use pulsar::Error as PulsarError;

use super::http::{self, expect};
use crate::common::*;

/// Goal: a fresh broker has cluster `standalone`, tenant `public` and namespace
/// `public/default` with 4 bundles. Method: read them over HTTP.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_start_creates_standalone_public_and_default() {
    let broker = TestBroker::start();
    let a = &broker.admin_url;
    assert_eq!(
        expect(http::get(a, "/admin/v2/clusters").await, 200).json(),
        serde_json::json!(["standalone"])
    );
    let cluster = expect(http::get(a, "/admin/v2/clusters/standalone").await, 200).json();
    assert_eq!(cluster["brokerServiceUrl"], broker.service_url.as_str());
    assert_eq!(cluster["serviceUrl"], a.as_str());
    expect(http::get(a, "/admin/v2/clusters/nowhere").await, 404);
    assert_eq!(
        expect(http::get(a, "/admin/v2/tenants").await, 200).json(),
        serde_json::json!(["public"])
    );
    let tenant = expect(http::get(a, "/admin/v2/tenants/public").await, 200).json();
    assert_eq!(tenant["allowedClusters"], serde_json::json!(["standalone"]));
    let namespaces = expect(http::get(a, "/admin/v2/namespaces/public").await, 200).json();
    assert_eq!(namespaces, serde_json::json!(["public/default"]));
    let policies = expect(
        http::get(a, "/admin/v2/namespaces/public/default").await,
        200,
    )
    .json();
    assert_eq!(policies["bundles"]["numBundles"], 4);
    assert_eq!(
        policies["replication_clusters"],
        serde_json::json!(["standalone"])
    );
    let health = expect(http::get(a, "/admin/v2/brokers/health").await, 200);
    assert_eq!(health.body, "ok");
}

/// Goal: tenants follow Pulsar's status codes. Method: create (204), create again (409),
/// unknown cluster (412), bad body (400), get, update, delete with a namespace (409), delete
/// (204), get and delete again (404).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tenant_lifecycle_answers_pulsars_status_codes() {
    let broker = TestBroker::start();
    let a = &broker.admin_url;
    let info = r#"{"adminRoles":["ops"],"allowedClusters":["standalone"]}"#;
    expect(
        http::put(a, "/admin/v2/tenants/acme", Some(info)).await,
        204,
    );
    let again = expect(
        http::put(a, "/admin/v2/tenants/acme", Some(info)).await,
        409,
    );
    assert!(again.reason().contains("acme"), "{}", again.body);
    let unknown = r#"{"allowedClusters":["nowhere"]}"#;
    expect(
        http::put(a, "/admin/v2/tenants/other", Some(unknown)).await,
        412,
    );
    expect(
        http::put(a, "/admin/v2/tenants/other", Some("{not json")).await,
        400,
    );
    expect(
        http::put(a, "/admin/v2/tenants/bad%20name", Some(info)).await,
        400,
    );
    let got = expect(http::get(a, "/admin/v2/tenants/acme").await, 200).json();
    assert_eq!(got["adminRoles"], serde_json::json!(["ops"]));
    let updated = r#"{"adminRoles":["ops","dev"],"allowedClusters":["standalone"]}"#;
    expect(
        http::post(a, "/admin/v2/tenants/acme", Some(updated)).await,
        204,
    );
    let got = expect(http::get(a, "/admin/v2/tenants/acme").await, 200).json();
    assert_eq!(got["adminRoles"], serde_json::json!(["dev", "ops"]));
    expect(
        http::post(a, "/admin/v2/tenants/ghost", Some(updated)).await,
        404,
    );
    let tenants = expect(http::get(a, "/admin/v2/tenants").await, 200).json();
    assert_eq!(tenants, serde_json::json!(["acme", "public"]));

    expect(
        http::put(a, "/admin/v2/namespaces/acme/ns", None).await,
        204,
    );
    expect(http::delete(a, "/admin/v2/tenants/acme").await, 409);
    expect(http::delete(a, "/admin/v2/namespaces/acme/ns").await, 204);
    expect(http::delete(a, "/admin/v2/tenants/acme").await, 204);
    expect(http::get(a, "/admin/v2/tenants/acme").await, 404);
    expect(http::delete(a, "/admin/v2/tenants/acme").await, 404);
}

/// Goal: namespaces follow Pulsar's status codes and keep their policies. Method: create in
/// a missing tenant (404), with 8 bundles (204), again (409), list, get policies, delete
/// a missing one (404).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn namespace_lifecycle_and_policies() {
    let broker = TestBroker::start();
    let a = &broker.admin_url;
    expect(
        http::put(a, "/admin/v2/namespaces/ghost/ns", None).await,
        404,
    );
    expect(http::get(a, "/admin/v2/namespaces/ghost").await, 404);
    let eight = r#"{"bundles":{"numBundles":8}}"#;
    expect(
        http::put(a, "/admin/v2/namespaces/public/eight", Some(eight)).await,
        204,
    );
    expect(
        http::put(a, "/admin/v2/namespaces/public/eight", None).await,
        409,
    );
    let list = expect(http::get(a, "/admin/v2/namespaces/public").await, 200).json();
    assert_eq!(list, serde_json::json!(["public/default", "public/eight"]));
    let bundles = expect(
        http::get(a, "/admin/v2/namespaces/public/eight/bundles").await,
        200,
    )
    .json();
    assert_eq!(bundles["numBundles"], 8);
    assert_eq!(bundles["boundaries"].as_array().map(Vec::len), Some(9));
    expect(http::get(a, "/admin/v2/namespaces/public/nope").await, 404);
    expect(
        http::delete(a, "/admin/v2/namespaces/public/nope").await,
        404,
    );
    expect(
        http::put(
            a,
            "/admin/v2/namespaces/public/bad",
            Some(r#"{"bundles":{"numBundles":0}}"#),
        )
        .await,
        400,
    );
}

/// Goal: a namespace holding topics is not deleted unless forced, and force removes its
/// topics. Method: produce to a topic, DELETE (409), DELETE?force=true (204), then the
/// namespace is gone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn namespace_with_topics_needs_force_to_delete() {
    let broker = TestBroker::start();
    let a = &broker.admin_url;
    expect(
        http::put(a, "/admin/v2/namespaces/public/doomed", None).await,
        204,
    );
    let client = broker.client().await;
    let mut p = producer(&client, "persistent://public/doomed/t", "p").await;
    send_all(&mut p, numbered("d", 2)).await;
    drop(p);
    let busy = expect(
        http::delete(a, "/admin/v2/namespaces/public/doomed").await,
        409,
    );
    assert!(busy.reason().contains("topics"), "{}", busy.body);
    expect(
        http::delete(a, "/admin/v2/namespaces/public/doomed?force=true").await,
        204,
    );
    expect(
        http::get(a, "/admin/v2/namespaces/public/doomed").await,
        404,
    );
    expect(
        http::get(a, "/admin/v2/persistent/public/doomed").await,
        404,
    );
}

fn topic_not_found(e: &PulsarError) -> bool {
    matches!(
        e,
        PulsarError::ServiceDiscovery(ServiceDiscoveryError::Query(
            Some(ServerError::TopicNotFound),
            _
        )) | PulsarError::Producer(ProducerError::Connection(_))
            | PulsarError::Consumer(ConsumerError::Connection(_))
    ) || e.to_string().contains("TopicNotFound")
}

/// Goal: producers and consumers on a topic of a missing tenant or namespace get
/// TopicNotFound. Method: pulsar-rs producer and consumer on `ghost/ns/t` and
/// `public/ghost/t`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_tenant_or_namespace_refuses_producers_and_consumers() {
    let broker = TestBroker::start();
    let client = broker.client_without_retries().await;
    for topic in ["persistent://ghost/ns/t", "persistent://public/ghost/t"] {
        let producer = within("producer", client.producer().with_topic(topic).build()).await;
        let err = producer
            .err()
            .unwrap_or_else(|| panic!("producer on {topic} was created"));
        assert!(topic_not_found(&err), "{topic}: {err}");
        let consumer = client
            .consumer()
            .with_topic(topic)
            .with_subscription("s")
            .with_options(
                pulsar::ConsumerOptions::default().with_initial_position(InitialPosition::Earliest),
            )
            .build::<Vec<u8>>();
        let err = within("consumer", consumer)
            .await
            .err()
            .expect("consumer refused");
        assert!(topic_not_found(&err), "{topic}: {err}");
    }
}

/// Goal: a tenant and namespace created over HTTP carry messages at once. Method: create
/// both, produce 3 and consume 3 with pulsar-rs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_tenant_and_namespace_carry_messages() {
    let broker = TestBroker::start();
    let a = &broker.admin_url;
    expect(
        http::put(
            a,
            "/admin/v2/tenants/acme",
            Some(r#"{"allowedClusters":["standalone"]}"#),
        )
        .await,
        204,
    );
    expect(
        http::put(a, "/admin/v2/namespaces/acme/orders", None).await,
        204,
    );
    let client = broker.client().await;
    let topic = "persistent://acme/orders/eu";
    let mut consumer = exclusive(&client, topic, "s", InitialPosition::Earliest).await;
    let mut p = producer(&client, topic, "p").await;
    send_all(&mut p, numbered("o", 3)).await;
    assert_eq!(
        receive_payloads(&mut consumer, 3).await,
        ["o-0", "o-1", "o-2"]
    );
    let topics = expect(
        http::get(a, "/admin/v2/namespaces/acme/orders/topics").await,
        200,
    )
    .json();
    assert_eq!(topics, serde_json::json!([topic]));
}

/// Goal: the broker-wide `allowAutoTopicCreation=false` refuses unknown topics and the
/// namespace override re-enables creation. Method: broker with creation off; producer fails;
/// set the namespace override on; producer works.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn namespace_override_enables_creation_on_a_strict_broker() {
    let broker = TestBroker::start_with(|c| c.allow_auto_topic_creation = false);
    let a = &broker.admin_url;
    let client = broker.client_without_retries().await;
    let topic = unique_topic("strict");
    let refused = within("producer", client.producer().with_topic(&topic).build()).await;
    assert!(refused.is_err(), "auto-created on a strict broker");
    let on = r#"{"allowAutoTopicCreation":true,"topicType":"non-partitioned"}"#;
    expect(
        http::post(
            a,
            "/admin/v2/namespaces/public/default/autoTopicCreation",
            Some(on),
        )
        .await,
        204,
    );
    let got = expect(
        http::get(a, "/admin/v2/namespaces/public/default/autoTopicCreation").await,
        200,
    )
    .json();
    assert_eq!(got["allowAutoTopicCreation"], true);
    let mut p = producer(&client, &topic, "p").await;
    send_all(&mut p, numbered("x", 1)).await;
    expect(
        http::delete(a, "/admin/v2/namespaces/public/default/autoTopicCreation").await,
        204,
    );
    expect(
        http::get(a, "/admin/v2/namespaces/public/default/autoTopicCreation").await,
        204,
    );
    let bad = r#"{"allowAutoTopicCreation":true,"topicType":"partitioned"}"#;
    expect(
        http::post(
            a,
            "/admin/v2/namespaces/public/default/autoTopicCreation",
            Some(bad),
        )
        .await,
        400,
    );
}
