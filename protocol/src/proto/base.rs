//! `BaseCommand`, the envelope of every frame, its `Type` enum and `From<CommandX>` conversions.

use super::*;

/// Declares `BaseCommand` from one table so that each field number equals its type value and
/// every command struct gets a `From` impl that sets both `r#type` and the field.
macro_rules! base_command {
    ($(
        $(#[$doc:meta])*
        $field:ident: $ty:ident = $tag:tt => $variant:ident,
    )+) => {
        /// The envelope of every frame: `r#type` names the command and exactly one optional
        /// field, whose number equals the type value, carries it.
        ///
        /// Transaction commands (50..=63) have no field here; prost skips them, so they decode
        /// with only `r#type` set.
        #[derive(Clone, PartialEq, ::prost::Message)]
        pub struct BaseCommand {
            /// Which command the frame carries.
            #[prost(enumeration = "base_command::Type", required, tag = "1")]
            pub r#type: i32,
            $(
                $(#[$doc])*
                #[prost(message, optional, tag = $tag)]
                pub $field: ::core::option::Option<$ty>,
            )+
        }

        $(
            impl From<$ty> for BaseCommand {
                fn from(command: $ty) -> Self {
                    BaseCommand {
                        r#type: base_command::Type::$variant as i32,
                        $field: Some(command),
                        ..Default::default()
                    }
                }
            }
        )+
    };
}

base_command! {
    /// CONNECT (2).
    connect: CommandConnect = "2" => Connect,
    /// CONNECTED (3).
    connected: CommandConnected = "3" => Connected,
    /// SUBSCRIBE (4).
    subscribe: CommandSubscribe = "4" => Subscribe,
    /// PRODUCER (5).
    producer: CommandProducer = "5" => Producer,
    /// SEND (6).
    send: CommandSend = "6" => Send,
    /// SEND_RECEIPT (7).
    send_receipt: CommandSendReceipt = "7" => SendReceipt,
    /// SEND_ERROR (8).
    send_error: CommandSendError = "8" => SendError,
    /// MESSAGE (9).
    message: CommandMessage = "9" => Message,
    /// ACK (10).
    ack: CommandAck = "10" => Ack,
    /// FLOW (11).
    flow: CommandFlow = "11" => Flow,
    /// UNSUBSCRIBE (12).
    unsubscribe: CommandUnsubscribe = "12" => Unsubscribe,
    /// SUCCESS (13).
    success: CommandSuccess = "13" => Success,
    /// ERROR (14).
    error: CommandError = "14" => Error,
    /// CLOSE_PRODUCER (15).
    close_producer: CommandCloseProducer = "15" => CloseProducer,
    /// CLOSE_CONSUMER (16).
    close_consumer: CommandCloseConsumer = "16" => CloseConsumer,
    /// PRODUCER_SUCCESS (17).
    producer_success: CommandProducerSuccess = "17" => ProducerSuccess,
    /// PING (18).
    ping: CommandPing = "18" => Ping,
    /// PONG (19).
    pong: CommandPong = "19" => Pong,
    /// REDELIVER_UNACKNOWLEDGED_MESSAGES (20).
    redeliver_unacknowledged_messages: CommandRedeliverUnacknowledgedMessages = "20"
        => RedeliverUnacknowledgedMessages,
    /// PARTITIONED_METADATA (21).
    partition_metadata: CommandPartitionedTopicMetadata = "21" => PartitionedMetadata,
    /// PARTITIONED_METADATA_RESPONSE (22).
    partition_metadata_response: CommandPartitionedTopicMetadataResponse = "22"
        => PartitionedMetadataResponse,
    /// LOOKUP (23).
    lookup_topic: CommandLookupTopic = "23" => Lookup,
    /// LOOKUP_RESPONSE (24).
    lookup_topic_response: CommandLookupTopicResponse = "24" => LookupResponse,
    /// CONSUMER_STATS (25).
    consumer_stats: CommandConsumerStats = "25" => ConsumerStats,
    /// CONSUMER_STATS_RESPONSE (26).
    consumer_stats_response: CommandConsumerStatsResponse = "26" => ConsumerStatsResponse,
    /// REACHED_END_OF_TOPIC (27).
    reached_end_of_topic: CommandReachedEndOfTopic = "27" => ReachedEndOfTopic,
    /// SEEK (28).
    seek: CommandSeek = "28" => Seek,
    /// GET_LAST_MESSAGE_ID (29).
    get_last_message_id: CommandGetLastMessageId = "29" => GetLastMessageId,
    /// GET_LAST_MESSAGE_ID_RESPONSE (30).
    get_last_message_id_response: CommandGetLastMessageIdResponse = "30"
        => GetLastMessageIdResponse,
    /// ACTIVE_CONSUMER_CHANGE (31).
    active_consumer_change: CommandActiveConsumerChange = "31" => ActiveConsumerChange,
    /// GET_TOPICS_OF_NAMESPACE (32).
    get_topics_of_namespace: CommandGetTopicsOfNamespace = "32" => GetTopicsOfNamespace,
    /// GET_TOPICS_OF_NAMESPACE_RESPONSE (33).
    get_topics_of_namespace_response: CommandGetTopicsOfNamespaceResponse = "33"
        => GetTopicsOfNamespaceResponse,
    /// GET_SCHEMA (34).
    get_schema: CommandGetSchema = "34" => GetSchema,
    /// GET_SCHEMA_RESPONSE (35).
    get_schema_response: CommandGetSchemaResponse = "35" => GetSchemaResponse,
    /// AUTH_CHALLENGE (36).
    auth_challenge: CommandAuthChallenge = "36" => AuthChallenge,
    /// AUTH_RESPONSE (37).
    auth_response: CommandAuthResponse = "37" => AuthResponse,
    /// ACK_RESPONSE (38).
    ack_response: CommandAckResponse = "38" => AckResponse,
    /// GET_OR_CREATE_SCHEMA (39).
    get_or_create_schema: CommandGetOrCreateSchema = "39" => GetOrCreateSchema,
    /// GET_OR_CREATE_SCHEMA_RESPONSE (40).
    get_or_create_schema_response: CommandGetOrCreateSchemaResponse = "40"
        => GetOrCreateSchemaResponse,
    /// WATCH_TOPIC_LIST (64).
    watch_topic_list: CommandWatchTopicList = "64" => WatchTopicList,
    /// WATCH_TOPIC_LIST_SUCCESS (65).
    watch_topic_list_success: CommandWatchTopicListSuccess = "65" => WatchTopicListSuccess,
    /// WATCH_TOPIC_UPDATE (66).
    watch_topic_update: CommandWatchTopicUpdate = "66" => WatchTopicUpdate,
    /// WATCH_TOPIC_LIST_CLOSE (67).
    watch_topic_list_close: CommandWatchTopicListClose = "67" => WatchTopicListClose,
    /// TOPIC_MIGRATED (68).
    topic_migrated: CommandTopicMigrated = "68" => TopicMigrated,
}

impl BaseCommand {
    /// The command type, or `None` when `r#type` holds a value this crate does not know.
    pub fn command_type(&self) -> Option<base_command::Type> {
        base_command::Type::try_from(self.r#type).ok()
    }
}

/// Nested message and enum types in `BaseCommand`.
pub mod base_command {
    proto_enum! {
        /// Command type of a frame; the value is also the number of the field carrying it.
        pub enum Type {
            Connect = 2 => "CONNECT",
            Connected = 3 => "CONNECTED",
            Subscribe = 4 => "SUBSCRIBE",
            Producer = 5 => "PRODUCER",
            Send = 6 => "SEND",
            SendReceipt = 7 => "SEND_RECEIPT",
            SendError = 8 => "SEND_ERROR",
            Message = 9 => "MESSAGE",
            Ack = 10 => "ACK",
            Flow = 11 => "FLOW",
            Unsubscribe = 12 => "UNSUBSCRIBE",
            Success = 13 => "SUCCESS",
            Error = 14 => "ERROR",
            CloseProducer = 15 => "CLOSE_PRODUCER",
            CloseConsumer = 16 => "CLOSE_CONSUMER",
            ProducerSuccess = 17 => "PRODUCER_SUCCESS",
            Ping = 18 => "PING",
            Pong = 19 => "PONG",
            RedeliverUnacknowledgedMessages = 20 => "REDELIVER_UNACKNOWLEDGED_MESSAGES",
            PartitionedMetadata = 21 => "PARTITIONED_METADATA",
            PartitionedMetadataResponse = 22 => "PARTITIONED_METADATA_RESPONSE",
            Lookup = 23 => "LOOKUP",
            LookupResponse = 24 => "LOOKUP_RESPONSE",
            ConsumerStats = 25 => "CONSUMER_STATS",
            ConsumerStatsResponse = 26 => "CONSUMER_STATS_RESPONSE",
            /// C++ 4.2.0 has no handler and drops the connection.
            ReachedEndOfTopic = 27 => "REACHED_END_OF_TOPIC",
            Seek = 28 => "SEEK",
            GetLastMessageId = 29 => "GET_LAST_MESSAGE_ID",
            GetLastMessageIdResponse = 30 => "GET_LAST_MESSAGE_ID_RESPONSE",
            ActiveConsumerChange = 31 => "ACTIVE_CONSUMER_CHANGE",
            GetTopicsOfNamespace = 32 => "GET_TOPICS_OF_NAMESPACE",
            GetTopicsOfNamespaceResponse = 33 => "GET_TOPICS_OF_NAMESPACE_RESPONSE",
            GetSchema = 34 => "GET_SCHEMA",
            GetSchemaResponse = 35 => "GET_SCHEMA_RESPONSE",
            AuthChallenge = 36 => "AUTH_CHALLENGE",
            AuthResponse = 37 => "AUTH_RESPONSE",
            AckResponse = 38 => "ACK_RESPONSE",
            GetOrCreateSchema = 39 => "GET_OR_CREATE_SCHEMA",
            /// C++ 4.2.0 has no handler and drops the connection.
            GetOrCreateSchemaResponse = 40 => "GET_OR_CREATE_SCHEMA_RESPONSE",
            NewTxn = 50 => "NEW_TXN",
            NewTxnResponse = 51 => "NEW_TXN_RESPONSE",
            AddPartitionToTxn = 52 => "ADD_PARTITION_TO_TXN",
            AddPartitionToTxnResponse = 53 => "ADD_PARTITION_TO_TXN_RESPONSE",
            AddSubscriptionToTxn = 54 => "ADD_SUBSCRIPTION_TO_TXN",
            AddSubscriptionToTxnResponse = 55 => "ADD_SUBSCRIPTION_TO_TXN_RESPONSE",
            EndTxn = 56 => "END_TXN",
            EndTxnResponse = 57 => "END_TXN_RESPONSE",
            EndTxnOnPartition = 58 => "END_TXN_ON_PARTITION",
            EndTxnOnPartitionResponse = 59 => "END_TXN_ON_PARTITION_RESPONSE",
            EndTxnOnSubscription = 60 => "END_TXN_ON_SUBSCRIPTION",
            EndTxnOnSubscriptionResponse = 61 => "END_TXN_ON_SUBSCRIPTION_RESPONSE",
            TcClientConnectRequest = 62 => "TC_CLIENT_CONNECT_REQUEST",
            TcClientConnectResponse = 63 => "TC_CLIENT_CONNECT_RESPONSE",
            WatchTopicList = 64 => "WATCH_TOPIC_LIST",
            /// C++ 4.2.0 has no handler and drops the connection.
            WatchTopicListSuccess = 65 => "WATCH_TOPIC_LIST_SUCCESS",
            /// C++ 4.2.0 has no handler and drops the connection.
            WatchTopicUpdate = 66 => "WATCH_TOPIC_UPDATE",
            WatchTopicListClose = 67 => "WATCH_TOPIC_LIST_CLOSE",
            TopicMigrated = 68 => "TOPIC_MIGRATED",
        }
    }
}
