//! Client-side commands, for tests, benches and tools that talk to the broker directly.
//!
//! They fill fields the way the target clients do (see the digest, section 3.3) but are not
//! meant to be a full client.

use crate::proto::{
    command_ack, command_get_topics_of_namespace, command_subscribe, AuthData, BaseCommand,
    CommandAck, CommandAuthResponse, CommandCloseConsumer, CommandCloseProducer, CommandConnect,
    CommandConsumerStats, CommandFlow, CommandGetLastMessageId, CommandGetSchema,
    CommandGetTopicsOfNamespace, CommandLookupTopic, CommandPartitionedTopicMetadata,
    CommandProducer, CommandRedeliverUnacknowledgedMessages, CommandSeek, CommandSend,
    CommandSubscribe, CommandUnsubscribe, MessageIdData,
};

/// CONNECT without authentication, as pulsar-rs sends it.
pub fn connect(client_version: impl Into<String>, protocol_version: i32) -> BaseCommand {
    CommandConnect {
        client_version: client_version.into(),
        protocol_version: Some(protocol_version),
        ..Default::default()
    }
    .into()
}

/// CONNECT presenting credentials (`"token"` + token bytes, for example).
pub fn connect_with_auth(
    client_version: impl Into<String>,
    protocol_version: i32,
    method: impl Into<String>,
    data: Vec<u8>,
) -> BaseCommand {
    CommandConnect {
        client_version: client_version.into(),
        protocol_version: Some(protocol_version),
        auth_method_name: Some(method.into()),
        auth_data: Some(data),
        ..Default::default()
    }
    .into()
}

/// AUTH_RESPONSE answering a challenge, pulsar-rs style (`response` only).
pub fn auth_response(method: impl Into<String>, data: Vec<u8>) -> BaseCommand {
    CommandAuthResponse {
        client_version: None,
        response: Some(AuthData {
            auth_method_name: Some(method.into()),
            auth_data: Some(data),
        }),
        protocol_version: None,
    }
    .into()
}

/// PARTITIONED_METADATA for `topic`.
pub fn partitioned_metadata(topic: impl Into<String>, request_id: u64) -> BaseCommand {
    CommandPartitionedTopicMetadata {
        topic: topic.into(),
        request_id,
        ..Default::default()
    }
    .into()
}

/// LOOKUP for `topic`, non-authoritative.
pub fn lookup(topic: impl Into<String>, request_id: u64) -> BaseCommand {
    CommandLookupTopic {
        topic: topic.into(),
        request_id,
        authoritative: Some(false),
        ..Default::default()
    }
    .into()
}

/// PRODUCER in Shared mode; `producer_name = None` asks the broker to generate one.
pub fn producer(
    topic: impl Into<String>,
    producer_id: u64,
    request_id: u64,
    producer_name: Option<String>,
) -> BaseCommand {
    CommandProducer {
        topic: topic.into(),
        producer_id,
        request_id,
        producer_name,
        ..Default::default()
    }
    .into()
}

/// SEND header; pair it with a [`crate::frame::Payload`]. `num_messages` is the batch size.
pub fn send(producer_id: u64, sequence_id: u64, num_messages: Option<i32>) -> BaseCommand {
    CommandSend {
        producer_id,
        sequence_id,
        num_messages,
        ..Default::default()
    }
    .into()
}

/// SUBSCRIBE for a durable subscription starting at `initial_position`.
pub fn subscribe(
    topic: impl Into<String>,
    subscription: impl Into<String>,
    sub_type: command_subscribe::SubType,
    consumer_id: u64,
    request_id: u64,
    initial_position: command_subscribe::InitialPosition,
) -> BaseCommand {
    CommandSubscribe {
        topic: topic.into(),
        subscription: subscription.into(),
        sub_type: sub_type as i32,
        consumer_id,
        request_id,
        initial_position: Some(initial_position as i32),
        ..Default::default()
    }
    .into()
}

/// FLOW granting `permits` more messages.
pub fn flow(consumer_id: u64, permits: u32) -> BaseCommand {
    CommandFlow {
        consumer_id,
        message_permits: permits,
    }
    .into()
}

/// ACK of `message_ids`; `request_id = Some(..)` asks for an ACK_RESPONSE.
pub fn ack(
    consumer_id: u64,
    ack_type: command_ack::AckType,
    message_ids: Vec<MessageIdData>,
    request_id: Option<u64>,
) -> BaseCommand {
    CommandAck {
        consumer_id,
        ack_type: ack_type as i32,
        message_id: message_ids,
        request_id,
        ..Default::default()
    }
    .into()
}

/// REDELIVER_UNACKNOWLEDGED_MESSAGES; empty `message_ids` means "everything pending".
pub fn redeliver(consumer_id: u64, message_ids: Vec<MessageIdData>) -> BaseCommand {
    CommandRedeliverUnacknowledgedMessages {
        consumer_id,
        message_ids,
        consumer_epoch: None,
    }
    .into()
}

/// UNSUBSCRIBE.
pub fn unsubscribe(consumer_id: u64, request_id: u64) -> BaseCommand {
    CommandUnsubscribe {
        consumer_id,
        request_id,
    }
    .into()
}

/// SEEK to a message id.
pub fn seek(consumer_id: u64, request_id: u64, message_id: MessageIdData) -> BaseCommand {
    CommandSeek {
        consumer_id,
        request_id,
        message_id: Some(message_id),
        message_publish_time: None,
    }
    .into()
}

/// Client CLOSE_PRODUCER, answered with SUCCESS.
pub fn close_producer(producer_id: u64, request_id: u64) -> BaseCommand {
    CommandCloseProducer {
        producer_id,
        request_id,
        ..Default::default()
    }
    .into()
}

/// Client CLOSE_CONSUMER, answered with SUCCESS.
pub fn close_consumer(consumer_id: u64, request_id: u64) -> BaseCommand {
    CommandCloseConsumer {
        consumer_id,
        request_id,
        ..Default::default()
    }
    .into()
}

/// GET_LAST_MESSAGE_ID.
pub fn get_last_message_id(consumer_id: u64, request_id: u64) -> BaseCommand {
    CommandGetLastMessageId {
        consumer_id,
        request_id,
    }
    .into()
}

/// GET_TOPICS_OF_NAMESPACE for `tenant/namespace`.
pub fn get_topics_of_namespace(
    request_id: u64,
    namespace: impl Into<String>,
    mode: command_get_topics_of_namespace::Mode,
) -> BaseCommand {
    CommandGetTopicsOfNamespace {
        request_id,
        namespace: namespace.into(),
        mode: Some(mode as i32),
        ..Default::default()
    }
    .into()
}

/// GET_SCHEMA for the latest schema of `topic`.
pub fn get_schema(request_id: u64, topic: impl Into<String>) -> BaseCommand {
    CommandGetSchema {
        request_id,
        topic: topic.into(),
        schema_version: None,
    }
    .into()
}

/// CONSUMER_STATS.
pub fn consumer_stats(request_id: u64, consumer_id: u64) -> BaseCommand {
    CommandConsumerStats {
        request_id,
        consumer_id,
    }
    .into()
}
