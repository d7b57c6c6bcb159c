//! How a topic heals its children and cleans up when it dies for good.

use actix::{fut::wrap_future, ActorContext, ActorFutureExt, AsyncContext, Context};
use tracing::{info, warn};

use super::actor::Topic;
use crate::{producer::TopicClosing, storage_writer::persist, subscription::ShutdownSubscription};

impl Topic {
    /// Replaces a durable subscription whose actor was lost (its mailbox dropped) with one
    /// loaded from its stored cursor. The topic holds its mailbox meanwhile, so a SUBSCRIBE
    /// for that name finds the replacement instead of creating a fresh cursor at the initial
    /// position (which would skip what the lost one had not delivered).
    pub(super) fn replace_subscription(&mut self, name: String, ctx: &mut Context<Self>) {
        let storage = self.broker.storage().clone();
        let ledger_id = self.record.ledger_id;
        // Cursor writes the lost instance queued are settled before the cursor is read.
        let barrier = persist(self.broker.committer(), Vec::new());
        let lookup = name.clone();
        let load = async move {
            let _ = barrier.await;
            actix_rt::task::spawn_blocking(move || storage.load_cursor(ledger_id, &lookup)).await
        };
        let fut = wrap_future::<_, Self>(load).map(move |loaded, act, ctx| match loaded {
            Ok(Ok(Some(cursor))) => {
                if !act.subscriptions.contains_key(&name) {
                    info!(parent: &act.span, subscription = %name, "replacing a lost subscription");
                    act.start_subscription(cursor, true, ctx);
                }
            }
            // Unsubscribed meanwhile: nothing holds the log for it any more.
            Ok(Ok(None)) => act.release_hold(&name, ctx),
            _ => {
                warn!(parent: &act.span, subscription = %name, "reloading a lost subscription failed; restarting the topic");
                ctx.stop();
            }
        });
        ctx.wait(fut);
    }

    /// Tells everything attached that the topic is gone: producers close (their clients
    /// re-create them through the registry) and subscriptions end (their consumers reconnect).
    pub(super) fn close_children(&mut self) {
        for (_, producer) in self.producers.drain() {
            producer.do_send(TopicClosing);
        }
        for (_, slot) in self.subscriptions.drain() {
            slot.addr.do_send(ShutdownSubscription);
        }
        // Those of a previous incarnation, if the topic died before it restarted.
        for addr in self.closing.drain(..) {
            addr.do_send(ShutdownSubscription);
        }
    }
}

/// A topic that dies for good (restart budget exhausted, mailbox dropped) is dropped without
/// `restarting` being called; its children must still learn it, or producers would publish
/// into a dead mailbox for ever.
impl Drop for Topic {
    fn drop(&mut self) {
        self.close_children();
        if self.lifecycle.is_retired() {
            self.broker.stats().remove_topic(&self.record.name);
        }
    }
}
