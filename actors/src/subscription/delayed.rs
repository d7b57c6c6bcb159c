//! The Subscription actor's side of delayed delivery and its policy: waking up when delayed
//! entries come due, scanning the on-disk index, following policy changes, persisting
//! redelivery counts, and answering delivery stats.

use std::sync::Arc;
use std::time::Duration;

use actix::{fut::wrap_future, ActorContext, ActorFutureExt, AsyncContext, Context, Handler};
use geminga_storage::{DueDelayed, Entry, StorageError};
use tracing::warn;

use super::{
    actor::{flatten, Subscription},
    delayed_state::DueRead,
    messages::{GetDeliveryStats, GetSubscriptionCounters, RedeliveriesCounted},
    policy::epoch_ms,
    stats::{DeliveryStats, SubscriptionCounters},
};
use crate::{
    dispatcher::{Entries, SetDispatchPolicy},
    error::RequestError,
};

impl Subscription {
    /// Tells the dispatcher the dead-letter and backoff part of the policy.
    pub(super) fn send_dispatch_policy(&self) {
        if let Some(dispatcher) = &self.dispatcher {
            dispatcher.do_send(SetDispatchPolicy {
                policy: self.policy.dispatch(),
            });
        }
    }

    /// Arms the wake-up timer for the earlier of: the next due delayed entry, and one tick
    /// from now (policy changes, and the safety net for index keys written during a scan).
    pub(super) fn schedule_wake(&mut self, ctx: &mut Context<Self>) {
        let now = epoch_ms();
        let tick = u64::try_from(self.policy.tick.as_millis()).unwrap_or(u64::MAX);
        let due = self
            .state
            .as_ref()
            .and_then(|s| s.next_due_ms())
            .unwrap_or(u64::MAX);
        let at = due.min(now.saturating_add(tick)).max(now);
        if let Some((handle, current)) = self.wake {
            if current <= at {
                return;
            }
            ctx.cancel_future(handle);
        }
        let handle = ctx.run_later(Duration::from_millis(at - now), |act, ctx| {
            act.wake = None;
            act.on_wake(ctx);
        });
        self.wake = Some((handle, at));
    }

    fn on_wake(&mut self, ctx: &mut Context<Self>) {
        self.refresh_policy(ctx);
        if let Some(state) = self.state.as_ref() {
            // Acks of deferred entries change the gauge too; catch up once per tick.
            self.counters.set_delayed(state.delayed_messages());
        }
        let now = epoch_ms();
        let tick = u64::try_from(self.policy.tick.as_millis()).unwrap_or(u64::MAX);
        if now.saturating_sub(self.last_scan_ms) >= tick {
            if let Some(state) = self.state.as_mut() {
                state.look_again(now);
            }
        }
        self.read_next(ctx);
        self.retry_dead_letters(ctx);
        self.schedule_wake(ctx);
    }

    /// Re-resolves the policy when namespace or topic policies changed.
    fn refresh_policy(&mut self, ctx: &mut Context<Self>) {
        let policies = self.broker.subscription_policies().clone();
        let version = policies.version();
        if version == self.policy_version {
            return;
        }
        self.policy_version = version;
        let policy = policies.resolve(&self.record.name);
        if policy == self.policy {
            return;
        }
        self.policy = policy;
        self.send_dispatch_policy();
        let enabled = self.policy.delayed_delivery_enabled && self.durable;
        let Some(state) = self.state.as_mut() else {
            return;
        };
        if state.set_delays_enabled(enabled) {
            self.counters.set_delayed(0);
            self.rewind(ctx);
            self.persist(ctx);
        }
    }

    /// Scans the delayed index for due keys and reads their entries, on the blocking pool.
    pub(super) fn read_due(&mut self, due: DueRead, ctx: &mut Context<Self>) {
        self.reading = true;
        self.last_scan_ms = due.now_ms;
        let storage = self.broker.storage().clone();
        let cache = self.cache.clone();
        let (ledger_id, name) = (self.record.ledger_id, self.name.clone());
        let read = due.clone();
        let scan = actix_rt::task::spawn_blocking(move || {
            let found = storage.due_delayed(
                ledger_id,
                &name,
                read.incarnation,
                read.from_ms,
                read.now_ms,
                read.limit,
            )?;
            let mut entries = Vec::with_capacity(found.due.len());
            for key in &found.due {
                let cached = cache.get(key.entry_id);
                let entry = match cached {
                    Some(entry) => Some(entry),
                    None => storage.read_entry(ledger_id, key.entry_id)?,
                };
                entries.extend(entry);
            }
            Ok::<(DueDelayed, Vec<Entry>), StorageError>((found, entries))
        });
        let fut = wrap_future::<_, Self>(scan).map(move |joined, act, ctx| {
            act.reading = false;
            match flatten(joined) {
                Ok((found, entries)) => {
                    act.on_due(&due, found, entries, ctx);
                    act.read_next(ctx);
                }
                Err(e) => {
                    warn!(parent: &act.span, error = %e, "scanning the delayed index failed; restarting");
                    ctx.stop();
                }
            }
        });
        ctx.spawn(fut);
    }

    fn on_due(
        &mut self,
        due: &DueRead,
        found: DueDelayed,
        entries: Vec<Entry>,
        ctx: &mut Context<Self>,
    ) {
        let Some(state) = self.state.as_mut() else {
            return;
        };
        let taken = !found.due.is_empty();
        let out = state.on_due(due, found, entries);
        self.counters.set_delayed(state.delayed_messages());
        if let (false, Some(dispatcher)) = (out.is_empty(), &self.dispatcher) {
            dispatcher.do_send(Entries {
                epoch: due.epoch,
                entries: out,
                redelivered: false,
            });
        }
        if taken {
            self.persist(ctx);
        }
        self.schedule_wake(ctx);
    }

    fn delivery_stats(&self) -> Result<DeliveryStats, RequestError> {
        let state = self
            .state
            .as_ref()
            .ok_or_else(|| RequestError::unavailable("the subscription"))?;
        Ok(DeliveryStats {
            msg_delayed: state.delayed_messages(),
            msg_dead_lettered: self.counters.dead_lettered_messages(),
            msg_redelivered: self.counters.redeliveries(),
            entries_with_redelivery_count: state.cursor().redelivered_entries(),
            delayed_delivery_active: state.delays_active(),
            max_redeliver_count: self.policy.max_redeliver_count,
            dead_letter_topic: self
                .policy
                .dead_letter_topic_for(&self.record.name, &self.name),
            dead_letters_in_flight: self.dead_letters.in_flight(),
        })
    }
}

impl Handler<RedeliveriesCounted> for Subscription {
    type Result = ();

    fn handle(&mut self, msg: RedeliveriesCounted, ctx: &mut Context<Self>) {
        let Some(state) = self.state.as_mut() else {
            return;
        };
        self.counters.add_redeliveries(msg.counts.len() as u64);
        self.stats.redeliveries.store(
            self.counters.redeliveries(),
            std::sync::atomic::Ordering::Relaxed,
        );
        let mut changed = false;
        for (id, count) in msg.counts {
            changed |= state.cursor_mut().set_redelivery_count(id, count);
        }
        if changed {
            self.persist(ctx);
        }
    }
}

impl Handler<GetDeliveryStats> for Subscription {
    type Result = Result<DeliveryStats, RequestError>;

    fn handle(&mut self, _msg: GetDeliveryStats, _ctx: &mut Context<Self>) -> Self::Result {
        self.delivery_stats()
    }
}

impl Handler<GetSubscriptionCounters> for Subscription {
    type Result = actix::MessageResult<GetSubscriptionCounters>;

    fn handle(&mut self, _msg: GetSubscriptionCounters, _ctx: &mut Context<Self>) -> Self::Result {
        actix::MessageResult(Arc::clone(&self.counters) as Arc<SubscriptionCounters>)
    }
}
