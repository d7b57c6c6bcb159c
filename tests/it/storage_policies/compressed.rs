//! Compaction of compressed batches written by the `pulsar` crate (LZ4, zlib, zstd and its
//! framed snappy): the broker finds the keys inside them.

use pulsar::compression::{
    Compression, CompressionLz4, CompressionSnappy, CompressionZlib, CompressionZstd,
};
use pulsar::{producer, ProducerOptions};

use super::*;
use crate::admin_http::{expect, topic_path};

/// Sends `pairs` as one batch of `pairs.len()` messages and waits for every receipt.
async fn publish_batch(
    producer: &mut pulsar::Producer<pulsar::TokioExecutor>,
    pairs: &[(&str, &str)],
) {
    let mut pending = Vec::new();
    for (key, value) in pairs {
        let message = producer::Message {
            payload: value.as_bytes().to_vec(),
            partition_key: Some((*key).to_owned()),
            ..Default::default()
        };
        pending.push(
            within("queue", producer.send_non_blocking(message))
                .await
                .expect("queued"),
        );
    }
    for receipt in pending {
        let receipt = within("receipt", receipt).await.expect("receipt");
        let id = receipt.message_id.expect("message id");
        assert_eq!(id.batch_size, Some(2), "sent as one batch of two");
    }
}

async fn compact(broker: &TestBroker, topic: &str) -> Value {
    let path = format!("{}/compaction", topic_path(topic));
    expect("PUT", &broker.admin_url, &path, None, 204).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        let status = get_json(&broker.admin_url, &path).await;
        if status["status"] == "SUCCESS" {
            return status;
        }
        assert_ne!(status["status"], "ERROR", "{status}");
        assert!(tokio::time::Instant::now() < deadline, "{status}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Goal: compaction opens compressed batches, so a read-compacted reader sees only the
/// latest value of each key even when every message came in a compressed batch; the reader
/// decompresses what the broker kept. Method: per codec, batches of two [a1 b1] [a2 b2]
/// [c1 d1]; compact (4 kept, 2 removed: the first batch is dropped whole); the reader gets
/// a2 b2 c1 d1 and a plain reader all six.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compaction_opens_compressed_batches() {
    let broker = TestBroker::start_with(fast);
    let client = broker.client().await;
    let codecs = [
        ("lz4", Compression::Lz4(CompressionLz4::default())),
        ("zlib", Compression::Zlib(CompressionZlib::default())),
        ("zstd", Compression::Zstd(CompressionZstd::default())),
        ("snappy", Compression::Snappy(CompressionSnappy::default())),
    ];
    for (name, compression) in codecs {
        let topic = unique_topic(&format!("compact-{name}"));
        let _keep = exclusive(&client, &topic, "keep", InitialPosition::Earliest).await;
        let options = ProducerOptions {
            batch_size: Some(2),
            compression: Some(compression),
            ..plain_producer_options()
        };
        let mut producer = producer_with(&client, &topic, "p", options).await;
        publish_batch(&mut producer, &[("a", "a1"), ("b", "b1")]).await;
        publish_batch(&mut producer, &[("a", "a2"), ("b", "b2")]).await;
        publish_batch(&mut producer, &[("c", "c1"), ("d", "d1")]).await;
        let status = compact(&broker, &topic).await;
        assert_eq!(
            (&status["keptMessages"], &status["removedMessages"]),
            (&Value::from(4), &Value::from(2)),
            "{name}: {status}"
        );
        let mut compacted = reader_from_earliest(&client, &topic, true).await;
        assert_eq!(
            receive_payloads(&mut compacted, 4).await,
            vec!["a2", "b2", "c1", "d1"],
            "{name}"
        );
        assert_no_message(&mut compacted, "the first batch is compacted away").await;
        let mut plain = reader_from_earliest(&client, &topic, false).await;
        assert_eq!(receive_payloads(&mut plain, 6).await.len(), 6, "{name}");
    }
}
