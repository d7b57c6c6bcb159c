//! Admin operations on a subscription (stats, skip, clear backlog, expire, peek, delete),
//! termination notices, topic policies, and the drops of non-persistent subscriptions.

use std::{
    collections::{HashMap, HashSet},
    sync::Arc,
    time::{Instant, SystemTime, UNIX_EPOCH},
};

use actix::{
    fut::wrap_future, ActorFutureExt, Context, Handler, Message, ResponseActFuture, ResponseFuture,
};
use geminga_protocol::proto::command_subscribe::SubType;
use geminga_storage::{Entry, WriteOp};
use tokio::sync::oneshot;

use super::{actor::Subscription, state::AckOutcome, state::SubscriptionState};
use crate::{
    consumer::ReachedEndOfTopic,
    dispatcher::{EntriesAcked, SetConsumerUnackedLimit, SetDispatchThrottle},
    error::RequestError,
    metadata::RateLimit,
    nonpersistent,
    storage_writer::persist,
    topic::admin_stats::{CursorReport, Meter, SubscriptionStatsReport},
    topic::RateLimiter,
};

/// Milliseconds since the Unix epoch.
pub(crate) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// What a subscription tracks for the admin API besides its cursor. Kept across restarts of
/// the actor (counters describe the subscription, not one incarnation).
#[derive(Debug, Default)]
pub struct SubscriptionAdmin {
    pub(super) msgs_out: Meter,
    pub(super) bytes_out: Meter,
    pub(super) redelivered: Meter,
    pub(super) dropped: Meter,
    pub(super) expired: Meter,
    pub(super) last_expire_ms: u64,
    pub(super) last_consumed_ms: u64,
    pub(super) last_acked_ms: u64,
    /// The type of the last consumer that attached (kept when all leave, as Pulsar shows it).
    pub(super) last_sub_type: Option<SubType>,
    /// Consumer key -> when it attached (epoch ms).
    pub(super) connected_since: HashMap<u64, u64>,
    /// Set once the topic is terminated: no entry at or after this id will ever exist.
    pub(super) end_of_topic: Option<u64>,
    /// Consumers already told that they reached the end of the topic.
    pub(super) told_end: HashSet<u64>,
    /// The last demand of the dispatcher (non-persistent drops depend on it).
    pub(super) last_demand: usize,
    /// The topic's `maxUnackedMessagesOnConsumer`, re-applied to a restarted dispatcher.
    pub(super) consumer_unacked_limit: Option<u32>,
    /// The topic's `maxConsumersPerSubscription`, re-applied when the state is rebuilt.
    pub(super) max_consumers: Option<u32>,
    /// The effective `subscriptionDispatchRate`, re-applied to a restarted dispatcher.
    pub(super) dispatch_rate: Option<RateLimit>,
    /// The topic's shared dispatch rate limiter.
    pub(super) topic_dispatch: Option<Arc<RateLimiter>>,
    pub(super) loaded_at_ms: u64,
    /// The ack floor last reported to the topic (its upkeep trims below the lowest floor).
    pub(super) reported_floor: Option<u64>,
    /// The topic's compacted log, if it is compacted.
    pub(super) compacted_view: Option<crate::topic::compaction::CompactedView>,
    /// A read-compacted consumer is attached: below the compaction horizon, read the
    /// compacted log.
    pub(super) read_compacted: bool,
}

impl SubscriptionAdmin {
    /// Fresh counters for a subscription loaded now.
    pub fn new() -> Self {
        Self {
            loaded_at_ms: now_ms(),
            ..Self::default()
        }
    }

    /// Records a consumer attaching.
    pub(super) fn on_consumer_added(&mut self, key: u64, sub_type: SubType) {
        self.connected_since.insert(key, now_ms());
        self.last_sub_type = Some(sub_type);
    }

    /// Records a consumer leaving.
    pub(super) fn on_consumer_removed(&mut self, key: u64) {
        self.connected_since.remove(&key);
        self.told_end.remove(&key);
    }

    /// Counts entries handed to the dispatcher.
    pub(super) fn on_handed_over<'a>(
        &mut self,
        entries: impl Iterator<Item = &'a Entry>,
        redelivered: bool,
    ) {
        let now = Instant::now();
        let (mut messages, mut bytes) = (0u64, 0u64);
        for entry in entries {
            messages += u64::from(entry.meta.num_messages.max(1));
            bytes += entry.data.len() as u64;
        }
        if messages == 0 {
            return;
        }
        self.msgs_out.add(messages, now);
        self.bytes_out.add(bytes, now);
        if redelivered {
            self.redelivered.add(messages, now);
        }
        self.last_consumed_ms = now_ms();
    }
}

/// The subscription's stats and cursor view.
#[derive(Clone, Debug)]
pub struct SubscriptionSnapshot {
    /// Stats in Pulsar's `SubscriptionStats` shape (backlog size filled in by the topic).
    pub stats: SubscriptionStatsReport,
    /// The cursor in Pulsar's `CursorStats` shape.
    pub cursor: CursorReport,
}

/// Reports the subscription's stats and cursor.
#[derive(Debug, Message)]
#[rtype(result = "Result<SubscriptionSnapshot, RequestError>")]
pub struct GetSubscriptionStats;

/// Acknowledges the next `count` unacknowledged entries (pulsar-admin `skip`).
#[derive(Debug, Message)]
#[rtype(result = "Result<(), RequestError>")]
pub struct SkipEntries {
    /// How many entries.
    pub count: u64,
}

/// Acknowledges everything published so far (pulsar-admin `clear-backlog`).
#[derive(Debug, Message)]
#[rtype(result = "Result<(), RequestError>")]
pub struct ClearBacklog;

/// Acknowledges every entry published before `publish_time_ms` (message expiry); answers how
/// many entries expired.
#[derive(Debug, Message)]
#[rtype(result = "Result<u64, RequestError>")]
pub struct ExpireMessages {
    /// Entries published before this time (epoch ms) expire.
    pub publish_time_ms: u64,
}

/// The `position`-th unacknowledged entry (1-based) after the mark-delete position.
#[derive(Debug, Message)]
#[rtype(result = "Result<Option<Entry>, RequestError>")]
pub struct PeekEntry {
    /// 1 is the first unacknowledged entry.
    pub position: u64,
}

/// Deletes the subscription; refused while consumers are attached unless `force`, which
/// disconnects them.
#[derive(Debug, Message)]
#[rtype(result = "Result<(), RequestError>")]
pub struct DeleteCursor {
    /// Disconnect attached consumers instead of refusing.
    pub force: bool,
}

/// Answers once every cursor change made so far is durable.
#[derive(Debug, Message)]
#[rtype(result = "Result<(), RequestError>")]
pub struct FlushCursor;

/// The topic was terminated: once consumers have read up to `end`, they are told so.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct TopicTerminated {
    /// The topic's durable end at termination (nothing at or after it will exist).
    pub end: u64,
}

/// Topic policies that concern subscriptions.
#[derive(Clone, Debug, Message)]
#[rtype(result = "()")]
pub struct ApplySubscriptionPolicies {
    /// Unacked messages per consumer (`None`: the broker's setting).
    pub max_unacked_per_consumer: Option<u32>,
    /// Consumers per subscription (`None`: the broker's setting).
    pub max_consumers: Option<u32>,
    /// The subscription's dispatch rate (`None`: unlimited).
    pub dispatch_rate: Option<RateLimit>,
    /// The topic's dispatch rate limiter, shared by its subscriptions.
    pub topic_dispatch: Option<Arc<RateLimiter>>,
}

impl Subscription {
    fn state_or_unavailable(&mut self) -> Result<&mut SubscriptionState, RequestError> {
        self.state
            .as_mut()
            .ok_or_else(|| RequestError::unavailable("the subscription"))
    }

    /// Tells the dispatcher which entries an admin operation acknowledged and persists the
    /// cursor; the receiver answers once the change is durable.
    pub(super) fn commit_admin_acks(
        &mut self,
        outcome: AckOutcome,
        ctx: &mut Context<Self>,
    ) -> oneshot::Receiver<Result<(), RequestError>> {
        if let Some(dispatcher) = &self.dispatcher {
            if !outcome.acked.is_empty() || outcome.up_to.is_some() {
                dispatcher.do_send(EntriesAcked {
                    ids: outcome.acked,
                    up_to: outcome.up_to,
                });
            }
        }
        let (tx, rx) = oneshot::channel();
        self.ack_waiters.push(tx);
        self.persist(ctx);
        rx
    }

    /// Called whenever reading stops for lack of demand or entries: drops what a
    /// non-persistent subscription cannot deliver, and tells consumers that caught up with a
    /// terminated topic.
    pub(super) fn on_read_idle(&mut self) {
        let read_batch = self.broker.config().dispatcher_max_read_batch_size;
        let last_demand = self.admin.last_demand;
        let drop = nonpersistent::is_non_persistent(&self.record.name)
            && self.state.as_ref().is_some_and(|state| {
                let unread = state.durable_next().saturating_sub(state.read_position());
                nonpersistent::drop_unread(state.demand(), last_demand, read_batch, unread)
            });
        if drop {
            self.drop_unread_entries();
        }
        self.tell_end_of_topic();
    }

    /// Drops every entry not yet handed out (non-persistent only) and counts the messages.
    pub(super) fn drop_unread_entries(&mut self) {
        let Some(state) = self.state.as_mut() else {
            return;
        };
        let skipped = state.skip_unread();
        let messages: u64 = skipped
            .map(|id| {
                self.cache
                    .get(id)
                    .map_or(1, |e| u64::from(e.meta.num_messages.max(1)))
            })
            .sum();
        if messages > 0 {
            self.admin.dropped.add(messages, Instant::now());
        }
    }

    /// Tells the consumers that they reached the end of a terminated topic once everything up
    /// to its end is acknowledged (as Pulsar's dispatchers do, so no delivered message is left
    /// unacknowledged by a client that stops at the notice).
    pub(super) fn tell_end_of_topic(&mut self) {
        let (Some(end), Some(state)) = (self.admin.end_of_topic, self.state.as_ref()) else {
            return;
        };
        if state.read_position() < end || state.backlog_entries() > 0 {
            return;
        }
        for (key, consumer) in &self.consumers {
            if self.admin.told_end.insert(*key) {
                consumer.do_send(ReachedEndOfTopic);
            }
        }
    }

    /// Re-sends the topic's consumer unacked limit to a dispatcher that lost it (restart).
    pub(super) fn reapply_dispatcher_policies(&self) {
        if let (Some(limit), Some(dispatcher)) =
            (self.admin.consumer_unacked_limit, &self.dispatcher)
        {
            dispatcher.do_send(SetConsumerUnackedLimit { limit });
        }
        if let Some(dispatcher) = &self.dispatcher {
            dispatcher.do_send(SetDispatchThrottle {
                own: self.admin.dispatch_rate,
                topic: self.admin.topic_dispatch.clone(),
            });
        }
    }
}

/// The `count` first unacked entry ids at or after the ack floor.
fn first_unacked(state: &SubscriptionState, count: u64) -> Vec<u64> {
    let cursor = state.cursor();
    (cursor.ack_floor()..state.durable_next())
        .filter(|id| !cursor.is_acked(*id))
        .take(usize::try_from(count).unwrap_or(usize::MAX))
        .collect()
}

async fn wait_durable(rx: oneshot::Receiver<Result<(), RequestError>>) -> Result<(), RequestError> {
    rx.await
        .unwrap_or_else(|_| Err(RequestError::unavailable("the subscription")))
}

impl Handler<SkipEntries> for Subscription {
    type Result = ResponseFuture<Result<(), RequestError>>;

    fn handle(&mut self, msg: SkipEntries, ctx: &mut Context<Self>) -> Self::Result {
        let state = match self.state_or_unavailable() {
            Ok(state) => state,
            Err(e) => return Box::pin(async move { Err(e) }),
        };
        let ids = first_unacked(state, msg.count);
        let acked: Vec<u64> = ids
            .into_iter()
            .filter(|id| state.cursor_mut().ack(*id))
            .collect();
        let rx = self.commit_admin_acks(AckOutcome { acked, up_to: None }, ctx);
        Box::pin(wait_durable(rx))
    }
}

impl Handler<ClearBacklog> for Subscription {
    type Result = ResponseFuture<Result<(), RequestError>>;

    fn handle(&mut self, _msg: ClearBacklog, ctx: &mut Context<Self>) -> Self::Result {
        let state = match self.state_or_unavailable() {
            Ok(state) => state,
            Err(e) => return Box::pin(async move { Err(e) }),
        };
        let up_to = state.durable_next().checked_sub(1);
        if let Some(last) = up_to {
            state.cursor_mut().ack_cumulative(last);
        }
        let rx = self.commit_admin_acks(
            AckOutcome {
                acked: Vec::new(),
                up_to,
            },
            ctx,
        );
        Box::pin(wait_durable(rx))
    }
}

impl Handler<ExpireMessages> for Subscription {
    type Result = ResponseActFuture<Self, Result<u64, RequestError>>;

    fn handle(&mut self, msg: ExpireMessages, _ctx: &mut Context<Self>) -> Self::Result {
        let storage = self.broker.storage().clone();
        let ledger_id = self.record.ledger_id;
        let find = actix_rt::task::spawn_blocking(move || {
            storage.find_by_publish_time(ledger_id, msg.publish_time_ms)
        });
        Box::pin(wrap_future::<_, Self>(find).then(|found, act, ctx| {
            let expired = super::actor::flatten(found).and_then(|first_kept| {
                let state = act.state_or_unavailable()?;
                let end = first_kept.unwrap_or_else(|| state.durable_next());
                let Some(last) = end.checked_sub(1) else {
                    return Ok((0, None));
                };
                let floor = state.cursor().ack_floor();
                let count = if last >= floor {
                    state.cursor().unacked_in(floor, last)
                } else {
                    0
                };
                state.cursor_mut().ack_cumulative(last);
                Ok((count, Some(last)))
            });
            let pending = expired.map(|(count, up_to)| {
                if count > 0 {
                    act.admin.expired.add(count, Instant::now());
                    act.admin.last_expire_ms = now_ms();
                }
                let rx = act.commit_admin_acks(
                    AckOutcome {
                        acked: Vec::new(),
                        up_to,
                    },
                    ctx,
                );
                (count, rx)
            });
            wrap_future::<_, Self>(async move {
                let (count, rx) = pending?;
                wait_durable(rx).await.map(|()| count)
            })
        }))
    }
}

impl Handler<PeekEntry> for Subscription {
    type Result = ResponseFuture<Result<Option<Entry>, RequestError>>;

    fn handle(&mut self, msg: PeekEntry, _ctx: &mut Context<Self>) -> Self::Result {
        let state = match self.state_or_unavailable() {
            Ok(state) => state,
            Err(e) => return Box::pin(async move { Err(e) }),
        };
        let wanted = msg.position.max(1);
        let Some(id) = first_unacked(state, wanted)
            .get(usize::try_from(wanted - 1).unwrap_or(usize::MAX))
            .copied()
        else {
            return Box::pin(async { Ok(None) });
        };
        if let Some(entry) = self.cache.get(id) {
            return Box::pin(async move { Ok(Some(entry)) });
        }
        let storage = self.broker.storage().clone();
        let ledger_id = self.record.ledger_id;
        Box::pin(async move {
            let read =
                actix_rt::task::spawn_blocking(move || storage.read_entry(ledger_id, id)).await;
            super::actor::flatten(read)
        })
    }
}

impl Handler<DeleteCursor> for Subscription {
    type Result = ResponseActFuture<Self, Result<(), RequestError>>;

    fn handle(&mut self, msg: DeleteCursor, _ctx: &mut Context<Self>) -> Self::Result {
        if !msg.force && !self.consumers.is_empty() {
            return Box::pin(actix::fut::ready(Err(RequestError::PreconditionFailed {
                reason: "Subscription has active connected consumers".into(),
            })));
        }
        let delete = self.durable.then(|| {
            let ops = vec![WriteOp::DeleteCursor {
                ledger_id: self.record.ledger_id,
                name: self.name.clone(),
            }];
            persist(self.broker.committer(), ops)
        });
        Box::pin(
            wrap_future::<_, Self>(async move {
                match delete {
                    Some(delete) => delete.await,
                    None => Ok(()),
                }
            })
            .map(|result, act, ctx| {
                if result.is_ok() {
                    act.retire(ctx);
                }
                result
            }),
        )
    }
}

impl Handler<FlushCursor> for Subscription {
    type Result = ResponseFuture<Result<(), RequestError>>;

    fn handle(&mut self, _msg: FlushCursor, ctx: &mut Context<Self>) -> Self::Result {
        let (tx, rx) = oneshot::channel();
        self.ack_waiters.push(tx);
        self.persist(ctx);
        Box::pin(wait_durable(rx))
    }
}

impl Handler<TopicTerminated> for Subscription {
    type Result = ();

    fn handle(&mut self, msg: TopicTerminated, ctx: &mut Context<Self>) {
        self.admin.end_of_topic = Some(msg.end);
        self.read_next(ctx);
        self.tell_end_of_topic();
    }
}

impl Handler<ApplySubscriptionPolicies> for Subscription {
    type Result = ();

    fn handle(&mut self, msg: ApplySubscriptionPolicies, _ctx: &mut Context<Self>) {
        let config = self.broker.config();
        let max_consumers = msg
            .max_consumers
            .unwrap_or(config.max_consumers_per_subscription);
        self.admin.max_consumers = msg.max_consumers;
        self.admin.dispatch_rate = msg.dispatch_rate;
        self.admin.topic_dispatch = msg.topic_dispatch;
        if let Some(state) = self.state.as_mut() {
            state.set_max_consumers(max_consumers);
        }
        let limit = msg
            .max_unacked_per_consumer
            .unwrap_or(config.max_unacked_per_consumer);
        self.admin.consumer_unacked_limit = Some(limit);
        self.reapply_dispatcher_policies();
    }
}
