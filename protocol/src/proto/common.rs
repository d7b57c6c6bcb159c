//! Shared sub-messages and top-level enums: message ids, key/value pairs, schemas, errors.

/// Identifies one stored entry (and optionally one message inside a batch entry).
///
/// Ledger and entry ids are unsigned on the wire but clients write `-1` (`u64::MAX`) for
/// "earliest/unset" and `i64::MAX` for "latest"; decode as `u64` and reinterpret as `i64`.
#[derive(Clone, PartialEq, ::prost::Message)]
pub struct MessageIdData {
    /// Ledger holding the entry; `u64::MAX` means earliest.
    #[prost(uint64, required, tag = "1")]
    pub ledger_id: u64,
    /// Entry within the ledger; `u64::MAX` means earliest or none.
    #[prost(uint64, required, tag = "2")]
    pub entry_id: u64,
    /// Partition index of the topic, -1 when the topic is not partitioned.
    #[prost(int32, optional, tag = "3", default = "-1")]
    pub partition: ::core::option::Option<i32>,
    /// Index inside a batch entry, -1 for a whole entry.
    #[prost(int32, optional, tag = "4", default = "-1")]
    pub batch_index: ::core::option::Option<i32>,
    /// Batch-index bitset in Java `BitSet.toLongArray` layout; set bits are still unacked.
    #[prost(int64, repeated, packed = "false", tag = "5")]
    pub ack_set: ::prost::alloc::vec::Vec<i64>,
    /// Number of messages in the entry, when the sender knows it.
    #[prost(int32, optional, tag = "6")]
    pub batch_size: ::core::option::Option<i32>,
    /// For chunked messages: the id of the first chunk (rarely on the wire).
    #[prost(message, optional, boxed, tag = "7")]
    pub first_chunk_message_id: ::core::option::Option<::prost::alloc::boxed::Box<MessageIdData>>,
}

/// A string property (producer/consumer metadata, message properties).
#[derive(Clone, PartialEq, Eq, Hash, ::prost::Message)]
pub struct KeyValue {
    /// Property name.
    #[prost(string, required, tag = "1")]
    pub key: ::prost::alloc::string::String,
    /// Property value.
    #[prost(string, required, tag = "2")]
    pub value: ::prost::alloc::string::String,
}

/// A numeric property (ACK properties).
#[derive(Clone, PartialEq, Eq, Hash, ::prost::Message)]
pub struct KeyLongValue {
    /// Property name.
    #[prost(string, required, tag = "1")]
    pub key: ::prost::alloc::string::String,
    /// Property value.
    #[prost(uint64, required, tag = "2")]
    pub value: u64,
}

/// An inclusive range of Key_Shared hash slots.
#[derive(Clone, Copy, PartialEq, Eq, Hash, ::prost::Message)]
pub struct IntRange {
    /// First slot of the range (inclusive).
    #[prost(int32, required, tag = "1")]
    pub start: i32,
    /// Last slot of the range (inclusive).
    #[prost(int32, required, tag = "2")]
    pub end: i32,
}

/// An end-to-end encryption data key; opaque to the broker.
#[derive(Clone, PartialEq, ::prost::Message)]
pub struct EncryptionKeys {
    /// Name of the public key the data key was encrypted with.
    #[prost(string, required, tag = "1")]
    pub key: ::prost::alloc::string::String,
    /// The encrypted data key.
    #[prost(bytes = "vec", required, tag = "2")]
    pub value: ::prost::alloc::vec::Vec<u8>,
    /// Key metadata supplied by the client's key reader.
    #[prost(message, repeated, tag = "3")]
    pub metadata: ::prost::alloc::vec::Vec<KeyValue>,
}

/// A schema as producers and consumers declare it; the broker stores and compares it.
#[derive(Clone, PartialEq, ::prost::Message)]
pub struct Schema {
    /// Schema name (usually the topic's).
    #[prost(string, required, tag = "1")]
    pub name: ::prost::alloc::string::String,
    /// Serialized schema definition (field 2 is unused upstream).
    #[prost(bytes = "vec", required, tag = "3")]
    pub schema_data: ::prost::alloc::vec::Vec<u8>,
    /// Schema kind.
    #[prost(enumeration = "schema::Type", required, tag = "4")]
    pub r#type: i32,
    /// Schema properties.
    #[prost(message, repeated, tag = "5")]
    pub properties: ::prost::alloc::vec::Vec<KeyValue>,
}

/// Nested message and enum types in `Schema`.
pub mod schema {
    proto_enum! {
        /// Schema kind. C++ sends a schema only for String/Json/Avro/Protobuf/ProtobufNative/
        /// KeyValue; plain bytes (Python's default) carry none.
        pub enum Type {
            None = 0 => "None",
            String = 1 => "String",
            Json = 2 => "Json",
            Protobuf = 3 => "Protobuf",
            Avro = 4 => "Avro",
            Bool = 5 => "Bool",
            Int8 = 6 => "Int8",
            Int16 = 7 => "Int16",
            Int32 = 8 => "Int32",
            Int64 = 9 => "Int64",
            Float = 10 => "Float",
            Double = 11 => "Double",
            Date = 12 => "Date",
            Time = 13 => "Time",
            Timestamp = 14 => "Timestamp",
            KeyValue = 15 => "KeyValue",
            Instant = 16 => "Instant",
            LocalDate = 17 => "LocalDate",
            LocalTime = 18 => "LocalTime",
            LocalDateTime = 19 => "LocalDateTime",
            ProtobufNative = 20 => "ProtobufNative",
        }
    }
}

proto_enum! {
    /// Payload compression codec; the data path forwards payloads as stored and only compaction,
    /// deduplication and dead-lettering open them (see `crate::compression`).
    pub enum CompressionType {
        None = 0 => "NONE",
        Lz4 = 1 => "LZ4",
        Zlib = 2 => "ZLIB",
        Zstd = 3 => "ZSTD",
        Snappy = 4 => "SNAPPY",
    }
}

proto_enum! {
    /// How a producer shares a topic with other producers.
    pub enum ProducerAccessMode {
        /// Any number of producers (the default).
        Shared = 0 => "Shared",
        /// Fails when another producer is attached.
        Exclusive = 1 => "Exclusive",
        /// Waits (PRODUCER_SUCCESS with `producer_ready=false`) until exclusivity is granted.
        WaitForExclusive = 2 => "WaitForExclusive",
        /// Takes exclusivity, fencing out the current producers.
        ExclusiveWithFencing = 3 => "ExclusiveWithFencing",
    }
}

proto_enum! {
    /// Error codes in ERROR, SEND_ERROR and typed failure responses.
    ///
    /// C++ 4.2.0 knows exactly 0..=25 and fails to parse a frame whose *required* error field
    /// holds anything else, so this enum deliberately stops at 25.
    pub enum ServerError {
        UnknownError = 0 => "UnknownError",
        /// Retried by clients (lookups in pulsar-rs).
        MetadataError = 1 => "MetadataError",
        /// pulsar-rs treats it on SEND_ERROR as "producer closed" and resends.
        PersistenceError = 2 => "PersistenceError",
        AuthenticationError = 3 => "AuthenticationError",
        AuthorizationError = 4 => "AuthorizationError",
        /// Subscription conflict; fatal for C++, retried forever by pulsar-rs.
        ConsumerBusy = 5 => "ConsumerBusy",
        /// The "try again" code both clients retry.
        ServiceNotReady = 6 => "ServiceNotReady",
        ProducerBlockedQuotaExceededError = 7 => "ProducerBlockedQuotaExceededError",
        ProducerBlockedQuotaExceededException = 8 => "ProducerBlockedQuotaExceededException",
        /// SEND payload failed CRC32C; C++ drops only that message.
        ChecksumError = 9 => "ChecksumError",
        UnsupportedVersionError = 10 => "UnsupportedVersionError",
        TopicNotFound = 11 => "TopicNotFound",
        SubscriptionNotFound = 12 => "SubscriptionNotFound",
        ConsumerNotFound = 13 => "ConsumerNotFound",
        TooManyRequests = 14 => "TooManyRequests",
        TopicTerminatedError = 15 => "TopicTerminatedError",
        ProducerBusy = 16 => "ProducerBusy",
        InvalidTopicName = 17 => "InvalidTopicName",
        IncompatibleSchema = 18 => "IncompatibleSchema",
        ConsumerAssignError = 19 => "ConsumerAssignError",
        TransactionCoordinatorNotFound = 20 => "TransactionCoordinatorNotFound",
        InvalidTxnStatus = 21 => "InvalidTxnStatus",
        /// The answer for unsupported requests, so clients fail fast instead of timing out.
        NotAllowedError = 22 => "NotAllowedError",
        TransactionConflict = 23 => "TransactionConflict",
        TransactionNotFound = 24 => "TransactionNotFound",
        ProducerFenced = 25 => "ProducerFenced",
    }
}

proto_enum! {
    /// Deprecated authentication selector of CONNECT; clients use `auth_method_name` instead.
    pub enum AuthMethod {
        None = 0 => "AuthMethodNone",
        YcaV1 = 1 => "AuthMethodYcaV1",
        Athens = 2 => "AuthMethodAthens",
    }
}

proto_enum! {
    /// How a Key_Shared subscription assigns hash ranges.
    pub enum KeySharedMode {
        /// The broker splits the slot space (the default; pulsar-rs always gets this).
        AutoSplit = 0 => "AUTO_SPLIT",
        /// The consumer supplies `hashRanges`; overlaps fail with ConsumerAssignError.
        Sticky = 1 => "STICKY",
    }
}

/// SUCCESS (type 13, b→c): generic positive reply to SUBSCRIBE, UNSUBSCRIBE, SEEK and CLOSE_*.
#[derive(Clone, PartialEq, ::prost::Message)]
pub struct CommandSuccess {
    /// Echo of the request's id.
    #[prost(uint64, required, tag = "1")]
    pub request_id: u64,
    /// Unused by the target clients.
    #[prost(message, optional, tag = "2")]
    pub schema: ::core::option::Option<Schema>,
}

/// ERROR (type 14, b→c): generic failure reply, also sent with `request_id = u64::MAX` before
/// closing a connection that failed authentication.
#[derive(Clone, PartialEq, Eq, Hash, ::prost::Message)]
pub struct CommandError {
    /// Echo of the request's id.
    #[prost(uint64, required, tag = "1")]
    pub request_id: u64,
    /// What went wrong (0..=25 only: required field).
    #[prost(enumeration = "ServerError", required, tag = "2")]
    pub error: i32,
    /// Human-readable detail.
    #[prost(string, required, tag = "3")]
    pub message: ::prost::alloc::string::String,
}
