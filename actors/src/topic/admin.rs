//! Admin messages handled by the [`super::Topic`] actor: stats, internal stats, subscriptions,
//! last message id, close (unload/delete), terminate and policies.

use std::{
    collections::{BTreeMap, HashMap},
    time::{Duration, Instant},
};

use actix::{
    fut::wrap_future, ActorContext, ActorFutureExt, Addr, AsyncContext, Context, Handler, Message,
    ResponseActFuture,
};
use futures_util::future::join_all;
use geminga_storage::Cursor;
use tokio::sync::oneshot;

use super::{
    actor::Topic,
    admin_stats::{
        format_time, position, InternalStatsReport, LedgerReport, Meter, PublisherStatsReport,
        TopicStatsReport,
    },
    policies::{self, TopicPolicies},
};
use crate::{
    error::RequestError,
    producer::TopicClosing,
    subscription::{
        now_ms, ApplySubscriptionPolicies, DeleteCursor, ExpireMessages, GetSubscriptionStats,
        ShutdownSubscription, Subscription, SubscriptionSnapshot, TopicTerminated,
    },
};

/// How often a topic with a message TTL expires old messages.
const TTL_CHECK_INTERVAL: Duration = Duration::from_secs(5);

/// One attached producer, as the stats show it.
#[derive(Debug)]
struct ProducerInfo {
    name: String,
    since_ms: u64,
    msgs: Meter,
    bytes: Meter,
}

/// What a topic tracks for the admin API: counters, termination, closing and policies.
#[derive(Debug, Default)]
pub struct TopicAdmin {
    msgs_in: Meter,
    bytes_in: Meter,
    entries_added: u64,
    producers: HashMap<u64, ProducerInfo>,
    /// No more publishes: set by `terminate`, persisted in the metadata store.
    pub(super) terminated: bool,
    /// Being unloaded or deleted: everything new is refused (retryable) until it stops.
    pub(super) closing: bool,
    /// Waiting for the appends in flight to become durable.
    drain_waiters: Vec<oneshot::Sender<()>>,
    /// The topic's policies.
    pub(super) policies: TopicPolicies,
}

impl TopicAdmin {
    /// Records a producer the topic granted.
    pub(super) fn on_producer_added(&mut self, handle: u64, name: &str) {
        self.producers.insert(
            handle,
            ProducerInfo {
                name: name.to_owned(),
                since_ms: now_ms(),
                msgs: Meter::default(),
                bytes: Meter::default(),
            },
        );
    }

    /// Forgets a producer.
    pub(super) fn on_producer_removed(&mut self, handle: u64) {
        self.producers.remove(&handle);
    }

    /// Counts one durable entry of `messages` messages and `bytes` bytes.
    pub(super) fn on_published(&mut self, handle: u64, messages: u32, bytes: usize) {
        let now = Instant::now();
        let (messages, bytes) = (u64::from(messages.max(1)), bytes as u64);
        self.msgs_in.add(messages, now);
        self.bytes_in.add(bytes, now);
        self.entries_added += 1;
        if let Some(producer) = self.producers.get_mut(&handle) {
            producer.msgs.add(messages, now);
            producer.bytes.add(bytes, now);
        }
    }

    /// Wakes the drain waiters once no append is in flight.
    pub(super) fn on_write_settled(&mut self, in_flight: bool) {
        if !in_flight {
            for waiter in self.drain_waiters.drain(..) {
                let _ = waiter.send(());
            }
        }
    }

    /// Why a publish or a new producer is refused now, if it is.
    pub(super) fn refusal(&self, topic: &str) -> Option<RequestError> {
        if self.terminated {
            Some(RequestError::TopicTerminated {
                topic: topic.to_owned(),
            })
        } else if self.closing {
            Some(RequestError::unavailable("the topic (closing)"))
        } else {
            None
        }
    }
}

/// Reports the topic's stats.
#[derive(Debug, Message)]
#[rtype(result = "Result<TopicStatsReport, RequestError>")]
pub struct GetTopicStats;

/// Reports the topic's storage view.
#[derive(Debug, Message)]
#[rtype(result = "Result<InternalStatsReport, RequestError>")]
pub struct GetInternalStats;

/// Names of the topic's subscriptions, sorted.
#[derive(Debug, Message)]
#[rtype(result = "Vec<String>")]
pub struct ListSubscriptions;

/// The actor of one subscription.
#[derive(Debug, Message)]
#[rtype(result = "Result<Addr<Subscription>, RequestError>")]
pub struct GetSubscription {
    /// Subscription name.
    pub name: String,
}

/// Where a subscription created by the admin API starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StartAt {
    /// The oldest stored entry.
    Earliest,
    /// After the last published entry.
    Latest,
    /// This entry is the first delivered.
    Entry(u64),
}

/// Creates a durable subscription without consumers; answers its actor.
#[derive(Debug, Message)]
#[rtype(result = "Result<Addr<Subscription>, RequestError>")]
pub struct CreateSubscription {
    /// Subscription name.
    pub name: String,
    /// Where it starts.
    pub start: StartAt,
}

/// Deletes a subscription (refused while consumers are attached unless `force`).
#[derive(Debug, Message)]
#[rtype(result = "Result<(), RequestError>")]
pub struct DeleteSubscription {
    /// Subscription name.
    pub name: String,
    /// Disconnect consumers instead of refusing.
    pub force: bool,
}

/// The last durable entry of the topic.
#[derive(Debug, Message)]
#[rtype(result = "LastEntry")]
pub struct GetLastEntry;

/// The last entry of a topic.
#[derive(Clone, Copy, Debug, PartialEq, Eq, actix::MessageResponse)]
pub struct LastEntry {
    /// The topic's ledger.
    pub ledger_id: u64,
    /// The last durable entry; `None` for an empty topic.
    pub entry_id: Option<u64>,
    /// Messages in that entry when it is a batch.
    pub batch_size: Option<u32>,
}

/// Closes the topic for an unload or a delete: producers and consumers are disconnected (their
/// clients reconnect), appends in flight finish, and the actor stops for good.
#[derive(Debug, Message)]
#[rtype(result = "Result<(), RequestError>")]
pub struct CloseTopic {
    /// Refuse (precondition failed) while producers or consumers are attached.
    pub only_if_idle: bool,
}

/// Terminates the topic: no more publishes; consumers are told when they reach the end.
#[derive(Debug, Message)]
#[rtype(result = "Result<LastEntry, RequestError>")]
pub struct Terminate;

/// The topic's policies changed.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct ApplyPolicies {
    /// The new policies.
    pub policies: TopicPolicies,
}

impl Topic {
    /// Starts the periodic message expiry of the topic's TTL policy (call from `started`).
    pub(super) fn start_ttl_timer(&self, ctx: &mut Context<Self>) {
        ctx.run_interval(TTL_CHECK_INTERVAL, |act, _ctx| act.expire_by_ttl());
    }

    fn expire_by_ttl(&self) {
        let Some(ttl) = self
            .admin
            .policies
            .message_ttl_in_seconds
            .filter(|t| *t > 0)
        else {
            return;
        };
        if self.non_persistent {
            return;
        }
        let cutoff = now_ms().saturating_sub(u64::from(ttl) * 1000);
        for slot in self.subscriptions.values() {
            slot.addr.do_send(ExpireMessages {
                publish_time_ms: cutoff,
            });
        }
    }

    /// Tells a new subscription the topic's policies and termination.
    pub(super) fn brief_subscription(&self, addr: &Addr<Subscription>) {
        addr.do_send(subscription_policies(&self.admin.policies));
        if self.admin.terminated {
            let end = self
                .state
                .as_ref()
                .map_or(0, super::TopicState::durable_next);
            addr.do_send(TopicTerminated { end });
        }
    }

    fn drained(&mut self) -> oneshot::Receiver<()> {
        let (tx, rx) = oneshot::channel();
        if self
            .state
            .as_ref()
            .is_some_and(super::TopicState::has_in_flight)
        {
            self.admin.drain_waiters.push(tx);
        } else {
            let _ = tx.send(());
        }
        rx
    }

    fn last_entry(&self) -> LastEntry {
        let entry_id = self
            .state
            .as_ref()
            .and_then(super::TopicState::last_durable);
        let batch_size = entry_id
            .and_then(|id| self.cache.get(id))
            .map(|e| e.meta.num_messages)
            .filter(|n| *n > 1);
        LastEntry {
            ledger_id: self.record.ledger_id,
            entry_id,
            batch_size,
        }
    }

    fn snapshots(&self) -> impl std::future::Future<Output = Vec<(String, SubscriptionSnapshot)>> {
        let queries: Vec<_> = self
            .subscriptions
            .iter()
            .map(|(name, slot)| {
                let (name, request) = (name.clone(), slot.addr.send(GetSubscriptionStats));
                async move { (name, request.await) }
            })
            .collect();
        async move {
            join_all(queries)
                .await
                .into_iter()
                .filter_map(|(name, answer)| match answer {
                    Ok(Ok(snapshot)) => Some((name, snapshot)),
                    _ => None,
                })
                .collect()
        }
    }

    /// Bytes stored in the log, on the blocking pool (0 for non-persistent topics).
    fn storage_size(&self) -> impl std::future::Future<Output = u64> {
        let storage = self.broker.storage().clone();
        let (ledger_id, stored) = (self.record.ledger_id, !self.non_persistent);
        async move {
            if !stored {
                return 0;
            }
            actix_rt::task::spawn_blocking(move || storage.log_size_bytes(ledger_id))
                .await
                .ok()
                .and_then(Result::ok)
                .unwrap_or(0)
        }
    }

    fn stored_entries(&self) -> u64 {
        let durable_next = self
            .state
            .as_ref()
            .map_or(0, super::TopicState::durable_next);
        durable_next.saturating_sub(self.first_entry)
    }

    fn stats_report(
        &mut self,
        storage_size: u64,
        snapshots: Vec<(String, SubscriptionSnapshot)>,
    ) -> TopicStatsReport {
        let now = Instant::now();
        let entries = self.stored_entries().max(1);
        let per_entry = storage_size / entries;
        let drop_rate = self.non_persistent.then_some(0.0);
        let mut report = TopicStatsReport {
            deduplication_status: "Disabled".to_owned(),
            storage_size,
            msg_drop_rate: drop_rate,
            ..TopicStatsReport::default()
        };
        for (name, snapshot) in snapshots {
            let mut sub = snapshot.stats;
            sub.backlog_size = sub.msg_backlog.saturating_mul(per_entry);
            report.msg_rate_out += sub.msg_rate_out;
            report.msg_throughput_out += sub.msg_throughput_out;
            report.msg_out_counter += sub.msg_out_counter;
            report.bytes_out_counter += sub.bytes_out_counter;
            report.backlog_size = report.backlog_size.max(sub.backlog_size);
            report.non_contiguous_deleted_messages_ranges +=
                sub.non_contiguous_deleted_messages_ranges;
            if let (Some(total), Some(rate)) = (report.msg_drop_rate.as_mut(), sub.msg_drop_rate) {
                *total += rate;
            }
            report.subscriptions.insert(name, sub);
        }
        let admin = &mut self.admin;
        report.msg_rate_in = admin.msgs_in.rate(now);
        report.msg_throughput_in = admin.bytes_in.rate(now);
        report.msg_in_counter = admin.msgs_in.total();
        report.bytes_in_counter = admin.bytes_in.total();
        report.average_msg_size = average(admin.bytes_in.total(), admin.msgs_in.total());
        let non_persistent = self.non_persistent;
        let mut publishers: Vec<(u64, PublisherStatsReport)> = admin
            .producers
            .iter_mut()
            .map(|(handle, p)| {
                let publisher = PublisherStatsReport {
                    access_mode: "Shared".to_owned(),
                    msg_rate_in: p.msgs.rate(now),
                    msg_throughput_in: p.bytes.rate(now),
                    average_msg_size: average(p.bytes.total(), p.msgs.total()),
                    producer_id: *handle,
                    producer_name: p.name.clone(),
                    connected_since: format_time(p.since_ms),
                    msg_drop_rate: non_persistent.then_some(0.0),
                    ..PublisherStatsReport::default()
                };
                (p.since_ms, publisher)
            })
            .collect();
        publishers.sort_by_key(|(since, p)| (*since, p.producer_id));
        report.publishers = publishers.into_iter().map(|(_, p)| p).collect();
        report
    }

    fn internal_report(
        &self,
        storage_size: u64,
        snapshots: Vec<(String, SubscriptionSnapshot)>,
    ) -> InternalStatsReport {
        let ledger_id = self.record.ledger_id;
        let entries = self.stored_entries();
        let last = self
            .state
            .as_ref()
            .and_then(super::TopicState::last_durable);
        let ledger = LedgerReport {
            ledger_id,
            entries,
            size: storage_size,
            ..LedgerReport::default()
        };
        InternalStatsReport {
            entries_added_counter: self.admin.entries_added,
            number_of_entries: entries,
            total_size: storage_size,
            current_ledger_entries: entries,
            current_ledger_size: storage_size,
            last_ledger_created_timestamp: format_time(self.record.created_at_ms),
            pending_add_entries_count: u64::from(
                self.state
                    .as_ref()
                    .is_some_and(super::TopicState::has_in_flight),
            ),
            last_confirmed_entry: position(ledger_id, last),
            state: if self.admin.terminated {
                "Terminated"
            } else {
                "LedgerOpened"
            }
            .to_owned(),
            ledgers: vec![ledger],
            cursors: snapshots
                .into_iter()
                .map(|(name, snapshot)| (name, snapshot.cursor))
                .collect::<BTreeMap<_, _>>(),
            ..InternalStatsReport::default()
        }
    }

    /// Disconnects producers and subscriptions and refuses everything new.
    fn begin_close(&mut self) {
        self.admin.closing = true;
        for producer in self.producers.values() {
            producer.do_send(TopicClosing);
        }
        for slot in self.subscriptions.values() {
            slot.addr.do_send(ShutdownSubscription);
        }
    }
}

fn average(bytes: u64, messages: u64) -> f64 {
    if messages == 0 {
        return 0.0;
    }
    #[allow(
        clippy::cast_precision_loss,
        reason = "an average size does not need 53+ bits"
    )]
    let average = bytes as f64 / messages as f64;
    average
}

/// The subscription-level part of the topic's policies.
fn subscription_policies(policies: &TopicPolicies) -> ApplySubscriptionPolicies {
    ApplySubscriptionPolicies {
        max_unacked_per_consumer: policies.max_unacked_messages_on_consumer,
        max_consumers: policies.max_consumers_per_subscription,
    }
}

fn not_persistent(what: &str) -> RequestError {
    RequestError::NotAllowed {
        reason: format!("{what} is not supported on non-persistent topics"),
    }
}

impl Handler<GetTopicStats> for Topic {
    type Result = ResponseActFuture<Self, Result<TopicStatsReport, RequestError>>;

    fn handle(&mut self, _msg: GetTopicStats, _ctx: &mut Context<Self>) -> Self::Result {
        let (size, snapshots) = (self.storage_size(), self.snapshots());
        let gathered = async move { (size.await, snapshots.await) };
        Box::pin(
            wrap_future::<_, Self>(gathered)
                .map(|(size, snapshots), act, _ctx| Ok(act.stats_report(size, snapshots))),
        )
    }
}

impl Handler<GetInternalStats> for Topic {
    type Result = ResponseActFuture<Self, Result<InternalStatsReport, RequestError>>;

    fn handle(&mut self, _msg: GetInternalStats, _ctx: &mut Context<Self>) -> Self::Result {
        if self.non_persistent {
            return Box::pin(actix::fut::ready(Err(not_persistent("internal stats"))));
        }
        let (size, snapshots) = (self.storage_size(), self.snapshots());
        let gathered = async move { (size.await, snapshots.await) };
        Box::pin(
            wrap_future::<_, Self>(gathered)
                .map(|(size, snapshots), act, _ctx| Ok(act.internal_report(size, snapshots))),
        )
    }
}

impl Handler<ListSubscriptions> for Topic {
    type Result = Vec<String>;

    fn handle(&mut self, _msg: ListSubscriptions, _ctx: &mut Context<Self>) -> Vec<String> {
        let mut names: Vec<String> = self.subscriptions.keys().cloned().collect();
        names.sort();
        names
    }
}

impl Handler<GetSubscription> for Topic {
    type Result = Result<Addr<Subscription>, RequestError>;

    fn handle(&mut self, msg: GetSubscription, _ctx: &mut Context<Self>) -> Self::Result {
        self.subscriptions
            .get(&msg.name)
            .map(|slot| slot.addr.clone())
            .ok_or_else(|| RequestError::SubscriptionNotFound {
                topic: self.record.name.clone(),
                subscription: msg.name,
            })
    }
}

impl Handler<CreateSubscription> for Topic {
    type Result = Result<Addr<Subscription>, RequestError>;

    fn handle(&mut self, msg: CreateSubscription, ctx: &mut Context<Self>) -> Self::Result {
        if self.non_persistent {
            return Err(not_persistent("creating a subscription"));
        }
        if let Some(refused) = self
            .admin
            .closing
            .then(|| RequestError::unavailable("the topic"))
        {
            return Err(refused);
        }
        if self.subscriptions.contains_key(&msg.name) {
            return Err(RequestError::AlreadyExists {
                what: format!("subscription {} on {}", msg.name, self.record.name),
            });
        }
        let durable_next = self
            .state
            .as_ref()
            .map_or(0, super::TopicState::durable_next);
        let floor = match msg.start {
            StartAt::Earliest => self.first_entry,
            StartAt::Latest => durable_next,
            StartAt::Entry(id) => id.clamp(self.first_entry, durable_next),
        };
        Ok(self.start_subscription(Cursor::new(&msg.name, floor), true, ctx))
    }
}

impl Handler<DeleteSubscription> for Topic {
    type Result = ResponseActFuture<Self, Result<(), RequestError>>;

    fn handle(&mut self, msg: DeleteSubscription, _ctx: &mut Context<Self>) -> Self::Result {
        let Some(slot) = self.subscriptions.get(&msg.name) else {
            return Box::pin(actix::fut::ready(Err(RequestError::SubscriptionNotFound {
                topic: self.record.name.clone(),
                subscription: msg.name,
            })));
        };
        let (instance, name) = (slot.instance, msg.name);
        let request = slot.addr.send(DeleteCursor { force: msg.force });
        Box::pin(wrap_future::<_, Self>(request).map(move |sent, act, _ctx| {
            sent.unwrap_or_else(|e| Err(RequestError::from(e)))?;
            if act
                .subscriptions
                .get(&name)
                .is_some_and(|s| s.instance == instance)
            {
                act.subscriptions.remove(&name);
            }
            Ok(())
        }))
    }
}

impl Handler<GetLastEntry> for Topic {
    type Result = LastEntry;

    fn handle(&mut self, _msg: GetLastEntry, _ctx: &mut Context<Self>) -> LastEntry {
        self.last_entry()
    }
}

impl Handler<CloseTopic> for Topic {
    type Result = ResponseActFuture<Self, Result<(), RequestError>>;

    fn handle(&mut self, msg: CloseTopic, _ctx: &mut Context<Self>) -> Self::Result {
        let producers = !self.producers.is_empty();
        let snapshots = self.snapshots();
        let check = async move {
            let consumers = snapshots
                .await
                .iter()
                .any(|(_, s)| !s.stats.consumers.is_empty());
            if msg.only_if_idle && (producers || consumers) {
                return Err(RequestError::PreconditionFailed {
                    reason: "Topic has active producers/subscriptions".into(),
                });
            }
            Ok(())
        };
        Box::pin(wrap_future::<_, Self>(check).then(|checked, act, _ctx| {
            let drained = checked.map(|()| {
                act.begin_close();
                act.drained()
            });
            wrap_future::<_, Self>(async move {
                let drained = drained?;
                let _ = drained.await;
                Ok(())
            })
            .map(|result: Result<(), RequestError>, act, ctx| {
                if result.is_ok() {
                    act.lifecycle.retire();
                    ctx.stop();
                }
                result
            })
        }))
    }
}

impl Handler<Terminate> for Topic {
    type Result = ResponseActFuture<Self, Result<LastEntry, RequestError>>;

    fn handle(&mut self, _msg: Terminate, _ctx: &mut Context<Self>) -> Self::Result {
        if self.non_persistent {
            return Box::pin(actix::fut::ready(Err(not_persistent("terminate"))));
        }
        if self.admin.terminated {
            return Box::pin(actix::fut::ready(Ok(self.last_entry())));
        }
        // From here on publishes are refused; those in flight finish first.
        self.admin.terminated = true;
        let drained = self.drained();
        let storage = self.broker.storage().clone();
        let name = self.record.name.clone();
        Box::pin(
            wrap_future::<_, Self>(async move {
                let _ = drained.await;
            })
            .then(move |(), act, _ctx| {
                let last = act.last_entry();
                let store = actix_rt::task::spawn_blocking(move || {
                    policies::store_terminated(storage.metadata(), &name, last.entry_id)
                });
                wrap_future::<_, Self>(store).map(move |stored, act, _ctx| {
                    match stored {
                        Ok(Ok(())) => {}
                        Ok(Err(e)) => return Err(RequestError::from(e)),
                        Err(_) => return Err(RequestError::unavailable("the metadata store")),
                    }
                    for producer in act.producers.values() {
                        producer.do_send(TopicClosing);
                    }
                    let end = last.entry_id.map_or(0, |id| id + 1);
                    for slot in act.subscriptions.values() {
                        slot.addr.do_send(TopicTerminated { end });
                    }
                    Ok(last)
                })
            }),
        )
    }
}

impl Handler<ApplyPolicies> for Topic {
    type Result = ();

    fn handle(&mut self, msg: ApplyPolicies, _ctx: &mut Context<Self>) {
        self.admin.policies = msg.policies;
        for slot in self.subscriptions.values() {
            slot.addr
                .do_send(subscription_policies(&self.admin.policies));
        }
    }
}
