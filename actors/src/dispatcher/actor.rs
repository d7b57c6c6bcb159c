//! The Dispatcher actor: turns permits into read requests and read entries into deliveries.

use std::collections::HashMap;
use std::time::Duration;

use actix::{Actor, Addr, AsyncContext, Context, Handler, SpawnHandle, Supervised};
use tracing::warn;

use super::{
    consumers::{ActiveChange, AddConsumerError, DispatchConsumer},
    messages::*,
    state::{DispatchLimits, DispatcherState, ReadRequest},
    stats::DispatcherStats,
    throttle::Throttle,
};
use crate::{
    consumer::{ActiveConsumerChange, Consumer, Deliver, Disconnect},
    context::BrokerContext,
    subscription::{
        epoch_ms, DeadLetters, Demand, DispatcherRestarted, ReadIds, RedeliveriesCounted,
        Subscription,
    },
    supervision::Lifecycle,
    topic::ConsumerSpec,
};

/// Delivery for one subscription. Supervised: after a restart its consumers are disconnected
/// (they reconnect) and the subscription re-reads from the ack floor.
pub struct Dispatcher {
    broker: BrokerContext,
    lifecycle: Lifecycle,
    subscription: Addr<Subscription>,
    state: DispatcherState,
    consumers: HashMap<u64, Addr<Consumer>>,
    /// Dispatch rate limits (kept across restarts: they are policy, not state).
    pub(super) throttle: Throttle,
    /// The timer releasing held-back redeliveries, and when it fires (epoch ms).
    backoff_timer: Option<(SpawnHandle, u64)>,
}

impl Dispatcher {
    /// A dispatcher feeding the consumers of `subscription`.
    pub fn new(
        broker: BrokerContext,
        lifecycle: Lifecycle,
        subscription: Addr<Subscription>,
    ) -> Self {
        let state = Self::fresh_state(&broker);
        Self {
            broker,
            lifecycle,
            subscription,
            state,
            consumers: HashMap::new(),
            throttle: Throttle::default(),
            backoff_timer: None,
        }
    }

    fn fresh_state(broker: &BrokerContext) -> DispatcherState {
        let config = broker.config();
        DispatcherState::new(DispatchLimits {
            read_batch: config.dispatcher_max_read_batch_size,
            max_unacked_per_consumer: config.max_unacked_per_consumer,
            max_unacked_per_subscription: config.max_unacked_per_subscription,
            ..DispatchLimits::default()
        })
    }

    /// Asks the subscription for the reads that are due (within the dispatch rate limits),
    /// hands it what must be persisted or dead-lettered, and arms the backoff timer.
    pub(super) fn pump(&mut self, ctx: &mut Context<Self>) {
        let epoch = self.state.epoch();
        let me = self.lifecycle.address().unwrap_or_else(|| ctx.address());
        if let Some(cap) = self.throttle.admit(&me) {
            for request in self.state.next_requests_within(cap) {
                match request {
                    ReadRequest::Fresh(entries) => {
                        self.subscription.do_send(Demand { epoch, entries });
                    }
                    ReadRequest::Replay(ids) => self.subscription.do_send(ReadIds { epoch, ids }),
                }
            }
        }
        let counts = self.state.take_counted();
        if !counts.is_empty() {
            self.subscription.do_send(RedeliveriesCounted { counts });
        }
        let letters = self.state.take_dead_letters();
        if !letters.is_empty() {
            self.subscription.do_send(DeadLetters { epoch, letters });
        }
        self.arm_backoff_timer(ctx);
    }

    /// Wakes up when the first held-back redelivery is due (re-armed when an earlier one
    /// appears).
    fn arm_backoff_timer(&mut self, ctx: &mut Context<Self>) {
        let Some(due) = self.state.next_backoff_ms() else {
            return;
        };
        if let Some((handle, at)) = self.backoff_timer {
            if at <= due {
                return;
            }
            ctx.cancel_future(handle);
        }
        let wait = Duration::from_millis(due.saturating_sub(epoch_ms()));
        let handle = ctx.run_later(wait, move |act, ctx| {
            act.backoff_timer = None;
            act.state.release_backoff(epoch_ms());
            act.pump(ctx);
        });
        self.backoff_timer = Some((handle, due));
    }

    /// Sends ACTIVE_CONSUMER_CHANGE notices (the consumer drops them for old clients).
    fn notify(&self, changes: Vec<ActiveChange>) {
        for change in changes {
            if let Some(consumer) = self.consumers.get(&change.key) {
                consumer.do_send(ActiveConsumerChange {
                    is_active: change.is_active,
                });
            }
        }
    }
}

fn dispatch_consumer(spec: &ConsumerSpec) -> DispatchConsumer {
    DispatchConsumer {
        key: spec.key,
        name: spec.name.clone(),
        priority_level: spec.priority_level,
        sub_type: spec.sub_type,
        key_shared: spec.key_shared.clone(),
        partition: u32::try_from(spec.partition).ok(),
    }
}

impl Actor for Dispatcher {
    type Context = Context<Self>;
}

impl Supervised for Dispatcher {
    fn restarting(&mut self, _ctx: &mut Context<Self>) {
        warn!("dispatcher restarting: disconnecting its consumers");
        for consumer in self.consumers.values() {
            consumer.do_send(Disconnect);
        }
        self.consumers.clear();
        self.state = Self::fresh_state(&self.broker);
        self.backoff_timer = None;
        self.subscription.do_send(DispatcherRestarted);
    }
}

impl Handler<AddDispatchConsumer> for Dispatcher {
    type Result = Result<(), AddConsumerError>;

    fn handle(&mut self, msg: AddDispatchConsumer, ctx: &mut Context<Self>) -> Self::Result {
        let spec = msg.spec;
        let changes = self.state.add_consumer(dispatch_consumer(&spec))?;
        self.consumers.insert(spec.key, spec.addr);
        self.notify(changes);
        self.pump(ctx);
        Ok(())
    }
}

impl Handler<RemoveDispatchConsumer> for Dispatcher {
    type Result = ();

    fn handle(&mut self, msg: RemoveDispatchConsumer, ctx: &mut Context<Self>) {
        if self.consumers.remove(&msg.key).is_some() {
            let changes = self.state.remove_consumer(msg.key);
            self.notify(changes);
            self.pump(ctx);
        }
    }
}

impl Handler<Flow> for Dispatcher {
    type Result = ();

    fn handle(&mut self, msg: Flow, ctx: &mut Context<Self>) {
        self.state.flow(msg.key, msg.permits);
        self.pump(ctx);
    }
}

impl Handler<Redeliver> for Dispatcher {
    type Result = ();

    fn handle(&mut self, msg: Redeliver, ctx: &mut Context<Self>) {
        self.state
            .redeliver_at(msg.key, msg.ids.as_deref(), epoch_ms());
        self.pump(ctx);
    }
}

impl Handler<Entries> for Dispatcher {
    type Result = ();

    fn handle(&mut self, msg: Entries, ctx: &mut Context<Self>) {
        for (key, deliveries) in self
            .state
            .on_entries(msg.epoch, msg.entries, msg.redelivered)
        {
            self.throttle.charge(&deliveries);
            if let Some(consumer) = self.consumers.get(&key) {
                consumer.do_send(Deliver { deliveries });
            }
        }
        self.pump(ctx);
    }
}

impl Handler<EntriesAcked> for Dispatcher {
    type Result = ();

    fn handle(&mut self, msg: EntriesAcked, ctx: &mut Context<Self>) {
        self.state.acked(&msg.ids, msg.up_to);
        self.pump(ctx);
    }
}

impl Handler<ResetDispatcher> for Dispatcher {
    type Result = ();

    fn handle(&mut self, msg: ResetDispatcher, ctx: &mut Context<Self>) {
        self.state.reset(msg.epoch);
        self.pump(ctx);
    }
}

impl Handler<SetDispatchPolicy> for Dispatcher {
    type Result = ();

    fn handle(&mut self, msg: SetDispatchPolicy, ctx: &mut Context<Self>) {
        self.state.set_policy(msg.policy);
        self.pump(ctx);
    }
}

impl Handler<DeadLettersFailed> for Dispatcher {
    type Result = ();

    fn handle(&mut self, msg: DeadLettersFailed, ctx: &mut Context<Self>) {
        if msg.epoch == self.state.epoch() {
            for entry in &msg.entries {
                self.state.dead_letter_failed(entry);
            }
            self.pump(ctx);
        }
    }
}

impl Handler<GetDispatcherStats> for Dispatcher {
    type Result = actix::MessageResult<GetDispatcherStats>;

    fn handle(&mut self, _msg: GetDispatcherStats, _ctx: &mut Context<Self>) -> Self::Result {
        actix::MessageResult(self.stats())
    }
}

impl Dispatcher {
    fn stats(&self) -> DispatcherStats {
        self.state.stats()
    }
}

impl Handler<SetConsumerUnackedLimit> for Dispatcher {
    type Result = ();

    fn handle(&mut self, msg: SetConsumerUnackedLimit, ctx: &mut Context<Self>) {
        self.state.set_max_unacked_per_consumer(msg.limit);
        self.pump(ctx);
    }
}

impl Handler<ShutdownDispatcher> for Dispatcher {
    type Result = ();

    fn handle(&mut self, _msg: ShutdownDispatcher, ctx: &mut Context<Self>) {
        self.lifecycle.retire();
        actix::ActorContext::stop(ctx);
    }
}
