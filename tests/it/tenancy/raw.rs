//! A raw binary-protocol client: CONNECT with chosen feature flags, then single commands, to
//! test frames the `pulsar` crate never sends (WATCH_TOPIC_LIST, listener names, hashes).

use futures_util::{SinkExt, StreamExt};
use geminga_protocol::{
    codec::PulsarCodec,
    frame::{Frame, PROTOCOL_VERSION},
    proto::{base_command::Type, BaseCommand, CommandConnect, FeatureFlags},
};
use tokio::net::TcpStream;
use tokio_util::codec::Framed;

use crate::common::within;

/// One raw connection.
pub struct Raw {
    framed: Framed<TcpStream, PulsarCodec>,
    /// The CONNECTED answer.
    pub connected: BaseCommand,
}

impl Raw {
    /// Connects to `service_url` (`pulsar://host:port`), advertising topic-watcher support
    /// when `watchers` is set.
    pub async fn connect(service_url: &str, watchers: bool) -> Raw {
        let addr = service_url.trim_start_matches("pulsar://").to_owned();
        let stream = within("tcp connect", TcpStream::connect(addr))
            .await
            .expect("connect");
        let mut framed = Framed::new(stream, PulsarCodec::default());
        let connect = CommandConnect {
            client_version: "geminga-raw-test".to_owned(),
            protocol_version: Some(PROTOCOL_VERSION),
            feature_flags: watchers.then_some(FeatureFlags {
                supports_topic_watchers: Some(true),
                ..FeatureFlags::default()
            }),
            ..CommandConnect::default()
        };
        framed
            .send(Frame::new(connect))
            .await
            .expect("send CONNECT");
        let mut raw = Raw {
            framed,
            connected: BaseCommand::default(),
        };
        raw.connected = raw.next().await;
        assert_eq!(raw.connected.command_type(), Some(Type::Connected));
        raw
    }

    /// Sends one command.
    pub async fn send(&mut self, command: impl Into<BaseCommand>) {
        self.framed.send(Frame::new(command)).await.expect("send");
    }

    /// The next frame that is not a PING (PINGs are answered).
    pub async fn next(&mut self) -> BaseCommand {
        loop {
            let frame = within("receive frame", self.framed.next())
                .await
                .expect("connection open")
                .expect("valid frame");
            if frame.command.command_type() == Some(Type::Ping) {
                self.send(geminga_protocol::commands::pong()).await;
                continue;
            }
            return frame.command;
        }
    }

    /// Sends `command` and returns the next frame.
    pub async fn request(&mut self, command: impl Into<BaseCommand>) -> BaseCommand {
        self.send(command).await;
        self.next().await
    }

    /// Asserts that nothing arrives for `ms` milliseconds.
    pub async fn expect_silence(&mut self, ms: u64) {
        let waited =
            tokio::time::timeout(std::time::Duration::from_millis(ms), self.framed.next()).await;
        if let Ok(Some(Ok(frame))) = waited {
            panic!("expected no frame, got {:?}", frame.command.command_type());
        }
    }
}
