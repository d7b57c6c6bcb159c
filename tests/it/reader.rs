//! Readers: non-durable subscriptions positioned at the earliest message or at a message id.

use pulsar::consumer::InitialPosition;
use pulsar::proto::MessageIdData;
use pulsar::reader::Reader;
use pulsar::{ConsumerOptions, TokioExecutor};

use crate::common::*;

type ByteReader = Reader<Vec<u8>, TokioExecutor>;

async fn reader(client: &Client, topic: &str, options: ConsumerOptions) -> ByteReader {
    let build = client
        .reader()
        .with_topic(topic)
        .with_options(options.durable(false))
        .into_reader::<Vec<u8>>();
    within("create reader", build)
        .await
        .unwrap_or_else(|e| panic!("create reader on {topic}: {e}"))
}

async fn read_payloads(reader: &mut ByteReader, count: usize) -> Vec<String> {
    let mut out = Vec::with_capacity(count);
    for _ in 0..count {
        let msg = receive_from(reader).await;
        out.push(String::from_utf8_lossy(&msg.payload.data).into_owned());
    }
    out
}

/// Goal: a reader from earliest sees the whole topic in order, and reading does not consume it
/// for a second reader. Method: send 5, read them with two readers one after the other.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reader_from_earliest_reads_everything() {
    let broker = TestBroker::start();
    let client = broker.client().await;
    let topic = unique_topic("reader-earliest");
    let mut producer = producer(&client, &topic, "reader-producer").await;
    send_all(&mut producer, numbered("e", 5)).await;
    let want: Vec<String> = (0..5).map(|i| format!("e-{i}")).collect();

    let earliest = ConsumerOptions::default().with_initial_position(InitialPosition::Earliest);
    let mut first = reader(&client, &topic, earliest.clone()).await;
    assert_eq!(read_payloads(&mut first, 5).await, want);
    assert_no_message_from(&mut first, "reader after the last message").await;
    drop(first);

    let mut second = reader(&client, &topic, earliest).await;
    assert_eq!(read_payloads(&mut second, 5).await, want);
}

/// Goal: a reader started on a message id begins at that message (pulsar-rs does not filter the
/// start message, so the broker's inclusive start is visible). Method: send 5, start on the 3rd.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reader_from_message_id_starts_there() {
    let broker = TestBroker::start();
    let client = broker.client().await;
    let topic = unique_topic("reader-id");
    let mut producer = producer(&client, &topic, "reader-id-producer").await;
    let receipts = send_all(&mut producer, numbered("i", 5)).await;
    let start: MessageIdData = receipt_id(&receipts[2]);

    let options = ConsumerOptions::default().starting_on_message(start);
    let mut reader = reader(&client, &topic, options).await;
    assert_eq!(
        read_payloads(&mut reader, 3).await,
        vec!["i-2", "i-3", "i-4"]
    );
    assert_no_message_from(&mut reader, "reader after the last message").await;
}
