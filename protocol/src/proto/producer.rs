//! Producer commands: PRODUCER, PRODUCER_SUCCESS, SEND and its receipts, CLOSE_PRODUCER.

use super::{KeyValue, MessageIdData, ProducerAccessMode, Schema, ServerError};

/// PRODUCER (type 5, c→b): registers `producer_id` on a topic; answered with PRODUCER_SUCCESS
/// or ERROR.
#[derive(Clone, PartialEq, ::prost::Message)]
pub struct CommandProducer {
    /// Full topic name, or a partition name for partitioned topics.
    #[prost(string, required, tag = "1")]
    pub topic: ::prost::alloc::string::String,
    /// Client-chosen id, unique per connection among producers; reused after reconnects.
    #[prost(uint64, required, tag = "2")]
    pub producer_id: u64,
    /// Correlates the reply.
    #[prost(uint64, required, tag = "3")]
    pub request_id: u64,
    /// Requested name; when absent the broker generates a topic-unique one.
    #[prost(string, optional, tag = "4")]
    pub producer_name: ::core::option::Option<::prost::alloc::string::String>,
    /// The producer encrypts payloads.
    #[prost(bool, optional, tag = "5", default = "false")]
    pub encrypted: ::core::option::Option<bool>,
    /// Producer properties.
    #[prost(message, repeated, tag = "6")]
    pub metadata: ::prost::alloc::vec::Vec<KeyValue>,
    /// Declared schema; absent means bytes.
    #[prost(message, optional, tag = "7")]
    pub schema: ::core::option::Option<Schema>,
    /// Bumped by C++ on each reconnect.
    #[prost(uint64, optional, tag = "8", default = "0")]
    pub epoch: ::core::option::Option<u64>,
    /// False when the name came from an earlier PRODUCER_SUCCESS.
    #[prost(bool, optional, tag = "9", default = "true")]
    pub user_provided_producer_name: ::core::option::Option<bool>,
    /// Shared or one of the exclusive modes.
    #[prost(
        enumeration = "ProducerAccessMode",
        optional,
        tag = "10",
        default = "Shared"
    )]
    pub producer_access_mode: ::core::option::Option<i32>,
    /// Echo of the last `topic_epoch` from PRODUCER_SUCCESS, to fence stale exclusive producers.
    #[prost(uint64, optional, tag = "11")]
    pub topic_epoch: ::core::option::Option<u64>,
    /// The producer publishes within transactions.
    #[prost(bool, optional, tag = "12", default = "false")]
    pub txn_enabled: ::core::option::Option<bool>,
    /// Subscription to create (at earliest) if this producer creates the topic; C++ DLQ uses it.
    #[prost(string, optional, tag = "13")]
    pub initial_subscription_name: ::core::option::Option<::prost::alloc::string::String>,
}

/// PRODUCER_SUCCESS (type 17, b→c).
#[derive(Clone, PartialEq, Eq, Hash, ::prost::Message)]
pub struct CommandProducerSuccess {
    /// Echo of the PRODUCER's request id.
    #[prost(uint64, required, tag = "1")]
    pub request_id: u64,
    /// The effective producer name.
    #[prost(string, required, tag = "2")]
    pub producer_name: ::prost::alloc::string::String,
    /// C++ numbers new messages from `last_sequence_id + 1`; -1 without deduplication.
    #[prost(int64, optional, tag = "3", default = "-1")]
    pub last_sequence_id: ::core::option::Option<i64>,
    /// Version of the producer's schema; clients copy it into each message's metadata.
    #[prost(bytes = "vec", optional, tag = "4")]
    pub schema_version: ::core::option::Option<::prost::alloc::vec::Vec<u8>>,
    /// Topic epoch for exclusive producers.
    #[prost(uint64, optional, tag = "5")]
    pub topic_epoch: ::core::option::Option<u64>,
    /// False while a WaitForExclusive producer waits; a second reply with true follows.
    #[prost(bool, optional, tag = "6", default = "true")]
    pub producer_ready: ::core::option::Option<bool>,
}

/// SEND (type 6, c→b, carries a payload): publishes one entry.
#[derive(Clone, PartialEq, ::prost::Message)]
pub struct CommandSend {
    /// Producer registered on this connection.
    #[prost(uint64, required, tag = "1")]
    pub producer_id: u64,
    /// Echoed exactly by the receipt (for C++ batches: the first message's id).
    #[prost(uint64, required, tag = "2")]
    pub sequence_id: u64,
    /// Number of messages in the entry (the batch size for batches).
    #[prost(int32, optional, tag = "3", default = "1")]
    pub num_messages: ::core::option::Option<i32>,
    /// Transaction id, low bits.
    #[prost(uint64, optional, tag = "4", default = "0")]
    pub txnid_least_bits: ::core::option::Option<u64>,
    /// Transaction id, high bits.
    #[prost(uint64, optional, tag = "5", default = "0")]
    pub txnid_most_bits: ::core::option::Option<u64>,
    /// Highest sequence id of a batch with external sequence ids.
    #[prost(uint64, optional, tag = "6", default = "0")]
    pub highest_sequence_id: ::core::option::Option<u64>,
    /// Set by C++ on every chunk of a chunked message.
    #[prost(bool, optional, tag = "7", default = "false")]
    pub is_chunk: ::core::option::Option<bool>,
    /// The entry is a Pulsar marker, not user data.
    #[prost(bool, optional, tag = "8", default = "false")]
    pub marker: ::core::option::Option<bool>,
    /// Replication only: the id the entry had in the source cluster.
    #[prost(message, optional, tag = "9")]
    pub message_id: ::core::option::Option<MessageIdData>,
}

/// SEND_RECEIPT (type 7, b→c): the entry is persisted. Per producer, receipts leave in SEND
/// order (C++ reconnects on an out-of-order receipt).
#[derive(Clone, PartialEq, ::prost::Message)]
pub struct CommandSendReceipt {
    /// Echo of the SEND's producer id.
    #[prost(uint64, required, tag = "1")]
    pub producer_id: u64,
    /// Echo of the SEND's sequence id.
    #[prost(uint64, required, tag = "2")]
    pub sequence_id: u64,
    /// Ledger and entry of the stored entry.
    #[prost(message, optional, tag = "3")]
    pub message_id: ::core::option::Option<MessageIdData>,
    /// Highest sequence id covered.
    #[prost(uint64, optional, tag = "4", default = "0")]
    pub highest_sequence_id: ::core::option::Option<u64>,
}

/// SEND_ERROR (type 8, b→c): the SEND failed; C++ reconnects unless the error is ChecksumError.
#[derive(Clone, PartialEq, Eq, Hash, ::prost::Message)]
pub struct CommandSendError {
    /// Echo of the SEND's producer id.
    #[prost(uint64, required, tag = "1")]
    pub producer_id: u64,
    /// Echo of the SEND's sequence id.
    #[prost(uint64, required, tag = "2")]
    pub sequence_id: u64,
    /// What went wrong (0..=25 only: required field).
    #[prost(enumeration = "ServerError", required, tag = "3")]
    pub error: i32,
    /// Human-readable detail.
    #[prost(string, required, tag = "4")]
    pub message: ::prost::alloc::string::String,
}

/// CLOSE_PRODUCER (type 15, both directions). Broker-initiated closes use `request_id =
/// u64::MAX`; the client then looks the topic up again and re-creates the producer.
#[derive(Clone, PartialEq, Eq, Hash, ::prost::Message)]
pub struct CommandCloseProducer {
    /// Producer to close.
    #[prost(uint64, required, tag = "1")]
    pub producer_id: u64,
    /// Correlates the SUCCESS reply (c→b) or is `u64::MAX` (b→c).
    #[prost(uint64, required, tag = "2")]
    pub request_id: u64,
    /// Broker the client should reconnect to, skipping the lookup.
    #[prost(string, optional, tag = "3")]
    pub assigned_broker_service_url: ::core::option::Option<::prost::alloc::string::String>,
    /// TLS variant of `assigned_broker_service_url`.
    #[prost(string, optional, tag = "4")]
    pub assigned_broker_service_url_tls: ::core::option::Option<::prost::alloc::string::String>,
}
