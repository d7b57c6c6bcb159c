//! Delayed-delivery and dead-letter policy of a subscription, resolved from broker config and
//! namespace/topic overrides.
//!
//! [`SubscriptionPolicies::resolve`] is the one place a subscription learns its policy: broker
//! defaults (from `ActorConfig`), then the namespace's overrides, then the topic's. Whatever
//! feeds namespace and topic policies (the admin API, the metadata store) calls
//! [`SubscriptionPolicies::set_namespace`] / [`SubscriptionPolicies::set_topic`]; live
//! subscriptions notice the change (a version counter) within one tick.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{PoisonError, RwLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::config::ActorConfig;

/// Milliseconds since the Unix epoch: the clock `deliver_at_time` is written in. State structs
/// never read it themselves; actors pass it in.
pub fn epoch_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// How the delay before a broker-side redelivery grows with the redelivery count.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RedeliveryBackoff {
    /// Delay before the first redelivery.
    pub min_delay: Duration,
    /// The delay never grows past this.
    pub max_delay: Duration,
    /// Each further redelivery multiplies the delay by this (at least 1).
    pub multiplier: u32,
}

impl RedeliveryBackoff {
    /// The delay before redelivery number `redelivery_count` (1 for the first redelivery):
    /// `min * multiplier^(count - 1)`, capped at `max`.
    #[must_use]
    pub fn delay(&self, redelivery_count: u32) -> Duration {
        let steps = redelivery_count.saturating_sub(1);
        let factor = self.multiplier.max(1).saturating_pow(steps);
        self.min_delay
            .checked_mul(factor)
            .unwrap_or(self.max_delay)
            .min(self.max_delay)
            .max(self.min_delay.min(self.max_delay))
    }
}

/// What one subscription does with delayed messages, redeliveries and poison messages.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SubscriptionPolicy {
    /// Hold messages with `deliver_at_time` back on Shared and Key_Shared subscriptions
    /// (Pulsar's `delayedDeliveryEnabled`, also a namespace policy).
    pub delayed_delivery_enabled: bool,
    /// Longest a due delayed message waits before it is dispatched, and how often the
    /// subscription looks at policy changes (`delayedDeliveryTickTimeMillis`).
    pub tick: Duration,
    /// Broker-side dead-lettering: a message about to be delivered for the
    /// `max_redeliver_count + 1`-th time goes to the dead-letter topic instead (0 = off).
    pub max_redeliver_count: u32,
    /// Where dead letters go; `None` means `<topic>-<subscription>-DLQ`.
    pub dead_letter_topic: Option<String>,
    /// Delay before a nacked message is redelivered, growing with its count (`None` = at once).
    pub redelivery_backoff: Option<RedeliveryBackoff>,
}

impl SubscriptionPolicy {
    /// The broker-wide defaults.
    #[must_use]
    pub fn from_config(config: &ActorConfig) -> Self {
        let backoff = (!config.redelivery_backoff_max.is_zero()).then_some(RedeliveryBackoff {
            min_delay: config.redelivery_backoff_min,
            max_delay: config.redelivery_backoff_max,
            multiplier: 2,
        });
        Self {
            delayed_delivery_enabled: config.delayed_delivery_enabled,
            tick: config.delayed_delivery_tick.max(Duration::from_millis(1)),
            max_redeliver_count: config.dead_letter_max_redeliver_count,
            dead_letter_topic: None,
            redelivery_backoff: backoff,
        }
    }

    /// The dead-letter topic of `subscription` on `topic` (full names in, full name out).
    #[must_use]
    pub fn dead_letter_topic_for(&self, topic: &str, subscription: &str) -> String {
        match &self.dead_letter_topic {
            Some(name) if !name.is_empty() => name.clone(),
            _ => format!("{topic}-{subscription}-DLQ"),
        }
    }

    /// What the dispatcher applies.
    #[must_use]
    pub fn dispatch(&self) -> crate::dispatcher::DispatchPolicy {
        crate::dispatcher::DispatchPolicy {
            max_redeliver_count: self.max_redeliver_count,
            backoff: self.redelivery_backoff,
        }
    }

    /// Applies overrides on top of this policy.
    #[must_use]
    pub fn with(mut self, overrides: &PolicyOverrides) -> Self {
        if let Some(enabled) = overrides.delayed_delivery_enabled {
            self.delayed_delivery_enabled = enabled;
        }
        if let Some(tick) = overrides.tick {
            self.tick = tick.max(Duration::from_millis(1));
        }
        if let Some(max) = overrides.max_redeliver_count {
            self.max_redeliver_count = max;
        }
        if let Some(topic) = &overrides.dead_letter_topic {
            self.dead_letter_topic = Some(topic.clone());
        }
        if let Some(backoff) = overrides.redelivery_backoff {
            self.redelivery_backoff = backoff;
        }
        self
    }
}

/// Namespace- or topic-level settings; `None` keeps what the level below says.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PolicyOverrides {
    /// Pulsar's `delayedDeliveryPolicies.active`.
    pub delayed_delivery_enabled: Option<bool>,
    /// Pulsar's `delayedDeliveryPolicies.tickTime`.
    pub tick: Option<Duration>,
    /// `deadLetterPolicy.maxRedeliverCount` (0 switches broker-side dead-lettering off).
    pub max_redeliver_count: Option<u32>,
    /// `deadLetterPolicy.deadLetterTopic`.
    pub dead_letter_topic: Option<String>,
    /// `Some(None)` switches a broker-wide backoff off; `Some(Some(b))` sets one.
    pub redelivery_backoff: Option<Option<RedeliveryBackoff>>,
}

/// Broker defaults plus namespace and topic overrides, shared by every subscription.
#[derive(Debug)]
pub struct SubscriptionPolicies {
    base: SubscriptionPolicy,
    /// `tenant/namespace` -> overrides.
    namespaces: RwLock<HashMap<String, PolicyOverrides>>,
    /// Full topic name (a partition's, or its partitioned base topic's) -> overrides.
    topics: RwLock<HashMap<String, PolicyOverrides>>,
    /// Bumped on every change so subscriptions re-resolve cheaply.
    version: AtomicU64,
}

impl SubscriptionPolicies {
    /// Policies that start as the broker defaults.
    #[must_use]
    pub fn new(base: SubscriptionPolicy) -> Self {
        Self {
            base,
            namespaces: RwLock::new(HashMap::new()),
            topics: RwLock::new(HashMap::new()),
            version: AtomicU64::new(1),
        }
    }

    /// Sets (or, with `None`, removes) the overrides of namespace `tenant/namespace`.
    pub fn set_namespace(&self, namespace: &str, overrides: Option<PolicyOverrides>) {
        set(&self.namespaces, namespace, overrides);
        self.version.fetch_add(1, Ordering::Release);
    }

    /// Sets (or removes) the overrides of a topic (full name, e.g.
    /// `persistent://public/default/t`; a partitioned topic's base name covers its partitions).
    pub fn set_topic(&self, topic: &str, overrides: Option<PolicyOverrides>) {
        set(&self.topics, topic, overrides);
        self.version.fetch_add(1, Ordering::Release);
    }

    /// Changes so far; a subscription re-resolves when this moves.
    #[must_use]
    pub fn version(&self) -> u64 {
        self.version.load(Ordering::Acquire)
    }

    /// The policy of the subscriptions of `topic` (full name): broker defaults, then the
    /// namespace's overrides, then the base topic's, then the partition's own.
    #[must_use]
    pub fn resolve(&self, topic: &str) -> SubscriptionPolicy {
        let parsed = geminga_protocol::TopicName::parse(topic).ok();
        let mut policy = self.base.clone();
        if let Some(name) = &parsed {
            let namespaces = self
                .namespaces
                .read()
                .unwrap_or_else(PoisonError::into_inner);
            if let Some(o) = namespaces.get(&name.namespace_name()) {
                policy = policy.with(o);
            }
        }
        let topics = self.topics.read().unwrap_or_else(PoisonError::into_inner);
        if let Some(base) = parsed.as_ref().filter(|n| n.partition_index().is_some()) {
            if let Some(o) = topics.get(&base.base_name().full_name()) {
                policy = policy.with(o);
            }
        }
        if let Some(o) = topics.get(topic) {
            policy = policy.with(o);
        }
        policy
    }
}

fn set(map: &RwLock<HashMap<String, PolicyOverrides>>, key: &str, value: Option<PolicyOverrides>) {
    let mut map = map.write().unwrap_or_else(PoisonError::into_inner);
    match value {
        Some(value) => map.insert(key.to_owned(), value),
        None => map.remove(key),
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> SubscriptionPolicy {
        SubscriptionPolicy::from_config(&ActorConfig::default())
    }

    #[test]
    fn defaults_follow_pulsar_and_leave_broker_side_dead_letters_off() {
        let p = base();
        assert!(p.delayed_delivery_enabled);
        assert_eq!(p.tick, Duration::from_secs(1));
        assert_eq!(p.max_redeliver_count, 0);
        assert_eq!(p.redelivery_backoff, None);
        assert_eq!(
            p.dead_letter_topic_for("persistent://t/n/x", "sub"),
            "persistent://t/n/x-sub-DLQ"
        );
    }

    #[test]
    fn topic_overrides_win_over_namespace_overrides_and_can_be_removed() {
        let policies = SubscriptionPolicies::new(base());
        let topic = "persistent://t/n/x-partition-1";
        let v0 = policies.version();
        policies.set_namespace(
            "t/n",
            Some(PolicyOverrides {
                delayed_delivery_enabled: Some(false),
                max_redeliver_count: Some(5),
                ..PolicyOverrides::default()
            }),
        );
        policies.set_topic(
            "persistent://t/n/x",
            Some(PolicyOverrides {
                max_redeliver_count: Some(3),
                dead_letter_topic: Some("persistent://t/n/dead".into()),
                ..PolicyOverrides::default()
            }),
        );
        assert!(policies.version() > v0);
        let p = policies.resolve(topic);
        assert!(!p.delayed_delivery_enabled, "from the namespace");
        assert_eq!(p.max_redeliver_count, 3, "the base topic covers partitions");
        assert_eq!(p.dead_letter_topic_for(topic, "s"), "persistent://t/n/dead");
        policies.set_topic("persistent://t/n/x", None);
        assert_eq!(policies.resolve(topic).max_redeliver_count, 5);
        assert!(
            policies
                .resolve("persistent://other/n/y")
                .delayed_delivery_enabled
        );
    }

    #[test]
    fn backoff_grows_from_min_to_max() {
        let b = RedeliveryBackoff {
            min_delay: Duration::from_millis(100),
            max_delay: Duration::from_millis(1000),
            multiplier: 2,
        };
        let delays: Vec<u128> = (1..=6).map(|n| b.delay(n).as_millis()).collect();
        assert_eq!(delays, vec![100, 200, 400, 800, 1000, 1000]);
        assert_eq!(b.delay(0).as_millis(), 100);
        assert_eq!(b.delay(u32::MAX), Duration::from_millis(1000));
    }
}
