//! Round trips: payloads and metadata arrive unchanged, batched or not, compressed or not.

use std::collections::HashMap;

use pulsar::compression::{
    Compression, CompressionLz4, CompressionSnappy, CompressionZlib, CompressionZstd,
};
use pulsar::consumer::InitialPosition;
use pulsar::proto::{CompressionType, KeyValue};
use pulsar::{producer, ProducerOptions};

use crate::common::*;

fn sorted_properties(props: &[KeyValue]) -> Vec<(String, String)> {
    let mut out: Vec<_> = props
        .iter()
        .map(|kv| (kv.key.clone(), kv.value.clone()))
        .collect();
    out.sort();
    out
}

fn message(i: usize) -> producer::Message {
    let mut properties = HashMap::new();
    properties.insert("index".to_string(), i.to_string());
    properties.insert("kind".to_string(), "round-trip".to_string());
    producer::Message {
        payload: format!("payload-{i}").into_bytes(),
        properties,
        partition_key: Some(format!("key-{i}")),
        event_time: Some(1_700_000_000_000 + i as u64),
        ..Default::default()
    }
}

fn expected_properties(i: usize) -> Vec<(String, String)> {
    vec![
        ("index".to_string(), i.to_string()),
        ("kind".to_string(), "round-trip".to_string()),
    ]
}

/// Goal: one unbatched message keeps payload, key, properties, event time, producer name and
/// sequence id. Method: send with a receipt, consume, compare field by field with the receipt.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unbatched_round_trip_keeps_metadata() {
    let broker = TestBroker::start();
    let client = broker.client().await;
    let topic = unique_topic("rt-unbatched");
    let mut consumer = exclusive(&client, &topic, "sub", InitialPosition::Earliest).await;
    let mut producer = producer(&client, &topic, "rt-producer").await;

    let mut receipts = Vec::new();
    for i in 0..3 {
        let fut = within("send", producer.send_non_blocking(message(i)))
            .await
            .expect("send");
        receipts.push(within("receipt", fut).await.expect("receipt"));
    }

    for (i, receipt) in receipts.iter().enumerate() {
        let msg = receive(&mut consumer).await;
        let meta = msg.metadata();
        assert_eq!(msg.payload.data, format!("payload-{i}").into_bytes());
        assert_eq!(msg.key(), Some(format!("key-{i}")));
        assert_eq!(sorted_properties(&meta.properties), expected_properties(i));
        assert_eq!(meta.event_time, Some(1_700_000_000_000 + i as u64));
        assert_eq!(meta.producer_name, "rt-producer");
        assert_eq!(meta.sequence_id, receipt.sequence_id);
        assert_eq!(
            meta.num_messages_in_batch, None,
            "unbatched stays unbatched"
        );
        assert_eq!(
            position(msg.message_id()),
            position(&receipt_id(receipt)),
            "delivered id matches the send receipt"
        );
        within("ack", consumer.ack(&msg)).await.expect("ack");
    }
    assert!(
        receipts
            .windows(2)
            .all(|w| w[0].sequence_id < w[1].sequence_id),
        "sequence ids increase: {receipts:?}"
    );
}

/// Goal: a batch of 10 keeps per-message key, properties and event time, and the envelope keeps
/// producer name and sequence id. Method: batching producer (batch_size 10), consume all 10.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batched_round_trip_keeps_metadata() {
    let broker = TestBroker::start();
    let client = broker.client().await;
    let topic = unique_topic("rt-batched");
    let mut consumer = exclusive(&client, &topic, "sub", InitialPosition::Earliest).await;
    let options = ProducerOptions {
        batch_size: Some(10),
        ..plain_producer_options()
    };
    let mut producer = producer_with(&client, &topic, "batch-producer", options).await;

    let mut futures = Vec::new();
    for i in 0..10 {
        let fut = within("queue send", producer.send_non_blocking(message(i)))
            .await
            .expect("send");
        futures.push(fut);
    }
    let mut receipts = Vec::new();
    for fut in futures {
        receipts.push(within("receipt", fut).await.expect("receipt"));
    }
    let batch_position = position(&receipt_id(&receipts[0]));
    assert!(
        receipts
            .iter()
            .all(|r| position(&receipt_id(r)) == batch_position),
        "one batch is one entry: {receipts:?}"
    );

    for (i, receipt) in receipts.iter().enumerate() {
        let msg = receive(&mut consumer).await;
        let meta = msg.metadata();
        assert_eq!(msg.payload.data, format!("payload-{i}").into_bytes());
        assert_eq!(msg.key(), Some(format!("key-{i}")));
        assert_eq!(sorted_properties(&meta.properties), expected_properties(i));
        assert_eq!(meta.event_time, Some(1_700_000_000_000 + i as u64));
        assert_eq!(meta.producer_name, "batch-producer");
        assert_eq!(meta.sequence_id, receipt.sequence_id);
        assert_eq!(meta.num_messages_in_batch, Some(10));
        assert_eq!(position(msg.message_id()), batch_position);
        assert_eq!(msg.message_id().batch_index, Some(i as i32));
        within("ack", consumer.ack(&msg)).await.expect("ack");
    }
    assert_no_message(&mut consumer, "after the batch").await;
}

async fn compression_round_trip(label: &str, compression: Compression, wire: CompressionType) {
    let broker = TestBroker::start();
    let client = broker.client().await;
    let topic = unique_topic(&format!("rt-{label}"));
    let mut consumer = exclusive(&client, &topic, "sub", InitialPosition::Earliest).await;

    let plain = ProducerOptions {
        compression: Some(compression.clone()),
        ..plain_producer_options()
    };
    let batched = ProducerOptions {
        compression: Some(compression),
        batch_size: Some(5),
        ..plain_producer_options()
    };
    let body = "compressible text ".repeat(200);
    let payloads: Vec<Vec<u8>> = (0..5).map(|i| format!("{i}:{body}").into_bytes()).collect();

    let mut single = producer_with(&client, &topic, &format!("{label}-single"), plain).await;
    send_all(&mut single, payloads.clone()).await;
    let mut batch = producer_with(&client, &topic, &format!("{label}-batch"), batched).await;
    send_all(&mut batch, payloads.clone()).await;

    let expected: Vec<Vec<u8>> = payloads.iter().chain(payloads.iter()).cloned().collect();
    for (i, want) in expected.iter().enumerate() {
        let msg = receive(&mut consumer).await;
        assert_eq!(
            &msg.payload.data, want,
            "{label} message {i} decompressed intact"
        );
        assert_eq!(
            msg.metadata().compression,
            Some(wire as i32),
            "{label} codec kept"
        );
        within("ack", consumer.ack(&msg)).await.expect("ack");
    }
}

/// Goal: LZ4 payloads pass through. Method: unbatched and batched sends, compare payloads.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lz4_payloads_pass_through() {
    let codec = Compression::Lz4(CompressionLz4::default());
    compression_round_trip("lz4", codec, CompressionType::Lz4).await;
}

/// Goal: ZLIB payloads pass through. Method: unbatched and batched sends, compare payloads.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zlib_payloads_pass_through() {
    let codec = Compression::Zlib(CompressionZlib::default());
    compression_round_trip("zlib", codec, CompressionType::Zlib).await;
}

/// Goal: ZSTD payloads pass through. Method: unbatched and batched sends, compare payloads.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zstd_payloads_pass_through() {
    let codec = Compression::Zstd(CompressionZstd::default());
    compression_round_trip("zstd", codec, CompressionType::Zstd).await;
}

/// Goal: SNAPPY payloads pass through. Method: unbatched and batched sends, compare payloads.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snappy_payloads_pass_through() {
    let codec = Compression::Snappy(CompressionSnappy::default());
    compression_round_trip("snappy", codec, CompressionType::Snappy).await;
}

/// Goal: `x` and `persistent://public/default/x` are one topic. Method: produce on each form,
/// consume on the other form, and see both messages on both subscriptions.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn short_and_full_names_address_the_same_topic() {
    let broker = TestBroker::start();
    let client = broker.client().await;
    let short = unique_topic("names");
    let full = full_name(&short);
    let mut on_full = exclusive(&client, &full, "sub-full", InitialPosition::Earliest).await;
    let mut on_short = exclusive(&client, &short, "sub-short", InitialPosition::Earliest).await;

    let mut by_short = producer(&client, &short, "by-short").await;
    send_all(&mut by_short, vec![b"from-short".to_vec()]).await;
    let mut by_full = producer(&client, &full, "by-full").await;
    send_all(&mut by_full, vec![b"from-full".to_vec()]).await;

    let want = vec!["from-short".to_string(), "from-full".to_string()];
    assert_eq!(receive_payloads(&mut on_full, 2).await, want);
    assert_eq!(receive_payloads(&mut on_short, 2).await, want);
}
