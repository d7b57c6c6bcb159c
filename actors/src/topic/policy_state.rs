//! What a topic keeps for the policies of issue 6b: its namespace's policies, deduplication,
//! producer access, rate limiters and the stored topic epoch; and applying them.

use std::{collections::HashMap, sync::Arc, time::Duration};

use actix::{Addr, AsyncContext, Context, Message};
use geminga_protocol::topic_name::TopicName;
use geminga_storage::{MetadataStore, StorageError, WriteOp};
use tracing::warn;

use super::{
    access::ProducerAccess, actor::Topic, dedup::Dedup, effective::PolicyLevels, rate::RateLimiter,
};
use crate::{
    metadata::{DeadLetterPolicy, DelayedDeliveryPolicies, Policies, RedeliveryBackoffPolicy},
    producer::Producer,
    storage_writer::persist,
    subscription::{ApplySubscriptionPolicies, PolicyOverrides, RedeliveryBackoff},
};

/// Policy state of one topic, kept apart from the actor's data path fields.
#[derive(Debug)]
pub struct TopicPolicyState {
    /// The namespace's policies (the middle level of every effective policy).
    pub(super) namespace: Policies,
    /// Message deduplication.
    pub(super) dedup: Dedup,
    /// Who may publish (access modes) and the topic epoch.
    pub(super) access: ProducerAccess,
    /// WaitForExclusive producers queued, by handle, with their schema version.
    pub(super) waiting: HashMap<u64, (Addr<Producer>, Option<Vec<u8>>)>,
    /// Shared with every connection publishing here.
    pub(super) publish_limiter: Arc<RateLimiter>,
    /// Shared by the dispatchers of every subscription (topic-level dispatch rate).
    pub(super) dispatch_limiter: Arc<RateLimiter>,
}

impl Default for TopicPolicyState {
    fn default() -> Self {
        Self {
            namespace: Policies::default(),
            dedup: Dedup::default(),
            access: ProducerAccess::default(),
            waiting: HashMap::new(),
            publish_limiter: RateLimiter::new(None),
            dispatch_limiter: RateLimiter::new(None),
        }
    }
}

/// The namespace's policies changed.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct ApplyNamespacePolicies {
    /// The new policies.
    pub policies: Policies,
}

/// Metadata key of a topic's epoch (exclusive producers).
fn epoch_key(topic: &TopicName) -> String {
    format!(
        "/geminga/topic-epoch/{}/{}/{}/{}",
        topic.tenant(),
        topic.namespace(),
        topic.domain().as_str(),
        topic.local_name()
    )
}

/// The stored topic epoch of topic `name` (0 when none).
///
/// # Errors
/// Storage failure.
pub fn load_epoch(store: &dyn MetadataStore, name: &str) -> Result<u64, StorageError> {
    let Ok(topic) = TopicName::parse(name) else {
        return Ok(0);
    };
    Ok(store
        .get(&epoch_key(&topic))?
        .and_then(|v| std::str::from_utf8(&v.value).ok()?.trim().parse().ok())
        .unwrap_or(0))
}

/// Stores `epoch` for topic `name` unless a larger one is stored.
///
/// # Errors
/// Storage failure.
pub fn store_epoch(store: &dyn MetadataStore, name: &str, epoch: u64) -> Result<(), StorageError> {
    let Ok(topic) = TopicName::parse(name) else {
        return Ok(());
    };
    let key = epoch_key(&topic);
    for _ in 0..8 {
        let current = store.get(&key)?;
        let (stored, version) = current.map_or((0, 0), |v| {
            let n = std::str::from_utf8(&v.value)
                .ok()
                .and_then(|s| s.trim().parse().ok())
                .unwrap_or(0);
            (n, v.version)
        });
        if stored >= epoch {
            return Ok(());
        }
        match store.put(&key, epoch.to_string().as_bytes(), Some(version)) {
            Err(StorageError::BadVersion { .. }) => continue,
            other => return other.map(|_| ()),
        }
    }
    Ok(())
}

/// Removes the stored epoch of a deleted topic.
///
/// # Errors
/// Storage failure.
pub fn forget_epoch(store: &dyn MetadataStore, name: &str) -> Result<(), StorageError> {
    match TopicName::parse(name) {
        Ok(topic) => store.delete(&epoch_key(&topic), None),
        Err(_) => Ok(()),
    }
}

impl Topic {
    /// The policy levels of this topic: its own, its namespace's, the broker's.
    pub(super) fn levels(&self) -> PolicyLevels<'_> {
        PolicyLevels {
            topic: &self.admin.policies,
            namespace: &self.policy.namespace,
            broker: self.broker.config(),
        }
    }

    /// Applies the effective policies: deduplication, rate limiters, subscriptions.
    pub(super) fn apply_effective(&mut self, ctx: &mut Context<Self>) {
        let dedup = self.levels().deduplication() && !self.non_persistent;
        let (publish, dispatch) = (
            self.levels().publish_rate(),
            self.levels().topic_dispatch_rate(),
        );
        self.policy.publish_limiter.set_limit(publish);
        self.policy.dispatch_limiter.set_limit(dispatch);
        if self.policy.dedup.set_enabled(dedup) {
            self.clear_stored_sequences(ctx);
        }
        let update = self.subscription_policies();
        for slot in self.subscriptions.values() {
            slot.addr.do_send(update.clone());
        }
        self.publish_delivery_policies();
    }

    /// Hands the namespace's and this topic's delayed-delivery, dead-letter and backoff
    /// policies to the broker-wide [`SubscriptionPolicies`](crate::subscription::SubscriptionPolicies)
    /// its subscriptions resolve against (they notice within one tick).
    fn publish_delivery_policies(&self) {
        let Ok(name) = TopicName::parse(&self.record.name) else {
            return;
        };
        let ns = &self.policy.namespace;
        let topic = &self.admin.policies;
        let shared = self.broker.subscription_policies();
        shared.set_namespace(
            &name.namespace_name(),
            overrides(
                ns.delayed_delivery_policies.as_ref(),
                ns.dead_letter_policy.as_ref(),
                ns.redelivery_backoff_policy.as_ref(),
            ),
        );
        shared.set_topic(
            &self.record.name,
            overrides(
                topic.delayed_delivery_policies.as_ref(),
                topic.dead_letter_policy.as_ref(),
                topic.redelivery_backoff_policy.as_ref(),
            ),
        );
    }

    /// The subscription-level part of the effective policies.
    pub(super) fn subscription_policies(&self) -> ApplySubscriptionPolicies {
        let levels = self.levels();
        ApplySubscriptionPolicies {
            max_unacked_per_consumer: self.admin.policies.max_unacked_messages_on_consumer,
            max_consumers: self
                .admin
                .policies
                .max_consumers_per_subscription
                .or(self.policy.namespace.max_consumers_per_subscription),
            dispatch_rate: levels.subscription_dispatch_rate(),
            topic_dispatch: Some(self.policy.dispatch_limiter.clone()),
        }
    }

    /// Deduplication was turned off: forget the stored sequence ids, as Pulsar drops its
    /// deduplication cursor, so turning it on later starts afresh.
    pub(super) fn clear_stored_sequences(&self, ctx: &mut Context<Self>) {
        if self.non_persistent {
            return;
        }
        let ledger_id = self.record.ledger_id;
        let write = persist(
            self.broker.committer(),
            vec![WriteOp::ClearSequences { ledger_id }],
        );
        let span = self.span.clone();
        ctx.spawn(actix::fut::wrap_future(async move {
            if let Err(e) = write.await {
                warn!(parent: &span, error = %e, "clearing the deduplication records failed");
            }
        }));
    }

    /// Stores a new topic epoch in the background (a stale exclusive producer must stay
    /// fenced across restarts).
    pub(super) fn store_epoch(&self, epoch: u64) {
        let storage = self.broker.storage().clone();
        let name = self.record.name.clone();
        let span = self.span.clone();
        actix_rt::spawn(async move {
            let stored = actix_rt::task::spawn_blocking(move || {
                store_epoch(storage.metadata(), &name, epoch)
            })
            .await;
            if !matches!(stored, Ok(Ok(()))) {
                warn!(parent: &span, epoch, "storing the topic epoch failed");
            }
        });
    }
}

/// One level's subscription overrides; `None` when the level sets none of them.
fn overrides(
    delayed: Option<&DelayedDeliveryPolicies>,
    dead_letter: Option<&DeadLetterPolicy>,
    backoff: Option<&RedeliveryBackoffPolicy>,
) -> Option<PolicyOverrides> {
    if delayed.is_none() && dead_letter.is_none() && backoff.is_none() {
        return None;
    }
    Some(PolicyOverrides {
        delayed_delivery_enabled: delayed.map(|p| p.active),
        tick: delayed
            .filter(|p| p.tick_time > 0)
            .map(|p| Duration::from_millis(p.tick_time)),
        max_redeliver_count: dead_letter.map(|p| p.max_redeliver_count),
        dead_letter_topic: dead_letter.and_then(|p| p.dead_letter_topic.clone()),
        redelivery_backoff: backoff.map(|b| {
            (b.max_delay_ms > 0).then(|| RedeliveryBackoff {
                min_delay: Duration::from_millis(b.min_delay_ms),
                max_delay: Duration::from_millis(b.max_delay_ms),
                multiplier: if b.multiplier == 0 { 2 } else { b.multiplier },
            })
        }),
    })
}

/// Policies loaded with the topic.
#[derive(Debug, Default)]
pub(super) struct LoadedPolicies {
    pub(super) namespace: Policies,
    pub(super) sequences: std::collections::BTreeMap<String, i64>,
    pub(super) epoch: u64,
}

/// Loads the namespace policies, the stored sequence ids and the topic epoch (blocking).
pub(super) fn load_policy_state(
    broker: &crate::context::BrokerContext,
    name: &str,
    ledger_id: u64,
    non_persistent: bool,
) -> Result<LoadedPolicies, StorageError> {
    let storage = broker.storage();
    let namespace = TopicName::parse(name)
        .ok()
        .and_then(|t| {
            broker
                .metadata()
                .policies(&crate::metadata::NamespaceName::of_topic(&t))
                .ok()
        })
        .unwrap_or_default();
    let sequences = if non_persistent {
        Default::default()
    } else {
        storage.load_sequences(ledger_id)?
    };
    Ok(LoadedPolicies {
        namespace,
        sequences,
        epoch: load_epoch(storage.metadata(), name)?,
    })
}

impl actix::Handler<ApplyNamespacePolicies> for Topic {
    type Result = ();

    fn handle(&mut self, msg: ApplyNamespacePolicies, ctx: &mut Context<Self>) {
        self.policy.namespace = msg.policies;
        self.apply_effective(ctx);
        // Retention, TTL, backlog quotas and the compaction threshold too.
        self.policies_changed(ctx);
    }
}
