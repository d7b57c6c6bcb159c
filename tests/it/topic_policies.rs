//! Topic-level policies: the REST paths, and the policies the actors apply.

use pulsar::{consumer::InitialPosition, ConsumerOptions, SubType};

use crate::admin_http::{eventually, expect, get_json, topic_path};
use crate::common::*;

/// Goal: policies are stored, read back and removed with Pulsar's paths and codes. Method:
/// GET on a missing topic (404); unset (204); set, get, remove several policies.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn policies_are_set_read_and_removed() {
    let broker = TestBroker::start();
    let admin = &broker.admin_url;
    let topic = unique_topic("policies");
    let path = topic_path(&topic);
    let unacked = format!("{path}/maxUnackedMessagesOnConsumer");
    expect("GET", admin, &unacked, None, 404).await;
    expect("POST", admin, &unacked, Some("3"), 404).await;
    expect("PUT", admin, &path, None, 204).await;
    expect("GET", admin, &unacked, None, 204).await;
    let applied = get_json(admin, &format!("{unacked}?applied=true")).await;
    assert_eq!(applied, 50_000, "the broker's default applies");
    expect("POST", admin, &unacked, Some("3"), 204).await;
    assert_eq!(get_json(admin, &unacked).await, 3);
    expect("POST", admin, &unacked, Some("\"x\""), 400).await;

    let ttl = format!("{path}/messageTTL");
    expect("POST", admin, &format!("{ttl}?messageTTL=120"), None, 204).await;
    assert_eq!(get_json(admin, &ttl).await, 120);
    let retention = format!("{path}/retention");
    let body = r#"{"retentionTimeInMinutes":60,"retentionSizeInMB":1024}"#;
    expect("POST", admin, &retention, Some(body), 204).await;
    assert_eq!(get_json(admin, &retention).await["retentionSizeInMB"], 1024);

    expect("DELETE", admin, &unacked, None, 204).await;
    expect("GET", admin, &unacked, None, 204).await;
    assert_eq!(get_json(admin, &ttl).await, 120, "other policies stay");
}

/// Goal: maxUnackedMessagesOnConsumer pauses a Shared consumer at the limit. Method: limit 2;
/// 4 messages; the consumer gets 2, nothing more until it acks one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_unacked_messages_on_consumer_applies() {
    let broker = TestBroker::start();
    let admin = &broker.admin_url;
    let topic = unique_topic("unacked");
    let path = topic_path(&topic);
    expect("PUT", admin, &path, None, 204).await;
    expect(
        "POST",
        admin,
        &format!("{path}/maxUnackedMessagesOnConsumer"),
        Some("2"),
        204,
    )
    .await;
    let client = broker.client().await;
    let options = ConsumerOptions::default().with_initial_position(InitialPosition::Earliest);
    let mut consumer = within(
        "subscribe",
        client
            .consumer()
            .with_topic(topic.as_str())
            .with_subscription("sub")
            .with_subscription_type(SubType::Shared)
            .with_options(options)
            .build::<Vec<u8>>(),
    )
    .await
    .unwrap();
    let mut producer = producer(&client, &topic, "unacked-producer").await;
    send_all(&mut producer, numbered("u", 4)).await;
    let first = receive(&mut consumer).await;
    let _second = receive(&mut consumer).await;
    assert_no_message(&mut consumer, "the consumer is at its unacked limit").await;
    within("ack", consumer.ack(&first)).await.unwrap();
    assert_eq!(receive_payloads(&mut consumer, 1).await, vec!["u-2"]);
}

/// Goal: maxProducers refuses producers beyond the limit. Method: limit 1, two producers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_producers_applies() {
    let broker = TestBroker::start();
    let admin = &broker.admin_url;
    let topic = unique_topic("maxprod");
    let path = topic_path(&topic);
    expect("PUT", admin, &path, None, 204).await;
    expect(
        "POST",
        admin,
        &format!("{path}/maxProducers"),
        Some("1"),
        204,
    )
    .await;
    let client = broker.client_without_retries().await;
    let _first = producer(&client, &topic, "first").await;
    let second = client
        .producer()
        .with_topic(topic.as_str())
        .with_name("second")
        .build()
        .await;
    assert!(second.is_err(), "a second producer must be refused");
}

/// Goal: messageTTL expires old messages without any request. Method: 3 messages on a
/// consumerless subscription, TTL 1 s; the backlog drains by itself.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn message_ttl_expires_backlog() {
    let broker = TestBroker::start();
    let admin = &broker.admin_url;
    let topic = unique_topic("ttl");
    let path = topic_path(&topic);
    expect("PUT", admin, &path, None, 204).await;
    expect("PUT", admin, &format!("{path}/subscription/s"), None, 204).await;
    let client = broker.client().await;
    let mut producer = producer(&client, &topic, "ttl-producer").await;
    send_all(&mut producer, numbered("x", 3)).await;
    expect(
        "POST",
        admin,
        &format!("{path}/messageTTL?messageTTL=1"),
        None,
        204,
    )
    .await;
    eventually("the TTL expires the backlog", || async {
        get_json(admin, &format!("{path}/stats")).await["subscriptions"]["s"]["msgBacklog"] == 0
    })
    .await;
}
