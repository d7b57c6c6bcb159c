//! Message metadata: the outer `MessageMetadata`, per-message batch metadata, broker entry data.

use super::{CompressionType, EncryptionKeys, KeyValue};

/// Metadata that follows `metadataSize` in every SEND and MESSAGE payload.
///
/// The broker persists the producer's encoded bytes verbatim: clients decide "batch or not" by
/// the *presence* of `num_messages_in_batch`, so re-encoding can change meaning.
#[derive(Clone, PartialEq, ::prost::Message)]
pub struct MessageMetadata {
    /// Name of the producer that published the message.
    #[prost(string, required, tag = "1")]
    pub producer_name: ::prost::alloc::string::String,
    /// Producer sequence id (for a C++ batch: the first message's id).
    #[prost(uint64, required, tag = "2")]
    pub sequence_id: u64,
    /// Producer clock at publish, epoch ms; seek-by-time compares against it.
    #[prost(uint64, required, tag = "3")]
    pub publish_time: u64,
    /// User properties of a non-batched message.
    #[prost(message, repeated, tag = "4")]
    pub properties: ::prost::alloc::vec::Vec<KeyValue>,
    /// Geo-replication source cluster.
    #[prost(string, optional, tag = "5")]
    pub replicated_from: ::core::option::Option<::prost::alloc::string::String>,
    /// Message key, used for routing and Key_Shared.
    #[prost(string, optional, tag = "6")]
    pub partition_key: ::core::option::Option<::prost::alloc::string::String>,
    /// Replication cluster override.
    #[prost(string, repeated, tag = "7")]
    pub replicate_to: ::prost::alloc::vec::Vec<::prost::alloc::string::String>,
    /// Codec of the payload after the metadata.
    #[prost(enumeration = "CompressionType", optional, tag = "8", default = "None")]
    pub compression: ::core::option::Option<i32>,
    /// Payload size before compression.
    #[prost(uint32, optional, tag = "9", default = "0")]
    pub uncompressed_size: ::core::option::Option<u32>,
    /// Presence means the payload is a batch of this many messages (field 10 is unused).
    #[prost(int32, optional, tag = "11", default = "1")]
    pub num_messages_in_batch: ::core::option::Option<i32>,
    /// Application event time, epoch ms.
    #[prost(uint64, optional, tag = "12", default = "0")]
    pub event_time: ::core::option::Option<u64>,
    /// End-to-end encryption data keys.
    #[prost(message, repeated, tag = "13")]
    pub encryption_keys: ::prost::alloc::vec::Vec<EncryptionKeys>,
    /// End-to-end encryption algorithm.
    #[prost(string, optional, tag = "14")]
    pub encryption_algo: ::core::option::Option<::prost::alloc::string::String>,
    /// End-to-end encryption parameter (IV).
    #[prost(bytes = "vec", optional, tag = "15")]
    pub encryption_param: ::core::option::Option<::prost::alloc::vec::Vec<u8>>,
    /// Schema version from PRODUCER_SUCCESS.
    #[prost(bytes = "vec", optional, tag = "16")]
    pub schema_version: ::core::option::Option<::prost::alloc::vec::Vec<u8>>,
    /// The key is base64 of binary bytes.
    #[prost(bool, optional, tag = "17", default = "false")]
    pub partition_key_b64_encoded: ::core::option::Option<bool>,
    /// Preferred over `partition_key` as the Key_Shared sticky key.
    #[prost(bytes = "vec", optional, tag = "18")]
    pub ordering_key: ::core::option::Option<::prost::alloc::vec::Vec<u8>>,
    /// Absolute epoch ms for delayed delivery (Shared/Key_Shared only).
    #[prost(int64, optional, tag = "19")]
    pub deliver_at_time: ::core::option::Option<i64>,
    /// Internal marker (replication/txn); markers are never dispatched to clients.
    #[prost(int32, optional, tag = "20")]
    pub marker_type: ::core::option::Option<i32>,
    /// Transactional publish, low bits (field 21 is unused).
    #[prost(uint64, optional, tag = "22")]
    pub txnid_least_bits: ::core::option::Option<u64>,
    /// Transactional publish, high bits.
    #[prost(uint64, optional, tag = "23")]
    pub txnid_most_bits: ::core::option::Option<u64>,
    /// Highest sequence id in a batch.
    #[prost(uint64, optional, tag = "24", default = "0")]
    pub highest_sequence_id: ::core::option::Option<u64>,
    /// Tombstone.
    #[prost(bool, optional, tag = "25", default = "false")]
    pub null_value: ::core::option::Option<bool>,
    /// Chunking: id shared by all chunks of one message.
    #[prost(string, optional, tag = "26")]
    pub uuid: ::core::option::Option<::prost::alloc::string::String>,
    /// Chunking: total number of chunks.
    #[prost(int32, optional, tag = "27")]
    pub num_chunks_from_msg: ::core::option::Option<i32>,
    /// Chunking: size of the whole (compressed) payload.
    #[prost(int32, optional, tag = "28")]
    pub total_chunk_msg_size: ::core::option::Option<i32>,
    /// Chunking: 0-based chunk index.
    #[prost(int32, optional, tag = "29")]
    pub chunk_id: ::core::option::Option<i32>,
    /// The message was published with an explicit null key.
    #[prost(bool, optional, tag = "30", default = "false")]
    pub null_partition_key: ::core::option::Option<bool>,
}

/// Per-message metadata inside a batch payload (see [`crate::batch`]).
#[derive(Clone, PartialEq, ::prost::Message)]
pub struct SingleMessageMetadata {
    /// User properties of this message.
    #[prost(message, repeated, tag = "1")]
    pub properties: ::prost::alloc::vec::Vec<KeyValue>,
    /// Message key.
    #[prost(string, optional, tag = "2")]
    pub partition_key: ::core::option::Option<::prost::alloc::string::String>,
    /// Length of the payload that follows this metadata.
    #[prost(int32, required, tag = "3")]
    pub payload_size: i32,
    /// Removed by compaction.
    #[prost(bool, optional, tag = "4", default = "false")]
    pub compacted_out: ::core::option::Option<bool>,
    /// Application event time, epoch ms.
    #[prost(uint64, optional, tag = "5", default = "0")]
    pub event_time: ::core::option::Option<u64>,
    /// The key is base64 of binary bytes.
    #[prost(bool, optional, tag = "6", default = "false")]
    pub partition_key_b64_encoded: ::core::option::Option<bool>,
    /// Ordering key.
    #[prost(bytes = "vec", optional, tag = "7")]
    pub ordering_key: ::core::option::Option<::prost::alloc::vec::Vec<u8>>,
    /// Per-message sequence id.
    #[prost(uint64, optional, tag = "8")]
    pub sequence_id: ::core::option::Option<u64>,
    /// Tombstone.
    #[prost(bool, optional, tag = "9", default = "false")]
    pub null_value: ::core::option::Option<bool>,
    /// Explicit null key.
    #[prost(bool, optional, tag = "10", default = "false")]
    pub null_partition_key: ::core::option::Option<bool>,
}

/// Broker-added entry metadata, sent (after magic `0x0e02`) only to clients that asked for it.
#[derive(Clone, Copy, PartialEq, Eq, Hash, ::prost::Message)]
pub struct BrokerEntryMetadata {
    /// Broker clock when the entry was stored, epoch ms.
    #[prost(uint64, optional, tag = "1")]
    pub broker_timestamp: ::core::option::Option<u64>,
    /// Offset of the entry's *last* message in the topic.
    #[prost(uint64, optional, tag = "2")]
    pub index: ::core::option::Option<u64>,
}
