//! The metered mailbox: messages pass from an actor's public mailbox to its own queue through
//! its supervisor, which counts them, so mailbox depth, messages handled and handler latency
//! are known for every supervised actor without touching its handlers.

use std::{sync::Arc, time::Instant};

use actix::{
    dev::{Envelope, EnvelopeProxy},
    Actor, Message,
};

use super::cell::ActorCell;

/// A message taken from an actor's public mailbox, on its way to the actor.
pub struct Forward<A: Actor> {
    envelope: Envelope<A>,
    cell: Arc<ActorCell>,
}

impl<A: Actor> Message for Forward<A> {
    type Result = ();
}

impl<A: Actor> Forward<A> {
    pub(crate) fn new(envelope: Envelope<A>, cell: Arc<ActorCell>) -> Self {
        Self { envelope, cell }
    }

    /// Runs the wrapped message's handler, counting it and timing it.
    pub fn deliver(self, act: &mut A, ctx: &mut A::Context) {
        let Forward { mut envelope, cell } = self;
        cell.on_dequeued();
        if cell.discarding() {
            // The mailbox was dropped: the sender sees its request fail, as if never queued.
            return;
        }
        let started = Instant::now();
        envelope.handle(act, ctx);
        cell.on_handled(started.elapsed());
    }
}

/// Implements `Handler<Forward<Self>>` for supervised actor types. Every type started with
/// [`super::supervise`] needs it (a blanket impl is not allowed for a foreign trait).
#[macro_export]
macro_rules! forwarded {
    ($($actor:ty),* $(,)?) => {
        $(
            impl ::actix::Handler<$crate::supervision::Forward<$actor>> for $actor {
                type Result = ();

                fn handle(
                    &mut self,
                    msg: $crate::supervision::Forward<$actor>,
                    ctx: &mut <$actor as ::actix::Actor>::Context,
                ) {
                    msg.deliver(self, ctx);
                }
            }
        )*
    };
}

forwarded!(
    crate::registry::TopicRegistry,
    crate::storage_writer::StorageWriter,
    crate::topic::Topic,
    crate::subscription::Subscription,
    crate::dispatcher::Dispatcher,
    crate::connection::Connection,
    crate::producer::Producer,
    crate::consumer::Consumer,
);
