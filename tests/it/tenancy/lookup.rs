//! Lookup over HTTP and the binary protocol, advertised listeners, and bundles (listing,
//! split, unload).

use geminga_actors::ownership::{topic_hash, NamespaceBundles};
use geminga_protocol::proto::{
    command_lookup_topic_response::LookupType, command_partitioned_topic_metadata_response,
    CommandLookupTopic, CommandPartitionedTopicMetadata, ServerError,
};
use pulsar::consumer::InitialPosition;

use super::{
    http::{self, expect},
    raw::Raw,
};
use crate::common::*;

fn lookup(topic: &str, request_id: u64, listener: Option<&str>) -> CommandLookupTopic {
    CommandLookupTopic {
        topic: topic.to_owned(),
        request_id,
        advertised_listener_name: listener.map(str::to_owned),
        ..CommandLookupTopic::default()
    }
}

/// Goal: HTTP lookup answers the broker's URLs, a missing namespace is 404, and the bundle
/// path names the bundle holding the topic's hash. Method: GET both paths for a topic and
/// compare with the namespace's bundles.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_lookup_answers_urls_and_bundle() {
    let broker = TestBroker::start();
    let a = &broker.admin_url;
    let answer = expect(
        http::get(a, "/lookup/v2/topic/persistent/public/default/t1").await,
        200,
    )
    .json();
    assert_eq!(answer["brokerUrl"], broker.service_url.as_str());
    assert_eq!(answer["brokerUrlTls"], "");
    assert_eq!(answer["httpUrl"], a.as_str());
    expect(
        http::get(a, "/lookup/v2/topic/persistent/public/ghost/t1").await,
        404,
    );
    expect(
        http::get(a, "/lookup/v2/topic/persistent/ghost/default/t1").await,
        404,
    );
    let non_persistent = expect(
        http::get(a, "/lookup/v2/topic/non-persistent/public/default/t1").await,
        200,
    )
    .json();
    assert_eq!(non_persistent["brokerUrl"], broker.service_url.as_str());

    let bundle = expect(
        http::get(a, "/lookup/v2/topic/persistent/public/default/t1/bundle").await,
        200,
    );
    let bundles = NamespaceBundles::equal(4).unwrap();
    let expected = bundles.find(topic_hash("persistent://public/default/t1"));
    assert_eq!(bundle.body, expected.to_string());
}

/// Goal: LOOKUP and PARTITIONED_METADATA of a topic in a missing namespace fail with
/// TopicNotFound; a partition name has 0 partitions. Method: raw frames.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binary_lookup_of_a_missing_namespace_is_topic_not_found() {
    let broker = TestBroker::start();
    let mut raw = Raw::connect(&broker.service_url, false).await;
    let answer = raw
        .request(lookup("persistent://public/ghost/t", 1, None))
        .await;
    let response = answer.lookup_topic_response.expect("lookup response");
    assert_eq!(response.response, Some(LookupType::Failed as i32));
    assert_eq!(response.error, Some(ServerError::TopicNotFound as i32));

    let meta = CommandPartitionedTopicMetadata {
        topic: "persistent://ghost/ns/t".to_owned(),
        request_id: 2,
        ..CommandPartitionedTopicMetadata::default()
    };
    let answer = raw
        .request(meta)
        .await
        .partition_metadata_response
        .expect("response");
    assert_eq!(
        answer.response,
        Some(command_partitioned_topic_metadata_response::LookupType::Failed as i32)
    );
    assert_eq!(answer.error, Some(ServerError::TopicNotFound as i32));

    expect(
        http::put(
            &broker.admin_url,
            "/admin/v2/persistent/public/default/pm/partitions",
            Some("3"),
        )
        .await,
        204,
    );
    for (topic, partitions) in [
        ("pm", 3),
        ("persistent://public/default/pm-partition-1", 0),
        ("fresh", 0),
    ] {
        let meta = CommandPartitionedTopicMetadata {
            topic: topic.to_owned(),
            request_id: 3,
            ..CommandPartitionedTopicMetadata::default()
        };
        let answer = raw
            .request(meta)
            .await
            .partition_metadata_response
            .expect("response");
        assert_eq!(answer.partitions, Some(partitions), "{topic}");
    }
}

/// Goal: `advertisedListeners` and the client's listener name choose the URL of a lookup;
/// an empty name means the internal listener; an unknown name fails with Pulsar's message.
/// Method: raw LOOKUPs with each name, and HTTP lookups by query and header.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listener_name_selects_the_advertised_url() {
    let broker = TestBroker::start_with(|c| {
        c.advertised_listeners = Some(
            "internal:pulsar://internal.example:6650,external:pulsar://external.example:16650,external:pulsar+ssl://external.example:16651".to_owned(),
        );
        c.internal_listener_name = Some("internal".to_owned());
    });
    let mut raw = Raw::connect(&broker.service_url, false).await;
    let cases = [
        (None, "pulsar://internal.example:6650"),
        (Some(""), "pulsar://internal.example:6650"),
        (Some("external"), "pulsar://external.example:16650"),
    ];
    for (i, (listener, url)) in cases.into_iter().enumerate() {
        let answer = raw.request(lookup("t", i as u64, listener)).await;
        let response = answer.lookup_topic_response.expect("lookup response");
        assert_eq!(
            response.response,
            Some(LookupType::Connect as i32),
            "{listener:?}"
        );
        assert_eq!(
            response.broker_service_url.as_deref(),
            Some(url),
            "{listener:?}"
        );
    }
    let answer = raw.request(lookup("t", 9, Some("external"))).await;
    let tls = answer
        .lookup_topic_response
        .and_then(|r| r.broker_service_url_tls);
    assert_eq!(tls.as_deref(), Some("pulsar+ssl://external.example:16651"));

    let answer = raw.request(lookup("t", 10, Some("nope"))).await;
    let response = answer.lookup_topic_response.expect("lookup response");
    assert_eq!(response.response, Some(LookupType::Failed as i32));
    assert_eq!(response.error, Some(ServerError::ServiceNotReady as i32));
    // C++ matches on Pulsar's phrase, so it must appear in the message.
    let message = response.message.unwrap_or_default();
    assert!(
        message.contains("the broker do not have nope listener"),
        "{message}"
    );

    let a = &broker.admin_url;
    let path = "/lookup/v2/topic/persistent/public/default/t";
    let by_query = expect(
        http::get(a, &format!("{path}?listenerName=external")).await,
        200,
    )
    .json();
    assert_eq!(by_query["brokerUrl"], "pulsar://external.example:16650");
    let header =
        http::call_with_header(&format!("{a}{path}"), "X-Pulsar-ListenerName", "external").await;
    assert_eq!(
        expect(header, 200).json()["brokerUrl"],
        "pulsar://external.example:16650"
    );
    let default = expect(http::get(a, path).await, 200).json();
    assert_eq!(default["brokerUrl"], "pulsar://internal.example:6650");
    expect(
        http::get(a, &format!("{path}?listenerName=nope")).await,
        503,
    );
}

/// Receives and acks `count` messages.
async fn receive_acked(consumer: &mut ByteConsumer, count: usize) -> Vec<String> {
    let mut out = Vec::with_capacity(count);
    for _ in 0..count {
        let msg = receive(consumer).await;
        consumer.ack(&msg).await.expect("ack");
        out.push(String::from_utf8_lossy(&msg.payload.data).into_owned());
    }
    out
}

/// Receives until `count` messages starting with `prefix` arrived, acking everything. An
/// unload may redeliver earlier messages whose acks were still in flight (at-least-once),
/// so those are skipped; the new ones must come in order.
async fn receive_new(consumer: &mut ByteConsumer, prefix: &str, count: usize) -> Vec<String> {
    let mut out = Vec::with_capacity(count);
    while out.len() < count {
        let msg = receive(consumer).await;
        consumer.ack(&msg).await.expect("ack");
        let payload = String::from_utf8_lossy(&msg.payload.data).into_owned();
        if payload.starts_with(prefix) {
            out.push(payload);
        }
    }
    out
}

fn topic_actor_ids(tracker: &serde_json::Value, topic: &str) -> Vec<u64> {
    tracker
        .as_array()
        .expect("actor list")
        .iter()
        .filter(|a| a["kind"] == "topic" && a["name"] == topic)
        .filter_map(|a| a["id"].as_u64())
        .collect()
}

/// Goal: unloading a bundle closes its topics' producers and consumers, which reconnect to
/// a freshly loaded topic without losing messages. Method: produce 3, consume, unload the
/// topic's bundle, produce 3 more with the same producer, consume them; the topic actor is a
/// new one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bundle_unload_reloads_topics_and_clients_carry_on() {
    let broker = TestBroker::start();
    let a = &broker.admin_url;
    let client = broker.client().await;
    let topic = unique_topic("unload");
    let full = full_name(&topic);
    let mut consumer = exclusive(&client, &topic, "s", InitialPosition::Earliest).await;
    let mut p = producer(&client, &topic, "p").await;
    send_all(&mut p, numbered("before", 3)).await;
    assert_eq!(
        receive_acked(&mut consumer, 3).await,
        ["before-0", "before-1", "before-2"]
    );
    let actors = expect(http::get(a, "/admin/v2/broker/actors").await, 200).json();
    let before = topic_actor_ids(&actors, &full);
    assert_eq!(before.len(), 1);

    let bundle = expect(
        http::get(
            a,
            &format!("/lookup/v2/topic/persistent/public/default/{topic}/bundle"),
        )
        .await,
        200,
    )
    .body;
    expect(
        http::put(
            a,
            &format!("/admin/v2/namespaces/public/default/{bundle}/unload"),
            None,
        )
        .await,
        204,
    );
    expect(
        http::put(
            a,
            "/admin/v2/namespaces/public/default/0x00000000_0x00000010/unload",
            None,
        )
        .await,
        404,
    );

    send_all(&mut p, numbered("after", 3)).await;
    assert_eq!(
        receive_new(&mut consumer, "after", 3).await,
        ["after-0", "after-1", "after-2"]
    );
    let actors = expect(http::get(a, "/admin/v2/broker/actors").await, 200).json();
    let after = topic_actor_ids(&actors, &full);
    assert_eq!(after.len(), 1);
    assert_ne!(before, after, "the topic was not reloaded");

    expect(
        http::put(a, "/admin/v2/namespaces/public/default/unload", None).await,
        204,
    );
    send_all(&mut p, numbered("again", 1)).await;
    assert_eq!(receive_new(&mut consumer, "again", 1).await, ["again-0"]);
}

/// Goal: splitting a bundle halves its range and keeps the others; unknown bundles are 404
/// and unknown algorithms 412. Method: split the first default bundle, list the bundles.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn split_bundle_halves_the_range() {
    let broker = TestBroker::start();
    let a = &broker.admin_url;
    let ns = "/admin/v2/namespaces/public/default";
    expect(
        http::put(
            a,
            &format!("{ns}/0x00000000_0x40000000/split?unload=true"),
            None,
        )
        .await,
        204,
    );
    let bundles = expect(http::get(a, &format!("{ns}/bundles")).await, 200).json();
    assert_eq!(
        bundles["boundaries"],
        serde_json::json!([
            "0x00000000",
            "0x20000000",
            "0x40000000",
            "0x80000000",
            "0xc0000000",
            "0xffffffff"
        ])
    );
    assert_eq!(bundles["numBundles"], 5);
    expect(
        http::put(a, &format!("{ns}/0x00000000_0x40000000/split"), None).await,
        404,
    );
    expect(http::put(a, &format!("{ns}/zz/split"), None).await, 400);
    let odd =
        format!("{ns}/0x40000000_0x80000000/split?splitAlgorithmName=topic_count_equally_divide");
    expect(http::put(a, &odd, None).await, 412);
}
