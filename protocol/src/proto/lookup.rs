//! Discovery commands: partitioned metadata, topic lookup, namespace listing, topic watchers and
//! topic migration.

use super::ServerError;

/// PARTITIONED_METADATA (type 21, c→b): sent before every producer, consumer or reader.
#[derive(Clone, PartialEq, Eq, Hash, ::prost::Message)]
pub struct CommandPartitionedTopicMetadata {
    /// Topic as the client names it.
    #[prost(string, required, tag = "1")]
    pub topic: ::prost::alloc::string::String,
    /// Correlates the reply.
    #[prost(uint64, required, tag = "2")]
    pub request_id: u64,
    /// Proxy use only.
    #[prost(string, optional, tag = "3")]
    pub original_principal: ::core::option::Option<::prost::alloc::string::String>,
    /// Proxy use only.
    #[prost(string, optional, tag = "4")]
    pub original_auth_data: ::core::option::Option<::prost::alloc::string::String>,
    /// Proxy use only.
    #[prost(string, optional, tag = "5")]
    pub original_auth_method: ::core::option::Option<::prost::alloc::string::String>,
}

/// PARTITIONED_METADATA_RESPONSE (type 22, b→c). Always set `response`, and `partitions` on
/// success (0 for a non-partitioned topic): clients treat absence as failure.
#[derive(Clone, PartialEq, Eq, Hash, ::prost::Message)]
pub struct CommandPartitionedTopicMetadataResponse {
    /// Number of partitions, 0 when not partitioned.
    #[prost(uint32, optional, tag = "1")]
    pub partitions: ::core::option::Option<u32>,
    /// Echo of the request's id.
    #[prost(uint64, required, tag = "2")]
    pub request_id: u64,
    /// Success or Failed.
    #[prost(
        enumeration = "command_partitioned_topic_metadata_response::LookupType",
        optional,
        tag = "3"
    )]
    pub response: ::core::option::Option<i32>,
    /// Set when Failed.
    #[prost(enumeration = "ServerError", optional, tag = "4")]
    pub error: ::core::option::Option<i32>,
    /// Failure detail.
    #[prost(string, optional, tag = "5")]
    pub message: ::core::option::Option<::prost::alloc::string::String>,
}

/// Nested message and enum types in `CommandPartitionedTopicMetadataResponse`.
pub mod command_partitioned_topic_metadata_response {
    proto_enum! {
        /// Outcome of a partitioned-metadata request.
        pub enum LookupType {
            Success = 0 => "Success",
            Failed = 1 => "Failed",
        }
    }
}

/// LOOKUP (type 23, c→b): asks which broker serves a topic.
#[derive(Clone, PartialEq, Eq, Hash, ::prost::Message)]
pub struct CommandLookupTopic {
    /// Full topic name (a partition name for partitioned topics).
    #[prost(string, required, tag = "1")]
    pub topic: ::prost::alloc::string::String,
    /// Correlates the reply.
    #[prost(uint64, required, tag = "2")]
    pub request_id: u64,
    /// True only when following a Redirect that said so.
    #[prost(bool, optional, tag = "3", default = "false")]
    pub authoritative: ::core::option::Option<bool>,
    /// Proxy use only.
    #[prost(string, optional, tag = "4")]
    pub original_principal: ::core::option::Option<::prost::alloc::string::String>,
    /// Proxy use only.
    #[prost(string, optional, tag = "5")]
    pub original_auth_data: ::core::option::Option<::prost::alloc::string::String>,
    /// Proxy use only.
    #[prost(string, optional, tag = "6")]
    pub original_auth_method: ::core::option::Option<::prost::alloc::string::String>,
    /// Listener whose URLs the client wants; C++ sends `""`, which means none.
    #[prost(string, optional, tag = "7")]
    pub advertised_listener_name: ::core::option::Option<::prost::alloc::string::String>,
}

/// LOOKUP_RESPONSE (type 24, b→c). Always set `response` (absent means failure to clients).
#[derive(Clone, PartialEq, Eq, Hash, ::prost::Message)]
pub struct CommandLookupTopicResponse {
    /// `pulsar://host:port` the client can reach.
    #[prost(string, optional, tag = "1")]
    pub broker_service_url: ::core::option::Option<::prost::alloc::string::String>,
    /// `pulsar+ssl://host:port`, required when clients use TLS.
    #[prost(string, optional, tag = "2")]
    pub broker_service_url_tls: ::core::option::Option<::prost::alloc::string::String>,
    /// Redirect, Connect or Failed.
    #[prost(
        enumeration = "command_lookup_topic_response::LookupType",
        optional,
        tag = "3"
    )]
    pub response: ::core::option::Option<i32>,
    /// Echo of the request's id.
    #[prost(uint64, required, tag = "4")]
    pub request_id: u64,
    /// Copied by the client into a follow-up LOOKUP on Redirect.
    #[prost(bool, optional, tag = "5", default = "false")]
    pub authoritative: ::core::option::Option<bool>,
    /// Set when Failed.
    #[prost(enumeration = "ServerError", optional, tag = "6")]
    pub error: ::core::option::Option<i32>,
    /// Failure detail; C++ keys connection handling off phrases in it.
    #[prost(string, optional, tag = "7")]
    pub message: ::core::option::Option<::prost::alloc::string::String>,
    /// True only for a Pulsar proxy.
    #[prost(bool, optional, tag = "8", default = "false")]
    pub proxy_through_service_url: ::core::option::Option<bool>,
}

/// Nested message and enum types in `CommandLookupTopicResponse`.
pub mod command_lookup_topic_response {
    proto_enum! {
        /// Outcome of a lookup.
        pub enum LookupType {
            /// Ask the returned broker instead.
            Redirect = 0 => "Redirect",
            /// Connect to the returned broker and create handles there.
            Connect = 1 => "Connect",
            /// See `error` and `message`.
            Failed = 2 => "Failed",
        }
    }
}

/// GET_TOPICS_OF_NAMESPACE (type 32, c→b): regex subscriptions list topics with it.
#[derive(Clone, PartialEq, Eq, Hash, ::prost::Message)]
pub struct CommandGetTopicsOfNamespace {
    /// Correlates the reply.
    #[prost(uint64, required, tag = "1")]
    pub request_id: u64,
    /// `tenant/namespace`.
    #[prost(string, required, tag = "2")]
    pub namespace: ::prost::alloc::string::String,
    /// Which domains to list.
    #[prost(
        enumeration = "command_get_topics_of_namespace::Mode",
        optional,
        tag = "3",
        default = "Persistent"
    )]
    pub mode: ::core::option::Option<i32>,
    /// Server-side filter (neither target sends it).
    #[prost(string, optional, tag = "4")]
    pub topics_pattern: ::core::option::Option<::prost::alloc::string::String>,
    /// Hash of the client's current list (neither target sends it).
    #[prost(string, optional, tag = "5")]
    pub topics_hash: ::core::option::Option<::prost::alloc::string::String>,
}

/// Nested message and enum types in `CommandGetTopicsOfNamespace`.
pub mod command_get_topics_of_namespace {
    proto_enum! {
        /// Domains to include in a namespace listing.
        pub enum Mode {
            Persistent = 0 => "PERSISTENT",
            NonPersistent = 1 => "NON_PERSISTENT",
            All = 2 => "ALL",
        }
    }
}

/// GET_TOPICS_OF_NAMESPACE_RESPONSE (type 33, b→c).
#[derive(Clone, PartialEq, Eq, Hash, ::prost::Message)]
pub struct CommandGetTopicsOfNamespaceResponse {
    /// Echo of the request's id.
    #[prost(uint64, required, tag = "1")]
    pub request_id: u64,
    /// Full names; partitioned topics appear as their partitions only.
    #[prost(string, repeated, tag = "2")]
    pub topics: ::prost::alloc::vec::Vec<::prost::alloc::string::String>,
    /// True only if `topics_pattern` was applied.
    #[prost(bool, optional, tag = "3", default = "false")]
    pub filtered: ::core::option::Option<bool>,
    /// Hash of the returned list.
    #[prost(string, optional, tag = "4")]
    pub topics_hash: ::core::option::Option<::prost::alloc::string::String>,
    /// False when the list matches the client's `topics_hash`.
    #[prost(bool, optional, tag = "5", default = "true")]
    pub changed: ::core::option::Option<bool>,
}

/// WATCH_TOPIC_LIST (type 64, c→b): push-based discovery (Java clients only).
#[derive(Clone, PartialEq, Eq, Hash, ::prost::Message)]
pub struct CommandWatchTopicList {
    /// Correlates the reply.
    #[prost(uint64, required, tag = "1")]
    pub request_id: u64,
    /// Client-chosen watcher id.
    #[prost(uint64, required, tag = "2")]
    pub watcher_id: u64,
    /// `tenant/namespace` to watch.
    #[prost(string, required, tag = "3")]
    pub namespace: ::prost::alloc::string::String,
    /// Regex the topics must match.
    #[prost(string, required, tag = "4")]
    pub topics_pattern: ::prost::alloc::string::String,
    /// Hash of the client's current list.
    #[prost(string, optional, tag = "5")]
    pub topics_hash: ::core::option::Option<::prost::alloc::string::String>,
}

/// WATCH_TOPIC_LIST_SUCCESS (type 65, b→c). C++ 4.2.0 cannot handle it.
#[derive(Clone, PartialEq, Eq, Hash, ::prost::Message)]
pub struct CommandWatchTopicListSuccess {
    /// Echo of the request's id.
    #[prost(uint64, required, tag = "1")]
    pub request_id: u64,
    /// Echo of the watcher id.
    #[prost(uint64, required, tag = "2")]
    pub watcher_id: u64,
    /// Current matching topics.
    #[prost(string, repeated, tag = "3")]
    pub topic: ::prost::alloc::vec::Vec<::prost::alloc::string::String>,
    /// Hash of `topic`.
    #[prost(string, required, tag = "4")]
    pub topics_hash: ::prost::alloc::string::String,
}

/// WATCH_TOPIC_UPDATE (type 66, b→c). C++ 4.2.0 cannot handle it.
#[derive(Clone, PartialEq, Eq, Hash, ::prost::Message)]
pub struct CommandWatchTopicUpdate {
    /// Watcher being updated.
    #[prost(uint64, required, tag = "1")]
    pub watcher_id: u64,
    /// Topics that appeared.
    #[prost(string, repeated, tag = "2")]
    pub new_topics: ::prost::alloc::vec::Vec<::prost::alloc::string::String>,
    /// Topics that disappeared.
    #[prost(string, repeated, tag = "3")]
    pub deleted_topics: ::prost::alloc::vec::Vec<::prost::alloc::string::String>,
    /// Hash of the list after the update.
    #[prost(string, required, tag = "4")]
    pub topics_hash: ::prost::alloc::string::String,
}

/// WATCH_TOPIC_LIST_CLOSE (type 67, c→b).
#[derive(Clone, Copy, PartialEq, Eq, Hash, ::prost::Message)]
pub struct CommandWatchTopicListClose {
    /// Correlates the reply.
    #[prost(uint64, required, tag = "1")]
    pub request_id: u64,
    /// Watcher to close.
    #[prost(uint64, required, tag = "2")]
    pub watcher_id: u64,
}

/// TOPIC_MIGRATED (type 68, b→c): a producer's or consumer's topic moved to another cluster.
#[derive(Clone, PartialEq, Eq, Hash, ::prost::Message)]
pub struct CommandTopicMigrated {
    /// Producer or consumer id.
    #[prost(uint64, required, tag = "1")]
    pub resource_id: u64,
    /// Whether `resource_id` names a producer or a consumer.
    #[prost(
        enumeration = "command_topic_migrated::ResourceType",
        required,
        tag = "2"
    )]
    pub resource_type: i32,
    /// New broker URL.
    #[prost(string, optional, tag = "3")]
    pub broker_service_url: ::core::option::Option<::prost::alloc::string::String>,
    /// New broker TLS URL.
    #[prost(string, optional, tag = "4")]
    pub broker_service_url_tls: ::core::option::Option<::prost::alloc::string::String>,
}

/// Nested message and enum types in `CommandTopicMigrated`.
pub mod command_topic_migrated {
    proto_enum! {
        /// Kind of handle a TOPIC_MIGRATED refers to.
        pub enum ResourceType {
            Producer = 0 => "Producer",
            Consumer = 1 => "Consumer",
        }
    }
}
