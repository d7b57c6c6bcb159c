//! The Topic actor: appends through the storage writer and fans out to its subscriptions.

use std::collections::HashMap;

use actix::{
    fut::wrap_future, Actor, ActorContext, ActorFutureExt, Addr, Arbiter, AsyncContext, Context,
    Handler, ResponseFuture, Supervised,
};
use geminga_protocol::proto::command_subscribe::InitialPosition;
use geminga_storage::{Cursor, StorageError, TopicRecord, WriteOp};
use tracing::{info, info_span, warn, Span};

use super::{
    cache::EntryCache,
    messages::{
        AddProducer, Attached, DurableEnd, ProducerGrant, Publish, RemoveProducer, Subscribe,
        SubscriptionRetired,
    },
    state::TopicState,
};
use crate::{
    context::BrokerContext,
    error::RequestError,
    producer::{Producer, TopicClosing},
    storage_writer::{persist, Unfence},
    subscription::{AddConsumer, EntriesAvailable, ShutdownSubscription, Subscription},
    supervision::{supervise, ActorKind, Lifecycle},
};

/// What the topic loads from storage when it starts.
struct Loaded {
    first_entry: u64,
    next_entry: u64,
    cursors: Vec<Cursor>,
}

/// A subscription of this topic and the instance number that tells restarts apart.
struct SubscriptionSlot {
    addr: Addr<Subscription>,
    instance: u64,
}

/// One topic. Supervised: after a crash it closes every producer and consumer attached (their
/// clients reconnect), reloads its log end and cursors from storage and carries on.
pub struct Topic {
    broker: BrokerContext,
    lifecycle: Lifecycle,
    record: TopicRecord,
    /// `None` until the log end is loaded.
    state: Option<TopicState>,
    /// Lowest entry id still stored (Earliest positions start here).
    first_entry: u64,
    cache: EntryCache,
    subscriptions: HashMap<String, SubscriptionSlot>,
    producers: HashMap<u64, Addr<Producer>>,
    /// Set while reloading the log end after a failed write.
    recovering: bool,
    span: Span,
}

impl Topic {
    /// A topic over `record`'s ledger; it loads its state in `started`.
    pub fn new(broker: BrokerContext, lifecycle: Lifecycle, record: TopicRecord) -> Self {
        let cache = EntryCache::new(broker.config().topic_cache_bytes);
        let span = info_span!("topic", topic = %record.name);
        Self {
            broker,
            lifecycle,
            record,
            state: None,
            first_entry: 0,
            cache,
            subscriptions: HashMap::new(),
            producers: HashMap::new(),
            recovering: false,
            span,
        }
    }

    fn load(&self) -> impl std::future::Future<Output = Result<Loaded, StorageError>> {
        let storage = self.broker.storage().clone();
        let ledger_id = self.record.ledger_id;
        async move {
            let joined = actix_rt::task::spawn_blocking(move || -> Result<Loaded, StorageError> {
                let bounds = storage.log_bounds(ledger_id)?;
                let cursors = storage.load_cursors(ledger_id)?;
                let floors = cursors.iter().map(Cursor::ack_floor).max().unwrap_or(0);
                // A fully trimmed log has no last entry: ids continue after the trim point so
                // they are never reused.
                let trimmed = storage.trimmed_before(ledger_id)?;
                let next_entry = bounds.map_or(0, |b| b.last + 1).max(floors).max(trimmed);
                let first_entry = bounds.map_or(next_entry, |b| b.first);
                Ok(Loaded {
                    first_entry,
                    next_entry,
                    cursors,
                })
            })
            .await;
            joined.unwrap_or_else(|e| Err(StorageError::from(std::io::Error::other(e))))
        }
    }

    fn on_loaded(&mut self, loaded: Loaded, ctx: &mut Context<Self>) {
        let name = self.record.name.clone();
        let mut state = TopicState::new(name, self.record.ledger_id, loaded.next_entry);
        state.recover(loaded.next_entry);
        self.first_entry = loaded.first_entry;
        self.state = Some(state);
        for cursor in loaded.cursors {
            self.start_subscription(cursor, true, ctx);
        }
        info!(parent: &self.span, next_entry = loaded.next_entry, "topic loaded");
    }

    fn start_subscription(
        &mut self,
        cursor: Cursor,
        durable: bool,
        ctx: &mut Context<Self>,
    ) -> Addr<Subscription> {
        let name = cursor.name().to_owned();
        let instance = self.broker.next_id();
        let topic = ctx.address();
        let mut spec = self.broker.spec(
            ActorKind::Subscription,
            format!("{}/{}", self.record.name, name),
            Some(self.lifecycle.id()),
        );
        let retired_name = name.clone();
        spec.on_exit = Some(Box::new(move |_reason| {
            topic.do_send(SubscriptionRetired {
                name: retired_name,
                instance,
            });
        }));
        let broker = self.broker.clone();
        let topic_addr = ctx.address();
        let record = self.record.clone();
        let cache = self.cache.clone();
        let durable_next = self.state.as_ref().map_or(0, TopicState::durable_next);
        let addr = supervise(&Arbiter::current(), spec, move |_ctx, lifecycle| {
            Subscription::new(
                broker,
                lifecycle,
                topic_addr,
                record,
                cache,
                cursor,
                durable,
                durable_next,
            )
        });
        self.subscriptions.insert(
            name,
            SubscriptionSlot {
                addr: addr.clone(),
                instance,
            },
        );
        addr
    }

    pub(super) fn has_subscription(&self, name: &str) -> bool {
        self.subscriptions.contains_key(name)
    }

    pub(super) fn subscription_addr(&self, name: &str) -> Option<Addr<Subscription>> {
        self.subscriptions.get(name).map(|slot| slot.addr.clone())
    }

    pub(super) fn first_entry(&self) -> u64 {
        self.first_entry
    }

    pub(super) fn ledger_id(&self) -> u64 {
        self.record.ledger_id
    }

    pub(super) fn writer(&self) -> &Addr<crate::storage_writer::StorageWriter> {
        self.broker.writer()
    }

    pub(super) fn start_durable_subscription(&mut self, cursor: Cursor, ctx: &mut Context<Self>) {
        self.start_subscription(cursor, true, ctx);
    }

    /// Where a new subscription's cursor starts.
    fn start_floor(&self, msg: &Subscribe) -> u64 {
        let durable_next = self.state.as_ref().map_or(0, TopicState::durable_next);
        let by_position = match msg.initial_position {
            InitialPosition::Earliest => self.first_entry,
            InitialPosition::Latest => durable_next,
        };
        match msg.start_message_id.filter(|_| !msg.durable) {
            None => by_position,
            Some(id) if id.is_earliest() => self.first_entry,
            Some(id) if id.is_latest() => durable_next,
            Some(id) => id.entry_id.clamp(self.first_entry, durable_next),
        }
    }

    fn notify_subscriptions(&self) {
        let Some(state) = &self.state else { return };
        let durable_next = state.durable_next();
        for slot in self.subscriptions.values() {
            slot.addr.do_send(EntriesAvailable { durable_next });
        }
    }

    fn on_write_result(
        &mut self,
        entry_id: u64,
        result: &Result<(), RequestError>,
        ctx: &mut Context<Self>,
    ) {
        let Some(state) = self.state.as_mut() else {
            return;
        };
        match result {
            Ok(()) => {
                let ready = state.on_persisted(entry_id);
                if !ready.is_empty() {
                    self.cache.push(ready);
                    self.notify_subscriptions();
                }
            }
            Err(e) => {
                state.on_failed(entry_id);
                warn!(parent: &self.span, entry_id, error = %e, "append failed; fencing the topic");
                self.maybe_recover(ctx);
            }
        }
    }

    /// After a failed write: once nothing is in flight, reload the log end and lift the fence.
    fn maybe_recover(&mut self, ctx: &mut Context<Self>) {
        let ready = self
            .state
            .as_ref()
            .is_some_and(TopicState::ready_to_recover);
        if !ready || self.recovering {
            return;
        }
        self.recovering = true;
        let fut = wrap_future::<_, Self>(self.load()).map(|loaded, act, ctx| {
            act.recovering = false;
            match loaded {
                Ok(loaded) => {
                    act.broker.writer().do_send(Unfence { ledger_id: act.record.ledger_id });
                    if let Some(state) = act.state.as_mut() {
                        state.recover(loaded.next_entry);
                    }
                    act.cache.clear();
                    act.notify_subscriptions();
                    info!(parent: &act.span, next_entry = loaded.next_entry, "topic recovered");
                }
                Err(e) => {
                    warn!(parent: &act.span, error = %e, "reloading the log end failed; restarting");
                    ctx.stop();
                }
            }
        });
        ctx.spawn(fut);
    }
}

impl Actor for Topic {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        let fut = wrap_future::<_, Self>(self.load()).map(|loaded, act, ctx| match loaded {
            Ok(loaded) => act.on_loaded(loaded, ctx),
            Err(e) => {
                warn!(parent: &act.span, error = %e, "loading the topic failed; restarting");
                ctx.stop();
            }
        });
        // Hold every message until the log end is known.
        ctx.wait(fut);
    }
}

impl Supervised for Topic {
    /// Everything attached is closed (clients reconnect) and reloaded in `started`.
    fn restarting(&mut self, _ctx: &mut Context<Self>) {
        warn!(parent: &self.span, "topic restarting: closing producers and subscriptions");
        for producer in self.producers.values() {
            producer.do_send(TopicClosing);
        }
        for slot in self.subscriptions.values() {
            slot.addr.do_send(ShutdownSubscription);
        }
        self.producers.clear();
        self.subscriptions.clear();
        self.state = None;
        self.recovering = false;
        self.cache.clear();
    }
}

impl Handler<Publish> for Topic {
    type Result = ();

    fn handle(&mut self, msg: Publish, ctx: &mut Context<Self>) {
        let ledger_id = self.record.ledger_id;
        let allocated = match self.state.as_mut() {
            Some(state) => state.allocate(msg.meta, msg.data),
            None => Err(RequestError::unavailable("the topic")),
        };
        let entry = match allocated {
            Ok(entry) => entry,
            Err(e) => {
                let _ = msg.reply.send(Err(e));
                return;
            }
        };
        let entry_id = entry.entry_id;
        let write = persist(
            self.broker.writer(),
            vec![WriteOp::Append { ledger_id, entry }],
        );
        let reply = msg.reply;
        ctx.spawn(wrap_future::<_, Self>(write).map(move |result, act, ctx| {
            act.on_write_result(entry_id, &result, ctx);
            let _ = reply.send(result.map(|()| entry_id));
        }));
    }
}

impl Handler<AddProducer> for Topic {
    type Result = actix::ResponseActFuture<Self, Result<ProducerGrant, RequestError>>;

    /// Registers the producer; with an initial subscription, answers once it is durable.
    fn handle(&mut self, msg: AddProducer, ctx: &mut Context<Self>) -> Self::Result {
        let handle = msg.handle;
        let initial = msg.initial_subscription.clone();
        let grant = self.register_producer(msg);
        let created = match (&grant, initial) {
            (Ok(_), Some(name)) => self.ensure_subscription(&name, ctx),
            _ => None,
        };
        let Some(created) = created else {
            return Box::pin(actix::fut::ready(grant));
        };
        Box::pin(
            wrap_future::<_, Self>(created).map(move |created, act, _ctx| match created {
                Ok(()) => grant,
                Err(e) => {
                    if let Some(state) = act.state.as_mut() {
                        state.remove_producer(handle);
                    }
                    act.producers.remove(&handle);
                    Err(e)
                }
            }),
        )
    }
}

impl Topic {
    fn register_producer(&mut self, msg: AddProducer) -> Result<ProducerGrant, RequestError> {
        let prefix = format!(
            "{}-{}",
            self.broker.config().cluster_name,
            self.record.ledger_id
        );
        let max = self.broker.config().max_producers_per_topic;
        let state = self
            .state
            .as_mut()
            .ok_or_else(|| RequestError::unavailable("the topic"))?;
        let name = state.add_producer(msg.handle, msg.name, &prefix, max)?;
        self.producers.insert(msg.handle, msg.producer);
        Ok(ProducerGrant {
            name,
            ledger_id: self.record.ledger_id,
            last_sequence_id: -1,
        })
    }
}

impl Handler<RemoveProducer> for Topic {
    type Result = ();

    fn handle(&mut self, msg: RemoveProducer, _ctx: &mut Context<Self>) {
        if let Some(state) = self.state.as_mut() {
            state.remove_producer(msg.handle);
        }
        self.producers.remove(&msg.handle);
    }
}

impl Handler<Subscribe> for Topic {
    type Result = ResponseFuture<Result<Attached, RequestError>>;

    fn handle(&mut self, msg: Subscribe, ctx: &mut Context<Self>) -> Self::Result {
        if self.state.is_none() {
            return Box::pin(async { Err(RequestError::unavailable("the topic")) });
        }
        let addr = match self.subscriptions.get(&msg.subscription) {
            Some(slot) => slot.addr.clone(),
            None => {
                let cursor = Cursor::new(&msg.subscription, self.start_floor(&msg));
                self.start_subscription(cursor, msg.durable, ctx)
            }
        };
        let request = addr.send(AddConsumer { spec: msg.consumer });
        Box::pin(async move { request.await.unwrap_or_else(|e| Err(RequestError::from(e))) })
    }
}

impl Handler<SubscriptionRetired> for Topic {
    type Result = ();

    fn handle(&mut self, msg: SubscriptionRetired, _ctx: &mut Context<Self>) {
        // A stale notice from an instance replaced by a restart must not remove its successor.
        if self
            .subscriptions
            .get(&msg.name)
            .is_some_and(|s| s.instance == msg.instance)
        {
            self.subscriptions.remove(&msg.name);
        }
    }
}

impl Handler<DurableEnd> for Topic {
    type Result = u64;

    fn handle(&mut self, _msg: DurableEnd, _ctx: &mut Context<Self>) -> u64 {
        self.state.as_ref().map_or(0, TopicState::durable_next)
    }
}
