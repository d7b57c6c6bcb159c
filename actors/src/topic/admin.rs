//! Admin messages handled by the [`super::Topic`] actor: stats, internal stats, subscriptions,
//! last message id, close (unload/delete), terminate and policies.

use std::{
    collections::HashMap,
    time::{Duration, Instant},
};

use actix::{
    fut::wrap_future, ActorContext, ActorFutureExt, Addr, AsyncContext, Context, Handler, Message,
    ResponseActFuture,
};
use geminga_storage::Cursor;
use tokio::sync::oneshot;

use super::{
    actor::Topic,
    admin_stats::{InternalStatsReport, Meter, TopicStatsReport},
    policies::{self, TopicPolicies},
};
use crate::{
    error::RequestError,
    producer::TopicClosing,
    subscription::{
        now_ms, DeleteCursor, ExpireMessages, FlushCursor, SetCompactedView, ShutdownSubscription,
        Subscription, TopicTerminated,
    },
};

/// One attached producer, as the stats show it.
#[derive(Debug)]
pub(super) struct ProducerInfo {
    pub(super) name: String,
    pub(super) since_ms: u64,
    pub(super) msgs: Meter,
    pub(super) bytes: Meter,
}

/// What a topic tracks for the admin API: counters, termination, closing and policies.
#[derive(Debug, Default)]
pub struct TopicAdmin {
    pub(super) msgs_in: Meter,
    pub(super) bytes_in: Meter,
    pub(super) entries_added: u64,
    pub(super) producers: HashMap<u64, ProducerInfo>,
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

    /// Forgets every producer (the topic restarted and closed them).
    pub(super) fn forget_producers(&mut self) {
        self.producers.clear();
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
    /// The period is `messageExpiryCheckIntervalInMinutes` (see `StoragePolicyConfig`).
    pub(super) fn start_ttl_timer(&self, ctx: &mut Context<Self>) {
        let every = self
            .broker
            .config()
            .storage_policies
            .message_expiry_check_interval
            .max(Duration::from_millis(100));
        ctx.run_interval(every, |act, _ctx| act.expire_by_ttl());
    }

    /// Expires, on every subscription but the compaction cursor (as Pulsar does), the
    /// messages older than the TTL in effect (topic, else namespace, else broker).
    fn expire_by_ttl(&self) {
        let ttl = self.upkeep.effective.message_ttl_seconds.value;
        if ttl == 0 || self.non_persistent {
            return;
        }
        let cutoff = now_ms().saturating_sub(u64::from(ttl) * 1000);
        for (name, slot) in &self.subscriptions {
            if name != super::upkeep::COMPACTION_SUBSCRIPTION {
                slot.addr.do_send(ExpireMessages {
                    publish_time_ms: cutoff,
                });
            }
        }
    }

    /// Tells a new subscription the topic's policies and termination.
    pub(super) fn brief_subscription(&self, addr: &Addr<Subscription>) {
        addr.do_send(self.subscription_policies());
        addr.do_send(SetCompactedView {
            view: self.compaction.view(),
        });
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

    /// Disconnects producers and refuses everything new (subscriptions stop last).
    fn begin_close(&mut self) {
        self.admin.closing = true;
        for producer in self.producers.values() {
            producer.do_send(TopicClosing);
        }
    }
}

pub(super) fn not_persistent(what: &str) -> RequestError {
    RequestError::NotAllowed {
        reason: format!("{what} is not supported on non-persistent topics"),
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
        Box::pin(wrap_future::<_, Self>(request).map(move |sent, act, ctx| {
            sent.unwrap_or_else(|e| Err(RequestError::from(e)))?;
            if act
                .subscriptions
                .get(&name)
                .is_some_and(|s| s.instance == instance)
            {
                act.subscriptions.remove(&name);
                if act.upkeep.remove_hold(&name) {
                    act.request_upkeep(ctx);
                }
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
            let pending = checked.map(|()| {
                act.begin_close();
                // Acks already received are made durable before the subscriptions stop.
                let flushes: Vec<_> = act
                    .subscriptions
                    .values()
                    .map(|slot| slot.addr.send(FlushCursor))
                    .collect();
                (act.drained(), flushes)
            });
            wrap_future::<_, Self>(async move {
                let (drained, flushes) = pending?;
                let _ = drained.await;
                let _ = futures_util::future::join_all(flushes).await;
                Ok(())
            })
            .map(|result: Result<(), RequestError>, act, ctx| {
                if result.is_ok() {
                    for slot in act.subscriptions.values() {
                        slot.addr.do_send(ShutdownSubscription);
                    }
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

    fn handle(&mut self, msg: ApplyPolicies, ctx: &mut Context<Self>) {
        self.admin.policies = msg.policies;
        self.apply_effective(ctx);
        self.policies_changed(ctx);
    }
}
