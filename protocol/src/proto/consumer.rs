//! Consumer commands: SUBSCRIBE, FLOW, MESSAGE, ACK, REDELIVER, SEEK, CLOSE_CONSUMER and the
//! per-consumer queries (last message id, active consumer, stats, end of topic).

use super::{IntRange, KeyLongValue, KeySharedMode, KeyValue, MessageIdData, Schema, ServerError};

/// Key_Shared settings of a SUBSCRIBE; absent (always so for pulsar-rs) means AUTO_SPLIT.
#[derive(Clone, PartialEq, ::prost::Message)]
pub struct KeySharedMeta {
    /// AUTO_SPLIT or STICKY.
    #[prost(enumeration = "KeySharedMode", required, tag = "1")]
    pub key_shared_mode: i32,
    /// STICKY only: the slots this consumer claims (field 2 is unused upstream).
    #[prost(message, repeated, tag = "3")]
    pub hash_ranges: ::prost::alloc::vec::Vec<IntRange>,
    /// Allow a key to move to a new consumer while older messages of it are unacked.
    #[prost(bool, optional, tag = "4", default = "false")]
    pub allow_out_of_order_delivery: ::core::option::Option<bool>,
}

/// SUBSCRIBE (type 4, c→b): attaches `consumer_id` to a subscription; SUCCESS or ERROR.
#[derive(Clone, PartialEq, ::prost::Message)]
pub struct CommandSubscribe {
    /// Topic as the client names it (pulsar-rs sends it as typed).
    #[prost(string, required, tag = "1")]
    pub topic: ::prost::alloc::string::String,
    /// Subscription name; created if missing.
    #[prost(string, required, tag = "2")]
    pub subscription: ::prost::alloc::string::String,
    /// Dispatch mode.
    #[prost(enumeration = "command_subscribe::SubType", required, tag = "3")]
    pub sub_type: i32,
    /// Client-chosen id, unique per connection among consumers; reused after reconnects.
    #[prost(uint64, required, tag = "4")]
    pub consumer_id: u64,
    /// Correlates the reply.
    #[prost(uint64, required, tag = "5")]
    pub request_id: u64,
    /// Consumer name (Failover ordering uses it).
    #[prost(string, optional, tag = "6")]
    pub consumer_name: ::core::option::Option<::prost::alloc::string::String>,
    /// Lower is preferred (Shared dispatch, Failover choice).
    #[prost(int32, optional, tag = "7")]
    pub priority_level: ::core::option::Option<i32>,
    /// False for readers: an in-memory cursor deleted with its last consumer.
    #[prost(bool, optional, tag = "8", default = "true")]
    pub durable: ::core::option::Option<bool>,
    /// Readers only: where a new non-durable cursor starts.
    #[prost(message, optional, tag = "9")]
    pub start_message_id: ::core::option::Option<MessageIdData>,
    /// Consumer properties.
    #[prost(message, repeated, tag = "10")]
    pub metadata: ::prost::alloc::vec::Vec<KeyValue>,
    /// Read the compacted view of the topic.
    #[prost(bool, optional, tag = "11")]
    pub read_compacted: ::core::option::Option<bool>,
    /// Declared schema.
    #[prost(message, optional, tag = "12")]
    pub schema: ::core::option::Option<Schema>,
    /// Where a new durable subscription starts.
    #[prost(
        enumeration = "command_subscribe::InitialPosition",
        optional,
        tag = "13",
        default = "Latest"
    )]
    pub initial_position: ::core::option::Option<i32>,
    /// Geo-replicate the subscription state.
    #[prost(bool, optional, tag = "14")]
    pub replicate_subscription_state: ::core::option::Option<bool>,
    /// When false and the topic is missing, answer TopicNotFound.
    #[prost(bool, optional, tag = "15", default = "true")]
    pub force_topic_creation: ::core::option::Option<bool>,
    /// Start this many seconds back in time.
    #[prost(uint64, optional, tag = "16", default = "0")]
    pub start_message_rollback_duration_sec: ::core::option::Option<u64>,
    /// Key_Shared settings.
    #[prost(message, optional, tag = "17")]
    pub key_shared_meta: ::core::option::Option<KeySharedMeta>,
    /// Properties stored on the subscription.
    #[prost(message, repeated, tag = "18")]
    pub subscription_properties: ::prost::alloc::vec::Vec<KeyValue>,
    /// Epoch for filtering redeliveries (not used by the targets).
    #[prost(uint64, optional, tag = "19")]
    pub consumer_epoch: ::core::option::Option<u64>,
}

/// Nested message and enum types in `CommandSubscribe`.
pub mod command_subscribe {
    proto_enum! {
        /// Dispatch mode of a subscription.
        pub enum SubType {
            /// One consumer; a second gets ConsumerBusy.
            Exclusive = 0 => "Exclusive",
            /// Round-robin across consumers with permits.
            Shared = 1 => "Shared",
            /// One active consumer chosen by priority and name.
            Failover = 2 => "Failover",
            /// Entries routed by sticky key hash.
            KeyShared = 3 => "Key_Shared",
        }
    }

    proto_enum! {
        /// Start position of a new durable subscription.
        pub enum InitialPosition {
            /// After the current last entry.
            Latest = 0 => "Latest",
            /// At the first entry.
            Earliest = 1 => "Earliest",
        }
    }
}

/// FLOW (type 11, c→b): adds permits to a consumer's credit.
#[derive(Clone, Copy, PartialEq, Eq, Hash, ::prost::Message)]
pub struct CommandFlow {
    /// Consumer receiving the permits.
    #[prost(uint64, required, tag = "1")]
    pub consumer_id: u64,
    /// Additional messages the consumer can take (a batch entry costs its message count).
    #[prost(uint32, required, tag = "2")]
    pub message_permits: u32,
}

/// MESSAGE (type 9, b→c, carries the stored payload).
#[derive(Clone, PartialEq, ::prost::Message)]
pub struct CommandMessage {
    /// Receiving consumer.
    #[prost(uint64, required, tag = "1")]
    pub consumer_id: u64,
    /// Ledger, entry and partition (or -1) of the entry.
    #[prost(message, required, tag = "2")]
    pub message_id: MessageIdData,
    /// Times the entry was redelivered; pulsar-rs DLQ needs it present.
    #[prost(uint32, optional, tag = "3", default = "0")]
    pub redelivery_count: ::core::option::Option<u32>,
    /// Partially acked batch: set bits are the indexes still to deliver.
    #[prost(int64, repeated, packed = "false", tag = "4")]
    pub ack_set: ::prost::alloc::vec::Vec<i64>,
    /// Consumer epoch (not needed by the targets).
    #[prost(uint64, optional, tag = "5")]
    pub consumer_epoch: ::core::option::Option<u64>,
}

/// ACK (type 10, c→b); answered with ACK_RESPONSE only when `request_id` is set.
#[derive(Clone, PartialEq, ::prost::Message)]
pub struct CommandAck {
    /// Acking consumer.
    #[prost(uint64, required, tag = "1")]
    pub consumer_id: u64,
    /// Individual or cumulative.
    #[prost(enumeration = "command_ack::AckType", required, tag = "2")]
    pub ack_type: i32,
    /// Individual: one or more ids; cumulative: exactly one.
    #[prost(message, repeated, tag = "3")]
    pub message_id: ::prost::alloc::vec::Vec<MessageIdData>,
    /// The client discarded a corrupt message; still an ack.
    #[prost(enumeration = "command_ack::ValidationError", optional, tag = "4")]
    pub validation_error: ::core::option::Option<i32>,
    /// Ack properties.
    #[prost(message, repeated, tag = "5")]
    pub properties: ::prost::alloc::vec::Vec<KeyLongValue>,
    /// Transactional ack, low bits.
    #[prost(uint64, optional, tag = "6", default = "0")]
    pub txnid_least_bits: ::core::option::Option<u64>,
    /// Transactional ack, high bits.
    #[prost(uint64, optional, tag = "7", default = "0")]
    pub txnid_most_bits: ::core::option::Option<u64>,
    /// Present: the client waits for an ACK_RESPONSE.
    #[prost(uint64, optional, tag = "8")]
    pub request_id: ::core::option::Option<u64>,
}

/// Nested message and enum types in `CommandAck`.
pub mod command_ack {
    proto_enum! {
        /// Scope of an ack.
        pub enum AckType {
            /// The listed entries only.
            Individual = 0 => "Individual",
            /// Everything up to and including the entry.
            Cumulative = 1 => "Cumulative",
        }
    }

    proto_enum! {
        /// Why a client discarded (and acked) a message it could not use.
        pub enum ValidationError {
            UncompressedSizeCorruption = 0 => "UncompressedSizeCorruption",
            DecompressionError = 1 => "DecompressionError",
            ChecksumMismatch = 2 => "ChecksumMismatch",
            BatchDeSerializeError = 3 => "BatchDeSerializeError",
            DecryptionError = 4 => "DecryptionError",
        }
    }
}

/// ACK_RESPONSE (type 38, b→c): reply to an ACK that carried `request_id`.
#[derive(Clone, PartialEq, Eq, Hash, ::prost::Message)]
pub struct CommandAckResponse {
    /// Echo of the ACK's consumer id.
    #[prost(uint64, required, tag = "1")]
    pub consumer_id: u64,
    /// Transaction id, low bits.
    #[prost(uint64, optional, tag = "2", default = "0")]
    pub txnid_least_bits: ::core::option::Option<u64>,
    /// Transaction id, high bits.
    #[prost(uint64, optional, tag = "3", default = "0")]
    pub txnid_most_bits: ::core::option::Option<u64>,
    /// Set when the ack failed.
    #[prost(enumeration = "ServerError", optional, tag = "4")]
    pub error: ::core::option::Option<i32>,
    /// Failure detail.
    #[prost(string, optional, tag = "5")]
    pub message: ::core::option::Option<::prost::alloc::string::String>,
    /// Echo of the ACK's request id.
    #[prost(uint64, optional, tag = "6")]
    pub request_id: ::core::option::Option<u64>,
}

/// ACTIVE_CONSUMER_CHANGE (type 31, b→c): Failover only, protocol ≥ 12.
#[derive(Clone, Copy, PartialEq, Eq, Hash, ::prost::Message)]
pub struct CommandActiveConsumerChange {
    /// Consumer being told.
    #[prost(uint64, required, tag = "1")]
    pub consumer_id: u64,
    /// Whether this consumer is now the active one.
    #[prost(bool, optional, tag = "2", default = "false")]
    pub is_active: ::core::option::Option<bool>,
}

/// UNSUBSCRIBE (type 12, c→b): deletes the subscription if this is its only consumer.
#[derive(Clone, Copy, PartialEq, Eq, Hash, ::prost::Message)]
pub struct CommandUnsubscribe {
    /// Consumer asking.
    #[prost(uint64, required, tag = "1")]
    pub consumer_id: u64,
    /// Correlates the reply.
    #[prost(uint64, required, tag = "2")]
    pub request_id: u64,
}

/// SEEK (type 28, c→b): resets the subscription by id or publish time; SUCCESS or ERROR.
#[derive(Clone, PartialEq, ::prost::Message)]
pub struct CommandSeek {
    /// Consumer asking.
    #[prost(uint64, required, tag = "1")]
    pub consumer_id: u64,
    /// Correlates the reply.
    #[prost(uint64, required, tag = "2")]
    pub request_id: u64,
    /// Seek so that this entry is delivered next (inclusive).
    #[prost(message, optional, tag = "3")]
    pub message_id: ::core::option::Option<MessageIdData>,
    /// Seek to the first entry with `publish_time` ≥ this, epoch ms.
    #[prost(uint64, optional, tag = "4")]
    pub message_publish_time: ::core::option::Option<u64>,
}

/// REACHED_END_OF_TOPIC (type 27, b→c). C++ 4.2.0 has no handler: never send it to C++.
#[derive(Clone, Copy, PartialEq, Eq, Hash, ::prost::Message)]
pub struct CommandReachedEndOfTopic {
    /// Consumer that consumed everything of a terminated topic.
    #[prost(uint64, required, tag = "1")]
    pub consumer_id: u64,
}

/// CLOSE_CONSUMER (type 16, both directions). Broker-initiated closes use `request_id =
/// u64::MAX`; answer SUCCESS to client closes even for unknown ids.
#[derive(Clone, PartialEq, Eq, Hash, ::prost::Message)]
pub struct CommandCloseConsumer {
    /// Consumer to close.
    #[prost(uint64, required, tag = "1")]
    pub consumer_id: u64,
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

/// REDELIVER_UNACKNOWLEDGED_MESSAGES (type 20, c→b, no reply).
#[derive(Clone, PartialEq, ::prost::Message)]
pub struct CommandRedeliverUnacknowledgedMessages {
    /// Consumer asking.
    #[prost(uint64, required, tag = "1")]
    pub consumer_id: u64,
    /// Entries to redeliver; empty means everything pending on this consumer.
    #[prost(message, repeated, tag = "2")]
    pub message_ids: ::prost::alloc::vec::Vec<MessageIdData>,
    /// Consumer epoch (not used by the targets).
    #[prost(uint64, optional, tag = "3")]
    pub consumer_epoch: ::core::option::Option<u64>,
}

/// GET_LAST_MESSAGE_ID (type 29, c→b).
#[derive(Clone, Copy, PartialEq, Eq, Hash, ::prost::Message)]
pub struct CommandGetLastMessageId {
    /// Consumer asking (selects topic and subscription).
    #[prost(uint64, required, tag = "1")]
    pub consumer_id: u64,
    /// Correlates the reply.
    #[prost(uint64, required, tag = "2")]
    pub request_id: u64,
}

/// GET_LAST_MESSAGE_ID_RESPONSE (type 30, b→c).
#[derive(Clone, PartialEq, ::prost::Message)]
pub struct CommandGetLastMessageIdResponse {
    /// Last stored entry; `entry_id = -1` when the topic is empty.
    #[prost(message, required, tag = "1")]
    pub last_message_id: MessageIdData,
    /// Echo of the request's id.
    #[prost(uint64, required, tag = "2")]
    pub request_id: u64,
    /// The subscription's mark-delete position.
    #[prost(message, optional, tag = "3")]
    pub consumer_mark_delete_position: ::core::option::Option<MessageIdData>,
}

/// CONSUMER_STATS (type 25, c→b). Note the field numbering (1 and 4).
#[derive(Clone, Copy, PartialEq, Eq, Hash, ::prost::Message)]
pub struct CommandConsumerStats {
    /// Correlates the reply.
    #[prost(uint64, required, tag = "1")]
    pub request_id: u64,
    /// Consumer whose stats are asked for.
    #[prost(uint64, required, tag = "4")]
    pub consumer_id: u64,
}

/// CONSUMER_STATS_RESPONSE (type 26, b→c); failures use `error_code`, never a generic ERROR.
#[derive(Clone, PartialEq, ::prost::Message)]
pub struct CommandConsumerStatsResponse {
    /// Echo of the request's id.
    #[prost(uint64, required, tag = "1")]
    pub request_id: u64,
    /// Set on failure.
    #[prost(enumeration = "ServerError", optional, tag = "2")]
    pub error_code: ::core::option::Option<i32>,
    /// Failure detail.
    #[prost(string, optional, tag = "3")]
    pub error_message: ::core::option::Option<::prost::alloc::string::String>,
    /// Messages dispatched per second.
    #[prost(double, optional, tag = "4")]
    pub msg_rate_out: ::core::option::Option<f64>,
    /// Bytes dispatched per second.
    #[prost(double, optional, tag = "5")]
    pub msg_throughput_out: ::core::option::Option<f64>,
    /// Messages redelivered per second.
    #[prost(double, optional, tag = "6")]
    pub msg_rate_redeliver: ::core::option::Option<f64>,
    /// Consumer name.
    #[prost(string, optional, tag = "7")]
    pub consumer_name: ::core::option::Option<::prost::alloc::string::String>,
    /// Current credit.
    #[prost(uint64, optional, tag = "8")]
    pub available_permits: ::core::option::Option<u64>,
    /// Messages delivered and not yet acked.
    #[prost(uint64, optional, tag = "9")]
    pub unacked_messages: ::core::option::Option<u64>,
    /// Dispatch stopped because of too many unacked messages.
    #[prost(bool, optional, tag = "10")]
    pub blocked_consumer_on_unacked_msgs: ::core::option::Option<bool>,
    /// Consumer's remote address.
    #[prost(string, optional, tag = "11")]
    pub address: ::core::option::Option<::prost::alloc::string::String>,
    /// When the consumer connected.
    #[prost(string, optional, tag = "12")]
    pub connected_since: ::core::option::Option<::prost::alloc::string::String>,
    /// Subscription type name.
    #[prost(string, optional, tag = "13")]
    pub r#type: ::core::option::Option<::prost::alloc::string::String>,
    /// Messages expired per second.
    #[prost(double, optional, tag = "14")]
    pub msg_rate_expired: ::core::option::Option<f64>,
    /// Subscription backlog.
    #[prost(uint64, optional, tag = "15")]
    pub msg_backlog: ::core::option::Option<u64>,
    /// Acks per second.
    #[prost(double, optional, tag = "16")]
    pub message_ack_rate: ::core::option::Option<f64>,
}
