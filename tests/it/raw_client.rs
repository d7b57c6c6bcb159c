//! A bare Pulsar-protocol connection for what real clients do not surface: ACTIVE_CONSUMER_CHANGE,
//! ACK_RESPONSE errors and STICKY Key_Shared ranges (pulsar-rs never sends `keySharedMeta`).

use futures_util::{SinkExt, StreamExt};
use geminga_protocol::commands;
use geminga_protocol::proto::command_subscribe::{InitialPosition, SubType};
use geminga_protocol::proto::{BaseCommand, CommandSubscribe, IntRange, KeySharedMeta};
use geminga_protocol::{Frame, PulsarCodec};
use tokio::net::TcpStream;
use tokio_util::codec::Framed;

use crate::common::within;

/// One TCP connection speaking the binary protocol by hand.
pub struct RawClient {
    framed: Framed<TcpStream, PulsarCodec>,
    next_request: u64,
}

impl RawClient {
    /// Connects to `pulsar://host:port` and completes CONNECT/CONNECTED at `protocol_version`.
    pub async fn connect(service_url: &str, protocol_version: i32) -> RawClient {
        let addr = service_url.trim_start_matches("pulsar://");
        let stream = within("raw connect", TcpStream::connect(addr))
            .await
            .expect("tcp connect");
        let mut client = RawClient {
            framed: Framed::new(stream, PulsarCodec::default()),
            next_request: 1,
        };
        client
            .send(commands::client::connect(
                "geminga-raw-test",
                protocol_version,
            ))
            .await;
        let connected = client
            .wait_for("CONNECTED", |c| c.connected.is_some())
            .await;
        assert!(connected.connected.is_some());
        client
    }

    /// Sends one command.
    pub async fn send(&mut self, command: BaseCommand) {
        within("raw send", self.framed.send(Frame::new(command)))
            .await
            .expect("raw send");
    }

    /// Sends one frame (a command with a payload, for SEND).
    pub async fn send_frame(&mut self, frame: Frame) {
        within("raw send", self.framed.send(frame))
            .await
            .expect("raw send");
    }

    /// The next command from the broker (answering PINGs on the way).
    pub async fn next(&mut self) -> BaseCommand {
        loop {
            let frame = within("raw receive", self.framed.next())
                .await
                .expect("connection open")
                .expect("valid frame");
            if frame.command.ping.is_some() {
                self.send(commands::pong()).await;
                continue;
            }
            return frame.command;
        }
    }

    /// Skips commands until one matches `what`.
    pub async fn wait_for(
        &mut self,
        what: &str,
        matches: impl Fn(&BaseCommand) -> bool,
    ) -> BaseCommand {
        for _ in 0..10_000 {
            let command = self.next().await;
            if matches(&command) {
                return command;
            }
        }
        panic!("no {what} arrived");
    }

    /// Collects every command arriving within `period`.
    pub async fn drain_for(&mut self, period: std::time::Duration) -> Vec<BaseCommand> {
        let mut out = Vec::new();
        let deadline = tokio::time::Instant::now() + period;
        while let Ok(Some(Ok(frame))) = tokio::time::timeout_at(deadline, self.framed.next()).await
        {
            out.push(frame.command);
        }
        out
    }

    /// A fresh request id.
    pub fn request_id(&mut self) -> u64 {
        self.next_request += 1;
        self.next_request
    }

    /// SUBSCRIBE; returns the SUCCESS or ERROR answering it.
    pub async fn subscribe(&mut self, request: SubscribeRequest<'_>) -> BaseCommand {
        let request_id = self.request_id();
        let mut command = commands::client::subscribe(
            request.topic,
            request.subscription,
            request.sub_type,
            request.consumer_id,
            request_id,
            InitialPosition::Earliest,
        );
        if let Some(subscribe) = command.subscribe.as_mut() {
            let CommandSubscribe {
                consumer_name,
                key_shared_meta,
                ..
            } = subscribe;
            *consumer_name = Some(request.name.to_owned());
            *key_shared_meta = request.key_shared.clone();
        }
        self.send(command).await;
        self.wait_for("SUBSCRIBE answer", move |c| {
            c.success
                .as_ref()
                .is_some_and(|s| s.request_id == request_id)
                || c.error.as_ref().is_some_and(|e| e.request_id == request_id)
        })
        .await
    }
}

/// What [`RawClient::subscribe`] sends.
pub struct SubscribeRequest<'a> {
    pub topic: &'a str,
    pub subscription: &'a str,
    pub sub_type: SubType,
    pub consumer_id: u64,
    pub name: &'a str,
    pub key_shared: Option<KeySharedMeta>,
}

/// STICKY Key_Shared settings claiming `ranges`.
pub fn sticky_ranges(ranges: &[(i32, i32)]) -> KeySharedMeta {
    KeySharedMeta {
        key_shared_mode: geminga_protocol::proto::KeySharedMode::Sticky as i32,
        hash_ranges: ranges
            .iter()
            .map(|(start, end)| IntRange {
                start: *start,
                end: *end,
            })
            .collect(),
        allow_out_of_order_delivery: None,
    }
}
