//! The client against a real in-process broker (`crate::broker::start_in_thread`).

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use super::*;
use crate::broker::{start_in_thread, BrokerHandle};
use crate::config::BrokerConfig;

/// A broker on free ports with its data in a temporary directory.
pub(crate) struct TestBroker {
    pub(crate) handle: Option<BrokerHandle>,
    _dir: tempfile::TempDir,
}

impl TestBroker {
    pub(crate) fn start() -> TestBroker {
        Self::start_with(|_| {})
    }

    /// Starts a broker after `adjust` has changed the test config.
    pub(crate) fn start_with(adjust: impl FnOnce(&mut BrokerConfig)) -> TestBroker {
        let dir = tempfile::tempdir().unwrap();
        let mut config = BrokerConfig {
            data_dir: dir.path().to_path_buf(),
            bind: "127.0.0.1:0".to_owned(),
            admin_bind: "127.0.0.1:0".to_owned(),
            fsync: false,
            ..BrokerConfig::default()
        };
        adjust(&mut config);
        let handle = start_in_thread(config).unwrap();
        TestBroker {
            handle: Some(handle),
            _dir: dir,
        }
    }

    pub(crate) fn url(&self) -> String {
        self.handle.as_ref().unwrap().service_url.clone()
    }

    /// A client connected to this broker with default options.
    pub(crate) async fn client(&self) -> Client {
        Client::connect(&self.url(), ConnectOptions::default())
            .await
            .unwrap()
    }
}

impl Drop for TestBroker {
    fn drop(&mut self) {
        if let Some(handle) = self.handle.take() {
            handle.shutdown();
        }
    }
}

/// A topic name no other test uses.
pub(crate) fn unique_topic(prefix: &str) -> String {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    format!(
        "persistent://public/default/{prefix}-{}",
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// Bounds every test so a hang fails instead of stalling the suite.
pub(crate) async fn within<T>(future: impl Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(30), future)
        .await
        .expect("test timed out")
}

fn earliest(subscription: &str) -> SubscribeOptions {
    SubscribeOptions {
        initial_position: InitialPosition::Earliest,
        ..SubscribeOptions::new(subscription)
    }
}

/// Goal: unbatched sends are stored in order and delivered intact. Method: 10 pipelined sends,
/// then receive and ack them on an Exclusive subscription.
#[tokio::test]
async fn unbatched_messages_round_trip_in_order() {
    let broker = TestBroker::start();
    within(async {
        let client = broker.client().await;
        assert!(client.service_connection().protocol_version() >= 12);
        let topic = unique_topic("plain");
        assert_eq!(client.partitions(&topic).await.unwrap(), 0);
        let producer = client
            .create_producer(&topic, ProducerOptions::default())
            .await
            .unwrap();
        assert!(
            !producer.name().is_empty(),
            "the broker names unnamed producers"
        );
        let mut pending = Vec::new();
        for i in 0..10 {
            pending.push(producer.send(format!("m{i}").as_str()).await.unwrap());
        }
        let mut receipts = Vec::new();
        for future in pending {
            receipts.push(future.await.unwrap());
        }
        let sequence_ids: Vec<u64> = receipts.iter().map(|r| r.sequence_id).collect();
        assert_eq!(sequence_ids, (0..10).collect::<Vec<_>>());
        assert!(receipts
            .windows(2)
            .all(|w| w[0].message_id < w[1].message_id));
        assert!(receipts.iter().all(|r| r.message_id.batch_index == -1));

        let mut consumer = client.subscribe(&topic, earliest("s")).await.unwrap();
        for (i, receipt) in receipts.iter().enumerate() {
            let message = consumer.receive().await.unwrap();
            assert_eq!(message.payload, format!("m{i}").as_bytes());
            assert!(!message.is_batch());
            assert_eq!(message.id.entry_id, receipt.message_id.entry_id);
            assert_eq!(message.metadata.sequence_id, receipt.sequence_id);
            consumer.ack(&message.id).await.unwrap();
        }
        producer.close().await.unwrap();
        let after_close = producer.send("late").await;
        assert!(matches!(
            after_close,
            Err(ClientError::ProducerAlreadyClosed { .. })
        ));
        consumer.close().await.unwrap();
    })
    .await;
}

/// Goal: batching groups messages into entries and every message gets a receipt with its batch
/// index. Method: 25 sends with batches of at most 10, then read the entries back.
#[tokio::test]
async fn batched_messages_share_entries() {
    let broker = TestBroker::start();
    within(async {
        let client = broker.client().await;
        let topic = unique_topic("batched");
        let batching = BatchingOptions {
            max_messages: 10,
            max_bytes: 1 << 20,
            max_delay: Duration::from_millis(50),
        };
        let options = ProducerOptions {
            name: Some("batcher".to_owned()),
            batching: Some(batching),
        };
        let producer = client.create_producer(&topic, options).await.unwrap();
        assert_eq!(producer.name(), "batcher");
        let mut pending = Vec::new();
        for i in 0..25 {
            pending.push(producer.send(format!("b{i}").as_str()).await.unwrap());
        }
        // The last 5 wait for the timer; no explicit flush.
        let mut receipts = Vec::new();
        for future in pending {
            receipts.push(future.await.unwrap());
        }
        let indexes: Vec<i32> = receipts.iter().map(|r| r.message_id.batch_index).collect();
        let expected: Vec<i32> = (0..25).map(|i| i % 10).collect();
        assert_eq!(indexes, expected);
        let entries: std::collections::BTreeSet<u64> =
            receipts.iter().map(|r| r.message_id.entry_id).collect();
        assert_eq!(entries.len(), 3);

        let mut consumer = client.subscribe(&topic, earliest("s")).await.unwrap();
        let mut payloads = Vec::new();
        while payloads.len() < 25 {
            let message = consumer.receive().await.unwrap();
            assert!(message.is_batch());
            for m in message.batch().unwrap() {
                payloads.push(String::from_utf8(m.payload.to_vec()).unwrap());
            }
            consumer.ack(&message.id).await.unwrap();
        }
        let expected: Vec<String> = (0..25).map(|i| format!("b{i}")).collect();
        assert_eq!(payloads, expected);
    })
    .await;
}

/// Goal: the flush timer sends a partial batch after an idle spell too (it sleeps while no
/// batch is open and is woken when one opens). Method: a lone batched message and its
/// receipt, 200 ms of nothing, another lone message: its receipt arrives (the test's time
/// bound fails it otherwise) and it is a batch of its own.
#[tokio::test]
async fn a_lone_batched_message_is_sent_after_an_idle_spell() {
    let broker = TestBroker::start();
    within(async {
        let client = broker.client().await;
        let topic = unique_topic("idle-batch");
        let batching = BatchingOptions {
            max_messages: 100,
            max_bytes: 1 << 20,
            max_delay: Duration::from_millis(5),
        };
        let options = ProducerOptions {
            batching: Some(batching),
            ..ProducerOptions::default()
        };
        let producer = client.create_producer(&topic, options).await.unwrap();
        let first = producer.send("one").await.unwrap().await.unwrap();
        tokio::time::sleep(Duration::from_millis(200)).await;
        let second = producer.send("two").await.unwrap().await.unwrap();
        assert_ne!(first.message_id.entry_id, second.message_id.entry_id);
        assert_eq!(second.message_id.batch_index, 0);
    })
    .await;
}

/// Goal: acks (individual and cumulative) are kept by the subscription. Method: with exactly
/// three permits, receive and ack 3 of 5 messages (two individually, then cumulatively), close,
/// resubscribe, expect messages 3 and 4 only.
#[tokio::test]
async fn acked_messages_stay_acked_across_consumers() {
    let broker = TestBroker::start();
    within(async {
        let client = broker.client().await;
        let topic = unique_topic("acks");
        let producer = client
            .create_producer(&topic, ProducerOptions::default())
            .await
            .unwrap();
        let manual = SubscribeOptions {
            receiver_queue_size: 0,
            ..earliest("s")
        };
        let mut consumer = client.subscribe(&topic, manual).await.unwrap();
        for i in 0..5 {
            producer
                .send(format!("{i}").as_str())
                .await
                .unwrap()
                .await
                .unwrap();
        }
        consumer.flow(3).await.unwrap();
        let first = consumer.receive().await.unwrap();
        let second = consumer.receive().await.unwrap();
        let third = consumer.receive().await.unwrap();
        consumer.ack_many(&[first.id, second.id]).await.unwrap();
        consumer.ack_cumulative(&third.id).await.unwrap();
        consumer.close().await.unwrap();

        let mut again = client.subscribe(&topic, earliest("s")).await.unwrap();
        assert_eq!(again.receive().await.unwrap().payload.as_ref(), b"3");
        assert_eq!(again.receive().await.unwrap().payload.as_ref(), b"4");
    })
    .await;
}

/// Goal: a closed consumer's unacked messages go to the next consumer. Method: receive 5
/// (prefetched), ack 3, close, resubscribe on a new connection, expect messages 3 and 4.
#[tokio::test]
async fn closed_consumers_unacked_messages_are_redelivered() {
    let broker = TestBroker::start();
    within(async {
        let client = broker.client().await;
        let topic = unique_topic("redeliver");
        let producer = client
            .create_producer(&topic, ProducerOptions::default())
            .await
            .unwrap();
        let mut consumer = client.subscribe(&topic, earliest("s")).await.unwrap();
        for i in 0..5 {
            producer
                .send(format!("{i}").as_str())
                .await
                .unwrap()
                .await
                .unwrap();
        }
        for _ in 0..3 {
            let message = consumer.receive().await.unwrap();
            consumer.ack(&message.id).await.unwrap();
        }
        consumer.close().await.unwrap();
        let other = broker.client().await;
        let mut again = other.subscribe(&topic, earliest("s")).await.unwrap();
        let next = again.receive().await.unwrap();
        assert_eq!(next.payload.as_ref(), b"3");
        assert_eq!(again.receive().await.unwrap().payload.as_ref(), b"4");
    })
    .await;
}

/// Goal: permits bound delivery. Method: a consumer with no automatic permits gets nothing until
/// it sends FLOW(2), then exactly two messages.
#[tokio::test]
async fn delivery_waits_for_permits() {
    let broker = TestBroker::start();
    within(async {
        let client = broker.client().await;
        let topic = unique_topic("flow");
        let producer = client
            .create_producer(&topic, ProducerOptions::default())
            .await
            .unwrap();
        for i in 0..5 {
            producer
                .send(format!("{i}").as_str())
                .await
                .unwrap()
                .await
                .unwrap();
        }
        let options = SubscribeOptions {
            receiver_queue_size: 0,
            ..earliest("manual")
        };
        let mut consumer = client.subscribe(&topic, options).await.unwrap();
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert!(
            consumer.try_receive().unwrap().is_none(),
            "no permits, no messages"
        );
        consumer.flow(2).await.unwrap();
        consumer.receive().await.unwrap();
        consumer.receive().await.unwrap();
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert!(
            consumer.try_receive().unwrap().is_none(),
            "only two permits were granted"
        );
    })
    .await;
}

/// Goal: broker errors surface as typed errors. Method: a second consumer on an Exclusive
/// subscription must get ConsumerBusy.
#[tokio::test]
async fn second_exclusive_consumer_is_refused() {
    let broker = TestBroker::start();
    within(async {
        let client = broker.client().await;
        let topic = unique_topic("busy");
        let _first = client
            .subscribe(&topic, SubscribeOptions::new("x"))
            .await
            .unwrap();
        let second = client.subscribe(&topic, SubscribeOptions::new("x")).await;
        assert!(
            matches!(
                second,
                Err(ClientError::Server {
                    error: geminga_protocol::proto::ServerError::ConsumerBusy,
                    ..
                })
            ),
            "{second:?}"
        );
    })
    .await;
}

/// Goal: a Shared subscription spreads messages over its consumers and nothing is lost.
/// Method: two Shared consumers, 20 messages; both get some, together all.
#[tokio::test]
async fn shared_consumers_split_the_messages() {
    let broker = TestBroker::start();
    within(async {
        let client = broker.client().await;
        let topic = unique_topic("shared");
        let shared = SubscribeOptions {
            sub_type: SubType::Shared,
            receiver_queue_size: 5,
            ..earliest("sh")
        };
        let mut a = client.subscribe(&topic, shared.clone()).await.unwrap();
        let mut b = client.subscribe(&topic, shared).await.unwrap();
        let producer = client
            .create_producer(&topic, ProducerOptions::default())
            .await
            .unwrap();
        for i in 0..20 {
            producer
                .send(format!("{i}").as_str())
                .await
                .unwrap()
                .await
                .unwrap();
        }
        let (mut got_a, mut got_b) = (0, 0);
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while got_a + got_b < 20 && tokio::time::Instant::now() < deadline {
            tokio::select! {
                m = a.receive() => { a.ack(&m.unwrap().id).await.unwrap(); got_a += 1; }
                m = b.receive() => { b.ack(&m.unwrap().id).await.unwrap(); got_b += 1; }
            }
        }
        assert_eq!(got_a + got_b, 20);
        assert!(got_a > 0 && got_b > 0, "a={got_a} b={got_b}");
    })
    .await;
}

/// Goal: a lost connection fails what is pending instead of hanging. Method: shut the broker
/// down while a consumer waits; receive must return an error.
#[tokio::test]
async fn broker_shutdown_fails_pending_operations() {
    let mut broker = TestBroker::start();
    within(async {
        let client = broker.client().await;
        let topic = unique_topic("down");
        let mut consumer = client
            .subscribe(&topic, SubscribeOptions::new("s"))
            .await
            .unwrap();
        let handle = broker.handle.take().unwrap();
        tokio::task::spawn_blocking(move || handle.shutdown())
            .await
            .unwrap();
        let error = consumer.receive().await.unwrap_err();
        assert!(
            matches!(
                error,
                ClientError::Disconnected { .. } | ClientError::ConsumerClosed { .. }
            ),
            "{error:?}"
        );
        assert!(client.partitions(&topic).await.is_err());
    })
    .await;
}
