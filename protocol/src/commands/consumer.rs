//! Consumer-side broker commands: MESSAGE, CLOSE_CONSUMER, ACK_RESPONSE and consumer queries.

use super::BROKER_INITIATED_REQUEST_ID;
use crate::proto::{
    BaseCommand, CommandAckResponse, CommandActiveConsumerChange, CommandCloseConsumer,
    CommandConsumerStatsResponse, CommandGetLastMessageIdResponse, CommandMessage,
    CommandReachedEndOfTopic, MessageIdData, ServerError,
};

/// MESSAGE header; pair it with the entry's stored payload in a [`crate::frame::Frame`].
///
/// `redelivery_count` is always set, even when 0: pulsar-rs only considers its DLQ when the
/// field is present. `ack_set` is empty unless the entry is a partially acked batch.
pub fn message(
    consumer_id: u64,
    message_id: MessageIdData,
    redelivery_count: u32,
    ack_set: Vec<i64>,
) -> BaseCommand {
    CommandMessage {
        consumer_id,
        message_id,
        redelivery_count: Some(redelivery_count),
        ack_set,
        consumer_epoch: None,
    }
    .into()
}

/// Broker-initiated CLOSE_CONSUMER (`request_id = u64::MAX`): the client looks the topic up
/// again and re-subscribes with the same id, so drop the registration first.
pub fn close_consumer(consumer_id: u64) -> BaseCommand {
    CommandCloseConsumer {
        consumer_id,
        request_id: BROKER_INITIATED_REQUEST_ID,
        assigned_broker_service_url: None,
        assigned_broker_service_url_tls: None,
    }
    .into()
}

/// GET_LAST_MESSAGE_ID_RESPONSE. For an empty topic pass `entry_id = u64::MAX` (-1) in `last`.
pub fn last_message_id(
    request_id: u64,
    last: MessageIdData,
    mark_delete: Option<MessageIdData>,
) -> BaseCommand {
    CommandGetLastMessageIdResponse {
        last_message_id: last,
        request_id,
        consumer_mark_delete_position: mark_delete,
    }
    .into()
}

/// ACK_RESPONSE for an ACK that carried `request_id`; `error` is `None` on success.
pub fn ack_response(
    consumer_id: u64,
    request_id: u64,
    error: Option<(ServerError, String)>,
) -> BaseCommand {
    let (error, message) = match error {
        Some((code, message)) => (Some(code as i32), Some(message)),
        None => (None, None),
    };
    CommandAckResponse {
        consumer_id,
        txnid_least_bits: None,
        txnid_most_bits: None,
        error,
        message,
        request_id: Some(request_id),
    }
    .into()
}

/// ACTIVE_CONSUMER_CHANGE for one Failover consumer; `is_active` is always set.
pub fn active_consumer_change(consumer_id: u64, is_active: bool) -> BaseCommand {
    CommandActiveConsumerChange {
        consumer_id,
        is_active: Some(is_active),
    }
    .into()
}

/// CONSUMER_STATS_RESPONSE carrying only an error (the typed failure form).
pub fn consumer_stats_error(
    request_id: u64,
    error: ServerError,
    message: impl Into<String>,
) -> BaseCommand {
    CommandConsumerStatsResponse {
        request_id,
        error_code: Some(error as i32),
        error_message: Some(message.into()),
        ..Default::default()
    }
    .into()
}

/// REACHED_END_OF_TOPIC. Never send it to C++ 4.2.0 clients (`client_version` starting
/// `Pulsar-CPP`): they drop the connection on it.
pub fn reached_end_of_topic(consumer_id: u64) -> BaseCommand {
    CommandReachedEndOfTopic { consumer_id }.into()
}
