//! Schema registry commands: GET_SCHEMA and GET_OR_CREATE_SCHEMA with their responses.

use super::{Schema, ServerError};

/// GET_SCHEMA (type 34, c→b).
#[derive(Clone, PartialEq, Eq, Hash, ::prost::Message)]
pub struct CommandGetSchema {
    /// Correlates the reply.
    #[prost(uint64, required, tag = "1")]
    pub request_id: u64,
    /// Topic whose schema is asked for.
    #[prost(string, required, tag = "2")]
    pub topic: ::prost::alloc::string::String,
    /// Specific version; absent means the latest.
    #[prost(bytes = "vec", optional, tag = "3")]
    pub schema_version: ::core::option::Option<::prost::alloc::vec::Vec<u8>>,
}

/// GET_SCHEMA_RESPONSE (type 35, b→c). Failures use `error_code` (C++ does not map a generic
/// ERROR to a pending GET_SCHEMA and would wait for its timeout).
#[derive(Clone, PartialEq, ::prost::Message)]
pub struct CommandGetSchemaResponse {
    /// Echo of the request's id.
    #[prost(uint64, required, tag = "1")]
    pub request_id: u64,
    /// Set on failure; TopicNotFound means "no schema" and C++ treats it quietly.
    #[prost(enumeration = "ServerError", optional, tag = "2")]
    pub error_code: ::core::option::Option<i32>,
    /// Failure detail.
    #[prost(string, optional, tag = "3")]
    pub error_message: ::core::option::Option<::prost::alloc::string::String>,
    /// The schema.
    #[prost(message, optional, tag = "4")]
    pub schema: ::core::option::Option<Schema>,
    /// Its version (opaque; Pulsar uses 8-byte big-endian int64).
    #[prost(bytes = "vec", optional, tag = "5")]
    pub schema_version: ::core::option::Option<::prost::alloc::vec::Vec<u8>>,
}

/// GET_OR_CREATE_SCHEMA (type 39, c→b; Java clients only).
#[derive(Clone, PartialEq, ::prost::Message)]
pub struct CommandGetOrCreateSchema {
    /// Correlates the reply.
    #[prost(uint64, required, tag = "1")]
    pub request_id: u64,
    /// Topic to register the schema on.
    #[prost(string, required, tag = "2")]
    pub topic: ::prost::alloc::string::String,
    /// Schema to find or register.
    #[prost(message, required, tag = "3")]
    pub schema: Schema,
}

/// GET_OR_CREATE_SCHEMA_RESPONSE (type 40, b→c). C++ 4.2.0 cannot parse it: never send to C++.
#[derive(Clone, PartialEq, Eq, Hash, ::prost::Message)]
pub struct CommandGetOrCreateSchemaResponse {
    /// Echo of the request's id.
    #[prost(uint64, required, tag = "1")]
    pub request_id: u64,
    /// Set on failure.
    #[prost(enumeration = "ServerError", optional, tag = "2")]
    pub error_code: ::core::option::Option<i32>,
    /// Failure detail.
    #[prost(string, optional, tag = "3")]
    pub error_message: ::core::option::Option<::prost::alloc::string::String>,
    /// Version assigned to the schema.
    #[prost(bytes = "vec", optional, tag = "4")]
    pub schema_version: ::core::option::Option<::prost::alloc::vec::Vec<u8>>,
}
