//! Every command the broker sends or receives survives encode → decode unchanged, carries the
//! right type, and sits in the field whose number equals that type.
#![cfg(test)]

use bytes::BytesMut;
use geminga_protocol::commands::{self, client};
use geminga_protocol::proto::*;
use geminga_protocol::{Frame, Payload, PulsarCodec};
use prost::Message as _;
use tokio_util::codec::{Decoder, Encoder};

fn id(ledger_id: u64, entry_id: u64) -> MessageIdData {
    MessageIdData {
        ledger_id,
        entry_id,
        ..Default::default()
    }
}

fn schema() -> Schema {
    Schema {
        name: "s".into(),
        schema_data: b"{\"type\":\"string\"}".to_vec(),
        r#type: schema::Type::Json as i32,
        properties: vec![KeyValue {
            key: "k".into(),
            value: "v".into(),
        }],
    }
}

fn round_trip(frame: Frame) -> Frame {
    let mut codec = PulsarCodec::default();
    let mut buf = BytesMut::new();
    codec.encode(frame, &mut buf).unwrap();
    let decoded = codec.decode(&mut buf).unwrap().unwrap();
    assert!(buf.is_empty(), "decoder left {} bytes", buf.len());
    decoded
}

/// Commands the broker receives, with the type each must decode as.
fn client_commands() -> Vec<(BaseCommand, base_command::Type)> {
    use base_command::Type as T;
    use command_subscribe::{InitialPosition, SubType};
    let key_shared = CommandSubscribe {
        key_shared_meta: Some(KeySharedMeta {
            key_shared_mode: KeySharedMode::Sticky as i32,
            hash_ranges: vec![IntRange { start: 0, end: 100 }],
            allow_out_of_order_delivery: Some(true),
        }),
        start_message_id: Some(MessageIdData {
            batch_index: Some(2),
            ..id(u64::MAX, u64::MAX)
        }),
        durable: Some(false),
        ..CommandSubscribe::default()
    };
    vec![
        (client::connect("pulsar-rs-v6.9.1", 12), T::Connect),
        (
            client::connect_with_auth("Pulsar-CPP-v4.2.0", 20, "token", b"jwt".to_vec()),
            T::Connect,
        ),
        (
            client::subscribe(
                "t",
                "s",
                SubType::KeyShared,
                1,
                2,
                InitialPosition::Earliest,
            ),
            T::Subscribe,
        ),
        (key_shared.into(), T::Subscribe),
        (client::producer("t", 1, 2, Some("p".into())), T::Producer),
        (client::send(1, 2, Some(10)), T::Send),
        (
            client::ack(1, command_ack::AckType::Cumulative, vec![id(1, 2)], Some(9)),
            T::Ack,
        ),
        (
            CommandAck {
                validation_error: Some(command_ack::ValidationError::ChecksumMismatch as i32),
                properties: vec![KeyLongValue {
                    key: "k".into(),
                    value: 1,
                }],
                message_id: vec![MessageIdData {
                    ack_set: vec![-1, 5],
                    ..id(3, 4)
                }],
                ..CommandAck::default()
            }
            .into(),
            T::Ack,
        ),
        (client::flow(1, 1000), T::Flow),
        (client::unsubscribe(1, 2), T::Unsubscribe),
        (client::close_producer(1, 2), T::CloseProducer),
        (client::close_consumer(1, 2), T::CloseConsumer),
        (commands::ping(), T::Ping),
        (commands::pong(), T::Pong),
        (
            client::redeliver(1, vec![id(1, 2), id(1, 3)]),
            T::RedeliverUnacknowledgedMessages,
        ),
        (client::partitioned_metadata("t", 1), T::PartitionedMetadata),
        (client::lookup("t", 1), T::Lookup),
        (client::consumer_stats(1, 2), T::ConsumerStats),
        (
            client::seek(1, 2, id(i64::MAX as u64, i64::MAX as u64)),
            T::Seek,
        ),
        (client::get_last_message_id(1, 2), T::GetLastMessageId),
        (
            client::get_topics_of_namespace(
                1,
                "public/default",
                command_get_topics_of_namespace::Mode::All,
            ),
            T::GetTopicsOfNamespace,
        ),
        (client::get_schema(1, "t"), T::GetSchema),
        (
            client::auth_response("token", b"fresh".to_vec()),
            T::AuthResponse,
        ),
        (
            CommandGetOrCreateSchema {
                request_id: 1,
                topic: "t".into(),
                schema: schema(),
            }
            .into(),
            T::GetOrCreateSchema,
        ),
        (
            CommandWatchTopicList {
                request_id: 1,
                watcher_id: 2,
                namespace: "public/default".into(),
                topics_pattern: "a.*".into(),
                topics_hash: Some("h".into()),
            }
            .into(),
            T::WatchTopicList,
        ),
        (
            CommandWatchTopicListClose {
                request_id: 1,
                watcher_id: 2,
            }
            .into(),
            T::WatchTopicListClose,
        ),
    ]
}

/// Commands the broker sends, with the type each must decode as.
fn broker_commands() -> Vec<(BaseCommand, base_command::Type)> {
    use base_command::Type as T;
    use ServerError as E;
    vec![
        (
            commands::connected("Geminga 0.1", 20, 5 << 20),
            T::Connected,
        ),
        (commands::success(1), T::Success),
        (commands::error(1, E::ConsumerBusy, "busy"), T::Error),
        (
            commands::producer_success(1, "p", -1, Some(vec![0; 8]), true),
            T::ProducerSuccess,
        ),
        (commands::send_receipt(1, 2, 2, 3, 4), T::SendReceipt),
        (
            commands::send_error(1, 2, E::ChecksumError, "crc"),
            T::SendError,
        ),
        (commands::message(1, id(3, 4), 2, vec![6]), T::Message),
        (
            commands::lookup_connect(1, "pulsar://h:6650", Some("pulsar+ssl://h:6651".into())),
            T::LookupResponse,
        ),
        (
            commands::lookup_failed(1, E::ServiceNotReady, "is being unloaded"),
            T::LookupResponse,
        ),
        (
            commands::partitioned_metadata(1, 4),
            T::PartitionedMetadataResponse,
        ),
        (
            commands::partitioned_metadata_failed(1, E::MetadataError, "m"),
            T::PartitionedMetadataResponse,
        ),
        (commands::close_producer(1), T::CloseProducer),
        (commands::close_consumer(1), T::CloseConsumer),
        (
            commands::last_message_id(1, id(3, 4), Some(id(3, 2))),
            T::GetLastMessageIdResponse,
        ),
        (commands::ack_response(1, 2, None), T::AckResponse),
        (
            commands::ack_response(1, 2, Some((E::NotAllowedError, "no".into()))),
            T::AckResponse,
        ),
        (
            commands::active_consumer_change(1, true),
            T::ActiveConsumerChange,
        ),
        (
            commands::topics_of_namespace(1, vec!["persistent://public/default/a".into()]),
            T::GetTopicsOfNamespaceResponse,
        ),
        (
            commands::get_schema_error(1, E::TopicNotFound, "none"),
            T::GetSchemaResponse,
        ),
        (
            commands::get_schema_response(1, schema(), vec![0, 0, 0, 0, 0, 0, 0, 1]),
            T::GetSchemaResponse,
        ),
        (
            commands::consumer_stats_error(1, E::NotAllowedError, "no"),
            T::ConsumerStatsResponse,
        ),
        (
            CommandConsumerStatsResponse {
                request_id: 1,
                msg_rate_out: Some(1.5),
                consumer_name: Some("c".into()),
                r#type: Some("Shared".into()),
                ..Default::default()
            }
            .into(),
            T::ConsumerStatsResponse,
        ),
        (commands::reached_end_of_topic(1), T::ReachedEndOfTopic),
        (
            commands::auth_challenge("token", b"PulsarAuthRefresh".to_vec()),
            T::AuthChallenge,
        ),
        (
            CommandGetOrCreateSchemaResponse {
                request_id: 1,
                schema_version: Some(vec![1]),
                ..Default::default()
            }
            .into(),
            T::GetOrCreateSchemaResponse,
        ),
        (
            CommandWatchTopicListSuccess {
                request_id: 1,
                watcher_id: 2,
                topic: vec!["a".into()],
                topics_hash: "h".into(),
            }
            .into(),
            T::WatchTopicListSuccess,
        ),
        (
            CommandWatchTopicUpdate {
                watcher_id: 2,
                new_topics: vec!["b".into()],
                deleted_topics: vec!["a".into()],
                topics_hash: "h2".into(),
            }
            .into(),
            T::WatchTopicUpdate,
        ),
        (
            CommandTopicMigrated {
                resource_id: 1,
                resource_type: command_topic_migrated::ResourceType::Consumer as i32,
                broker_service_url: Some("pulsar://other:6650".into()),
                broker_service_url_tls: None,
            }
            .into(),
            T::TopicMigrated,
        ),
    ]
}

#[test]
fn every_command_round_trips_with_its_type() {
    let all: Vec<_> = client_commands()
        .into_iter()
        .chain(broker_commands())
        .collect();
    let metadata = MessageMetadata {
        producer_name: "p".into(),
        sequence_id: 2,
        publish_time: 3,
        num_messages_in_batch: Some(10),
        ..Default::default()
    };
    for (command, expected) in all {
        assert_eq!(command.command_type(), Some(expected));
        let frame = match expected {
            base_command::Type::Send | base_command::Type::Message => {
                Frame::with_payload(command, Payload::new(&metadata, b"body"))
            }
            _ => Frame::new(command),
        };
        assert_eq!(round_trip(frame.clone()), frame, "{expected:?}");
    }
}

#[test]
fn every_command_type_value_has_its_field_number() {
    // Field number == type value: encoding the sub-command alone must produce the key
    // (type << 3 | 2) right after the type field.
    for (command, expected) in client_commands().into_iter().chain(broker_commands()) {
        let bytes = command.encode_to_vec();
        let tag = ((expected as u64) << 3) | 2;
        let mut key = Vec::new();
        prost::encoding::encode_varint(tag, &mut key);
        let type_field_len = 2; // 0x08 + one-byte varint: every type value is < 128.
        assert_eq!(
            &bytes[type_field_len..type_field_len + key.len()],
            &key[..],
            "{expected:?}"
        );
    }
}

#[test]
fn command_type_is_none_for_unknown_values() {
    let command = BaseCommand {
        r#type: 99,
        ..Default::default()
    };
    assert_eq!(command.command_type(), None);
    let txn = BaseCommand {
        r#type: base_command::Type::NewTxn as i32,
        ..Default::default()
    };
    assert_eq!(txn.command_type(), Some(base_command::Type::NewTxn));
}

#[test]
fn the_samples_cover_every_non_transaction_command_type() {
    // Fails when a command type is added without a round-trip sample.
    let covered: std::collections::BTreeSet<i32> = client_commands()
        .into_iter()
        .chain(broker_commands())
        .map(|(command, _)| command.r#type)
        .collect();
    let expected: std::collections::BTreeSet<i32> = (0..=100)
        .filter(|value| base_command::Type::try_from(*value).is_ok())
        .filter(|value| !(50..=63).contains(value))
        .collect();
    assert_eq!(covered, expected);
}
