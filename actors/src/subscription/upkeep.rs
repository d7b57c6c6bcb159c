//! Upkeep shared by the subscription's handlers: its public address, its stats, and the last
//! cursor flush before it shuts down.

use actix::{Addr, AsyncContext, Context};
use geminga_storage::WriteOp;

use super::actor::Subscription;
use crate::{dispatcher::sub_type_name, storage_writer::persist};

impl Subscription {
    /// The address to hand out (see [`crate::supervision::Lifecycle::address`]).
    pub(super) fn me(&self, ctx: &Context<Self>) -> Addr<Self> {
        self.lifecycle.address().unwrap_or_else(|| ctx.address())
    }

    /// Copies backlog, unacked, consumer, delayed and dead-letter figures into the shared stats (cheap: a few
    /// bitmap range counts), so metrics never have to ask the actor.
    pub(super) fn publish_stats(&self) {
        use std::sync::atomic::Ordering::Relaxed;
        let Some(state) = self.state.as_ref() else {
            return;
        };
        self.stats.backlog.store(state.backlog_entries(), Relaxed);
        self.stats
            .unacked
            .store(state.dispatched_unacked(), Relaxed);
        self.stats
            .consumers
            .store(state.consumers().len() as u64, Relaxed);
        self.stats.delayed.store(state.delayed_messages(), Relaxed);
        self.stats
            .dead_lettered
            .store(self.counters.dead_lettered_messages(), Relaxed);
        self.stats
            .redeliveries
            .store(self.counters.redeliveries(), Relaxed);
        self.stats.set_sub_type(state.sub_type().map(sub_type_name));
    }

    /// Queues the cursor changes not yet written, without waiting: the topic is closing and
    /// its next incarnation reads the cursor after a barrier, so acks that arrived while a
    /// cursor write was in flight are not lost (and not redelivered).
    pub(super) fn flush_cursor(&mut self) {
        let update = match self.state.as_mut() {
            Some(state) if self.durable => state.cursor_mut().take_update(),
            _ => None,
        };
        if let Some(update) = update {
            let ledger_id = self.record.ledger_id;
            // The write is queued by this call; nobody needs its outcome.
            drop(persist(
                self.broker.committer(),
                vec![WriteOp::Cursor { ledger_id, update }],
            ));
        }
    }
}
