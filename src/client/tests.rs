//! The client against a scripted fake broker, for paths a correct broker rarely takes:
//! handshake failures, pings, out-of-order receipts, send errors, broker-initiated closes,
//! timeouts and corrupt messages.

use std::future::Future;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use geminga_protocol::codec::PulsarCodec;
use geminga_protocol::commands;
use geminga_protocol::frame::{Checksum, Frame, Payload};
use geminga_protocol::proto::command_partitioned_topic_metadata_response::LookupType as MetadataResult;
use geminga_protocol::proto::{
    base_command::Type, BaseCommand, CommandPartitionedTopicMetadataResponse, MessageIdData,
    MessageMetadata, ServerError,
};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::codec::Framed;

use super::broker_tests::within;
use super::*;

type Wire = Framed<TcpStream, PulsarCodec>;

/// Starts a one-connection fake broker running `script`; returns its address.
async fn fake<F, Fut>(script: F) -> String
where
    F: FnOnce(Wire) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    tokio::spawn(async move {
        let (stream, _) = listener.accept().await.unwrap();
        script(Framed::new(stream, PulsarCodec::default())).await;
    });
    addr
}

async fn next(wire: &mut Wire) -> Frame {
    wire.next()
        .await
        .expect("client closed")
        .expect("bad frame")
}

async fn reply(wire: &mut Wire, command: BaseCommand) {
    wire.send(Frame::new(command)).await.unwrap();
}

/// Reads CONNECT and answers CONNECTED.
async fn handshake(wire: &mut Wire) {
    let connect = next(wire).await.command.connect.expect("CONNECT first");
    assert!(connect.client_version.starts_with("geminga-client"));
    reply(wire, commands::connected("fake", 20, 5 * 1024 * 1024)).await;
}

/// Reads PRODUCER and answers PRODUCER_SUCCESS with `last_sequence_id`.
async fn accept_producer(wire: &mut Wire, last_sequence_id: i64) -> u64 {
    let producer = next(wire).await.command.producer.expect("PRODUCER");
    let success =
        commands::producer_success(producer.request_id, "p", last_sequence_id, None, true);
    reply(wire, success).await;
    producer.producer_id
}

fn quick() -> ConnectOptions {
    ConnectOptions {
        connect_timeout: Duration::from_millis(500),
        operation_timeout: Duration::from_millis(300),
        auth: None,
    }
}

#[tokio::test]
async fn broker_error_during_handshake_is_typed() {
    let addr = fake(|mut wire| async move {
        next(&mut wire).await;
        reply(
            &mut wire,
            commands::error(u64::MAX, ServerError::AuthenticationError, "no"),
        )
        .await;
    })
    .await;
    let error = within(Connection::connect(&addr, quick()))
        .await
        .unwrap_err();
    assert!(
        matches!(
            error,
            ClientError::Server {
                operation: "connect",
                error: ServerError::AuthenticationError,
                ..
            }
        ),
        "{error:?}"
    );
}

#[tokio::test]
async fn other_first_frame_fails_the_handshake() {
    let addr = fake(|mut wire| async move {
        next(&mut wire).await;
        reply(&mut wire, commands::ping()).await;
    })
    .await;
    let error = within(Connection::connect(&addr, quick()))
        .await
        .unwrap_err();
    assert!(matches!(error, ClientError::Handshake { .. }), "{error:?}");
}

#[tokio::test]
async fn silent_broker_times_out_the_handshake() {
    let addr = fake(|mut wire| async move {
        next(&mut wire).await;
        tokio::time::sleep(Duration::from_secs(5)).await;
    })
    .await;
    let error = within(Connection::connect(&addr, quick()))
        .await
        .unwrap_err();
    assert!(
        matches!(
            error,
            ClientError::Timeout {
                operation: "connect",
                ..
            }
        ),
        "{error:?}"
    );
}

#[tokio::test]
async fn refused_port_is_a_connect_error() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    drop(listener);
    let error = within(Client::connect(&format!("pulsar://{addr}"), quick()))
        .await
        .unwrap_err();
    assert!(matches!(error, ClientError::Connect { .. }), "{error:?}");
}

#[tokio::test]
async fn broker_ping_gets_a_pong() {
    let (tx, rx) = tokio::sync::oneshot::channel();
    let addr = fake(|mut wire| async move {
        handshake(&mut wire).await;
        reply(&mut wire, commands::ping()).await;
        let answer = next(&mut wire).await.command.command_type();
        let _ = tx.send(answer);
    })
    .await;
    let conn = within(Connection::connect(&addr, quick())).await.unwrap();
    assert_eq!(within(rx).await.unwrap(), Some(Type::Pong));
    drop(conn);
}

/// Goal: receipts are matched by sequence id, not arrival order, and SEND_ERROR fails only its
/// send. Method: three sends answered third, second (error), first.
#[tokio::test]
async fn receipts_match_by_sequence_id() {
    let addr = fake(|mut wire| async move {
        handshake(&mut wire).await;
        let producer_id = accept_producer(&mut wire, 41).await;
        let mut sends = Vec::new();
        for _ in 0..3 {
            let frame = next(&mut wire).await;
            let payload = frame.payload.expect("SEND carries a payload");
            assert!(matches!(payload.checksum, Checksum::Valid(_)));
            let metadata = payload.metadata().unwrap();
            assert_eq!(metadata.producer_name, "p");
            assert!(
                metadata.num_messages_in_batch.is_none(),
                "unbatched sends are not batches"
            );
            sends.push(frame.command.send.expect("SEND").sequence_id);
        }
        assert_eq!(
            sends,
            [42, 43, 44],
            "numbering continues after last_sequence_id"
        );
        reply(&mut wire, commands::send_receipt(producer_id, 44, 44, 1, 2)).await;
        let error = commands::send_error(producer_id, 43, ServerError::PersistenceError, "disk");
        reply(&mut wire, error).await;
        reply(&mut wire, commands::send_receipt(producer_id, 42, 42, 1, 1)).await;
        tokio::time::sleep(Duration::from_secs(1)).await;
    })
    .await;
    within(async {
        let conn = Connection::connect(&addr, quick()).await.unwrap();
        let producer = conn
            .create_producer("t", ProducerOptions::default())
            .await
            .unwrap();
        let a = producer.send("a").await.unwrap();
        let b = producer.send("b").await.unwrap();
        let c = producer.send("c").await.unwrap();
        let c = c.await.unwrap();
        assert_eq!((c.sequence_id, c.message_id.entry_id), (44, 2));
        let b = b.await.unwrap_err();
        assert!(
            matches!(
                b,
                ClientError::SendFailed {
                    sequence_id: 43,
                    error: ServerError::PersistenceError,
                    ..
                }
            ),
            "{b:?}"
        );
        assert_eq!(a.await.unwrap().message_id.entry_id, 1);
    })
    .await;
}

/// Goal: explicit sequence ids go out as given (SEND and metadata), later automatic ids
/// continue after the highest, and the broker's last_sequence_id is reported.
#[tokio::test]
async fn explicit_sequence_ids_are_sent_as_given() {
    let addr = fake(|mut wire| async move {
        handshake(&mut wire).await;
        let producer_id = accept_producer(&mut wire, 7).await;
        let mut sends = Vec::new();
        for _ in 0..3 {
            let frame = next(&mut wire).await;
            let metadata = frame.payload.expect("payload").metadata().unwrap();
            let send = frame.command.send.expect("SEND");
            assert_eq!(metadata.sequence_id, send.sequence_id);
            sends.push(send.sequence_id);
        }
        assert_eq!(sends, [100, 250, 251]);
        for id in sends {
            reply(&mut wire, commands::send_receipt(producer_id, id, id, 1, 1)).await;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    })
    .await;
    within(async {
        let conn = Connection::connect(&addr, quick()).await.unwrap();
        let producer = conn
            .create_producer("t", ProducerOptions::default())
            .await
            .unwrap();
        assert_eq!(producer.last_sequence_id(), Some(7));
        let with_id = |id| OutgoingMessage {
            sequence_id: Some(id),
            ..OutgoingMessage::from("x")
        };
        let a = producer.send(with_id(100)).await.unwrap();
        let b = producer.send(with_id(250)).await.unwrap();
        let c = producer.send("auto").await.unwrap();
        assert_eq!(a.await.unwrap().sequence_id, 100);
        assert_eq!(b.await.unwrap().sequence_id, 250);
        assert_eq!(c.await.unwrap().sequence_id, 251);
    })
    .await;
}

#[tokio::test]
async fn broker_closed_producer_fails_pending_and_later_sends() {
    let addr = fake(|mut wire| async move {
        handshake(&mut wire).await;
        let producer_id = accept_producer(&mut wire, -1).await;
        next(&mut wire).await;
        reply(&mut wire, commands::close_producer(producer_id)).await;
        tokio::time::sleep(Duration::from_secs(1)).await;
    })
    .await;
    within(async {
        let conn = Connection::connect(&addr, quick()).await.unwrap();
        let producer = conn
            .create_producer("t", ProducerOptions::default())
            .await
            .unwrap();
        let pending = producer.send("a").await.unwrap();
        assert!(matches!(
            pending.await,
            Err(ClientError::ProducerClosed { .. })
        ));
        assert!(matches!(
            producer.send("b").await,
            Err(ClientError::ProducerClosed { .. })
        ));
    })
    .await;
}

/// Goal: an unanswered request times out without breaking the connection.
#[tokio::test]
async fn unanswered_request_times_out_and_connection_survives() {
    let addr = fake(|mut wire| async move {
        handshake(&mut wire).await;
        next(&mut wire).await; // the lookup goes unanswered
        for _ in 0..2 {
            let request = next(&mut wire)
                .await
                .command
                .partition_metadata
                .expect("metadata");
            let mut answer = CommandPartitionedTopicMetadataResponse {
                partitions: Some(3),
                request_id: request.request_id,
                ..Default::default()
            };
            answer.set_response(MetadataResult::Success);
            reply(&mut wire, answer.into()).await;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    })
    .await;
    within(async {
        let client = Client::connect(&addr, quick()).await.unwrap();
        let error = client.lookup("t").await.unwrap_err();
        assert!(
            matches!(
                error,
                ClientError::Timeout {
                    operation: "lookup",
                    ..
                }
            ),
            "{error:?}"
        );
        assert_eq!(client.partitions("t").await.unwrap(), 3);
        let names = client.expand_partitions("t").await.unwrap();
        assert_eq!(names, ["t-partition-0", "t-partition-1", "t-partition-2"]);
    })
    .await;
}

/// A MESSAGE frame for `consumer_id`, optionally with a wrong checksum.
fn message_frame(consumer_id: u64, entry_id: u64, body: &[u8], corrupt: bool) -> Frame {
    let metadata = MessageMetadata {
        producer_name: "p".to_owned(),
        sequence_id: entry_id,
        publish_time: 1,
        ..Default::default()
    };
    let mut payload = Payload::new(&metadata, body);
    if corrupt {
        payload.checksum = Checksum::Valid(payload.crc32c() ^ 1);
    }
    let id = MessageIdData {
        ledger_id: 1,
        entry_id,
        ..Default::default()
    };
    Frame::with_payload(commands::message(consumer_id, id, 0, Vec::new()), payload)
}

/// Goal: consumer events arrive in order and permits are refilled at half the queue.
/// Method: queue of 4; the fake sends ACTIVE, two messages, a corrupt one, then CLOSE_CONSUMER.
#[tokio::test]
async fn consumer_sees_messages_errors_and_broker_close() {
    let (flows_tx, flows_rx) = tokio::sync::oneshot::channel();
    let addr = fake(|mut wire| async move {
        handshake(&mut wire).await;
        let subscribe = next(&mut wire).await.command.subscribe.expect("SUBSCRIBE");
        assert_eq!(subscribe.sub_type(), SubType::Failover);
        reply(&mut wire, commands::success(subscribe.request_id)).await;
        let id = subscribe.consumer_id;
        let mut flows = vec![
            next(&mut wire)
                .await
                .command
                .flow
                .expect("FLOW")
                .message_permits,
        ];
        reply(&mut wire, commands::active_consumer_change(id, true)).await;
        wire.send(message_frame(id, 0, b"zero", false))
            .await
            .unwrap();
        wire.send(message_frame(id, 1, b"one", false))
            .await
            .unwrap();
        flows.push(
            next(&mut wire)
                .await
                .command
                .flow
                .expect("refill FLOW")
                .message_permits,
        );
        wire.send(message_frame(id, 2, b"two", true)).await.unwrap();
        reply(&mut wire, commands::close_consumer(id)).await;
        let _ = flows_tx.send(flows);
        tokio::time::sleep(Duration::from_secs(1)).await;
    })
    .await;
    within(async {
        let conn = Connection::connect(&addr, quick()).await.unwrap();
        let options = SubscribeOptions {
            sub_type: SubType::Failover,
            receiver_queue_size: 4,
            ..SubscribeOptions::new("s")
        };
        let mut consumer = conn.subscribe("t", options).await.unwrap();
        let zero = consumer.receive().await.unwrap();
        assert_eq!(consumer.is_active(), Some(true));
        assert_eq!((zero.id.entry_id, zero.payload.as_ref()), (0, &b"zero"[..]));
        assert_eq!(consumer.receive().await.unwrap().payload.as_ref(), b"one");
        let corrupt = consumer.receive().await.unwrap_err();
        assert!(
            matches!(corrupt, ClientError::ChecksumMismatch { .. }),
            "{corrupt:?}"
        );
        let closed = consumer.receive().await.unwrap_err();
        assert!(
            matches!(closed, ClientError::ConsumerClosed { .. }),
            "{closed:?}"
        );
        assert_eq!(flows_rx.await.unwrap(), [4, 2]);
    })
    .await;
}

#[tokio::test]
async fn dropped_connection_fails_pending_requests() {
    let addr = fake(|mut wire| async move {
        handshake(&mut wire).await;
        next(&mut wire).await;
        drop(wire);
    })
    .await;
    within(async {
        let conn = Connection::connect(&addr, ConnectOptions::default())
            .await
            .unwrap();
        let error = conn
            .create_producer("t", ProducerOptions::default())
            .await
            .unwrap_err();
        assert!(
            matches!(error, ClientError::Disconnected { .. }),
            "{error:?}"
        );
        assert!(conn.is_closed());
    })
    .await;
}

/// Goal: the broker's max_message_size is honoured: a too-large message fails locally and
/// batches are cut to fit. Method: a fake advertising 1000 bytes; two 500-byte batched messages
/// must leave as two SENDs.
#[tokio::test]
async fn messages_and_batches_respect_the_broker_limit() {
    let (sends_tx, sends_rx) = tokio::sync::oneshot::channel();
    let addr = fake(|mut wire| async move {
        next(&mut wire).await;
        reply(&mut wire, commands::connected("fake", 20, 1000)).await;
        let producer_id = accept_producer(&mut wire, -1).await;
        let mut counts = Vec::new();
        for _ in 0..2 {
            let frame = next(&mut wire).await;
            let send = frame.command.send.expect("SEND");
            counts.push(send.num_messages);
            let receipt =
                commands::send_receipt(producer_id, send.sequence_id, 0, 1, send.sequence_id);
            reply(&mut wire, receipt).await;
        }
        let _ = sends_tx.send(counts);
        tokio::time::sleep(Duration::from_secs(1)).await;
    })
    .await;
    within(async {
        let conn = Connection::connect(&addr, quick()).await.unwrap();
        assert_eq!(conn.max_message_size(), 1000);
        let batching = BatchingOptions {
            max_messages: 100,
            max_bytes: 1 << 20,
            max_delay: Duration::from_millis(20),
        };
        let options = ProducerOptions {
            name: None,
            batching: Some(batching),
        };
        let producer = conn.create_producer("t", options).await.unwrap();
        let too_big = producer.send(vec![0u8; 1001]).await.unwrap_err();
        assert!(matches!(
            too_big,
            ClientError::MessageTooLarge {
                size: 1001,
                max: 1000
            }
        ));
        let a = producer.send(vec![1u8; 500]).await.unwrap();
        let b = producer.send(vec![2u8; 500]).await.unwrap();
        assert_eq!(a.await.unwrap().message_id.batch_index, 0);
        assert_eq!(b.await.unwrap().message_id.batch_index, 0);
        assert_eq!(sends_rx.await.unwrap(), [Some(1), Some(1)]);
    })
    .await;
}
