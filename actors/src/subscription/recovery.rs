//! How a subscription heals its dispatcher and cleans up when it dies for good.

use actix::{ActorContext, Context, Handler};
use tracing::warn;

use super::{
    actor::Subscription,
    messages::{DispatcherExited, DispatcherRestarted},
};
use crate::{dispatcher::ShutdownDispatcher, supervision::ExitReason};

impl Handler<DispatcherExited> for Subscription {
    type Result = ();

    fn handle(&mut self, msg: DispatcherExited, ctx: &mut Context<Self>) {
        if msg.instance != self.dispatcher_instance || !msg.reason.is_failure() {
            return;
        }
        self.dispatcher = None;
        if msg.reason == ExitReason::BudgetExhausted {
            // Escalation: restart the subscription (its own budget), which reloads the cursor
            // and starts a fresh dispatcher.
            warn!(parent: &self.span, "dispatcher escalated; restarting the subscription");
            return ctx.stop();
        }
        warn!(parent: &self.span, reason = ?msg.reason, "dispatcher lost; replacing it");
        self.ensure_dispatcher(ctx);
        // The new dispatcher knows nothing: as after a dispatcher restart, consumers reconnect
        // and everything unacked is read again from the ack floor.
        <Self as Handler<DispatcherRestarted>>::handle(self, DispatcherRestarted, ctx);
    }
}

/// A subscription that dies for good without retiring (restart budget exhausted, mailbox
/// dropped) is dropped without `restarting` being called; its consumers and dispatcher must
/// still learn it, or the clients would wait for messages that never come.
impl Drop for Subscription {
    fn drop(&mut self) {
        self.disconnect_all();
        if let Some(dispatcher) = self.dispatcher.take() {
            dispatcher.do_send(ShutdownDispatcher);
        }
    }
}
