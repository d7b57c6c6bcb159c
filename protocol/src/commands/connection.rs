//! Connection-level replies: CONNECTED, PING/PONG, SUCCESS, ERROR, AUTH_CHALLENGE.

use crate::frame::PROTOCOL_VERSION;
use crate::proto::{
    AuthData, BaseCommand, CommandAuthChallenge, CommandConnected, CommandError, CommandPing,
    CommandPong, CommandSuccess, ServerError,
};

/// The version to put in CONNECTED: min(client's, ours), never negative. A client that sent no
/// version gets 0, which is what proto2 would assume for it.
pub fn negotiate_protocol_version(client_protocol_version: i32) -> i32 {
    client_protocol_version.clamp(0, PROTOCOL_VERSION)
}

/// CONNECTED. `protocol_version` and `max_message_size` are always set: C++ gates keep-alive,
/// checksums and GET_LAST_MESSAGE_ID on the version, and Java brokers always advertise the
/// limit. A limit above `i32::MAX` is advertised as `i32::MAX`.
pub fn connected(
    server_version: impl Into<String>,
    protocol_version: i32,
    max_message_size: usize,
) -> BaseCommand {
    CommandConnected {
        server_version: server_version.into(),
        protocol_version: Some(protocol_version),
        max_message_size: Some(i32::try_from(max_message_size).unwrap_or(i32::MAX)),
        feature_flags: None,
    }
    .into()
}

/// PING, sent by the broker to probe an idle client.
pub fn ping() -> BaseCommand {
    CommandPing {}.into()
}

/// PONG, the answer to every PING.
pub fn pong() -> BaseCommand {
    CommandPong {}.into()
}

/// SUCCESS for SUBSCRIBE, UNSUBSCRIBE, SEEK and CLOSE_*.
pub fn success(request_id: u64) -> BaseCommand {
    CommandSuccess {
        request_id,
        schema: None,
    }
    .into()
}

/// ERROR for requests without a typed failure form (PRODUCER, SUBSCRIBE, SEEK, ...).
pub fn error(request_id: u64, error: ServerError, message: impl Into<String>) -> BaseCommand {
    CommandError {
        request_id,
        error: error as i32,
        message: message.into(),
    }
    .into()
}

/// AUTH_CHALLENGE asking for fresh credentials; send only after CONNECTED.
pub fn auth_challenge(method: impl Into<String>, data: Vec<u8>) -> BaseCommand {
    CommandAuthChallenge {
        server_version: None,
        challenge: Some(AuthData {
            auth_method_name: Some(method.into()),
            auth_data: Some(data),
        }),
        protocol_version: Some(PROTOCOL_VERSION),
    }
    .into()
}
