//! Producer replies: PRODUCER_SUCCESS, SEND_RECEIPT, SEND_ERROR and broker CLOSE_PRODUCER.

use super::BROKER_INITIATED_REQUEST_ID;
use crate::proto::{
    BaseCommand, CommandCloseProducer, CommandProducerSuccess, CommandSendError,
    CommandSendReceipt, MessageIdData, ServerError,
};

/// PRODUCER_SUCCESS. Pass `last_sequence_id = -1` without deduplication (C++ then numbers from
/// 0) and `producer_ready = false` only for a WaitForExclusive producer that must wait.
pub fn producer_success(
    request_id: u64,
    producer_name: impl Into<String>,
    last_sequence_id: i64,
    schema_version: Option<Vec<u8>>,
    producer_ready: bool,
) -> BaseCommand {
    CommandProducerSuccess {
        request_id,
        producer_name: producer_name.into(),
        last_sequence_id: Some(last_sequence_id),
        schema_version,
        topic_epoch: None,
        producer_ready: Some(producer_ready),
    }
    .into()
}

/// SEND_RECEIPT echoing the SEND's ids, naming the stored entry.
pub fn send_receipt(
    producer_id: u64,
    sequence_id: u64,
    highest_sequence_id: u64,
    ledger_id: u64,
    entry_id: u64,
) -> BaseCommand {
    CommandSendReceipt {
        producer_id,
        sequence_id,
        message_id: Some(MessageIdData {
            ledger_id,
            entry_id,
            ..Default::default()
        }),
        highest_sequence_id: Some(highest_sequence_id),
    }
    .into()
}

/// SEND_ERROR for one SEND. C++ reconnects on anything but ChecksumError.
pub fn send_error(
    producer_id: u64,
    sequence_id: u64,
    error: ServerError,
    message: impl Into<String>,
) -> BaseCommand {
    CommandSendError {
        producer_id,
        sequence_id,
        error: error as i32,
        message: message.into(),
    }
    .into()
}

/// Broker-initiated CLOSE_PRODUCER (`request_id = u64::MAX`): the client re-creates the
/// producer with the same id, so drop the registration first.
pub fn close_producer(producer_id: u64) -> BaseCommand {
    CommandCloseProducer {
        producer_id,
        request_id: BROKER_INITIATED_REQUEST_ID,
        assigned_broker_service_url: None,
        assigned_broker_service_url_tls: None,
    }
    .into()
}
