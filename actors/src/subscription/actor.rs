//! The Subscription actor: cursor persistence and log reads on behalf of its dispatcher.

use std::{collections::HashMap, sync::Arc};

use actix::{
    fut::wrap_future, Actor, ActorContext, ActorFutureExt, Addr, Arbiter, AsyncContext, Context,
    Handler, ResponseActFuture, ResponseFuture, SpawnHandle, Supervised,
};
use geminga_protocol::proto::{command_subscribe::SubType, MessageIdData};
use geminga_storage::{Cursor, Entry, StorageError, TopicRecord, WriteOp};
use tokio::sync::oneshot;
use tracing::{info_span, warn, Span};

use super::{
    admin::SubscriptionAdmin,
    dead_letter::DeadLetterJob,
    messages::*,
    policy::{epoch_ms, SubscriptionPolicy},
    state::AttachedConsumer,
    state::SubscriptionState,
    stats::SubscriptionCounters,
};
use crate::dispatcher::AddConsumerError;
use crate::{
    consumer::{Consumer, Disconnect},
    context::BrokerContext,
    dispatcher::{
        AddDispatchConsumer, Dispatcher, Entries, EntriesAcked, Redeliver, RemoveDispatchConsumer,
        ResetDispatcher, ShutdownDispatcher,
    },
    error::RequestError,
    nonpersistent,
    stats::SubscriptionStats,
    storage_writer::persist,
    supervision::{supervise, ActorKind, Lifecycle},
    topic::{Attached, CacheRead, DurableEnd, EntryCache, Topic},
};

/// Pause before rewriting a cursor whose write failed.
const CURSOR_RETRY: std::time::Duration = std::time::Duration::from_millis(200);

/// Largest number of bytes read from storage in one go.
pub(super) const MAX_READ_BYTES: usize = 4 * 1024 * 1024;

type AckWaiter = oneshot::Sender<Result<(), RequestError>>;

/// One subscription of a topic. Supervised: a restart disconnects its consumers and reloads
/// the cursor from storage (readers, whose cursor lives in memory, end instead).
pub struct Subscription {
    pub(super) broker: BrokerContext,
    pub(super) lifecycle: Lifecycle,
    pub(super) topic: Addr<Topic>,
    pub(super) record: TopicRecord,
    pub(super) cache: EntryCache,
    pub(super) durable: bool,
    pub(super) name: String,
    /// The cursor and durable end to start from; used by the first start only.
    pub(super) initial: Option<(Cursor, u64)>,
    pub(super) state: Option<SubscriptionState>,
    /// Survives restarts so stale reads are always recognised.
    pub(super) last_epoch: u64,
    pub(super) dispatcher: Option<Addr<Dispatcher>>,
    /// Tells the current dispatcher's exit notice from an older one's.
    pub(super) dispatcher_instance: u64,
    pub(super) consumers: HashMap<u64, Addr<Consumer>>,
    /// A read (log range, re-read of ids, or delayed-index scan) is in flight.
    pub(super) reading: bool,
    pub(super) persist_in_flight: bool,
    pub(super) ack_waiters: Vec<AckWaiter>,
    pub(super) stats: Arc<SubscriptionStats>,
    /// Delayed delivery, dead-letter and backoff settings, and the version they came from.
    pub(super) policy: SubscriptionPolicy,
    pub(super) policy_version: u64,
    /// Figures for metrics; survives restarts.
    pub(super) counters: Arc<SubscriptionCounters>,
    /// The wake-up timer (due delayed entries, policy changes) and when it fires.
    pub(super) wake: Option<(SpawnHandle, u64)>,
    /// When the delayed index was last scanned (epoch ms).
    pub(super) last_scan_ms: u64,
    /// Dead letters being written to the dead-letter topic.
    pub(super) dead_letters: DeadLetterJob,
    pub(super) span: Span,
    /// Counters, termination and policy state for the admin API; survives restarts.
    pub(super) admin: SubscriptionAdmin,
}

impl Subscription {
    /// A subscription over `cursor`; `durable_next` is the topic's durable end.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        broker: BrokerContext,
        lifecycle: Lifecycle,
        topic: Addr<Topic>,
        record: TopicRecord,
        cache: EntryCache,
        cursor: Cursor,
        durable: bool,
        durable_next: u64,
    ) -> Self {
        let span = info_span!("subscription", topic = %record.name, subscription = %cursor.name());
        let stats = broker
            .stats()
            .topic(&record.name)
            .subscription(cursor.name());
        let policies = broker.subscription_policies();
        let (policy, policy_version) = (policies.resolve(&record.name), policies.version());
        Self {
            broker,
            lifecycle,
            topic,
            record,
            cache,
            durable,
            name: cursor.name().to_owned(),
            initial: Some((cursor, durable_next)),
            state: None,
            last_epoch: 0,
            dispatcher: None,
            dispatcher_instance: 0,
            consumers: HashMap::new(),
            reading: false,
            persist_in_flight: false,
            ack_waiters: Vec::new(),
            stats,
            policy,
            policy_version,
            counters: Arc::default(),
            wake: None,
            last_scan_ms: 0,
            dead_letters: DeadLetterJob::default(),
            span,
            admin: SubscriptionAdmin::new(),
        }
    }

    fn install(&mut self, cursor: Cursor, durable_next: u64) {
        let max = self
            .admin
            .max_consumers
            .unwrap_or(self.broker.config().max_consumers_per_subscription);
        let mut state = SubscriptionState::new(
            self.record.ledger_id,
            cursor,
            self.durable,
            durable_next,
            max,
        );
        state.advance_epoch_past(self.last_epoch);
        // A non-durable subscription has no cursor on disk, so no delayed index either: it
        // delivers delayed messages at once (a deviation from Pulsar's in-memory tracker).
        state.set_delays_enabled(self.policy.delayed_delivery_enabled && self.durable);
        self.counters.set_delayed(state.delayed_messages());
        self.last_epoch = state.epoch();
        if let Some(dispatcher) = &self.dispatcher {
            dispatcher.do_send(ResetDispatcher {
                epoch: state.epoch(),
            });
        }
        self.state = Some(state);
        self.publish_stats();
    }

    pub(super) fn ensure_dispatcher(&mut self, ctx: &mut Context<Self>) {
        if self.dispatcher.is_some() {
            return;
        }
        let name = format!("{}/{}", self.record.name, self.name);
        let mut spec = self
            .broker
            .spec(ActorKind::Dispatcher, name, Some(self.lifecycle.id()));
        let instance = self.broker.next_id();
        self.dispatcher_instance = instance;
        let me = self.me(ctx);
        spec.on_exit = Some(Box::new(move |reason| {
            me.do_send(DispatcherExited { instance, reason });
        }));
        let subscription = self.me(ctx);
        let broker = self.broker.clone();
        let addr = supervise(&Arbiter::current(), spec, move |_ctx, lifecycle| {
            Dispatcher::new(broker, lifecycle, subscription)
        });
        self.dispatcher = Some(addr);
    }

    /// Disconnects every consumer (their clients reconnect) and forgets them.
    pub(super) fn disconnect_all(&mut self) {
        self.disconnect_all_except(None);
    }

    /// Like [`Self::disconnect_all`], but `requester` is only forgotten: its connection closes
    /// it after answering the request (a seek answers SUCCESS before CLOSE_CONSUMER, so the
    /// pulsar-rs client's fresh consumer is not beaten by the old one's reconnect).
    fn disconnect_all_except(&mut self, requester: Option<u64>) {
        for (key, consumer) in self.consumers.drain() {
            if Some(key) != requester {
                consumer.do_send(Disconnect);
            }
            if let Some(state) = self.state.as_mut() {
                state.remove_consumer(key);
            }
            if let Some(dispatcher) = &self.dispatcher {
                dispatcher.do_send(RemoveDispatchConsumer { key });
            }
        }
    }

    /// Re-reads everything unacked from the ack floor; the dispatcher forgets what is pending.
    pub(super) fn rewind(&mut self, ctx: &mut Context<Self>) {
        let Some(state) = self.state.as_mut() else {
            return;
        };
        state.rewind();
        self.last_epoch = state.epoch();
        if let Some(dispatcher) = &self.dispatcher {
            dispatcher.do_send(ResetDispatcher {
                epoch: state.epoch(),
            });
        }
        self.read_next(ctx);
    }

    /// Ends the subscription for good.
    pub(super) fn retire(&mut self, ctx: &mut Context<Self>) {
        self.disconnect_all();
        if let Some(dispatcher) = self.dispatcher.take() {
            dispatcher.do_send(ShutdownDispatcher);
        }
        for waiter in self.ack_waiters.drain(..) {
            let _ = waiter.send(Err(RequestError::unavailable("the subscription")));
        }
        self.lifecycle.retire();
        ctx.stop();
    }

    /// Writes the cursor's pending changes (delayed-index keys included); one write in
    /// flight at a time.
    pub(super) fn persist(&mut self, ctx: &mut Context<Self>) {
        if self.persist_in_flight {
            return;
        }
        let update = match self.state.as_mut() {
            Some(state) if self.durable => {
                let update = state.cursor_mut().take_update();
                if update.is_some() {
                    state.on_persist_started();
                }
                update
            }
            _ => None,
        };
        let waiters = std::mem::take(&mut self.ack_waiters);
        let Some(update) = update else {
            for waiter in waiters {
                let _ = waiter.send(Ok(()));
            }
            // Nothing to write: the floor is as durable as it gets (readers keep it in memory).
            self.report_floor();
            return;
        };
        self.persist_in_flight = true;
        let ledger_id = self.record.ledger_id;
        let write = persist(
            self.broker.committer(),
            vec![WriteOp::Cursor { ledger_id, update }],
        );
        let fut = wrap_future::<_, Self>(write).map(move |result, act, ctx| {
            act.persist_in_flight = false;
            if let Some(state) = act.state.as_mut() {
                state.on_persist_finished();
            }
            for waiter in waiters {
                let _ = waiter.send(result.clone());
            }
            match result {
                Ok(()) => {
                    act.report_floor();
                    act.persist(ctx);
                    // Index keys just became visible: some may be due already.
                    act.read_next(ctx);
                }
                Err(e) => {
                    // The in-memory cursor holds acks clients really made; storage failed (or
                    // the writer was lost). Rewrite it whole a little later instead of
                    // restarting, which would redeliver them and, while storage stays down,
                    // escalate to the topic.
                    warn!(parent: &act.span, error = %e, "persisting the cursor failed; retrying");
                    if let Some(state) = act.state.as_mut() {
                        state.cursor_mut().force_full_update();
                    }
                    ctx.run_later(CURSOR_RETRY, |act, ctx| act.persist(ctx));
                }
            }
        });
        ctx.spawn(fut);
    }

    /// Serves the dispatcher's demand: due delayed entries first, then the log, from the
    /// cache or storage, one storage read at a time.
    pub(super) fn read_next(&mut self, ctx: &mut Context<Self>) {
        loop {
            if self.reading {
                return;
            }
            let Some(state) = self.state.as_mut() else {
                return;
            };
            if let Some(due) = state.due_read(epoch_ms()) {
                return self.read_due(due, ctx);
            }
            let Some((from, max)) = state.next_read() else {
                return self.on_read_idle();
            };
            if let Some(view) = self.compacted_source(from) {
                return self.read_compacted(from, max, view, ctx);
            }
            let hit = match self.cache.read(from, max, MAX_READ_BYTES) {
                CacheRead::Hit(entries) if entries.first().map(|e| e.entry_id) == Some(from) => {
                    Some(entries)
                }
                _ => None,
            };
            let Some(entries) = hit else {
                if nonpersistent::is_non_persistent(&self.record.name) {
                    // Evicted from memory before anyone could take it: nowhere else to read.
                    self.drop_unread_entries();
                    continue;
                }
                return self.read_storage(from, max, ctx);
            };
            self.hand_over(from, entries, ctx);
        }
    }

    fn read_storage(&mut self, from: u64, max: usize, ctx: &mut Context<Self>) {
        self.reading = true;
        let storage = self.broker.storage().clone();
        let ledger_id = self.record.ledger_id;
        let read = actix_rt::task::spawn_blocking(move || {
            storage.read_entries(ledger_id, from, max, MAX_READ_BYTES)
        });
        let fut = wrap_future::<_, Self>(read).map(move |joined, act, ctx| {
            act.reading = false;
            match flatten(joined) {
                Ok(entries) => {
                    act.hand_over(from, entries, ctx);
                    act.read_next(ctx);
                }
                Err(e) => {
                    warn!(parent: &act.span, error = %e, "reading the log failed; restarting");
                    ctx.stop();
                }
            }
        });
        ctx.spawn(fut);
    }

    fn hand_over(&mut self, from: u64, entries: Vec<Entry>, ctx: &mut Context<Self>) {
        let Some(state) = self.state.as_mut() else {
            return;
        };
        let epoch = state.epoch();
        let delayed_before = state.delayed_messages();
        let out = state.on_read(from, entries, epoch_ms());
        let delayed = state.delayed_messages();
        let unacked = state.dispatched_unacked();
        self.dispatch_read(epoch, unacked, out);
        if delayed != delayed_before {
            // Deferred entries and their index keys are made durable right away.
            self.counters.set_delayed(delayed);
            self.persist(ctx);
            self.schedule_wake(ctx);
        }
    }

    /// Hands entries read from a log (the topic's or the compacted one) to the dispatcher,
    /// after noting them in the unacked gauge and the admin figures.
    pub(super) fn dispatch_read(
        &mut self,
        epoch: u64,
        unacked: u64,
        out: Vec<crate::dispatcher::ReadEntry>,
    ) {
        self.stats
            .unacked
            .store(unacked, std::sync::atomic::Ordering::Relaxed);
        self.admin
            .on_handed_over(out.iter().map(|r| &r.entry), false);
        if let (false, Some(dispatcher)) = (out.is_empty(), &self.dispatcher) {
            dispatcher.do_send(Entries {
                epoch,
                entries: out,
                redelivered: false,
            });
        }
    }

    fn last_message_id(&self) -> Result<LastMessageId, RequestError> {
        let state = self
            .state
            .as_ref()
            .ok_or_else(|| RequestError::unavailable("the subscription"))?;
        let ledger_id = self.record.ledger_id;
        let (entry_id, batch_index) = match state.durable_next().checked_sub(1) {
            None => (u64::MAX, -1),
            Some(last) => {
                let messages = self.cache.get(last).map_or(1, |e| e.meta.num_messages);
                let batch_index = if messages > 1 {
                    i32::try_from(messages - 1).unwrap_or(-1)
                } else {
                    -1
                };
                (last, batch_index)
            }
        };
        let last = MessageIdData {
            ledger_id,
            entry_id,
            batch_index: Some(batch_index),
            ..Default::default()
        };
        let mark_delete_entry = state.cursor().mark_delete().unwrap_or(u64::MAX);
        let mark_delete = MessageIdData {
            ledger_id,
            entry_id: mark_delete_entry,
            ..Default::default()
        };
        Ok(LastMessageId { last, mark_delete })
    }
}

pub(super) fn flatten<T>(
    joined: Result<Result<T, StorageError>, tokio::task::JoinError>,
) -> Result<T, RequestError> {
    match joined {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(e)) => Err(RequestError::from(e)),
        Err(_) => Err(RequestError::unavailable("a storage read")),
    }
}

impl Actor for Subscription {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        self.ensure_dispatcher(ctx);
        self.send_dispatch_policy();
        self.schedule_wake(ctx);
        if let Some((cursor, durable_next)) = self.initial.take() {
            self.install(cursor, durable_next);
            // A new durable subscription is persisted before its first consumer is answered.
            self.persist(ctx);
            return;
        }
        if !self.durable {
            // A reader's cursor lived in memory only: nothing to restart from.
            self.retire(ctx);
            return;
        }
        let storage = self.broker.storage().clone();
        let ledger_id = self.record.ledger_id;
        let name = self.name.clone();
        // Cursor writes queued before the restart are settled before the cursor is read.
        let barrier = persist(self.broker.committer(), Vec::new());
        let load = async move {
            let _ = barrier.await;
            actix_rt::task::spawn_blocking(move || storage.load_cursor(ledger_id, &name)).await
        };
        let end = self.topic.send(DurableEnd);
        let fut = wrap_future::<_, Self>(async move { (load.await, end.await) }).map(
            |(cursor, end), act, ctx| {
                match (flatten(cursor), end) {
                    (Ok(Some(cursor)), Ok(durable_next)) => {
                        act.install(cursor, durable_next);
                        act.read_next(ctx);
                    }
                    (Ok(None), _) => act.retire(ctx), // deleted meanwhile
                    (Err(e), _) => {
                        warn!(parent: &act.span, error = %e, "reloading the cursor failed");
                        ctx.stop();
                    }
                    (_, Err(_)) => ctx.stop(),
                }
            },
        );
        ctx.wait(fut);
    }
}

impl Supervised for Subscription {
    /// Consumers are disconnected (their clients reconnect); `started` reloads the cursor.
    fn restarting(&mut self, _ctx: &mut Context<Self>) {
        warn!(parent: &self.span, "subscription restarting: disconnecting consumers");
        self.disconnect_all();
        for waiter in self.ack_waiters.drain(..) {
            let _ = waiter.send(Err(RequestError::unavailable("the subscription")));
        }
        self.state = None;
        self.reading = false;
        self.persist_in_flight = false;
        // The context's timers and futures are gone with the restart.
        self.wake = None;
        self.dead_letters = DeadLetterJob::default();
    }
}

impl Handler<AddConsumer> for Subscription {
    type Result = ResponseActFuture<Self, Result<Attached, RequestError>>;

    /// Applies the attachment rules, then lets the dispatcher check what only it knows
    /// (Key_Shared modes and hash ranges) before the consumer counts as attached.
    fn handle(&mut self, msg: AddConsumer, ctx: &mut Context<Self>) -> Self::Result {
        let unavailable = || RequestError::unavailable("the subscription");
        let (Some(dispatcher), Some(state)) = (self.dispatcher.clone(), self.state.as_mut()) else {
            return Box::pin(actix::fut::ready(Err(unavailable())));
        };
        let spec = msg.spec;
        let compactable = matches!(spec.sub_type, SubType::Exclusive | SubType::Failover)
            && !nonpersistent::is_non_persistent(&self.record.name);
        if spec.read_compacted && !compactable {
            return Box::pin(actix::fut::ready(Err(RequestError::NotAllowed {
                reason: "Read compacted can only be used with exclusive or failover persistent \
                         subscriptions"
                    .into(),
            })));
        }
        let first = state.consumers().is_empty();
        let attach = state.add_consumer(AttachedConsumer {
            key: spec.key,
            name: spec.name.clone(),
            sub_type: spec.sub_type,
        });
        if let Err(e) = attach {
            return Box::pin(actix::fut::ready(Err(e)));
        }
        self.admin.on_consumer_added(spec.key, spec.sub_type);
        self.admin.read_compacted = spec.read_compacted || (!first && self.admin.read_compacted);
        let key = spec.key;
        self.consumers.insert(key, spec.addr.clone());
        if state.refresh_delays() {
            // Exclusive/Failover deliver delayed messages at once: read them again, in order.
            self.counters.set_delayed(0);
            self.rewind(ctx);
            self.persist(ctx);
        }
        let attached = Attached {
            stats: self.stats.clone(),
            subscription: self.me(ctx),
            dispatcher: dispatcher.clone(),
            ledger_id: self.record.ledger_id,
        };
        let added = dispatcher.send(AddDispatchConsumer { spec });
        Box::pin(wrap_future::<_, Self>(added).map(move |added, act, ctx| {
            let refusal = match added {
                Ok(Ok(())) => {
                    act.publish_stats();
                    return Ok(attached);
                }
                Ok(Err(AddConsumerError::HashRangeConflict { reason })) => {
                    RequestError::ConsumerAssign {
                        subscription: act.name.clone(),
                        reason,
                    }
                }
                Ok(Err(refused)) => RequestError::ConsumerBusy {
                    subscription: act.name.clone(),
                    reason: refused.to_string(),
                },
                Err(e) => RequestError::from(e),
            };
            act.detach(key, ctx);
            Err(refusal)
        }))
    }
}

impl Subscription {
    /// Forgets a consumer: the dispatcher redelivers what it held; a reader may retire.
    fn detach(&mut self, key: u64, ctx: &mut Context<Self>) {
        let Some(state) = self.state.as_mut() else {
            return;
        };
        let single_active = state.is_single_active();
        if !state.remove_consumer(key) {
            return;
        }
        self.consumers.remove(&key);
        self.admin.on_consumer_removed(key);
        if let Some(dispatcher) = &self.dispatcher {
            dispatcher.do_send(RemoveDispatchConsumer { key });
        }
        let retire = state.should_retire();
        self.publish_stats();
        if retire {
            return self.retire(ctx);
        }
        if single_active {
            // Exclusive/Failover: the next consumer gets everything unacked, in order.
            self.rewind(ctx);
        }
    }
}

impl Handler<RemoveConsumer> for Subscription {
    type Result = ();

    fn handle(&mut self, msg: RemoveConsumer, ctx: &mut Context<Self>) {
        self.detach(msg.key, ctx);
    }
}

impl Handler<RedeliverAll> for Subscription {
    type Result = ();

    fn handle(&mut self, msg: RedeliverAll, ctx: &mut Context<Self>) {
        let Some(state) = self.state.as_ref() else {
            return;
        };
        if state.is_single_active() {
            // As Pulsar's single-active dispatchers do: re-read from the ack floor, in order.
            self.rewind(ctx);
        } else if let Some(dispatcher) = &self.dispatcher {
            dispatcher.do_send(Redeliver {
                key: msg.key,
                ids: None,
            });
        }
    }
}

impl Handler<Ack> for Subscription {
    type Result = ResponseFuture<Result<(), RequestError>>;

    fn handle(&mut self, msg: Ack, ctx: &mut Context<Self>) -> Self::Result {
        let Some(state) = self.state.as_mut() else {
            return Box::pin(async { Err(RequestError::unavailable("the subscription")) });
        };
        let outcome = match state.apply_ack(msg.ack_type, &msg.ids) {
            Ok(outcome) => outcome,
            Err(e) => return Box::pin(async move { Err(e) }),
        };
        self.publish_stats();
        self.admin.last_acked_ms = super::admin::now_ms();
        if let Some(dispatcher) = &self.dispatcher {
            if !outcome.acked.is_empty() || outcome.up_to.is_some() {
                dispatcher.do_send(EntriesAcked {
                    ids: outcome.acked,
                    up_to: outcome.up_to,
                });
            }
        }
        self.tell_end_of_topic();
        if !self.durable {
            self.report_floor();
            return Box::pin(async { Ok(()) });
        }
        let waiter = msg.wait_durable.then(|| {
            let (tx, rx) = oneshot::channel();
            self.ack_waiters.push(tx);
            rx
        });
        self.persist(ctx);
        Box::pin(async move {
            match waiter {
                Some(rx) => rx
                    .await
                    .unwrap_or_else(|_| Err(RequestError::unavailable("the subscription"))),
                None => Ok(()),
            }
        })
    }
}

impl Handler<Seek> for Subscription {
    type Result = ResponseActFuture<Self, Result<(), RequestError>>;

    fn handle(&mut self, msg: Seek, _ctx: &mut Context<Self>) -> Self::Result {
        let storage = self.broker.storage().clone();
        let ledger_id = self.record.ledger_id;
        let durable_next = self
            .state
            .as_ref()
            .map_or(0, SubscriptionState::durable_next);
        let find = async move {
            match msg.target {
                SeekTarget::Entry(u64::MAX) => Ok(0),
                SeekTarget::Entry(id) if id >= i64::MAX as u64 => Ok(durable_next),
                SeekTarget::Entry(id) => Ok(id),
                SeekTarget::PublishTime(t) => {
                    let found = actix_rt::task::spawn_blocking(move || {
                        storage.find_by_publish_time(ledger_id, t)
                    })
                    .await;
                    flatten(found).map(|entry| entry.unwrap_or(durable_next))
                }
            }
        };
        let requester = msg.key;
        Box::pin(wrap_future::<_, Self>(find).then(move |floor, act, ctx| {
            let applied = floor.and_then(|floor| {
                let state = act
                    .state
                    .as_mut()
                    .ok_or_else(|| RequestError::unavailable("the subscription"))?;
                state.reset(floor);
                act.last_epoch = state.epoch();
                let epoch = state.epoch();
                act.publish_stats();
                Ok(epoch)
            });
            let waiter = applied.map(|epoch| {
                act.disconnect_all_except(Some(requester));
                if let Some(dispatcher) = &act.dispatcher {
                    dispatcher.do_send(ResetDispatcher { epoch });
                }
                let (tx, rx) = oneshot::channel();
                act.ack_waiters.push(tx);
                act.persist(ctx);
                rx
            });
            wrap_future::<_, Self>(async move {
                match waiter {
                    Ok(rx) => rx
                        .await
                        .unwrap_or_else(|_| Err(RequestError::unavailable("the subscription"))),
                    Err(e) => Err(e),
                }
            })
        }))
    }
}

impl Handler<Unsubscribe> for Subscription {
    type Result = ResponseActFuture<Self, Result<(), RequestError>>;

    fn handle(&mut self, msg: Unsubscribe, _ctx: &mut Context<Self>) -> Self::Result {
        let others = self.state.as_ref().map_or(0, |s| {
            s.consumers().iter().filter(|c| c.key != msg.key).count()
        });
        if others > 0 {
            let subscription = self.name.clone();
            return Box::pin(actix::fut::ready(Err(RequestError::ConsumerBusy {
                subscription,
                reason: "other consumers are connected".into(),
            })));
        }
        let ledger_id = self.record.ledger_id;
        let ops = vec![WriteOp::DeleteCursor {
            ledger_id,
            name: self.name.clone(),
        }];
        let durable = self.durable;
        let delete = durable.then(|| persist(self.broker.committer(), ops));
        Box::pin(
            wrap_future::<_, Self>(async move {
                if let Some(delete) = delete {
                    delete.await
                } else {
                    Ok(())
                }
            })
            .map(move |result, act, ctx| {
                if result.is_ok() {
                    // The requester is closed by its connection, without a CLOSE_CONSUMER.
                    act.consumers.remove(&msg.key);
                    act.retire(ctx);
                }
                result
            }),
        )
    }
}

impl Handler<GetLastMessageId> for Subscription {
    type Result = ResponseActFuture<Self, Result<LastMessageId, RequestError>>;

    /// A read-compacted subscription whose whole log lies inside the compacted view gets the
    /// last message compaction kept: the log's own last message may have been compacted
    /// away, and a reader told it exists would wait for it forever.
    fn handle(&mut self, _msg: GetLastMessageId, _ctx: &mut Context<Self>) -> Self::Result {
        let answer = self.last_message_id();
        let tail = answer.as_ref().map_or(u64::MAX, |a| a.last.entry_id);
        let view = self
            .admin
            .compacted_view
            .filter(|view| self.admin.read_compacted && tail <= view.horizon);
        let Some(view) = view else {
            return Box::pin(actix::fut::ready(answer));
        };
        let storage = self.broker.storage().clone();
        let read = actix_rt::task::spawn_blocking(move || {
            super::log_upkeep::compacted_last(&storage, view)
        });
        Box::pin(wrap_future::<_, Self>(read).map(move |joined, _act, _ctx| {
            let mut answer = answer?;
            let (entry_id, batch_index) = flatten(joined)?.unwrap_or((u64::MAX, -1));
            answer.last.entry_id = entry_id;
            answer.last.batch_index = Some(batch_index);
            Ok(answer)
        }))
    }
}

impl Handler<Demand> for Subscription {
    type Result = ();

    fn handle(&mut self, msg: Demand, ctx: &mut Context<Self>) {
        if let Some(state) = self.state.as_mut() {
            if state.set_demand(msg.epoch, msg.entries) {
                self.admin.last_demand = msg.entries;
                self.read_next(ctx);
            }
        }
    }
}

impl Handler<ReadIds> for Subscription {
    type Result = ();

    fn handle(&mut self, msg: ReadIds, ctx: &mut Context<Self>) {
        let mut found = Vec::new();
        let mut missing = Vec::new();
        // Read-compacted consumers get entries below the horizon from the compacted log.
        let mut compacted = Vec::new();
        for id in msg.ids {
            if let Some(view) = self.compacted_source(id) {
                compacted.push((view.ledger_id, id));
                continue;
            }
            match self.cache.get(id) {
                Some(entry) => found.push(entry),
                None => missing.push(id),
            }
        }
        let storage = self.broker.storage().clone();
        let ledger_id = self.record.ledger_id;
        let read = actix_rt::task::spawn_blocking(move || -> Result<_, StorageError> {
            for id in missing {
                if let Some(entry) = storage.read_entry(ledger_id, id)? {
                    found.push(entry);
                }
            }
            let mut from_compacted = Vec::new();
            for (compacted_ledger, id) in compacted {
                if let Some(entry) = storage.read_entry(compacted_ledger, id)? {
                    from_compacted.push(entry);
                }
            }
            let (from_compacted, masks) = super::log_upkeep::with_masks(from_compacted);
            found.extend(from_compacted);
            found.sort_by_key(|e| e.entry_id);
            Ok((found, masks))
        });
        let fut = wrap_future::<_, Self>(read).map(move |joined, act, ctx| match flatten(joined) {
            Ok((entries, masks)) => {
                let Some(state) = act.state.as_ref() else {
                    return;
                };
                let mut entries = state.filter_unacked(entries);
                super::log_upkeep::apply_masks(&mut entries, &masks);
                act.admin
                    .on_handed_over(entries.iter().map(|r| &r.entry), true);
                if let Some(dispatcher) = &act.dispatcher {
                    dispatcher.do_send(Entries {
                        epoch: msg.epoch,
                        entries,
                        redelivered: true,
                    });
                }
            }
            Err(e) => {
                warn!(parent: &act.span, error = %e, "re-reading entries failed; restarting");
                ctx.stop();
            }
        });
        ctx.spawn(fut);
    }
}

impl Handler<EntriesAvailable> for Subscription {
    type Result = ();

    fn handle(&mut self, msg: EntriesAvailable, ctx: &mut Context<Self>) {
        if let Some(state) = self.state.as_mut() {
            state.set_durable_next(msg.durable_next);
            self.read_next(ctx);
            self.publish_stats();
        }
    }
}

impl Handler<DispatcherRestarted> for Subscription {
    type Result = ();

    fn handle(&mut self, _msg: DispatcherRestarted, ctx: &mut Context<Self>) {
        self.send_dispatch_policy();
        self.disconnect_all();
        self.reapply_dispatcher_policies();
        if let Some(state) = self.state.as_mut() {
            state.rewind();
            self.last_epoch = state.epoch();
            if let Some(dispatcher) = &self.dispatcher {
                dispatcher.do_send(ResetDispatcher {
                    epoch: state.epoch(),
                });
            }
        }
        self.read_next(ctx);
    }
}

impl Handler<ShutdownSubscription> for Subscription {
    type Result = ();

    fn handle(&mut self, _msg: ShutdownSubscription, ctx: &mut Context<Self>) {
        self.flush_cursor();
        self.retire(ctx);
    }
}
