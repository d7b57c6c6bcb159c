//! The topic side of upkeep: scheduling passes, applying their plan (trim, quota blocks,
//! eviction, compaction), and the messages that feed it.

use std::time::{Duration, Instant};

use actix::{
    fut::wrap_future, ActorFutureExt, AsyncContext, Context, Handler, Message, ResponseActFuture,
};
use geminga_storage::{StorageError, WriteOp};
use tracing::{debug, info, warn};

use super::{plan, report, Pace, Plan, PlanInput, StorageHoldsReport};
use crate::{
    error::RequestError,
    metadata::BacklogQuotaPolicy,
    producer::TopicClosing,
    storage_writer::persist,
    subscription::{now_ms, EvictBacklog},
    topic::Topic,
};

/// A subscription's ack floor moved (after the change is durable, for durable cursors).
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct FloorMoved {
    /// Subscription name.
    pub name: String,
    /// The new ack floor.
    pub floor: u64,
}

/// Explains what holds the topic's storage.
#[derive(Debug, Message)]
#[rtype(result = "Result<StorageHoldsReport, RequestError>")]
pub struct GetStorageHolds;

impl Topic {
    /// Schedules an upkeep pass soon (coalescing triggers); persistent topics only.
    pub(in crate::topic) fn request_upkeep(&mut self, ctx: &mut Context<Self>) {
        self.request_upkeep_at(Pace::Soon, ctx);
    }

    /// Schedules an upkeep pass at `pace` (see [`super::PassSchedule`]).
    fn request_upkeep_at(&mut self, pace: Pace, ctx: &mut Context<Self>) {
        if self.non_persistent || self.state.is_none() {
            return;
        }
        let Some(timer) = self.upkeep.schedule.request(pace, Instant::now()) else {
            return;
        };
        ctx.run_later(timer.delay, move |act, ctx| {
            if act.upkeep.schedule.start(timer.generation, Instant::now()) {
                act.run_upkeep(ctx);
            }
        });
    }

    /// Starts the periodic pass for limits that move with the clock (call from `started`).
    pub(in crate::topic) fn start_upkeep_timer(&self, ctx: &mut Context<Self>) {
        let every = self
            .broker
            .config()
            .storage_policies
            .retention_check_interval
            .max(Duration::from_millis(100));
        ctx.run_interval(every, |act, ctx| act.request_upkeep(ctx));
    }

    /// A snapshot for a pass, or `None` while the topic is not loaded.
    pub(in crate::topic) fn upkeep_input(&self) -> Option<PlanInput> {
        let state = self.state.as_ref()?;
        let config = &self.broker.config().storage_policies;
        Some(PlanInput {
            ledger_id: self.record.ledger_id,
            durable_next: state.durable_next(),
            holds: self.upkeep.hold_inputs(),
            effective: self.upkeep.effective.clone(),
            grace_ms: u64::try_from(config.retention_grace.as_millis()).unwrap_or(u64::MAX),
            now_ms: now_ms(),
            quotas_enabled: config.backlog_quota_check_enabled,
            compaction_horizon: self.compaction.horizon(),
        })
    }

    /// Runs the pass the schedule just started.
    fn run_upkeep(&mut self, ctx: &mut Context<Self>) {
        let Some(input) = self.upkeep_input() else {
            self.upkeep.schedule.finish(false);
            return;
        };
        let storage = self.broker.storage().clone();
        let planned = actix_rt::task::spawn_blocking(move || plan::plan(&storage, &input));
        let fut = wrap_future::<_, Self>(planned).then(|joined, act, ctx| {
            let planned =
                joined.unwrap_or_else(|e| Err(StorageError::from(std::io::Error::other(e))));
            let trim = match planned {
                Ok(plan) => act.apply_plan(&plan, ctx),
                Err(e) => {
                    warn!(parent: &act.span, error = %e, "upkeep pass failed");
                    None
                }
            };
            wrap_future::<_, Self>(async move {
                match trim {
                    Some((before, write)) => Some((before, write.await)),
                    None => None,
                }
            })
            .map(|trimmed, act, ctx| {
                let mut more_to_trim = false;
                match trimmed {
                    Some((before, Ok(()))) => {
                        act.first_entry = act.first_entry.max(before);
                        debug!(parent: &act.span, before, "log trimmed");
                        more_to_trim = act.upkeep.more_to_trim;
                    }
                    Some((before, Err(e))) => {
                        warn!(parent: &act.span, before, error = %e, "trimming the log failed");
                    }
                    None => {}
                }
                if let Some(pace) = act.upkeep.schedule.finish(more_to_trim) {
                    act.request_upkeep_at(pace, ctx);
                }
            })
        });
        ctx.spawn(fut);
    }

    /// Applies a plan; answers the trim write to wait for, if any.
    fn apply_plan(
        &mut self,
        plan: &Plan,
        ctx: &mut Context<Self>,
    ) -> Option<(
        u64,
        impl std::future::Future<Output = Result<(), RequestError>>,
    )> {
        self.apply_quota_block(plan);
        if let Some(before) = plan.evict_before {
            self.evict(before);
        }
        if plan.compaction_due {
            // A compaction already running is fine: the next pass looks again.
            if let Err(e) = self.start_compaction(ctx) {
                debug!(parent: &self.span, reason = %e, "threshold compaction not started");
            }
        }
        self.reap_compacted_ledgers();
        self.upkeep.more_to_trim = plan.more_to_trim;
        let before = plan.trim_before?;
        let op = WriteOp::Trim {
            ledger_id: self.record.ledger_id,
            before_entry: before,
        };
        Some((before, persist(self.broker.committer(), vec![op])))
    }

    fn apply_quota_block(&mut self, plan: &Plan) {
        let was_blocked = self.upkeep.blocked.is_some();
        self.upkeep.blocked = plan.blocked;
        let Some(breach) = plan.blocked else {
            if was_blocked {
                info!(parent: &self.span, "backlog back within quota; producers accepted again");
            }
            return;
        };
        if was_blocked {
            return;
        }
        info!(
            parent: &self.span,
            quota = %breach.kind,
            policy = breach.policy.as_str(),
            producers = self.producers.len(),
            "backlog quota exceeded; disconnecting producers"
        );
        // Their clients reconnect and are refused until the backlog drops (Pulsar does the
        // same from its periodic quota check).
        for producer in self.producers.values() {
            producer.do_send(TopicClosing);
        }
    }

    /// Moves every durable subscription below `before` up to it (consumer_backlog_eviction).
    fn evict(&mut self, before: u64) {
        for (name, floor) in self.upkeep.subscriptions() {
            if floor >= before {
                continue;
            }
            if let Some(slot) = self.subscriptions.get(name) {
                info!(parent: &self.span, subscription = name, floor, before, "evicting backlog");
                slot.addr.do_send(EvictBacklog {
                    before_entry: before,
                });
            }
        }
    }

    /// A subscription is gone for good: its ack floor no longer holds the log.
    pub(in crate::topic) fn release_hold(&mut self, name: &str, ctx: &mut Context<Self>) {
        if self.upkeep.remove_hold(name) {
            self.request_upkeep(ctx);
        }
    }

    /// Refuses a new producer while a producer-blocking quota is exceeded.
    pub(in crate::topic) fn quota_refusal(&self) -> Option<RequestError> {
        let breach = self.upkeep.blocked?;
        Some(RequestError::BacklogQuotaExceeded {
            topic: self.record.name.clone(),
            quota: breach.kind.as_str().to_owned(),
            exception: breach.policy == BacklogQuotaPolicy::ProducerException,
        })
    }

    /// The policies changed: resolve them again and tell whoever applies them.
    pub(in crate::topic) fn policies_changed(&mut self, ctx: &mut Context<Self>) {
        let defaults = self.broker.config().storage_policies.defaults;
        self.upkeep
            .resolve(&self.admin.policies, &self.policy.namespace, &defaults);
        self.request_upkeep(ctx);
    }
}

impl Handler<FloorMoved> for Topic {
    type Result = ();

    fn handle(&mut self, msg: FloorMoved, ctx: &mut Context<Self>) {
        if self.upkeep.move_hold(&msg.name, msg.floor) {
            self.request_upkeep_at(Pace::Paced, ctx);
        }
    }
}

impl Handler<GetStorageHolds> for Topic {
    type Result = ResponseActFuture<Self, Result<StorageHoldsReport, RequestError>>;

    fn handle(&mut self, _msg: GetStorageHolds, _ctx: &mut Context<Self>) -> Self::Result {
        if self.non_persistent {
            return Box::pin(actix::fut::ready(Err(crate::topic::admin::not_persistent(
                "storage holds",
            ))));
        }
        let Some(input) = self.upkeep_input() else {
            return Box::pin(actix::fut::ready(Err(RequestError::unavailable(
                "the topic",
            ))));
        };
        let storage = self.broker.storage().clone();
        let (name, blocked) = (self.record.name.clone(), self.upkeep.blocked.is_some());
        let built =
            actix_rt::task::spawn_blocking(move || report::build(&storage, &name, &input, blocked));
        Box::pin(wrap_future::<_, Self>(async move {
            match built.await {
                Ok(Ok(report)) => Ok(report),
                Ok(Err(e)) => Err(RequestError::from(e)),
                Err(_) => Err(RequestError::unavailable("a storage read")),
            }
        }))
    }
}
