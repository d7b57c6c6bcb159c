//! Connection commands: handshake, feature flags, authentication refresh and keep-alive.

use super::AuthMethod;

/// CONNECT (type 2, c→b): the client's first frame.
#[derive(Clone, PartialEq, Eq, Hash, ::prost::Message)]
pub struct CommandConnect {
    /// Client identification, e.g. `Pulsar-CPP-v4.2.0` or `pulsar-rs-v6.9.1`.
    #[prost(string, required, tag = "1")]
    pub client_version: ::prost::alloc::string::String,
    /// Deprecated. Use `auth_method_name` instead.
    #[prost(enumeration = "AuthMethod", optional, tag = "2")]
    pub auth_method: ::core::option::Option<i32>,
    /// `"token"`, `"basic"`, `"tls"`; C++ sends `"none"` and pulsar-rs nothing without auth.
    #[prost(string, optional, tag = "5")]
    pub auth_method_name: ::core::option::Option<::prost::alloc::string::String>,
    /// Credential bytes (token text for token auth).
    #[prost(bytes = "vec", optional, tag = "3")]
    pub auth_data: ::core::option::Option<::prost::alloc::vec::Vec<u8>>,
    /// Highest protocol version the client speaks (C++ 20, pulsar-rs 12).
    #[prost(int32, optional, tag = "4", default = "0")]
    pub protocol_version: ::core::option::Option<i32>,
    /// `host:port` of the logical broker when the client goes through a proxy.
    #[prost(string, optional, tag = "6")]
    pub proxy_to_broker_url: ::core::option::Option<::prost::alloc::string::String>,
    /// Proxy use only: the principal the proxy authenticated.
    #[prost(string, optional, tag = "7")]
    pub original_principal: ::core::option::Option<::prost::alloc::string::String>,
    /// Proxy use only: the original client's auth data.
    #[prost(string, optional, tag = "8")]
    pub original_auth_data: ::core::option::Option<::prost::alloc::string::String>,
    /// Proxy use only: the original client's auth method.
    #[prost(string, optional, tag = "9")]
    pub original_auth_method: ::core::option::Option<::prost::alloc::string::String>,
    /// Client capabilities (C++ sets them, pulsar-rs does not).
    #[prost(message, optional, tag = "10")]
    pub feature_flags: ::core::option::Option<FeatureFlags>,
}

/// Capabilities exchanged in CONNECT and CONNECTED.
#[derive(Clone, Copy, PartialEq, Eq, Hash, ::prost::Message)]
pub struct FeatureFlags {
    /// The client answers AUTH_CHALLENGE after CONNECTED.
    #[prost(bool, optional, tag = "1", default = "false")]
    pub supports_auth_refresh: ::core::option::Option<bool>,
    /// The client parses the `0x0e02` broker-entry-metadata section of MESSAGE.
    #[prost(bool, optional, tag = "2", default = "false")]
    pub supports_broker_entry_metadata: ::core::option::Option<bool>,
    /// The client handles partially created producers.
    #[prost(bool, optional, tag = "3", default = "false")]
    pub supports_partial_producer: ::core::option::Option<bool>,
    /// The peer implements WATCH_TOPIC_LIST.
    #[prost(bool, optional, tag = "4", default = "false")]
    pub supports_topic_watchers: ::core::option::Option<bool>,
}

/// CONNECTED (type 3, b→c): must be the broker's first frame.
#[derive(Clone, PartialEq, Eq, Hash, ::prost::Message)]
pub struct CommandConnected {
    /// Broker identification; C++ closes the connection if it is absent.
    #[prost(string, required, tag = "1")]
    pub server_version: ::prost::alloc::string::String,
    /// Negotiated version, min(client, broker); always set it (C++ gates features on it).
    #[prost(int32, optional, tag = "2", default = "0")]
    pub protocol_version: ::core::option::Option<i32>,
    /// Largest message the broker accepts; C++ stores it process-wide.
    #[prost(int32, optional, tag = "3")]
    pub max_message_size: ::core::option::Option<i32>,
    /// Broker capabilities; both target clients ignore them.
    #[prost(message, optional, tag = "4")]
    pub feature_flags: ::core::option::Option<FeatureFlags>,
}

/// AUTH_RESPONSE (type 37, c→b): fresh credentials answering an AUTH_CHALLENGE.
#[derive(Clone, PartialEq, Eq, Hash, ::prost::Message)]
pub struct CommandAuthResponse {
    /// Client identification (C++ only).
    #[prost(string, optional, tag = "1")]
    pub client_version: ::core::option::Option<::prost::alloc::string::String>,
    /// The new credentials.
    #[prost(message, optional, tag = "2")]
    pub response: ::core::option::Option<AuthData>,
    /// Client protocol version (C++ only).
    #[prost(int32, optional, tag = "3", default = "0")]
    pub protocol_version: ::core::option::Option<i32>,
}

/// AUTH_CHALLENGE (type 36, b→c): asks for fresh credentials; only after CONNECTED.
#[derive(Clone, PartialEq, Eq, Hash, ::prost::Message)]
pub struct CommandAuthChallenge {
    /// Broker identification.
    #[prost(string, optional, tag = "1")]
    pub server_version: ::core::option::Option<::prost::alloc::string::String>,
    /// Method and challenge bytes (Pulsar sends the marker `PulsarAuthRefresh`).
    #[prost(message, optional, tag = "2")]
    pub challenge: ::core::option::Option<AuthData>,
    /// Broker protocol version.
    #[prost(int32, optional, tag = "3", default = "0")]
    pub protocol_version: ::core::option::Option<i32>,
}

/// Authentication method name plus opaque data, used by challenges and responses.
#[derive(Clone, PartialEq, Eq, Hash, ::prost::Message)]
pub struct AuthData {
    /// Method name, e.g. `"token"`.
    #[prost(string, optional, tag = "1")]
    pub auth_method_name: ::core::option::Option<::prost::alloc::string::String>,
    /// Method-specific bytes.
    #[prost(bytes = "vec", optional, tag = "2")]
    pub auth_data: ::core::option::Option<::prost::alloc::vec::Vec<u8>>,
}

/// PING (type 18, both directions): the receiver answers PONG promptly.
#[derive(Clone, Copy, PartialEq, Eq, Hash, ::prost::Message)]
pub struct CommandPing {}

/// PONG (type 19, both directions): keep-alive answer.
#[derive(Clone, Copy, PartialEq, Eq, Hash, ::prost::Message)]
pub struct CommandPong {}
