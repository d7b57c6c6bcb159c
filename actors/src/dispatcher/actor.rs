//! The Dispatcher actor: turns permits into demands and read entries into deliveries.

use std::collections::HashMap;

use actix::{Actor, Addr, Context, Handler, Supervised};
use tracing::warn;

use super::{
    messages::*,
    state::{DispatcherState, ReadRequest},
};
use crate::{
    consumer::{Consumer, Deliver, Disconnect},
    context::BrokerContext,
    subscription::{Demand, DispatcherRestarted, ReadIds, Subscription},
    supervision::Lifecycle,
};

/// Delivery for one subscription. Supervised: after a restart its consumers are disconnected
/// (they reconnect) and the subscription re-reads from the ack floor.
pub struct Dispatcher {
    broker: BrokerContext,
    lifecycle: Lifecycle,
    subscription: Addr<Subscription>,
    state: DispatcherState,
    consumers: HashMap<u64, Addr<Consumer>>,
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
        }
    }

    fn fresh_state(broker: &BrokerContext) -> DispatcherState {
        let config = broker.config();
        DispatcherState::new(
            config.dispatcher_max_read_batch_size,
            config.max_unacked_per_consumer,
        )
    }

    /// Asks the subscription for the next read, if one is due.
    fn pump(&mut self) {
        let epoch = self.state.epoch();
        match self.state.next_request() {
            Some(ReadRequest::Fresh(entries)) => {
                self.subscription.do_send(Demand { epoch, entries })
            }
            Some(ReadRequest::Replay(ids)) => self.subscription.do_send(ReadIds { epoch, ids }),
            None => {}
        }
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
        self.subscription.do_send(DispatcherRestarted);
    }
}

impl Handler<AddDispatchConsumer> for Dispatcher {
    type Result = ();

    fn handle(&mut self, msg: AddDispatchConsumer, _ctx: &mut Context<Self>) {
        let spec = msg.spec;
        self.state
            .add_consumer(spec.key, spec.name, spec.priority_level, spec.sub_type);
        self.consumers.insert(spec.key, spec.addr);
        self.pump();
    }
}

impl Handler<RemoveDispatchConsumer> for Dispatcher {
    type Result = ();

    fn handle(&mut self, msg: RemoveDispatchConsumer, _ctx: &mut Context<Self>) {
        if self.consumers.remove(&msg.key).is_some() {
            self.state.remove_consumer(msg.key);
            self.pump();
        }
    }
}

impl Handler<Flow> for Dispatcher {
    type Result = ();

    fn handle(&mut self, msg: Flow, _ctx: &mut Context<Self>) {
        self.state.flow(msg.key, msg.permits);
        self.pump();
    }
}

impl Handler<Redeliver> for Dispatcher {
    type Result = ();

    fn handle(&mut self, msg: Redeliver, _ctx: &mut Context<Self>) {
        self.state.redeliver(msg.key, msg.ids.as_deref());
        self.pump();
    }
}

impl Handler<Entries> for Dispatcher {
    type Result = ();

    fn handle(&mut self, msg: Entries, _ctx: &mut Context<Self>) {
        for (key, deliveries) in self
            .state
            .on_entries(msg.epoch, msg.entries, msg.redelivered)
        {
            if let Some(consumer) = self.consumers.get(&key) {
                consumer.do_send(Deliver { deliveries });
            }
        }
        self.pump();
    }
}

impl Handler<EntriesAcked> for Dispatcher {
    type Result = ();

    fn handle(&mut self, msg: EntriesAcked, _ctx: &mut Context<Self>) {
        self.state.acked(&msg.ids, msg.up_to);
        self.pump();
    }
}

impl Handler<ResetDispatcher> for Dispatcher {
    type Result = ();

    fn handle(&mut self, msg: ResetDispatcher, _ctx: &mut Context<Self>) {
        self.state.reset(msg.epoch);
        self.pump();
    }
}

impl Handler<SetConsumerUnackedLimit> for Dispatcher {
    type Result = ();

    fn handle(&mut self, msg: SetConsumerUnackedLimit, _ctx: &mut Context<Self>) {
        self.state.set_max_unacked_per_consumer(msg.limit);
        self.pump();
    }
}

impl Handler<ShutdownDispatcher> for Dispatcher {
    type Result = ();

    fn handle(&mut self, _msg: ShutdownDispatcher, ctx: &mut Context<Self>) {
        self.lifecycle.retire();
        actix::ActorContext::stop(ctx);
    }
}
