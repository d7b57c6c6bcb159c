//! Non-persistent topics: delivered from memory to connected consumers, never stored, dropped
//! for consumers without permits, counted in stats.

use geminga::client::{Client as NativeClient, ConnectOptions, SubscribeOptions};
use pulsar::{consumer::InitialPosition, ConsumerOptions, SubType};

use crate::admin_http::{expect, get_json};
use crate::common::*;

fn np_name(short: &str) -> String {
    format!("non-persistent://public/default/{short}")
}

fn np_path(short: &str) -> String {
    format!("/admin/v2/non-persistent/public/default/{short}")
}

async fn np_consumer(client: &Client, topic: &str, sub: &str) -> ByteConsumer {
    let options = ConsumerOptions::default().with_initial_position(InitialPosition::Earliest);
    within(
        "subscribe",
        client
            .consumer()
            .with_topic(topic)
            .with_subscription(sub)
            .with_subscription_type(SubType::Shared)
            .with_options(options)
            .build::<Vec<u8>>(),
    )
    .await
    .unwrap_or_else(|e| panic!("subscribe {topic}: {e}"))
}

/// Goal: messages reach connected consumers, are counted, and nothing is stored. Method: one
/// consumer, 5 messages; check stats and listings; restart the broker: the topic is gone and
/// a new consumer gets none of the old messages.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_go_to_connected_consumers_and_never_to_disk() {
    let mut broker = TestBroker::start();
    let short = unique_topic("np");
    let topic = np_name(&short);
    let client = broker.client().await;
    let mut consumer = np_consumer(&client, &topic, "sub").await;
    let mut producer = producer(&client, &topic, "np-producer").await;
    send_all(&mut producer, numbered("n", 5)).await;
    assert_eq!(
        receive_payloads(&mut consumer, 5).await,
        vec!["n-0", "n-1", "n-2", "n-3", "n-4"]
    );

    let admin = broker.admin_url.clone();
    let stats = get_json(&admin, &format!("{}/stats", np_path(&short))).await;
    assert_eq!(stats["msgInCounter"], 5);
    assert_eq!(stats["storageSize"], 0);
    assert!(stats["msgDropRate"].is_number(), "{stats}");
    assert_eq!(stats["publishers"][0]["producerName"], "np-producer");
    assert!(stats["subscriptions"]["sub"]["msgDropRate"].is_number());
    let listed = get_json(&admin, "/admin/v2/non-persistent/public/default").await;
    assert!(listed.as_array().unwrap().contains(&topic.clone().into()));
    let persistent = get_json(&admin, "/admin/v2/persistent/public/default").await;
    assert!(persistent.as_array().unwrap().is_empty(), "{persistent}");
    expect(
        "GET",
        &admin,
        &format!("{}/internalStats", np_path(&short)),
        None,
        405,
    )
    .await;

    drop((consumer, producer, client));
    broker.restart();
    let admin = broker.admin_url.clone();
    expect(
        "GET",
        &admin,
        &format!("{}/stats", np_path(&short)),
        None,
        404,
    )
    .await;
    let client = broker.client().await;
    let mut fresh = np_consumer(&client, &topic, "sub").await;
    assert_no_message(&mut fresh, "nothing survives a restart").await;
}

/// Goal: entries are dropped for a consumer without permits and counted; once it grants
/// permits it gets what is published next. Method: the native client subscribes with no
/// permits; 5 messages are dropped; FLOW 10; 3 more arrive.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_are_dropped_for_consumers_without_permits() {
    let broker = TestBroker::start();
    let short = unique_topic("np-drop");
    let topic = np_name(&short);
    let native = within(
        "native connect",
        NativeClient::connect(&broker.service_url, ConnectOptions::default()),
    )
    .await
    .expect("native client");
    let mut options = SubscribeOptions::new("sub");
    options.receiver_queue_size = 0;
    let mut consumer = within("native subscribe", native.subscribe(&topic, options))
        .await
        .expect("subscribe");
    let client = broker.client().await;
    let mut producer = producer(&client, &topic, "np-drop-producer").await;
    send_all(&mut producer, numbered("dropped", 5)).await;

    let stats = get_json(&broker.admin_url, &format!("{}/stats", np_path(&short))).await;
    let drop_rate = stats["subscriptions"]["sub"]["msgDropRate"]
        .as_f64()
        .unwrap();
    assert!(drop_rate > 0.0, "drops are counted: {stats}");
    assert_eq!(stats["subscriptions"]["sub"]["msgBacklog"], 0);

    within("flow", consumer.flow(10)).await.expect("flow");
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    send_all(&mut producer, numbered("kept", 3)).await;
    for i in 0..3 {
        let msg = within("native receive", consumer.receive()).await.unwrap();
        assert_eq!(msg.payload.as_ref(), format!("kept-{i}").as_bytes());
    }
}
