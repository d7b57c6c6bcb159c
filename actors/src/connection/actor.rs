//! The Connection actor: socket I/O, handshake state and the producer/consumer tables.

use std::{
    collections::HashMap,
    net::SocketAddr,
    sync::Arc,
    time::{Duration, Instant},
};

use actix::{
    io::{FramedWrite, WriteHandler},
    Actor, ActorContext, Addr, AsyncContext, Context, Handler, Running, StreamHandler,
};
use geminga_protocol::{
    codec::PulsarCodec,
    commands,
    error::ProtocolError,
    frame::Frame,
    proto::{base_command::Type, BaseCommand, ServerError},
};
use tokio::{
    io::{AsyncRead, AsyncWrite},
    net::TcpStream,
};
use tokio_util::codec::FramedRead;
use tracing::{debug, info, info_span, warn, Span};

use super::{auth::ConnectionAuth, discovery::Discovery, messages::*};
use crate::{
    consumer::{CloseConsumer, Consumer},
    context::BrokerContext,
    producer::{CloseProducer, Producer, PublishGate},
    security::ConnectionPermit,
    subscription::RemoveConsumer,
    supervision::Lifecycle,
    topic::{Attached, ProducerGrant},
};

/// How long a connection closing after an ERROR waits for the client to read it.
const CLOSE_FLUSH_LIMIT: Duration = Duration::from_secs(5);

/// A producer id's state on this connection.
pub(super) enum ProducerSlot {
    /// Being created; these request ids wait for the outcome (client retries).
    Pending {
        waiters: Vec<u64>,
        handle: u64,
        addr: Option<Addr<Producer>>,
    },
    /// Created (a WaitForExclusive producer may still wait: `waiting` holds the request id
    /// its second PRODUCER_SUCCESS answers).
    Ready {
        addr: Addr<Producer>,
        handle: u64,
        grant: Box<ProducerGrant>,
        waiting: Option<u64>,
    },
}

/// A consumer id's state on this connection.
pub(super) enum ConsumerSlot {
    /// Being attached; these request ids wait for the outcome.
    Pending {
        waiters: Vec<u64>,
        key: u64,
        addr: Option<Addr<Consumer>>,
    },
    /// Attached.
    Ready {
        addr: Addr<Consumer>,
        key: u64,
        attached: Attached,
        partition: i32,
    },
}

/// The write half of a client socket, plain TCP or TLS.
pub(super) type SocketWrite = Box<dyn AsyncWrite + Unpin + Send>;

/// A client socket, plain or TLS, with what the listener learned about it.
pub struct Transport {
    /// The read half.
    pub read: Box<dyn AsyncRead + Unpin + Send>,
    /// The write half.
    pub write: Box<dyn AsyncWrite + Unpin + Send>,
    /// The client's TLS certificate chain, when it sent one over TLS.
    pub peer_certificates: Option<Vec<rustls_pki_types::CertificateDer<'static>>>,
    /// The connection's place under the connection limits, held while it is open.
    pub permit: Option<ConnectionPermit>,
}

impl Transport {
    /// A plain TCP socket.
    pub fn tcp(stream: TcpStream) -> Self {
        let (read, write) = stream.into_split();
        Self {
            read: Box::new(read),
            write: Box::new(write),
            peer_certificates: None,
            permit: None,
        }
    }
}

/// One client connection. Not restarted in place: if it fails, the socket closes and the client
/// reconnects, re-creating its producers and consumers.
pub struct Connection {
    pub(super) broker: BrokerContext,
    pub(super) lifecycle: Lifecycle,
    pub(super) writer: FramedWrite<Frame, SocketWrite, PulsarCodec>,
    /// CONNECT received and answered.
    pub(super) connected: bool,
    /// Negotiated protocol version.
    pub(super) protocol_version: i32,
    /// The client's self-description (C++ clients need some frames suppressed).
    pub(super) client_version: String,
    pub(super) last_received: Instant,
    pub(super) producers: HashMap<u64, ProducerSlot>,
    pub(super) consumers: HashMap<u64, ConsumerSlot>,
    pub(super) gate: Arc<PublishGate>,
    /// Topic discovery: the client's watcher support and its topic-list watchers.
    pub(super) discovery: Discovery,
    /// Who the client is, credential refresh, and per-connection limits.
    pub(super) auth: ConnectionAuth,
    /// An ERROR was sent before closing: later frames are ignored until it is written.
    pub(super) closing: bool,
    pub(super) span: Span,
}

impl Connection {
    /// Starts serving `stream` (call inside the arbiter that will run the connection).
    pub fn new(
        broker: BrokerContext,
        lifecycle: Lifecycle,
        stream: TcpStream,
        peer: SocketAddr,
        ctx: &mut Context<Self>,
    ) -> Self {
        Self::with_transport(broker, lifecycle, Transport::tcp(stream), peer, ctx)
    }

    /// Starts serving a plain or TLS socket (call inside the arbiter that will run it).
    pub fn with_transport(
        broker: BrokerContext,
        lifecycle: Lifecycle,
        transport: Transport,
        peer: SocketAddr,
        ctx: &mut Context<Self>,
    ) -> Self {
        let max = broker.config().max_message_size;
        ctx.add_stream(FramedRead::new(transport.read, PulsarCodec::new(max)));
        let writer = FramedWrite::new(transport.write, PulsarCodec::new(max), ctx);
        let auth = ConnectionAuth::new(
            broker.security(),
            transport.peer_certificates,
            transport.permit,
        );
        let gate = PublishGate::new(broker.config().max_pending_publish_per_connection);
        let span = info_span!("conn", id = lifecycle.id(), peer = %peer);
        Self {
            broker,
            lifecycle,
            writer,
            connected: false,
            protocol_version: 0,
            client_version: String::new(),
            last_received: Instant::now(),
            producers: HashMap::new(),
            consumers: HashMap::new(),
            gate,
            discovery: Discovery::default(),
            auth,
            closing: false,
            span,
        }
    }

    /// The address to hand out (see [`Lifecycle::address`]).
    pub(super) fn me(&self, ctx: &Context<Self>) -> Addr<Self> {
        self.lifecycle.address().unwrap_or_else(|| ctx.address())
    }

    /// Writes one command.
    pub(super) fn send(&mut self, command: impl Into<BaseCommand>) {
        self.writer.write(Frame::new(command));
    }

    /// Sends ERROR for request id -1 and closes once it is written: stopping at once would drop
    /// the unwritten answer, and the client would see a bare close instead of the reason.
    pub(super) fn close_with_error(
        &mut self,
        error: ServerError,
        message: impl Into<String>,
        ctx: &mut Context<Self>,
    ) {
        self.send_error(u64::MAX, error, message);
        self.closing = true;
        // The writer's `finished` stops the actor once the answer is flushed; the timer covers
        // a peer that never reads.
        self.writer.close();
        ctx.run_later(CLOSE_FLUSH_LIMIT, |_, ctx| ctx.stop());
    }

    /// Answers a request with ERROR.
    pub(super) fn send_error(
        &mut self,
        request_id: u64,
        error: ServerError,
        message: impl Into<String>,
    ) {
        self.send(commands::error(request_id, error, message.into()));
    }

    fn route(
        &mut self,
        command: BaseCommand,
        payload: Option<geminga_protocol::frame::Payload>,
        ctx: &mut Context<Self>,
    ) {
        let Some(kind) = command.command_type() else {
            warn!(parent: &self.span, "command of an unknown type; closing");
            return ctx.stop();
        };
        if !self.connected {
            return self.on_connect(command, ctx);
        }
        debug!(parent: &self.span, command = kind.as_str_name(), "received");
        let handled = match kind {
            Type::Ping => command.ping.map(|_| self.send(commands::pong())),
            Type::Pong => Some(()),
            Type::Lookup => command.lookup_topic.map(|c| self.on_lookup(c, ctx)),
            Type::PartitionedMetadata => command
                .partition_metadata
                .map(|c| self.on_partitioned_metadata(c, ctx)),
            Type::WatchTopicList => command
                .watch_topic_list
                .map(|c| self.on_watch_topic_list(c, ctx)),
            Type::WatchTopicListClose => command
                .watch_topic_list_close
                .map(|c| self.on_watch_topic_list_close(c)),
            Type::GetTopicsOfNamespace => command
                .get_topics_of_namespace
                .map(|c| self.on_topics_of_namespace(c, ctx)),
            Type::GetSchema => command.get_schema.map(|c| self.on_get_schema(c, ctx)),
            Type::GetOrCreateSchema => command
                .get_or_create_schema
                .map(|c| self.on_get_or_create_schema(c, ctx)),
            Type::Producer => command.producer.map(|c| self.on_producer(c, ctx)),
            Type::Send => command.send.map(|c| self.on_send(c, payload, ctx)),
            Type::CloseProducer => command
                .close_producer
                .map(|c| self.on_close_producer(c, ctx)),
            Type::Subscribe => command.subscribe.map(|c| self.on_subscribe(c, ctx)),
            Type::Flow => command.flow.map(|c| self.on_flow(c)),
            Type::Ack => command.ack.map(|c| self.on_ack(c, ctx)),
            Type::RedeliverUnacknowledgedMessages => command
                .redeliver_unacknowledged_messages
                .map(|c| self.on_redeliver(c)),
            Type::Seek => command.seek.map(|c| self.on_seek(c, ctx)),
            Type::Unsubscribe => command.unsubscribe.map(|c| self.on_unsubscribe(c, ctx)),
            Type::CloseConsumer => command
                .close_consumer
                .map(|c| self.on_close_consumer(c, ctx)),
            Type::GetLastMessageId => command
                .get_last_message_id
                .map(|c| self.on_get_last_message_id(c, ctx)),
            Type::ConsumerStats => command.consumer_stats.map(|c| self.on_consumer_stats(c)),
            Type::AuthResponse => command.auth_response.map(|c| self.on_auth_response(c, ctx)),
            Type::Connect => {
                warn!(parent: &self.span, "second CONNECT on a connection; closing");
                return ctx.stop();
            }
            other => {
                self.on_unsupported(other, &command);
                Some(())
            }
        };
        if handled.is_none() {
            warn!(parent: &self.span, command = kind.as_str_name(), "command body missing; closing");
            ctx.stop();
        }
    }

    fn close_children(&mut self) {
        for (_, slot) in self.producers.drain() {
            let addr = match slot {
                ProducerSlot::Pending { addr, .. } => addr,
                ProducerSlot::Ready { addr, .. } => Some(addr),
            };
            if let Some(addr) = addr {
                addr.do_send(CloseProducer { graceful: false });
            }
        }
        for (_, slot) in self.consumers.drain() {
            let addr = match slot {
                ConsumerSlot::Pending { addr, .. } => addr,
                ConsumerSlot::Ready { addr, .. } => Some(addr),
            };
            if let Some(addr) = addr {
                addr.do_send(CloseConsumer);
            }
        }
    }
}

/// Connections are never restarted in place (see [`crate::supervision::SupervisorSpec::restart`]).
impl actix::Supervised for Connection {}

/// A connection that dies without stopping cleanly (a panic, its mailbox dropped) must still
/// release its producers and consumers: otherwise they stay registered on their topic and
/// subscription, and the client's reconnect is refused as a duplicate (ProducerBusy,
/// ConsumerBusy) for ever.
impl Drop for Connection {
    fn drop(&mut self) {
        self.close_children();
    }
}

impl Actor for Connection {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        info!(parent: &self.span, "client connected");
        let interval = self.broker.config().keep_alive_interval;
        ctx.run_interval(interval, move |act, ctx| {
            let idle = act.last_received.elapsed();
            if idle > interval * 2 {
                warn!(parent: &act.span, idle_secs = idle.as_secs(), "client silent; closing");
                ctx.stop();
            } else if idle >= interval && act.connected {
                act.send(commands::ping());
            }
        });
    }

    fn stopping(&mut self, _ctx: &mut Context<Self>) -> Running {
        self.close_children();
        self.close_watches();
        self.lifecycle.retire();
        Running::Stop
    }

    fn stopped(&mut self, _ctx: &mut Context<Self>) {
        info!(parent: &self.span, "client disconnected");
    }
}

impl StreamHandler<Result<Frame, ProtocolError>> for Connection {
    fn handle(&mut self, item: Result<Frame, ProtocolError>, ctx: &mut Context<Self>) {
        match item {
            Ok(_) if self.closing => {}
            Ok(frame) => {
                self.last_received = Instant::now();
                self.route(frame.command, frame.payload, ctx);
            }
            Err(_) if self.closing => {}
            Err(e) => {
                warn!(parent: &self.span, error = %e, "malformed input; closing the connection");
                // The frame stream cannot be resynchronised; tell the client and close.
                self.close_with_error(
                    ServerError::UnknownError,
                    format!("malformed frame: {e}"),
                    ctx,
                );
            }
        }
    }

    fn finished(&mut self, ctx: &mut Context<Self>) {
        // While closing, the writer's `finished` stops the actor once the ERROR is out.
        if !self.closing {
            ctx.stop();
        }
    }
}

impl WriteHandler<ProtocolError> for Connection {
    fn error(&mut self, err: ProtocolError, _ctx: &mut Context<Self>) -> Running {
        debug!(parent: &self.span, error = %err, "write failed");
        Running::Stop
    }
}

impl Handler<WriteFrames> for Connection {
    type Result = ();

    fn handle(&mut self, msg: WriteFrames, _ctx: &mut Context<Self>) {
        for frame in msg.frames {
            self.writer.write(frame);
        }
    }
}

impl Handler<ProducerClosedByBroker> for Connection {
    type Result = ();

    fn handle(&mut self, msg: ProducerClosedByBroker, _ctx: &mut Context<Self>) {
        if matches!(self.producers.get(&msg.producer_id), Some(ProducerSlot::Ready { handle, .. }) if *handle == msg.handle)
        {
            self.producers.remove(&msg.producer_id);
            self.send(commands::close_producer(msg.producer_id));
        }
    }
}

impl Handler<ConsumerClosedByBroker> for Connection {
    type Result = ();

    fn handle(&mut self, msg: ConsumerClosedByBroker, _ctx: &mut Context<Self>) {
        if matches!(self.consumers.get(&msg.consumer_id), Some(ConsumerSlot::Ready { key, .. }) if *key == msg.key)
        {
            self.consumers.remove(&msg.consumer_id);
            self.send(commands::close_consumer(msg.consumer_id));
        }
    }
}

impl Handler<ProducerReady> for Connection {
    type Result = ();

    fn handle(&mut self, msg: ProducerReady, _ctx: &mut Context<Self>) {
        self.on_producer_ready(msg);
    }
}

impl Handler<ProducerExited> for Connection {
    type Result = ();

    fn handle(&mut self, msg: ProducerExited, _ctx: &mut Context<Self>) {
        let ours = match self.producers.get(&msg.producer_id) {
            Some(ProducerSlot::Ready { handle, .. } | ProducerSlot::Pending { handle, .. }) => {
                *handle == msg.handle
            }
            None => false,
        };
        if ours && msg.reason.is_failure() {
            // The producer crashed: the client re-creates it and resends what had no receipt.
            self.producers.remove(&msg.producer_id);
            self.send(commands::close_producer(msg.producer_id));
        }
    }
}

impl Handler<ConsumerExited> for Connection {
    type Result = ();

    fn handle(&mut self, msg: ConsumerExited, _ctx: &mut Context<Self>) {
        let slot = match self.consumers.get(&msg.consumer_id) {
            Some(ConsumerSlot::Ready { key, .. } | ConsumerSlot::Pending { key, .. })
                if *key == msg.key =>
            {
                self.consumers.remove(&msg.consumer_id)
            }
            _ => None,
        };
        if let (Some(slot), true) = (slot, msg.reason.is_failure()) {
            // The consumer crashed: detach it, and let the client subscribe again.
            if let ConsumerSlot::Ready { attached, key, .. } = slot {
                attached.subscription.do_send(RemoveConsumer { key });
            }
            self.send(commands::close_consumer(msg.consumer_id));
        }
    }
}
