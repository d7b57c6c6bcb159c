//! Topic administration over the admin REST API with the `pulsar` crate as the client:
//! create/list/delete, stats, internal stats, subscriptions and cursor operations, messages,
//! unload and terminate.

use futures_util::StreamExt;
use pulsar::{consumer::InitialPosition, ConsumerOptions, SubType};

use crate::admin_http::{call, eventually, expect, get_json, topic_path};
use crate::common::*;

/// Goal: create, list and delete follow Pulsar's status codes. Method: create twice (204, 409),
/// list, delete with a producer attached (412), force-delete (204), delete again (404); a topic
/// in a missing tenant or namespace is 404 naming it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_list_delete_with_pulsar_status_codes() {
    let broker = TestBroker::start();
    let admin = &broker.admin_url;
    let topic = unique_topic("crud");
    let path = topic_path(&topic);
    expect("PUT", admin, &path, None, 204).await;
    let again = expect("PUT", admin, &path, None, 409).await;
    assert!(again.reason().contains("already exists"), "{again:?}");
    let listed = get_json(admin, "/admin/v2/persistent/public/default").await;
    assert!(listed
        .as_array()
        .unwrap()
        .contains(&full_name(&topic).into()));

    let client = broker.client().await;
    let _producer = producer(&client, &topic, "crud-producer").await;
    let refused = expect("DELETE", admin, &path, None, 412).await;
    assert!(refused.reason().contains("active"), "{refused:?}");
    expect("DELETE", admin, &format!("{path}?force=true"), None, 204).await;
    expect("DELETE", admin, &path, None, 404).await;
    let listed = get_json(admin, "/admin/v2/persistent/public/default").await;
    assert!(!listed
        .as_array()
        .unwrap()
        .contains(&full_name(&topic).into()));

    for (namespace, named) in [
        ("ghost/default", "ghost/default"),
        ("public/ghost", "public/ghost"),
    ] {
        let path = format!("/admin/v2/persistent/{namespace}/{topic}");
        let missing = expect("PUT", admin, &path, None, 404).await;
        assert!(
            missing
                .reason()
                .contains(&format!("namespace {named} does not exist")),
            "{missing:?}"
        );
        expect("GET", admin, &format!("{path}/stats"), None, 404).await;
    }
}

/// Goal: stats carry Pulsar's fields with real values. Method: a named producer sends 5
/// unbatched messages, an Exclusive consumer receives and acks 2; check counters, publishers,
/// subscription backlog/type/consumers and the cursor in internal stats.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stats_and_internal_stats_report_publishers_backlog_and_cursors() {
    let broker = TestBroker::start();
    let client = broker.client().await;
    let topic = unique_topic("stats");
    let mut consumer = exclusive(&client, &topic, "sub", InitialPosition::Earliest).await;
    let mut producer = producer(&client, &topic, "stats-producer").await;
    send_all(&mut producer, numbered("s", 5)).await;
    for _ in 0..2 {
        let msg = receive(&mut consumer).await;
        within("ack", consumer.ack(&msg)).await.expect("ack");
    }
    let admin = &broker.admin_url;
    let path = topic_path(&topic);
    eventually("acks applied", || async {
        get_json(admin, &format!("{path}/stats")).await["subscriptions"]["sub"]["msgBacklog"] == 3
    })
    .await;
    let stats = get_json(admin, &format!("{path}/stats")).await;
    assert_eq!(stats["msgInCounter"], 5);
    assert!(stats["bytesInCounter"].as_u64().unwrap() >= 5 * 3);
    assert!(stats["msgRateIn"].as_f64().unwrap() > 0.0);
    assert!(stats["storageSize"].as_u64().unwrap() > 0);
    assert_eq!(stats["publishers"][0]["producerName"], "stats-producer");
    let sub = &stats["subscriptions"]["sub"];
    assert_eq!(sub["type"], "Exclusive");
    assert_eq!(sub["consumers"].as_array().unwrap().len(), 1);
    assert!(sub["msgOutCounter"].as_u64().unwrap() >= 5);
    assert_eq!(sub["isDurable"], true);
    let bundle = call(
        "GET",
        admin,
        &format!("/lookup/v2/topic/persistent/public/default/{topic}/bundle"),
        None,
    )
    .await;
    assert_eq!(
        stats["bundle"],
        String::from_utf8_lossy(&bundle.body).as_ref()
    );

    let internal = get_json(admin, &format!("{path}/internalStats")).await;
    assert_eq!(internal["numberOfEntries"], 5);
    let ledger = internal["ledgers"][0]["ledgerId"].as_u64().unwrap();
    assert_eq!(internal["lastConfirmedEntry"], format!("{ledger}:4"));
    assert_eq!(
        internal["cursors"]["sub"]["markDeletePosition"],
        format!("{ledger}:1")
    );
}

/// Goal: subscriptions can be created at a message id, listed and deleted (412 with consumers
/// unless forced). Method: create at entry 2 of 4, consume from it; create at latest, earliest.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscriptions_are_created_at_a_message_id_and_deleted() {
    let broker = TestBroker::start();
    let client = broker.client().await;
    let topic = unique_topic("subs");
    let mut producer = producer(&client, &topic, "subs-producer").await;
    let receipts = send_all(&mut producer, numbered("m", 4)).await;
    let third = receipt_id(&receipts[2]);
    let admin = &broker.admin_url;
    let path = topic_path(&topic);
    let at = format!(
        r#"{{"ledgerId":{},"entryId":{},"partitionIndex":-1}}"#,
        third.ledger_id, third.entry_id
    );
    expect(
        "PUT",
        admin,
        &format!("{path}/subscription/at-id"),
        Some(&at),
        204,
    )
    .await;
    expect(
        "PUT",
        admin,
        &format!("{path}/subscription/at-id"),
        None,
        409,
    )
    .await;
    expect(
        "PUT",
        admin,
        &format!("{path}/subscription/latest"),
        None,
        204,
    )
    .await;
    let earliest = r#"{"ledgerId":-1,"entryId":-1}"#;
    expect(
        "PUT",
        admin,
        &format!("{path}/subscription/first"),
        Some(earliest),
        204,
    )
    .await;
    let names = get_json(admin, &format!("{path}/subscriptions")).await;
    assert_eq!(names, serde_json::json!(["at-id", "first", "latest"]));
    let stats = get_json(admin, &format!("{path}/stats")).await;
    assert_eq!(stats["subscriptions"]["at-id"]["msgBacklog"], 2);
    assert_eq!(stats["subscriptions"]["latest"]["msgBacklog"], 0);
    assert_eq!(stats["subscriptions"]["first"]["msgBacklog"], 4);

    // A client of its own, dropped after the forced delete: pulsar-rs re-subscribes a
    // consumer the broker disconnects, even after `close`, until its client is gone.
    let consumer_client = broker.client().await;
    let mut consumer =
        exclusive(&consumer_client, &topic, "at-id", InitialPosition::Earliest).await;
    assert_eq!(receive_payloads(&mut consumer, 2).await, vec!["m-2", "m-3"]);
    let busy = expect(
        "DELETE",
        admin,
        &format!("{path}/subscription/at-id"),
        None,
        412,
    )
    .await;
    assert!(busy.reason().contains("consumers"), "{busy:?}");
    // Forced: the consumer is disconnected (and, being a client, subscribes again).
    expect(
        "DELETE",
        admin,
        &format!("{path}/subscription/at-id?force=true"),
        None,
        204,
    )
    .await;
    within("close", consumer.close()).await.expect("close");
    drop(consumer);
    drop(consumer_client);
    // The client's re-subscribe may still land after its close returned and bring `at-id`
    // back, with a consumer attached: delete (forced) until the subscription stays gone.
    eventually("at-id deleted after the client's re-subscribe", || async {
        let at_id = format!("{path}/subscription/at-id?force=true");
        let cleanup = call("DELETE", admin, &at_id, None).await;
        assert!(matches!(cleanup.status, 204 | 404), "{cleanup:?}");
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        let names = get_json(admin, &format!("{path}/subscriptions")).await;
        !names
            .as_array()
            .is_some_and(|n| n.contains(&"at-id".into()))
    })
    .await;
    expect(
        "DELETE",
        admin,
        &format!("{path}/subscription/latest"),
        None,
        204,
    )
    .await;
    expect(
        "DELETE",
        admin,
        &format!("{path}/subscription/nope"),
        None,
        404,
    )
    .await;
    let names = get_json(admin, &format!("{path}/subscriptions")).await;
    assert_eq!(names, serde_json::json!(["first"]));
}

/// Goal: skip, clear-backlog and expire move the cursor. Method: 6 messages on a consumerless
/// subscription; skip 2 (backlog 4), expire older than 0 s (backlog 0), publish 3 more,
/// clear the backlog (0).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn skip_clear_backlog_and_expire_acknowledge_messages() {
    let broker = TestBroker::start();
    let client = broker.client().await;
    let topic = unique_topic("skip");
    let admin = &broker.admin_url;
    let path = topic_path(&topic);
    expect("PUT", admin, &path, None, 204).await;
    expect("PUT", admin, &format!("{path}/subscription/s"), None, 204).await;
    let mut producer = producer(&client, &topic, "skip-producer").await;
    send_all(&mut producer, numbered("k", 6)).await;
    let backlog = || async {
        get_json(admin, &format!("{path}/stats")).await["subscriptions"]["s"]["msgBacklog"]
            .as_u64()
            .unwrap()
    };
    assert_eq!(backlog().await, 6);
    expect(
        "POST",
        admin,
        &format!("{path}/subscription/s/skip/2"),
        None,
        204,
    )
    .await;
    assert_eq!(backlog().await, 4);
    let peeked = expect(
        "GET",
        admin,
        &format!("{path}/subscription/s/position/1"),
        None,
        200,
    )
    .await;
    assert_eq!(peeked.body, b"k-2");
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    expect(
        "POST",
        admin,
        &format!("{path}/subscription/s/expireMessages/0"),
        None,
        204,
    )
    .await;
    assert_eq!(backlog().await, 0);
    let stats = get_json(admin, &format!("{path}/stats")).await;
    assert_eq!(stats["subscriptions"]["s"]["totalMsgExpired"], 4);

    send_all(&mut producer, numbered("l", 3)).await;
    assert_eq!(backlog().await, 3);
    expect(
        "POST",
        admin,
        &format!("{path}/subscription/s/skip_all"),
        None,
        204,
    )
    .await;
    assert_eq!(backlog().await, 0);
    expect(
        "GET",
        admin,
        &format!("{path}/subscription/s/position/1"),
        None,
        404,
    )
    .await;
}

/// Goal: reset-cursor by time and by message id rewinds an attached consumer. Method: consume
/// and ack 4 messages; reset to the 2nd by id: the consumer gets m-1.. again; reset by a
/// time before everything: m-0 again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reset_cursor_by_id_and_by_time_redelivers() {
    let broker = TestBroker::start();
    let client = broker.client().await;
    let topic = unique_topic("reset");
    let start = now_millis().saturating_sub(1000);
    let mut consumer = exclusive(&client, &topic, "sub", InitialPosition::Earliest).await;
    let mut producer = producer(&client, &topic, "reset-producer").await;
    let receipts = send_all(&mut producer, numbered("m", 4)).await;
    for _ in 0..4 {
        let msg = receive(&mut consumer).await;
        within("ack", consumer.ack(&msg)).await.expect("ack");
    }
    let second = receipt_id(&receipts[1]);
    let admin = &broker.admin_url;
    let path = topic_path(&topic);
    let body = format!(
        r#"{{"ledgerId":{},"entryId":{}}}"#,
        second.ledger_id, second.entry_id
    );
    expect(
        "POST",
        admin,
        &format!("{path}/subscription/sub/resetcursor"),
        Some(&body),
        204,
    )
    .await;
    assert_eq!(
        receive_payloads(&mut consumer, 3).await,
        vec!["m-1", "m-2", "m-3"]
    );
    let by_time = format!("{path}/subscription/sub/resetcursor/{start}");
    expect("POST", admin, &by_time, None, 204).await;
    assert_eq!(receive_payloads(&mut consumer, 1).await, vec!["m-0"]);
}

/// Goal: peek, get-message-by-id and last message id answer like Pulsar. Method: send one
/// message with a key and properties; check the raw payload and the X-Pulsar headers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn peek_and_get_message_by_id_return_payload_and_headers() {
    let broker = TestBroker::start();
    let client = broker.client().await;
    let topic = unique_topic("peek");
    let admin = &broker.admin_url;
    let path = topic_path(&topic);
    expect("PUT", admin, &path, None, 204).await;
    expect("PUT", admin, &format!("{path}/subscription/s"), None, 204).await;
    let mut producer = producer(&client, &topic, "peek-producer").await;
    let message = producer
        .create_message()
        .with_content(b"hello".to_vec())
        .with_key("k1")
        .with_property("color", "blue");
    let receipt = within(
        "send",
        within("queue", message.send_non_blocking()).await.unwrap(),
    )
    .await
    .unwrap();
    let id = receipt_id(&receipt);
    let expected_id = format!("{}:{}", id.ledger_id, id.entry_id);

    let peeked = expect(
        "GET",
        admin,
        &format!("{path}/subscription/s/position/1"),
        None,
        200,
    )
    .await;
    assert_eq!(peeked.body, b"hello");
    assert_eq!(
        peeked.header("X-Pulsar-Message-ID"),
        Some(expected_id.as_str())
    );
    assert_eq!(peeked.header("X-Pulsar-PROPERTY-color"), Some("blue"));
    assert_eq!(peeked.header("X-Pulsar-partition-key"), Some("k1"));
    assert_eq!(
        peeked.header("X-Pulsar-producer-name"),
        Some("peek-producer")
    );
    assert!(peeked
        .header("X-Pulsar-publish-time")
        .unwrap()
        .ends_with('Z'));

    let by_id = format!("{path}/ledger/{}/entry/{}", id.ledger_id, id.entry_id);
    let fetched = expect("GET", admin, &by_id, None, 200).await;
    assert_eq!(fetched.body, b"hello");
    let missing = format!("{path}/ledger/{}/entry/99", id.ledger_id);
    expect("GET", admin, &missing, None, 404).await;

    let last = get_json(admin, &format!("{path}/lastMessageId")).await;
    assert_eq!(last["ledgerId"], id.ledger_id);
    assert_eq!(last["entryId"], id.entry_id);
    assert_eq!(last["partitionIndex"], -1);
    expect(
        "GET",
        admin,
        &topic_path("never-created/lastMessageId"),
        None,
        404,
    )
    .await;
}

/// Goal: unload closes producers and consumers and they carry on after reconnecting. Method:
/// unload between two sends; the consumer gets both.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unload_disconnects_clients_which_reconnect() {
    let broker = TestBroker::start();
    let client = broker.client().await;
    let topic = unique_topic("unload");
    let mut consumer = exclusive(&client, &topic, "sub", InitialPosition::Earliest).await;
    let mut producer = producer(&client, &topic, "unload-producer").await;
    send_all(&mut producer, vec![b"before".to_vec()]).await;
    let before = receive(&mut consumer).await;
    assert_eq!(before.payload.data, b"before");
    within("ack", consumer.ack(&before)).await.expect("ack");
    let admin = &broker.admin_url;
    expect(
        "PUT",
        admin,
        &format!("{}/unload", topic_path(&topic)),
        None,
        204,
    )
    .await;
    send_all(&mut producer, vec![b"after".to_vec()]).await;
    assert_eq!(receive_payloads(&mut consumer, 1).await, vec!["after"]);
    expect("PUT", admin, &topic_path("never-created/unload"), None, 404).await;
}

/// Goal: a terminated topic refuses publishes and its consumers reach the end (the pulsar-rs
/// stream ends on REACHED_END_OF_TOPIC). Method: send 2, terminate, drain the consumer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn terminate_refuses_publishes_and_ends_consumers() {
    let broker = TestBroker::start();
    let client = broker.client().await;
    let topic = unique_topic("terminate");
    let options = ConsumerOptions::default().with_initial_position(InitialPosition::Earliest);
    let mut consumer = within(
        "subscribe",
        client
            .consumer()
            .with_topic(topic.as_str())
            .with_subscription("sub")
            .with_subscription_type(SubType::Exclusive)
            .with_options(options)
            .build::<Vec<u8>>(),
    )
    .await
    .unwrap();
    let mut producer = producer(&client, &topic, "terminate-producer").await;
    let receipts = send_all(&mut producer, numbered("t", 2)).await;
    let last = receipt_id(&receipts[1]);
    let admin = &broker.admin_url;
    let answer = expect(
        "POST",
        admin,
        &format!("{}/terminate", topic_path(&topic)),
        None,
        200,
    )
    .await;
    assert_eq!(answer.json()["entryId"], last.entry_id);

    let refused = client
        .producer()
        .with_topic(topic.as_str())
        .with_name("late")
        .build()
        .await;
    let text = format!("{:?}", refused.err().expect("producer refused"));
    assert!(text.contains("TopicTerminated"), "{text}");

    for _ in 0..2 {
        let msg = receive(&mut consumer).await;
        within("ack", consumer.ack(&msg)).await.unwrap();
    }
    let end = within("end of topic", consumer.next()).await;
    assert!(
        end.is_none(),
        "stream should end, got {:?}",
        end.map(|r| r.is_ok())
    );
    let internal = get_json(admin, &format!("{}/internalStats", topic_path(&topic))).await;
    assert_eq!(internal["state"], "Terminated");
    let _ = call("GET", admin, "/admin/v2/brokers/health", None).await;
}

/// Goal: a SUBSCRIBE that may create a topic is not answered with the "not found" of an admin
/// read of the same topic loading at that moment. Method: ask the registry for a new topic
/// without and with `create` back to back: the first is not found, the second gets the topic.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_creating_lookup_is_not_answered_by_a_concurrent_read() {
    use geminga_actors::registry::GetTopic;
    let broker = TestBroker::start();
    let registry = broker.context().registry().expect("registry");
    for round in 0..20 {
        let name = full_name(&unique_topic(&format!("race-{round}")));
        let read = registry.send(GetTopic {
            name: name.clone(),
            create: false,
        });
        let create = registry.send(GetTopic { name, create: true });
        let (read, create) = within("both answered", async { (read.await, create.await) }).await;
        assert!(
            matches!(
                read,
                Ok(Err(geminga_actors::RequestError::TopicNotFound { .. }))
            ),
            "{read:?}"
        );
        assert!(matches!(create, Ok(Ok(_))), "round {round}: {create:?}");
    }
}
