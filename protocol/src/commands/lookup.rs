//! Discovery and schema replies: LOOKUP_RESPONSE, PARTITIONED_METADATA_RESPONSE,
//! GET_TOPICS_OF_NAMESPACE_RESPONSE and GET_SCHEMA_RESPONSE.

use crate::proto::{
    command_lookup_topic_response, command_partitioned_topic_metadata_response, BaseCommand,
    CommandGetSchemaResponse, CommandGetTopicsOfNamespaceResponse, CommandLookupTopicResponse,
    CommandPartitionedTopicMetadataResponse, Schema, ServerError,
};

/// LOOKUP_RESPONSE telling the client to connect to us: `response = Connect`,
/// `authoritative = true`, `proxy_through_service_url = false`, all explicitly set.
pub fn lookup_connect(
    request_id: u64,
    broker_url: impl Into<String>,
    broker_url_tls: Option<String>,
) -> BaseCommand {
    CommandLookupTopicResponse {
        broker_service_url: Some(broker_url.into()),
        broker_service_url_tls: broker_url_tls,
        response: Some(command_lookup_topic_response::LookupType::Connect as i32),
        request_id,
        authoritative: Some(true),
        error: None,
        message: None,
        proxy_through_service_url: Some(false),
    }
    .into()
}

/// LOOKUP_RESPONSE with `response = Failed`. C++ closes the whole connection on
/// ServiceNotReady unless the message says e.g. "is being unloaded".
pub fn lookup_failed(
    request_id: u64,
    error: ServerError,
    message: impl Into<String>,
) -> BaseCommand {
    CommandLookupTopicResponse {
        response: Some(command_lookup_topic_response::LookupType::Failed as i32),
        request_id,
        error: Some(error as i32),
        message: Some(message.into()),
        ..Default::default()
    }
    .into()
}

/// PARTITIONED_METADATA_RESPONSE with `response = Success` and `partitions` always set (0 for
/// a non-partitioned topic; pulsar-rs errors when it is absent).
pub fn partitioned_metadata(request_id: u64, partitions: u32) -> BaseCommand {
    CommandPartitionedTopicMetadataResponse {
        partitions: Some(partitions),
        request_id,
        response: Some(command_partitioned_topic_metadata_response::LookupType::Success as i32),
        error: None,
        message: None,
    }
    .into()
}

/// PARTITIONED_METADATA_RESPONSE with `response = Failed` (C++ ignores a generic ERROR here).
pub fn partitioned_metadata_failed(
    request_id: u64,
    error: ServerError,
    message: impl Into<String>,
) -> BaseCommand {
    CommandPartitionedTopicMetadataResponse {
        partitions: None,
        request_id,
        response: Some(command_partitioned_topic_metadata_response::LookupType::Failed as i32),
        error: Some(error as i32),
        message: Some(message.into()),
    }
    .into()
}

/// GET_TOPICS_OF_NAMESPACE_RESPONSE listing full topic names (partitions, never their base
/// name). `filtered = false` and `changed = true` are set explicitly, as Java does.
pub fn topics_of_namespace(request_id: u64, topics: Vec<String>) -> BaseCommand {
    CommandGetTopicsOfNamespaceResponse {
        request_id,
        topics,
        filtered: Some(false),
        topics_hash: None,
        changed: Some(true),
    }
    .into()
}

/// GET_SCHEMA_RESPONSE carrying an error; use TopicNotFound for "no schema".
pub fn get_schema_error(
    request_id: u64,
    error: ServerError,
    message: impl Into<String>,
) -> BaseCommand {
    CommandGetSchemaResponse {
        request_id,
        error_code: Some(error as i32),
        error_message: Some(message.into()),
        schema: None,
        schema_version: None,
    }
    .into()
}

/// GET_SCHEMA_RESPONSE carrying a schema and its (opaque) version.
pub fn get_schema_response(request_id: u64, schema: Schema, version: Vec<u8>) -> BaseCommand {
    CommandGetSchemaResponse {
        request_id,
        error_code: None,
        error_message: None,
        schema: Some(schema),
        schema_version: Some(version),
    }
    .into()
}
