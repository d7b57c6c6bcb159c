//! Interop-critical wire details: golden bytes, always-set fields, proto2 defaults and enum
//! spellings, checked against what the digest says the clients require.
#![cfg(test)]

use geminga_protocol::commands;
use geminga_protocol::proto::*;
use prost::Message as _;

fn id(ledger_id: u64, entry_id: u64) -> MessageIdData {
    MessageIdData {
        ledger_id,
        entry_id,
        ..Default::default()
    }
}

#[test]
fn connected_golden_bytes_carry_version_and_limit() {
    let bytes = commands::connected("G", 12, 5 << 20).encode_to_vec();
    let expected = [
        0x08, 0x03, 0x1a, 0x0a, // type CONNECTED, field 3 (10 bytes)
        0x0a, 0x01, b'G', // server_version
        0x10, 0x0c, // protocol_version 12
        0x18, 0x80, 0x80, 0xc0, 0x02, // max_message_size 5242880
    ];
    assert_eq!(bytes, expected);
}

#[test]
fn partitioned_metadata_golden_bytes_set_zero_partitions_and_success() {
    // Both `partitions = 0` and `response = Success (0)` must be on the wire: clients treat
    // absence as failure, and prost omits `None` optionals.
    let bytes = commands::partitioned_metadata(1, 0).encode_to_vec();
    let expected = [
        0x08, 0x16, 0xb2, 0x01, 0x06, // type 22, field 22 (6 bytes)
        0x08, 0x00, 0x10, 0x01, 0x18, 0x00,
    ];
    assert_eq!(bytes, expected);
}

#[test]
fn required_fields_are_written_even_when_zero() {
    // C++ rejects frames that lack a required field.
    let bytes = commands::success(0).encode_to_vec();
    assert_eq!(bytes, [0x08, 0x0d, 0x6a, 0x02, 0x08, 0x00]);
}

#[test]
fn lookup_connect_sets_response_authoritative_and_proxy_flag() {
    let command = commands::lookup_connect(7, "pulsar://127.0.0.1:6650", None);
    let response = command.lookup_topic_response.unwrap();
    assert_eq!(
        response.response(),
        command_lookup_topic_response::LookupType::Connect
    );
    assert_eq!(response.response, Some(1));
    assert_eq!(response.authoritative, Some(true));
    assert_eq!(response.proxy_through_service_url, Some(false));
    assert_eq!(
        response.broker_service_url.as_deref(),
        Some("pulsar://127.0.0.1:6650")
    );
    assert_eq!(response.request_id, 7);
}

#[test]
fn broker_initiated_closes_use_max_request_id() {
    let producer = commands::close_producer(3).close_producer.unwrap();
    let consumer = commands::close_consumer(4).close_consumer.unwrap();
    assert_eq!(producer.request_id, u64::MAX);
    assert_eq!(consumer.request_id, u64::MAX);
    assert_eq!((producer.producer_id, consumer.consumer_id), (3, 4));
}

#[test]
fn message_always_carries_redelivery_count() {
    let message = commands::message(1, id(1, 1), 0, vec![]).message.unwrap();
    assert_eq!(message.redelivery_count, Some(0));
}

#[test]
fn proto2_defaults_come_from_the_getters() {
    let subscribe = CommandSubscribe::default();
    assert!(subscribe.durable());
    assert!(subscribe.force_topic_creation());
    assert_eq!(
        subscribe.initial_position(),
        command_subscribe::InitialPosition::Latest
    );
    let producer_success = CommandProducerSuccess::default();
    assert_eq!(producer_success.last_sequence_id(), -1);
    assert!(producer_success.producer_ready());
    let id = MessageIdData::default();
    assert_eq!((id.partition(), id.batch_index()), (-1, -1));
    let metadata = MessageMetadata::default();
    assert_eq!(metadata.num_messages_in_batch(), 1);
    assert_eq!(metadata.compression(), CompressionType::None);
    assert_eq!(CommandSend::default().num_messages(), 1);
    assert!(CommandGetTopicsOfNamespaceResponse::default().changed());
    assert_eq!(
        CommandGetTopicsOfNamespace::default().mode(),
        command_get_topics_of_namespace::Mode::Persistent
    );
}

#[test]
fn enum_names_match_the_proto_spelling() {
    assert_eq!(
        command_subscribe::SubType::KeyShared.as_str_name(),
        "Key_Shared"
    );
    assert_eq!(
        base_command::Type::from_str_name("LOOKUP_RESPONSE"),
        Some(base_command::Type::LookupResponse)
    );
    assert_eq!(AuthMethod::None.as_str_name(), "AuthMethodNone");
    assert_eq!(
        KeySharedMode::from_str_name("AUTO_SPLIT"),
        Some(KeySharedMode::AutoSplit)
    );
    assert_eq!(
        ServerError::from_str_name("ProducerFenced"),
        Some(ServerError::ProducerFenced)
    );
    assert!(
        ServerError::try_from(26).is_err(),
        "C++ 4.2.0 knows only 0..=25"
    );
}

#[test]
fn negotiated_version_is_min_of_client_and_ours() {
    assert_eq!(commands::negotiate_protocol_version(12), 12);
    assert_eq!(commands::negotiate_protocol_version(21), 20);
    assert_eq!(commands::negotiate_protocol_version(-3), 0);
}
