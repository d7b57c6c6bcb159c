//! Topic discovery: GET_TOPICS_OF_NAMESPACE (modes, partitions, hash, pattern),
//! WATCH_TOPIC_LIST for clients that support it, and pulsar-rs regex consumers.

use std::time::Duration;

use geminga_protocol::proto::{
    base_command::Type, command_get_topics_of_namespace::Mode, CommandGetTopicsOfNamespace,
    CommandWatchTopicList, CommandWatchTopicListClose, ServerError,
};
use pulsar::consumer::InitialPosition;
use pulsar::{ConsumerOptions, SubType};

use super::{
    http::{self, expect},
    raw::Raw,
};
use crate::common::*;

fn topics_request(request_id: u64, mode: Mode) -> CommandGetTopicsOfNamespace {
    CommandGetTopicsOfNamespace {
        request_id,
        namespace: "public/default".to_owned(),
        mode: Some(mode as i32),
        ..CommandGetTopicsOfNamespace::default()
    }
}

/// Goal: GET_TOPICS_OF_NAMESPACE filters by mode, lists partitions (never base names),
/// answers a hash, says `changed = false` for the client's current hash, and applies a
/// pattern. Method: a plain, a 2-partition and a non-persistent topic, then raw requests.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn topics_of_namespace_by_mode_hash_and_pattern() {
    let broker = TestBroker::start();
    let client = broker.client().await;
    let base = unique_topic("list");
    let plain = full_name(&format!("{base}-plain"));
    let mut p = producer(&client, &plain, "p").await;
    send_all(&mut p, numbered("x", 1)).await;
    let parted = format!("{base}-parted");
    let path = format!("/admin/v2/persistent/public/default/{parted}/partitions");
    expect(http::put(&broker.admin_url, &path, Some("2")).await, 204);
    let np = format!("non-persistent://public/default/{base}-np");
    let _np_producer = producer(&client, &np, "np").await;

    let mut raw = Raw::connect(&broker.service_url, false).await;
    let persistent = vec![
        format!("{}-partition-0", full_name(&parted)),
        format!("{}-partition-1", full_name(&parted)),
        plain.clone(),
    ];
    let answer = raw.request(topics_request(1, Mode::Persistent)).await;
    let response = answer.get_topics_of_namespace_response.expect("response");
    assert_eq!(response.topics, persistent);
    assert_eq!(response.filtered, Some(false));
    assert_eq!(response.changed, Some(true));
    let hash = response.topics_hash.expect("hash");

    let answer = raw.request(topics_request(2, Mode::NonPersistent)).await;
    assert_eq!(
        answer
            .get_topics_of_namespace_response
            .expect("response")
            .topics,
        std::slice::from_ref(&np)
    );
    let answer = raw.request(topics_request(3, Mode::All)).await;
    let all = answer
        .get_topics_of_namespace_response
        .expect("response")
        .topics;
    assert_eq!(all.len(), 4);
    assert!(all.contains(&np) && !all.contains(&full_name(&parted)));

    let unchanged = CommandGetTopicsOfNamespace {
        topics_hash: Some(hash.clone()),
        ..topics_request(4, Mode::Persistent)
    };
    let response = raw
        .request(unchanged)
        .await
        .get_topics_of_namespace_response
        .expect("response");
    assert_eq!(response.changed, Some(false));
    assert!(response.topics.is_empty());
    assert_eq!(response.topics_hash.as_deref(), Some(hash.as_str()));

    let pattern = CommandGetTopicsOfNamespace {
        topics_pattern: Some(format!("persistent://public/default/{base}-parted")),
        ..topics_request(5, Mode::Persistent)
    };
    let response = raw
        .request(pattern)
        .await
        .get_topics_of_namespace_response
        .expect("response");
    assert_eq!(response.filtered, Some(true));
    assert_eq!(response.topics, persistent[..2].to_vec());

    let missing = CommandGetTopicsOfNamespace {
        namespace: "public/ghost".to_owned(),
        ..topics_request(6, Mode::All)
    };
    let error = raw.request(missing).await.error.expect("error");
    assert_eq!(error.error, ServerError::TopicNotFound as i32);
}

fn watch(request_id: u64, watcher_id: u64, pattern: &str) -> CommandWatchTopicList {
    CommandWatchTopicList {
        request_id,
        watcher_id,
        namespace: "public/default".to_owned(),
        topics_pattern: pattern.to_owned(),
        topics_hash: None,
    }
}

/// Goal: a client advertising `supports_topic_watchers` gets the current matching topics
/// and then an update per change (new topics, new partitions, deleted partitions), none for
/// topics outside the pattern, and none after closing. Method: raw WATCH_TOPIC_LIST while
/// topics are created and deleted through pulsar-rs and the admin API.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_topic_list_pushes_changes_to_clients_that_ask() {
    let broker = TestBroker::start();
    let client = broker.client().await;
    let base = unique_topic("watch");
    let first = full_name(&format!("{base}-a"));
    let mut p = producer(&client, &first, "p").await;
    send_all(&mut p, numbered("x", 1)).await;

    let mut raw = Raw::connect(&broker.service_url, true).await;
    let flags = raw
        .connected
        .connected
        .as_ref()
        .and_then(|c| c.feature_flags);
    assert_eq!(flags.and_then(|f| f.supports_topic_watchers), Some(true));
    let pattern = format!("persistent://public/default/{base}-.*");
    let success = raw.request(watch(1, 7, &pattern)).await;
    let success = success
        .watch_topic_list_success
        .expect("WATCH_TOPIC_LIST_SUCCESS");
    assert_eq!((success.request_id, success.watcher_id), (1, 7));
    assert_eq!(success.topic, std::slice::from_ref(&first));
    assert!(!success.topics_hash.is_empty());

    let second = full_name(&format!("{base}-b"));
    let _p2 = producer(&client, &second, "p2").await;
    let update = raw
        .next()
        .await
        .watch_topic_update
        .expect("WATCH_TOPIC_UPDATE");
    assert_eq!(update.watcher_id, 7);
    assert_eq!(update.new_topics, std::slice::from_ref(&second));
    assert!(update.deleted_topics.is_empty());
    assert_ne!(update.topics_hash, success.topics_hash);

    let _other = producer(&client, &unique_topic("unwatched"), "o").await;
    raw.expect_silence(500).await;

    let parted = format!("{base}-c");
    let path = format!("/admin/v2/persistent/public/default/{parted}/partitions");
    expect(http::put(&broker.admin_url, &path, Some("2")).await, 204);
    let update = raw
        .next()
        .await
        .watch_topic_update
        .expect("update for partitions");
    let partitions: Vec<String> = (0..2)
        .map(|i| format!("{}-partition-{i}", full_name(&parted)))
        .collect();
    assert_eq!(update.new_topics, partitions);
    expect(http::delete(&broker.admin_url, &path).await, 204);
    let update = raw
        .next()
        .await
        .watch_topic_update
        .expect("update for deletion");
    assert_eq!(update.deleted_topics, partitions);
    assert!(update.new_topics.is_empty());

    let closed = raw
        .request(CommandWatchTopicListClose {
            request_id: 2,
            watcher_id: 7,
        })
        .await;
    assert_eq!(closed.success.map(|s| s.request_id), Some(2));
    let _p3 = producer(&client, &full_name(&format!("{base}-d")), "p3").await;
    raw.expect_silence(500).await;
}

/// Goal: a client that did not advertise `supports_topic_watchers` (as C++ 4.2) never gets
/// watch frames: WATCH_TOPIC_LIST is refused with an ERROR and CONNECTED is still plain.
/// Method: raw connection without the flag.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_topic_list_is_refused_without_the_feature_flag() {
    let broker = TestBroker::start();
    let mut raw = Raw::connect(&broker.service_url, false).await;
    let answer = raw
        .request(watch(1, 1, "persistent://public/default/.*"))
        .await;
    assert_eq!(answer.command_type(), Some(Type::Error));
    let error = answer.error.expect("error");
    assert_eq!(
        (error.request_id, error.error),
        (1, ServerError::NotAllowedError as i32)
    );
    let client = broker.client().await;
    let _p = producer(&client, &unique_topic("no-watch"), "p").await;
    raw.expect_silence(500).await;
}

/// Goal: a pulsar-rs regex consumer picks up a matching topic created after it subscribed.
/// Method: regex consumer refreshing every second; create a topic, produce, receive.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pulsar_rs_regex_consumer_discovers_new_topics() {
    let broker = TestBroker::start();
    let client = broker.client().await;
    let base = unique_topic("rx");
    let first = full_name(&format!("{base}-1"));
    let mut p = producer(&client, &first, "p1").await;
    send_all(&mut p, numbered("one", 1)).await;
    let regex = regex::Regex::new(&format!("persistent://public/default/{base}-.*")).unwrap();
    let build = client
        .consumer()
        .with_topic_regex(regex)
        .with_topic_refresh(Duration::from_secs(1))
        .with_subscription("rx-sub")
        .with_subscription_type(SubType::Shared)
        .with_options(ConsumerOptions::default().with_initial_position(InitialPosition::Earliest))
        .build::<Vec<u8>>();
    let mut consumer = within("regex subscribe", build).await.expect("subscribe");
    assert_eq!(receive_payloads(&mut consumer, 1).await, ["one-0"]);
    let mut p2 = producer(&client, &full_name(&format!("{base}-2")), "p2").await;
    send_all(&mut p2, numbered("two", 1)).await;
    assert_eq!(receive_payloads(&mut consumer, 1).await, ["two-0"]);
}
