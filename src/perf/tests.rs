//! `perf produce` and `perf consume` against a real in-process broker.

use std::time::{Duration, Instant};

use super::*;
use crate::cli::{try_parse_from, Command};
use crate::client::broker_tests::{unique_topic, within, TestBroker};

/// Goal: produce then consume moves every message and reports sane figures. Method: 2000
/// batched messages from two producers, then consume them all from Earliest.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn produce_then_consume_counts_every_message() {
    let broker = TestBroker::start();
    let topic = unique_topic("perf");
    within(async {
        let produce_options = ProduceOptions {
            num_messages: 2000,
            message_size: 100,
            producers_per_topic: 2,
            ..ProduceOptions::new(broker.url(), topic.clone())
        };
        let produced = produce(&produce_options).await.unwrap();
        assert_eq!((produced.messages, produced.errors), (2000, 0));
        assert_eq!(produced.bytes, 200_000);
        assert!(produced.msg_per_sec > 0.0 && produced.mb_per_sec > 0.0);
        assert!(produced.latency.max_ms >= produced.latency.p50_ms);
        assert!(produced.latency.p50_ms > 0.0);

        let consume_options = ConsumeOptions {
            num_messages: 2000,
            ..ConsumeOptions::new(broker.url(), topic.clone())
        };
        let consumed = consume(&consume_options).await.unwrap();
        assert_eq!(consumed.messages, 2000);
        assert_eq!(
            consumed.bytes, 200_000,
            "payload bytes only, batch headers excluded"
        );
        assert_eq!(consumed.errors, 0);
    })
    .await;
}

/// Goal: a partitioned topic gets a producer and a consumer per partition. Method: a broker
/// that auto-creates 3 partitions; produce 300 and consume them all through the base name.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "the broker does not yet apply allowAutoTopicCreationType=partitioned (reported)"]
async fn partitioned_topics_are_expanded() {
    let broker = TestBroker::start_with(|config| {
        config.allow_auto_topic_creation_type = "partitioned".to_owned();
        config.default_num_partitions = 3;
    });
    let topic = unique_topic("parts");
    within(async {
        let client = crate::client::Client::connect(&broker.url(), Default::default())
            .await
            .unwrap();
        assert_eq!(client.expand_partitions(&topic).await.unwrap().len(), 3);
        let produced = produce(&ProduceOptions {
            num_messages: 300,
            ..ProduceOptions::new(broker.url(), topic.clone())
        })
        .await
        .unwrap();
        assert_eq!(produced.messages, 300);
        let consumed = consume(&ConsumeOptions {
            num_messages: 300,
            ..ConsumeOptions::new(broker.url(), topic.clone())
        })
        .await
        .unwrap();
        assert_eq!(consumed.messages, 300);
    })
    .await;
}

/// Goal: the rate limit holds and unbatched sends work. Method: 50 msg/s for 20 messages
/// takes about 0.4 s (the first is due at once).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limit_paces_unbatched_sends() {
    let broker = TestBroker::start();
    within(async {
        let options = ProduceOptions {
            rate: 50,
            num_messages: 20,
            batching: None,
            ..ProduceOptions::new(broker.url(), unique_topic("rate"))
        };
        let started = Instant::now();
        let report = produce(&options).await.unwrap();
        let elapsed = started.elapsed();
        assert_eq!(report.messages, 20);
        assert!(
            elapsed >= Duration::from_millis(370),
            "{elapsed:?} is too fast for 50 msg/s"
        );
        assert!(elapsed < Duration::from_secs(5), "{elapsed:?}");
    })
    .await;
}

/// Goal: a message's send-time stamp, not its millisecond `publish_time`, sets the measured
/// end-to-end latency. Method: publish messages whose stamp says they were sent a second
/// before their `publish_time`, then consume them: the latency read is that second, not the
/// few milliseconds since the publish.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consume_measures_from_the_send_time_stamp() {
    use crate::client::{OutgoingMessage, ProducerOptions};

    let broker = TestBroker::start();
    let topic = unique_topic("stamped");
    within(async {
        let client = broker.client().await;
        let unbatched = ProducerOptions {
            name: None,
            batching: None,
        };
        let producer = client.create_producer(&topic, unbatched).await.unwrap();
        for _ in 0..20 {
            let earlier = sent_time::epoch_micros() - 1_000_000;
            let message = OutgoingMessage {
                payload: bytes::Bytes::from_static(b"stamped"),
                properties: vec![sent_time::stamp(earlier)],
                ..Default::default()
            };
            producer.send(message).await.unwrap().await.unwrap();
        }
        let options = ConsumeOptions {
            num_messages: 20,
            ..ConsumeOptions::new(broker.url(), topic.clone())
        };
        let consumed = consume(&options).await.unwrap();
        assert_eq!(consumed.messages, 20);
        let p50 = consumed.latency.p50_ms;
        assert!((1000.0..1500.0).contains(&p50), "p50 {p50} ms");
    })
    .await;
}

/// Goal: a duration ends a run that has no message limit. Method: consume an empty topic for
/// one second.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duration_ends_an_idle_consume() {
    let broker = TestBroker::start();
    within(async {
        let options = ConsumeOptions {
            duration: Some(Duration::from_secs(1)),
            subscription_type: SubscriptionType::Shared,
            consumers_per_topic: 2,
            ..ConsumeOptions::new(broker.url(), unique_topic("idle"))
        };
        let started = Instant::now();
        let report = consume(&options).await.unwrap();
        assert_eq!(report.messages, 0);
        assert!(started.elapsed() >= Duration::from_secs(1));
    })
    .await;
}

/// Goal: the command-line entry runs end to end on its own runtime. Method: `perf produce -m`
/// through clap and `run`, with progress lines every second.
#[test]
fn run_executes_a_parsed_command() {
    let broker = TestBroker::start();
    let url = broker.url();
    let topic = unique_topic("cli");
    let args = [
        "geminga", "perf", "produce", "-u", &url, "-r", "0", "-m", "500", "-i", "1", &topic,
    ];
    let Command::Perf(perf) = try_parse_from(args).unwrap().into_command() else {
        panic!("expected perf");
    };
    run(perf).unwrap();
}

/// Goal: connection errors are reported, not hung on. Method: a port nobody listens on.
#[tokio::test]
async fn unreachable_broker_is_an_error() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("pulsar://{}", listener.local_addr().unwrap());
    drop(listener);
    let result = within(produce(&ProduceOptions::new(url, "t"))).await;
    assert!(matches!(result, Err(PerfError::Client(_))), "{result:?}");
}
