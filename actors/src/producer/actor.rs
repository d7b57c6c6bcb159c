//! The Producer actor.

use std::sync::Arc;

use actix::{
    fut::wrap_future, Actor, ActorContext, ActorFutureExt, Addr, AsyncContext, Context, Handler,
    ResponseActFuture, ResponseFuture,
};
use geminga_protocol::{commands, frame::Checksum, frame::Frame};
use tokio::sync::oneshot;
use tracing::{debug, Span};

use super::{
    entry_meta::entry_meta_and_sequence,
    gate::PublishGate,
    messages::{CloseProducer, Register, SendMessage, TopicClosing},
    receipts::{Receipt, ReceiptQueue},
};
use crate::{
    connection::{Connection, ProducerClosedByBroker, ProducerReady, WriteFrames},
    error::RequestError,
    supervision::Lifecycle,
    topic::{
        AddProducer, ProducerGrant, ProducerGranted, Publish, RemoveProducer, Topic,
        DUPLICATE_ENTRY,
    },
};

/// One producer of one client. Not restarted in place: if it fails, its connection tells the
/// client (CLOSE_PRODUCER) and the client re-creates it and resends what had no receipt.
pub struct Producer {
    lifecycle: Lifecycle,
    /// Process-unique handle id.
    handle: u64,
    /// The client's id for this producer on its connection.
    producer_id: u64,
    topic: Addr<Topic>,
    connection: Addr<Connection>,
    gate: Arc<PublishGate>,
    ledger_id: u64,
    max_message_size: usize,
    receipts: ReceiptQueue,
    closing: bool,
    /// A registration with the topic is in flight: stopping now would leave it registered.
    registering: bool,
    /// Graceful closes waiting for the outstanding receipts.
    drain_waiters: Vec<oneshot::Sender<()>>,
    span: Span,
}

/// How a producer is wired.
pub struct ProducerWiring {
    /// Process-unique handle id.
    pub handle: u64,
    /// The client's id for this producer.
    pub producer_id: u64,
    /// The topic it publishes to.
    pub topic: Addr<Topic>,
    /// The client's connection.
    pub connection: Addr<Connection>,
    /// The connection's in-flight SEND counter.
    pub gate: Arc<PublishGate>,
    /// Largest accepted message.
    pub max_message_size: usize,
    /// Tracing span naming the connection and topic.
    pub span: Span,
}

impl Producer {
    /// A producer, inactive until the topic grants it (see [`Producer::grant`]).
    pub fn new(lifecycle: Lifecycle, wiring: ProducerWiring) -> Self {
        Self {
            lifecycle,
            handle: wiring.handle,
            producer_id: wiring.producer_id,
            topic: wiring.topic,
            connection: wiring.connection,
            gate: wiring.gate,
            ledger_id: 0,
            max_message_size: wiring.max_message_size,
            receipts: ReceiptQueue::new(),
            closing: false,
            registering: false,
            drain_waiters: Vec::new(),
            span: wiring.span,
        }
    }

    fn emit(&mut self, receipts: Vec<Receipt>, ctx: &mut Context<Self>) {
        if receipts.is_empty() {
            return;
        }
        self.gate.release(receipts.len());
        let frames: Vec<Frame> = receipts
            .into_iter()
            .map(|r| match r.outcome {
                // A duplicate names no entry: (-1, -1) as Pulsar's receipt.
                Ok(DUPLICATE_ENTRY) => Frame::new(commands::send_receipt(
                    self.producer_id,
                    r.sequence_id,
                    r.highest_sequence_id,
                    DUPLICATE_ENTRY,
                    DUPLICATE_ENTRY,
                )),
                Ok(entry_id) => Frame::new(commands::send_receipt(
                    self.producer_id,
                    r.sequence_id,
                    r.highest_sequence_id,
                    self.ledger_id,
                    entry_id,
                )),
                Err(e) => {
                    debug!(parent: &self.span, sequence_id = r.sequence_id, error = %e, "send failed");
                    Frame::new(commands::send_error(self.producer_id, r.sequence_id, e.server_error(), e.to_string()))
                }
            })
            .collect();
        self.connection.do_send(WriteFrames { frames });
        if self.receipts.is_empty() && !self.drain_waiters.is_empty() {
            self.stop_for_good(ctx);
        }
    }

    fn stop_for_good(&mut self, ctx: &mut Context<Self>) {
        self.closing = true;
        self.topic.do_send(RemoveProducer {
            handle: self.handle,
        });
        // SENDs without a receipt will be resent by the client to the next producer instance.
        self.gate.release(self.receipts.len());
        for waiter in self.drain_waiters.drain(..) {
            let _ = waiter.send(());
        }
        self.lifecycle.retire();
        ctx.stop();
    }

    fn validate(
        &self,
        msg: &SendMessage,
    ) -> Result<(geminga_storage::EntryMeta, Option<u64>), RequestError> {
        if let Checksum::Mismatch { .. } = msg.payload.checksum {
            return Err(RequestError::ChecksumMismatch);
        }
        let size = msg.payload.data.len();
        if size > self.max_message_size {
            return Err(RequestError::MessageTooLarge {
                size,
                max: self.max_message_size,
            });
        }
        entry_meta_and_sequence(&msg.payload)
    }
}

/// Producers are never restarted in place (see [`crate::supervision::SupervisorSpec::restart`]).
impl actix::Supervised for Producer {}

/// A producer that dies without stopping cleanly (a panic, its mailbox dropped) must still
/// leave its topic, or its name stays taken and the client's re-created producer is refused;
/// and its SENDs in flight must leave the connection's publish gate.
impl Drop for Producer {
    fn drop(&mut self) {
        if !self.lifecycle.is_retired() {
            self.topic.do_send(RemoveProducer {
                handle: self.handle,
            });
            self.gate.release(self.receipts.len());
        }
    }
}

impl Actor for Producer {
    type Context = Context<Self>;
}

impl Handler<Register> for Producer {
    type Result = ResponseActFuture<Self, Result<ProducerGrant, RequestError>>;

    fn handle(&mut self, msg: Register, ctx: &mut Context<Self>) -> Self::Result {
        self.registering = true;
        let add = self.topic.send(AddProducer {
            handle: self.handle,
            name: msg.name,
            producer: self.lifecycle.address().unwrap_or_else(|| ctx.address()),
            access_mode: msg.access_mode,
            topic_epoch: msg.topic_epoch,
            schema: msg.schema,
            initial_subscription: msg.initial_subscription,
        });
        Box::pin(wrap_future::<_, Self>(add).map(|sent, act, ctx| {
            act.registering = false;
            let grant = sent.unwrap_or_else(|e| Err(RequestError::from(e)))?;
            act.ledger_id = grant.ledger_id;
            if act.closing {
                // The client or its connection went away while registering.
                act.stop_for_good(ctx);
                return Err(RequestError::unavailable("the producer"));
            }
            Ok(grant)
        }))
    }
}

impl Handler<SendMessage> for Producer {
    type Result = ();

    fn handle(&mut self, msg: SendMessage, ctx: &mut Context<Self>) {
        let slot = self.receipts.push(msg.sequence_id, msg.highest_sequence_id);
        if !self.closing && !self.topic.connected() {
            // The topic actor died for good: close the client's handle so it re-creates the
            // producer through the registry (which loads the topic afresh) and resends this
            // SEND, instead of failing every SEND into a dead mailbox.
            self.connection.do_send(ProducerClosedByBroker {
                producer_id: self.producer_id,
                handle: self.handle,
            });
            return self.stop_for_good(ctx);
        }
        if self.closing {
            let ready = self
                .receipts
                .complete(slot, Err(RequestError::unavailable("the producer")));
            return self.emit(ready, ctx);
        }
        let (meta, metadata_highest) = match self.validate(&msg) {
            Ok(validated) => validated,
            Err(e) => {
                let ready = self.receipts.complete(slot, Err(e));
                return self.emit(ready, ctx);
            }
        };
        // `do_send` keeps this producer's entries in SEND order; the gate bounds the queue.
        let (reply, outcome) = oneshot::channel();
        let lowest = i64::try_from(msg.sequence_id).unwrap_or(i64::MAX);
        let highest = msg
            .highest_sequence_id
            .max(metadata_highest.unwrap_or_default());
        self.topic.do_send(Publish {
            producer_handle: self.handle,
            meta,
            data: msg.payload.data,
            sequence: (
                lowest,
                i64::try_from(highest).unwrap_or(i64::MAX).max(lowest),
            ),
            reply,
        });
        let fut = wrap_future::<_, Self>(outcome).map(move |sent, act, ctx| {
            let outcome = sent.unwrap_or_else(|_| Err(RequestError::unavailable("the topic")));
            let ready = act.receipts.complete(slot, outcome);
            act.emit(ready, ctx);
        });
        ctx.spawn(fut);
    }
}

impl Handler<CloseProducer> for Producer {
    type Result = ResponseFuture<()>;

    fn handle(&mut self, msg: CloseProducer, ctx: &mut Context<Self>) -> Self::Result {
        if self.closing {
            return Box::pin(async {});
        }
        if self.registering {
            // Stopped once the registration answer arrives, so the topic forgets it.
            self.closing = true;
            return Box::pin(async {});
        }
        if !msg.graceful || self.receipts.is_empty() {
            self.stop_for_good(ctx);
            return Box::pin(async {});
        }
        // New SENDs are refused from now on; the close completes with the last receipt.
        let (tx, rx) = oneshot::channel();
        self.drain_waiters.push(tx);
        self.closing = true;
        Box::pin(async move {
            let _ = rx.await;
        })
    }
}

impl Handler<TopicClosing> for Producer {
    type Result = ();

    fn handle(&mut self, _msg: TopicClosing, ctx: &mut Context<Self>) {
        if self.lifecycle.is_retired() {
            return;
        }
        self.connection.do_send(ProducerClosedByBroker {
            producer_id: self.producer_id,
            handle: self.handle,
        });
        self.stop_for_good(ctx);
    }
}

impl Handler<ProducerGranted> for Producer {
    type Result = ();

    fn handle(&mut self, msg: ProducerGranted, ctx: &mut Context<Self>) {
        if self.lifecycle.is_retired() {
            return;
        }
        let failed = msg.grant.is_err();
        self.connection.do_send(ProducerReady {
            producer_id: self.producer_id,
            handle: self.handle,
            grant: msg.grant,
        });
        if failed {
            self.stop_for_good(ctx);
        }
    }
}
