//! Unloading a topic for good: bundle unload and topic deletion.

use actix::{fut::wrap_future, ActorContext, ActorFutureExt, Handler, Message, ResponseActFuture};
use tracing::info;

use super::Topic;
use crate::{producer::TopicClosing, storage_writer::persist, subscription::ShutdownSubscription};

/// Closes the topic for good: its producers and consumers are told to go (CLOSE_PRODUCER /
/// CLOSE_CONSUMER, so clients reconnect and load the topic afresh), and the actor stops.
/// Answered once every write the topic queued has landed, so a new instance reads the true
/// log end.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct Unload;

impl Handler<Unload> for Topic {
    type Result = ResponseActFuture<Self, ()>;

    fn handle(&mut self, _msg: Unload, _ctx: &mut Self::Context) -> Self::Result {
        info!(parent: &self.span, "unloading topic");
        for producer in self.producers.values() {
            producer.do_send(TopicClosing);
        }
        for slot in self.subscriptions.values() {
            slot.addr.do_send(ShutdownSubscription);
        }
        self.producers.clear();
        self.subscriptions.clear();
        // Publishes that still arrive are refused as retryable: their clients reconnect.
        self.state = None;
        self.cache.clear();
        self.lifecycle.retire();
        // The writer answers requests in order: an empty group completes after every append
        // this topic queued before it.
        let flush = persist(self.broker.committer(), Vec::new());
        Box::pin(wrap_future::<_, Self>(flush).map(|_, _act, ctx| ctx.stop()))
    }
}
