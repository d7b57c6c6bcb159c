//! The Topic actor: appends through the storage writer and fans out to its subscriptions.

use std::{collections::HashMap, sync::Arc};

use actix::{
    fut::wrap_future, Actor, ActorContext, ActorFutureExt, Addr, Arbiter, AsyncContext, Context,
    Handler, Supervised,
};
use geminga_protocol::proto::command_subscribe::InitialPosition;
use geminga_storage::{Cursor, StorageError, TopicRecord, WriteOp};
use tracing::{info, info_span, warn, Span};

use super::{
    access::ProducerAccess,
    admin::TopicAdmin,
    cache::EntryCache,
    compaction::{view_of, CompactedView, CompactionState},
    dedup::{last_batch_sequence, Verdict},
    messages::{DurableEnd, Publish, Subscribe, SubscriptionRetired, DUPLICATE_ENTRY},
    policies::{self, TopicPolicies},
    policy_state::{load_policy_state, LoadedPolicies, TopicPolicyState},
    state::TopicState,
    upkeep::{Upkeep, COMPACTION_SUBSCRIPTION},
};
use crate::{
    context::BrokerContext,
    error::RequestError,
    nonpersistent,
    producer::{Producer, TopicClosing},
    stats::TopicStats,
    storage_writer::persist,
    subscription::{EntriesAvailable, ShutdownSubscription, Subscription},
    supervision::{supervise, ActorKind, ExitReason, Lifecycle},
};

/// Tries of the storage barrier before a load fails, and the pause between them.
const BARRIER_ATTEMPTS: u32 = 50;
const BARRIER_RETRY: std::time::Duration = std::time::Duration::from_millis(200);

/// How long a restarted topic waits for its old subscriptions to shut down.
const SHUTDOWN_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

/// What the topic loads from storage when it starts.
struct Loaded {
    first_entry: u64,
    next_entry: u64,
    cursors: Vec<Cursor>,
    storage_size: u64,
    policies: TopicPolicies,
    compacted: Option<CompactedView>,
    terminated: bool,
    extra: LoadedPolicies,
}

/// A subscription of this topic and the instance number that tells restarts apart.
pub(super) struct SubscriptionSlot {
    pub(super) addr: Addr<Subscription>,
    pub(super) instance: u64,
    /// Whether its cursor is stored, so a lost instance can be replaced from storage.
    pub(super) durable: bool,
}

/// One topic. Supervised: after a crash it closes every producer and consumer attached (their
/// clients reconnect), reloads its log end and cursors from storage and carries on.
pub struct Topic {
    pub(super) broker: BrokerContext,
    pub(super) lifecycle: Lifecycle,
    pub(super) record: TopicRecord,
    /// `None` until the log end is loaded.
    pub(super) state: Option<TopicState>,
    /// Lowest entry id still stored (Earliest positions start here).
    pub(super) first_entry: u64,
    pub(super) cache: EntryCache,
    pub(super) subscriptions: HashMap<String, SubscriptionSlot>,
    pub(super) producers: HashMap<u64, Addr<Producer>>,
    /// Set while reloading the log end after a failed write.
    pub(super) recovering: bool,
    /// Subscriptions of the previous incarnation, shut down before the restarted topic reads
    /// the cursors.
    pub(super) closing: Vec<Addr<Subscription>>,
    pub(super) stats: Arc<TopicStats>,
    pub(super) span: Span,
    /// Memory-only mode (`non-persistent://`): nothing goes through storage.
    pub(super) non_persistent: bool,
    /// Counters, termination, closing and policies for the admin API.
    pub(super) admin: TopicAdmin,
    /// Retention, backlog quotas and the cursor floors that hold the log.
    pub(super) upkeep: Upkeep,
    /// The compacted log and the compaction status.
    pub(super) compaction: CompactionState,
    /// Namespace policies, deduplication, producer access and rate limiters.
    pub(super) policy: TopicPolicyState,
}

impl Topic {
    /// A topic over `record`'s ledger; it loads its state in `started`.
    pub fn new(broker: BrokerContext, lifecycle: Lifecycle, record: TopicRecord) -> Self {
        let cache = EntryCache::new(broker.config().topic_cache_bytes);
        let span = info_span!("topic", topic = %record.name);
        let stats = broker.stats().topic(&record.name);
        let non_persistent = nonpersistent::is_non_persistent(&record.name);
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
            closing: Vec::new(),
            stats,
            span,
            non_persistent,
            admin: TopicAdmin::default(),
            upkeep: Upkeep::default(),
            compaction: CompactionState::default(),
            policy: TopicPolicyState::default(),
        }
    }

    /// The address to hand out (see [`Lifecycle::address`]).
    fn me(&self, ctx: &Context<Self>) -> Addr<Self> {
        self.lifecycle.address().unwrap_or_else(|| ctx.address())
    }

    /// Reads the log end and the cursors after a successful barrier through the storage
    /// writer. The barrier orders: appends a previous incarnation queued are settled first, so
    /// no entry id is handed out twice. Its success (an fsync) makes durable whatever an append
    /// that failed at its fsync left in storage, so nothing not durable becomes visible to
    /// consumers. While storage keeps failing the barrier is retried, for about 10 s.
    fn load(&self) -> impl std::future::Future<Output = Result<Loaded, StorageError>> {
        let storage = self.broker.storage().clone();
        let ledger_id = self.record.ledger_id;
        let broker = self.broker.clone();
        let (name, non_persistent) = (self.record.name.clone(), self.non_persistent);
        async move {
            let mut attempts = 0;
            // Queued when first polled, i.e. after whatever the caller awaited before.
            while let Err(e) = persist(broker.committer(), Vec::new()).await {
                attempts += 1;
                if attempts >= BARRIER_ATTEMPTS {
                    return Err(StorageError::from(std::io::Error::other(e.to_string())));
                }
                tokio::time::sleep(BARRIER_RETRY).await;
            }
            let joined = actix_rt::task::spawn_blocking(move || -> Result<Loaded, StorageError> {
                let policies = policies::load_policies(storage.metadata(), &name)?;
                let extra = load_policy_state(&broker, &name, ledger_id, non_persistent)?;
                if non_persistent {
                    // Memory only: an empty log, no cursors, never terminated.
                    return Ok(Loaded {
                        first_entry: 0,
                        next_entry: 0,
                        cursors: Vec::new(),
                        storage_size: 0,
                        policies,
                        compacted: None,
                        terminated: false,
                        extra,
                    });
                }
                let terminated = policies::load_terminated(storage.metadata(), &name)?;
                let bounds = storage.log_bounds(ledger_id)?;
                let cursors = storage.load_cursors(ledger_id)?;
                let floors = cursors.iter().map(Cursor::ack_floor).max().unwrap_or(0);
                // A fully trimmed log has no last entry: ids continue after the trim point so
                // they are never reused.
                let trimmed = storage.trimmed_before(ledger_id)?;
                let next_entry = bounds.map_or(0, |b| b.last + 1).max(floors).max(trimmed);
                let first_entry = bounds.map_or(next_entry, |b| b.first);
                let compacted = compacted_view(&storage, ledger_id, &cursors)?;
                let storage_size = storage.log_size_bytes(ledger_id)?;
                Ok(Loaded {
                    first_entry,
                    next_entry,
                    cursors,
                    storage_size,
                    policies,
                    compacted,
                    terminated,
                    extra,
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
        // The log end was read after a barrier, so appends are safe again even if a replaced
        // storage writer fenced this ledger.
        self.broker.committer().unfence(self.record.ledger_id);
        self.stats
            .storage_size
            .store(loaded.storage_size, std::sync::atomic::Ordering::Relaxed);
        self.stats
            .producers
            .store(0, std::sync::atomic::Ordering::Relaxed);
        self.admin.policies = loaded.policies;
        self.admin.terminated = loaded.terminated;
        self.policy.namespace = loaded.extra.namespace;
        self.policy.access = ProducerAccess::with_epoch(loaded.extra.epoch);
        let stored_sequences = !loaded.extra.sequences.is_empty();
        self.apply_effective(ctx);
        if self.policy.dedup.enabled() {
            self.policy.dedup.restore(loaded.extra.sequences);
        } else if stored_sequences {
            self.clear_stored_sequences(ctx);
        }
        self.compaction.restore(loaded.compacted);
        for cursor in loaded.cursors {
            self.start_subscription(cursor, true, ctx);
        }
        self.policies_changed(ctx);
        info!(parent: &self.span, next_entry = loaded.next_entry, "topic loaded");
    }

    pub(super) fn start_subscription(
        &mut self,
        cursor: Cursor,
        durable: bool,
        ctx: &mut Context<Self>,
    ) -> Addr<Subscription> {
        let name = cursor.name().to_owned();
        self.upkeep.add_hold(&name, durable, cursor.ack_floor());
        let instance = self.broker.next_id();
        let topic = self.me(ctx);
        let mut spec = self.broker.spec(
            ActorKind::Subscription,
            format!("{}/{}", self.record.name, name),
            Some(self.lifecycle.id()),
        );
        let retired_name = name.clone();
        spec.on_exit = Some(Box::new(move |reason| {
            topic.do_send(SubscriptionRetired {
                name: retired_name,
                instance,
                reason,
            });
        }));
        let broker = self.broker.clone();
        let topic_addr = self.me(ctx);
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
                durable,
            },
        );
        self.brief_subscription(&addr);
        addr
    }

    pub(super) fn has_subscription(&self, name: &str) -> bool {
        self.subscriptions.contains_key(name)
    }

    pub(super) fn first_entry(&self) -> u64 {
        self.first_entry
    }

    pub(super) fn ledger_id(&self) -> u64 {
        self.record.ledger_id
    }

    pub(super) fn start_durable_subscription(&mut self, cursor: Cursor, ctx: &mut Context<Self>) {
        self.start_subscription(cursor, true, ctx);
    }

    /// Where a new subscription's cursor starts.
    pub(super) fn start_floor(&self, msg: &Subscribe) -> u64 {
        let durable_next = self.state.as_ref().map_or(0, TopicState::durable_next);
        // Read-compacted consumers start with the compacted log, which may reach below the
        // first entry still stored.
        let earliest = match self.compaction.view() {
            Some(_) if msg.consumer.read_compacted => 0,
            _ => self.first_entry,
        };
        let by_position = match msg.initial_position {
            // Non-persistent consumers only get what is published after they attach.
            _ if self.non_persistent => return durable_next,
            InitialPosition::Earliest => earliest,
            InitialPosition::Latest => durable_next,
        };
        match msg.start_message_id.filter(|_| !msg.durable) {
            None => by_position,
            Some(id) if id.is_earliest() => earliest,
            Some(id) if id.is_latest() => durable_next,
            Some(id) => id.entry_id.clamp(earliest, durable_next),
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
                for entry in &ready {
                    self.policy.dedup.on_durable(entry.entry_id);
                    self.stats
                        .on_published(u64::from(entry.meta.num_messages), entry.data.len() as u64);
                }
                if !ready.is_empty() {
                    self.cache.push(ready);
                    self.notify_subscriptions();
                    let quotas = self
                        .broker
                        .config()
                        .storage_policies
                        .backlog_quota_check_enabled;
                    if self.upkeep.publish_matters(quotas) {
                        self.request_upkeep(ctx);
                    }
                }
            }
            Err(e) => {
                state.on_failed(entry_id);
                self.policy.dedup.on_failed(entry_id);
                warn!(parent: &self.span, entry_id, error = %e, "append failed; fencing the topic");
                self.maybe_recover(ctx);
            }
        }
        let in_flight = self.state.as_ref().is_some_and(TopicState::has_in_flight);
        self.admin.on_write_settled(in_flight);
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
                    act.broker.committer().unfence(act.record.ledger_id);
                    if let Some(state) = act.state.as_mut() {
                        state.recover(loaded.next_entry);
                    }
                    if act.policy.dedup.enabled() {
                        act.policy.dedup.restore(loaded.extra.sequences);
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
        // After a restart, the old subscriptions first queue their last cursor changes, then
        // the load's barrier and cursor reads follow them (bounded, in case one is stalled).
        let shutdowns: Vec<_> = self
            .closing
            .drain(..)
            .map(|sub| sub.send(ShutdownSubscription))
            .collect();
        let load = self.load();
        let ready = async move {
            let all = futures_util::future::join_all(shutdowns);
            let _ = tokio::time::timeout(SHUTDOWN_WAIT, all).await;
            load.await
        };
        let fut = wrap_future::<_, Self>(ready).map(|loaded, act, ctx| match loaded {
            Ok(loaded) => act.on_loaded(loaded, ctx),
            Err(e) => {
                warn!(parent: &act.span, error = %e, "loading the topic failed; restarting");
                ctx.stop();
            }
        });
        // Hold every message until the log end is known.
        ctx.wait(fut);
        self.start_ttl_timer(ctx);
        self.start_upkeep_timer(ctx);
    }
}

impl Supervised for Topic {
    /// Everything attached is closed (clients reconnect) and reloaded in `started`.
    fn restarting(&mut self, _ctx: &mut Context<Self>) {
        warn!(parent: &self.span, "topic restarting: closing producers and subscriptions");
        for (_, producer) in self.producers.drain() {
            producer.do_send(TopicClosing);
        }
        // Shut down (and awaited) in `started`, before the cursors are read again.
        self.closing
            .extend(self.subscriptions.drain().map(|(_, slot)| slot.addr));
        self.stats
            .producers
            .store(0, std::sync::atomic::Ordering::Relaxed);
        self.admin.forget_producers();
        self.upkeep.clear_holds();
        self.policy.waiting.clear();
        self.state = None;
        self.recovering = false;
        self.cache.clear();
    }
}

impl Handler<Publish> for Topic {
    type Result = ();

    fn handle(&mut self, msg: Publish, ctx: &mut Context<Self>) {
        if let Some(refused) = self.admin.refusal(&self.record.name) {
            let _ = msg.reply.send(Err(refused));
            return;
        }
        let ledger_id = self.record.ledger_id;
        let (handle, messages, bytes) =
            (msg.producer_handle, msg.meta.num_messages, msg.data.len());
        let (lowest, mut highest) = msg.sequence;
        let producer = self
            .state
            .as_ref()
            .and_then(|s| s.producer_name(handle))
            .filter(|_| self.policy.dedup.enabled())
            .map(str::to_owned);
        let mut sequence = None;
        if let Some(name) = &producer {
            if highest <= lowest && msg.meta.num_messages > 1 {
                let limit = self.broker.config().max_message_size;
                highest = last_batch_sequence(&msg.data, msg.meta.num_messages, limit)
                    .map_or(lowest, |last| last.max(lowest));
            }
            match self.policy.dedup.check(name, lowest, highest) {
                Verdict::Store { highest } => sequence = Some((name.clone(), highest)),
                Verdict::Duplicate => {
                    let _ = msg.reply.send(Ok(DUPLICATE_ENTRY));
                    return;
                }
                Verdict::Wait => return self.policy.dedup.wait(name, lowest, msg.reply),
            }
        }
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
        let reply = msg.reply;
        if self.non_persistent {
            // Never written anywhere: an entry counts as durable once it has its id.
            self.on_write_result(entry_id, &Ok(()), ctx);
            self.admin.on_published(handle, messages, bytes);
            let _ = reply.send(Ok(entry_id));
            return;
        }
        let mut ops = vec![WriteOp::Append { ledger_id, entry }];
        if let Some((name, highest)) = sequence {
            self.policy.dedup.on_stored(entry_id, &name, highest);
            ops.push(WriteOp::Sequence {
                ledger_id,
                producer: name,
                sequence_id: highest,
            });
        }
        let write = persist(self.broker.committer(), ops);
        ctx.spawn(wrap_future::<_, Self>(write).map(move |result, act, ctx| {
            act.on_write_result(entry_id, &result, ctx);
            if result.is_ok() {
                act.admin.on_published(handle, messages, bytes);
            }
            let _ = reply.send(result.map(|()| entry_id));
        }));
    }
}

impl Handler<SubscriptionRetired> for Topic {
    type Result = ();

    fn handle(&mut self, msg: SubscriptionRetired, ctx: &mut Context<Self>) {
        // A stale notice from an instance replaced by a restart must not remove its successor.
        let current = self
            .subscriptions
            .get(&msg.name)
            .is_some_and(|s| s.instance == msg.instance);
        if !current {
            return;
        }
        let Some(slot) = self.subscriptions.remove(&msg.name) else {
            return;
        };
        match msg.reason {
            ExitReason::Retired | ExitReason::Unreferenced => {
                self.stats.remove_subscription(&msg.name);
                self.release_hold(&msg.name, ctx);
            }
            // Escalation: the subscription keeps failing, so restart the whole topic (within
            // the topic's own budget), which reloads every cursor from storage.
            ExitReason::BudgetExhausted => {
                warn!(parent: &self.span, subscription = %msg.name, "subscription escalated; restarting the topic");
                ctx.stop();
            }
            // Lost (mailbox dropped): replace it from its stored cursor.
            _ if slot.durable => self.replace_subscription(msg.name, ctx),
            _ => self.release_hold(&msg.name, ctx),
        }
    }
}

impl Handler<DurableEnd> for Topic {
    type Result = u64;

    fn handle(&mut self, _msg: DurableEnd, _ctx: &mut Context<Self>) -> u64 {
        self.state.as_ref().map_or(0, TopicState::durable_next)
    }
}

/// The compacted log recorded in the `__compaction` cursor, if any; deletes compacted ledgers
/// a crash left behind (written but never committed, or replaced but not yet deleted).
fn compacted_view(
    storage: &geminga_storage::Storage,
    ledger_id: u64,
    cursors: &[Cursor],
) -> Result<Option<CompactedView>, StorageError> {
    let view = cursors
        .iter()
        .find(|c| c.name() == COMPACTION_SUBSCRIPTION)
        .and_then(view_of);
    for orphan in storage.owned_ledgers(ledger_id)? {
        if view.map(|v| v.ledger_id) != Some(orphan) {
            storage.delete_ledger(ledger_id, orphan)?;
        }
    }
    Ok(view)
}

mod unload;
pub use unload::Unload;
