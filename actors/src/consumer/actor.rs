//! The Consumer actor.

use actix::{
    fut::wrap_future, Actor, ActorContext, ActorFutureExt, Addr, AsyncContext, Context, Handler,
    ResponseActFuture,
};
use geminga_protocol::{
    commands,
    frame::{Checksum, Frame, Payload},
    proto::MessageIdData,
};
use tracing::{debug, Span};

use super::messages::{
    ActiveConsumerChange, CloseConsumer, Deliver, Disconnect, Join, ReachedEndOfTopic, Subscribed,
};
use crate::{
    connection::{Connection, ConsumerClosedByBroker, EndOfTopic, WriteFrames},
    error::RequestError,
    subscription::RemoveConsumer,
    supervision::Lifecycle,
    topic::{Attached, ConsumerSpec, Subscribe},
};

/// First protocol version with ACTIVE_CONSUMER_CHANGE; older clients fail on unknown commands.
const ACTIVE_CONSUMER_CHANGE_VERSION: i32 = 12;

/// One consumer of one client. It is not restarted in place: if it fails, its connection tells
/// the client (CLOSE_CONSUMER) and the client subscribes again, as after any broker-side close.
pub struct Consumer {
    lifecycle: Lifecycle,
    /// Process-unique handle id.
    key: u64,
    /// The client's id for this consumer on its connection.
    consumer_id: u64,
    /// Partition index of the topic, -1 when not partitioned (part of every message id).
    partition: i32,
    connection: Addr<Connection>,
    attached: Option<Attached>,
    closing: bool,
    /// A join is in flight: stopping now would leave a ghost consumer in the subscription.
    joining: bool,
    /// Protocol version of the client's connection (set by the join).
    protocol_version: i32,
    /// The client got its SUBSCRIBE answer; until then ACTIVE_CONSUMER_CHANGE is held back.
    subscribed: bool,
    /// The latest ACTIVE_CONSUMER_CHANGE held back.
    held_active: Option<bool>,
    span: Span,
}

impl Consumer {
    /// A consumer writing to `connection`.
    pub fn new(
        lifecycle: Lifecycle,
        key: u64,
        consumer_id: u64,
        partition: i32,
        connection: Addr<Connection>,
        span: Span,
    ) -> Self {
        Self {
            lifecycle,
            key,
            consumer_id,
            partition,
            connection,
            attached: None,
            closing: false,
            joining: false,
            protocol_version: 0,
            subscribed: false,
            held_active: None,
            span,
        }
    }

    fn detach(&mut self, ctx: &mut Context<Self>) {
        self.closing = true;
        if let Some(attached) = &self.attached {
            attached
                .subscription
                .do_send(RemoveConsumer { key: self.key });
        }
        self.lifecycle.retire();
        ctx.stop();
    }
}

/// Consumers are never restarted in place (see [`crate::supervision::SupervisorSpec::restart`]).
impl actix::Supervised for Consumer {}

impl Actor for Consumer {
    type Context = Context<Self>;
}

impl Handler<Join> for Consumer {
    type Result = ResponseActFuture<Self, Result<Attached, RequestError>>;

    fn handle(&mut self, msg: Join, ctx: &mut Context<Self>) -> Self::Result {
        self.joining = true;
        let (topic, msg) = (msg.topic, msg.request);
        self.protocol_version = msg.protocol_version;
        let spec = ConsumerSpec {
            key: self.key,
            consumer_id: self.consumer_id,
            partition: self.partition,
            name: msg.name,
            sub_type: msg.sub_type,
            priority_level: msg.priority_level,
            key_shared: msg.key_shared,
            read_compacted: msg.read_compacted,
            addr: self.lifecycle.address().unwrap_or_else(|| ctx.address()),
        };
        let subscribe = topic.send(Subscribe {
            subscription: msg.subscription,
            durable: msg.durable,
            initial_position: msg.initial_position,
            start_message_id: msg.start_message_id,
            consumer: spec,
            schema: msg.schema,
        });
        Box::pin(wrap_future::<_, Self>(subscribe).map(|sent, act, ctx| {
            act.joining = false;
            let attached = sent.unwrap_or_else(|e| Err(RequestError::from(e)))?;
            act.attached = Some(attached.clone());
            if act.closing {
                // The client or its connection went away while joining: leave at once.
                act.detach(ctx);
                return Err(RequestError::unavailable("the consumer"));
            }
            Ok(attached)
        }))
    }
}

impl Handler<Deliver> for Consumer {
    type Result = ();

    fn handle(&mut self, msg: Deliver, _ctx: &mut Context<Self>) {
        let Some(attached) = &self.attached else {
            return;
        };
        if self.closing {
            return;
        }
        let ledger_id = attached.ledger_id;
        let (messages, bytes) = msg.deliveries.iter().fold((0, 0), |(m, b), d| {
            (
                m + u64::from(d.entry.meta.num_messages),
                b + d.entry.data.len() as u64,
            )
        });
        attached.stats.on_delivered(messages, bytes);
        let frames: Vec<Frame> = msg
            .deliveries
            .into_iter()
            .map(|d| {
                let id = MessageIdData {
                    ledger_id,
                    entry_id: d.entry.entry_id,
                    partition: Some(self.partition),
                    ..Default::default()
                };
                let command = commands::message(
                    self.consumer_id,
                    id,
                    d.redelivery_count,
                    d.ack_set.unwrap_or_default(),
                );
                let payload = Payload {
                    data: d.entry.data,
                    checksum: Checksum::Valid(d.entry.meta.checksum),
                };
                Frame::with_payload(command, payload)
            })
            .collect();
        debug!(parent: &self.span, count = frames.len(), "delivering");
        self.connection.do_send(WriteFrames { frames });
    }
}

impl Consumer {
    fn write_active_change(&self, is_active: bool) {
        if self.closing || self.protocol_version < ACTIVE_CONSUMER_CHANGE_VERSION {
            return;
        }
        debug!(parent: &self.span, is_active, "active consumer change");
        let command = commands::active_consumer_change(self.consumer_id, is_active);
        self.connection.do_send(WriteFrames {
            frames: vec![Frame::new(command)],
        });
    }
}

impl Handler<ActiveConsumerChange> for Consumer {
    type Result = ();

    fn handle(&mut self, msg: ActiveConsumerChange, _ctx: &mut Context<Self>) {
        if self.subscribed {
            self.write_active_change(msg.is_active);
        } else {
            self.held_active = Some(msg.is_active);
        }
    }
}

impl Handler<Subscribed> for Consumer {
    type Result = ();

    fn handle(&mut self, _msg: Subscribed, _ctx: &mut Context<Self>) {
        self.subscribed = true;
        if let Some(is_active) = self.held_active.take() {
            self.write_active_change(is_active);
        }
    }
}

impl Handler<Disconnect> for Consumer {
    type Result = ();

    fn handle(&mut self, _msg: Disconnect, ctx: &mut Context<Self>) {
        if self.lifecycle.is_retired() {
            return;
        }
        self.connection.do_send(ConsumerClosedByBroker {
            consumer_id: self.consumer_id,
            key: self.key,
        });
        self.detach(ctx);
    }
}

impl Handler<ReachedEndOfTopic> for Consumer {
    type Result = ();

    fn handle(&mut self, _msg: ReachedEndOfTopic, _ctx: &mut Context<Self>) {
        if !self.closing && !self.lifecycle.is_retired() {
            self.connection.do_send(EndOfTopic {
                consumer_id: self.consumer_id,
                key: self.key,
            });
        }
    }
}

impl Handler<CloseConsumer> for Consumer {
    type Result = ();

    fn handle(&mut self, _msg: CloseConsumer, ctx: &mut Context<Self>) {
        if self.joining {
            self.closing = true; // detached once the join answer arrives
        } else if !self.lifecycle.is_retired() {
            self.detach(ctx);
        }
    }
}
