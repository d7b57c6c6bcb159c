//! Retention: acknowledged messages are deleted by default, kept by a retention policy (for
//! readers and cursor resets, across restarts), and the storage-holds report says why.

use pulsar::consumer::InitialPosition;

use super::*;
use crate::admin_http::{expect, topic_path};

/// Goal: with the default retention (0), the log is trimmed as soon as the slowest
/// subscription acknowledged it; before that the subscription is named as the holder.
/// Method: subscribe, publish 10 unacknowledged (report shows the subscription holding 10),
/// consume and ack them all, wait for the report to show an empty log; a reader from the
/// earliest position then finds nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_messages_are_deleted_by_default() {
    let broker = TestBroker::start_with(fast);
    let client = broker.client().await;
    let topic = unique_topic("ret-default");
    let mut consumer = exclusive(&client, &topic, "s", InitialPosition::Earliest).await;
    let mut producer = producer(&client, &topic, "p").await;
    send_all(&mut producer, numbered("m", 10)).await;

    let report = holds_until(&broker, &topic, "10 held entries", |r| {
        r["storedEntries"] == 10
    })
    .await;
    let hold = &report["holds"][0];
    assert_eq!(hold["type"], "subscription", "{report:#}");
    assert_eq!(hold["name"], "s");
    assert_eq!(hold["heldEntries"], 10);
    assert_eq!(hold["heldBytes"], report["storedBytes"]);
    assert_eq!(hold["exclusiveBytes"], report["storedBytes"]);
    assert_eq!(report["trimPoint"], 0);

    receive_acking(&mut consumer, 10).await;
    let report = holds_until(&broker, &topic, "an empty log", |r| r["storedEntries"] == 0).await;
    assert_eq!(report["trimmedBefore"], 10);
    assert_eq!(report["storedBytes"], 0);
    assert_eq!(report["lastEntryId"], 9);

    let mut reader = reader_from_earliest(&client, &topic, false).await;
    assert_no_message(&mut reader, "deleted messages").await;
    send_all(&mut producer, numbered("n", 1)).await;
    assert_eq!(receive_payloads(&mut reader, 1).await, vec!["n-0"]);
}

/// Goal: a namespace retention policy keeps acknowledged messages, readable by readers and
/// by resetting the cursor (`resetcursor`), also after a restart; a topic policy of 0 overrides it.
/// Method: retention 60 min / 100 MB on public/default; consume and ack 5; the report names
/// the retention (from the namespace); a reader reads all 5; seeking the subscription to the
/// earliest message replays them; restart and read again; then topic retention 0 trims.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retention_keeps_acknowledged_messages_for_readers_and_resets() {
    let mut broker = TestBroker::start_with(fast);
    set_ns(
        &broker,
        "retention",
        r#"{"retentionTimeInMinutes":60,"retentionSizeInMB":100}"#,
    )
    .await;
    let retention = get_json(&broker.admin_url, &ns_path("retention")).await;
    assert_eq!(retention["retentionSizeInMB"], 100);
    let client = broker.client().await;
    let topic = unique_topic("ret-keep");
    let mut consumer = exclusive(&client, &topic, "s", InitialPosition::Earliest).await;
    let mut producer = producer(&client, &topic, "p").await;
    send_all(&mut producer, numbered("k", 5)).await;
    assert_eq!(receive_acking(&mut consumer, 5).await.len(), 5);

    let report = holds_until(&broker, &topic, "the retention hold", |r| {
        r["holds"][0]["type"] == "retention"
    })
    .await;
    assert_eq!(report["storedEntries"], 5, "{report:#}");
    assert_eq!(report["holds"][0]["source"], "namespace");
    assert_eq!(report["holds"][0]["policy"]["retentionTimeInMinutes"], 60);
    assert_eq!(report["reclaimableBytes"], 0);
    let mut reader = reader_from_earliest(&client, &topic, false).await;
    assert_eq!(receive_payloads(&mut reader, 5).await.len(), 5);
    drop(reader);

    // Reset through the admin API: the broker disconnects the consumer, which re-attaches at
    // the new position. (The `pulsar` crate's own seek replaces the consumer while the old one
    // also re-subscribes, which races on an Exclusive subscription.)
    let reset = format!("{}/subscription/s/resetcursor/0", topic_path(&topic));
    expect("POST", &broker.admin_url, &reset, None, 204).await;
    let replayed = receive_acking(&mut consumer, 5).await;
    assert_eq!(replayed, vec!["k-0", "k-1", "k-2", "k-3", "k-4"]);
    // Acks are not answered: wait until the broker has them before restarting.
    holds_until(&broker, &topic, "the replay acknowledged", |r| {
        r["holds"]
            .as_array()
            .is_some_and(|h| h.iter().any(|h| h["name"] == "s" && h["position"] == 5))
    })
    .await;
    drop((consumer, producer, client));

    broker.restart();
    let client = broker.client().await;
    let mut reader = reader_from_earliest(&client, &topic, false).await;
    assert_eq!(
        receive_payloads(&mut reader, 5).await[0],
        "k-0",
        "kept across restart"
    );
    drop(reader);

    set_topic(
        &broker,
        &topic,
        "retention",
        r#"{"retentionTimeInMinutes":0,"retentionSizeInMB":0}"#,
    )
    .await;
    holds_until(&broker, &topic, "the topic policy to trim", |r| {
        r["storedEntries"] == 0
    })
    .await;
    let applied = get_json(
        &broker.admin_url,
        &format!("{}/retention?applied=true", topic_path(&topic)),
    )
    .await;
    assert_eq!(applied["retentionTimeInMinutes"], 0);
    expect(
        "DELETE",
        &broker.admin_url,
        &ns_path("retention"),
        None,
        204,
    )
    .await;
    expect("GET", &broker.admin_url, &ns_path("retention"), None, 204).await;
}

/// Goal: a topic nobody subscribes to is reclaimed once its messages are older than the grace
/// period, which the report names meanwhile. Method: grace 2 s; publish 3; the report shows
/// a grace-period hold of 3 entries; within a few seconds the log is empty.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unsubscribed_messages_go_after_the_grace_period() {
    let broker = TestBroker::start_with(|c| {
        fast(c);
        c.storage_policies.retention_grace_seconds = 2;
    });
    let client = broker.client().await;
    let topic = unique_topic("ret-grace");
    let mut producer = producer(&client, &topic, "p").await;
    send_all(&mut producer, numbered("g", 3)).await;
    let report = holds(&broker, &topic).await;
    assert_eq!(report["storedEntries"], 3, "{report:#}");
    assert_eq!(report["holds"][0]["type"], "gracePeriod");
    assert_eq!(report["holds"][0]["heldEntries"], 3);
    holds_until(&broker, &topic, "the grace period to pass", |r| {
        r["storedEntries"] == 0
    })
    .await;
}

/// Goal: the retention and storage-holds paths answer Pulsar's codes. Method: bad retention
/// bodies (400), storage-holds of a missing topic (404), of a partitioned topic (one report
/// per partition).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retention_and_holds_paths_check_their_input() {
    let broker = TestBroker::start_with(fast);
    let admin = &broker.admin_url;
    let bad = r#"{"retentionTimeInMinutes":-5,"retentionSizeInMB":1}"#;
    expect("POST", admin, &ns_path("retention"), Some(bad), 400).await;
    expect("POST", admin, &ns_path("retention"), Some("nope"), 400).await;
    let missing = unique_topic("ret-missing");
    let path = format!("{}/storage-holds", topic_path(&missing));
    assert!(status_is(&broker, &path, 404).await);
    let partitioned = unique_topic("ret-part");
    let base = format!("/admin/v2/persistent/public/default/{partitioned}/partitions");
    expect("PUT", admin, &base, Some("2"), 204).await;
    let client = broker.client().await;
    let first = format!("{partitioned}-partition-0");
    let mut consumer = exclusive(&client, &first, "s", InitialPosition::Earliest).await;
    let mut producer = producer(&client, &first, "p").await;
    send_all(&mut producer, numbered("x", 2)).await;
    let report = holds(&broker, &partitioned).await;
    let partitions = report["partitions"].as_object().expect("per partition");
    assert_eq!(
        partitions.len(),
        1,
        "the unused partition stores nothing: {report:#}"
    );
    let name = full_name(&first);
    assert_eq!(partitions[&name]["storedEntries"], 2);
    assert_eq!(partitions[&name]["holds"][0]["name"], "s");
    receive(&mut consumer).await;
}
