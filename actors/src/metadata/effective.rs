//! The policies in effect on a topic: the topic's own value, else its namespace's, else the
//! broker's default, remembering which level decided (the storage-holds report names it).

use serde::Serialize;

use super::{
    BacklogQuota, BacklogQuotaMap, BacklogQuotaPolicy, BacklogQuotaType, Policies,
    RetentionPolicies, TopicPolicies,
};

/// Which level a policy value comes from.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum PolicySource {
    /// Set on the topic (or its partitioned topic).
    Topic,
    /// Set on the namespace.
    Namespace,
    /// The broker's configuration.
    #[default]
    Broker,
}

/// A policy value and where it comes from.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Sourced<T> {
    /// The value in effect.
    pub value: T,
    /// Who set it.
    pub source: PolicySource,
}

impl<T: Copy> Sourced<T> {
    /// The first level that sets a value: topic, namespace, then the broker's `default`.
    pub fn resolve(topic: Option<T>, namespace: Option<T>, default: T) -> Self {
        match (topic, namespace) {
            (Some(value), _) => Self {
                value,
                source: PolicySource::Topic,
            },
            (None, Some(value)) => Self {
                value,
                source: PolicySource::Namespace,
            },
            (None, None) => Self {
                value: default,
                source: PolicySource::Broker,
            },
        }
    }
}

/// The broker's defaults for the storage policies (Pulsar's `broker.conf` keys in brackets).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PolicyDefaults {
    /// `defaultRetentionTimeInMinutes` and `defaultRetentionSizeInMB` (Pulsar: 0 and 0).
    pub retention: RetentionPolicies,
    /// `ttlDurationDefaultInSeconds` (0: no TTL).
    pub message_ttl_seconds: u32,
    /// `backlogQuotaDefaultLimitBytes` (-1: none).
    pub backlog_quota_limit_bytes: i64,
    /// `backlogQuotaDefaultLimitSecond` (-1: none).
    pub backlog_quota_limit_seconds: i64,
    /// `backlogQuotaDefaultRetentionPolicy`.
    pub backlog_quota_policy: BacklogQuotaPolicy,
    /// `brokerServiceCompactionThresholdInBytes` (0: never compact automatically).
    pub compaction_threshold_bytes: i64,
}

impl Default for PolicyDefaults {
    /// Pulsar's defaults.
    fn default() -> Self {
        Self {
            retention: RetentionPolicies::default(),
            message_ttl_seconds: 0,
            backlog_quota_limit_bytes: -1,
            backlog_quota_limit_seconds: -1,
            backlog_quota_policy: BacklogQuotaPolicy::ProducerRequestHold,
            compaction_threshold_bytes: 0,
        }
    }
}

impl PolicyDefaults {
    /// The broker's quota of a type, if it limits anything.
    fn backlog_quota(&self, kind: BacklogQuotaType) -> Option<BacklogQuota> {
        let (limit_size, limit_time) = match kind {
            BacklogQuotaType::DestinationStorage => (self.backlog_quota_limit_bytes, -1),
            BacklogQuotaType::MessageAge => (-1, self.backlog_quota_limit_seconds),
        };
        (limit_size >= 0 || limit_time >= 0).then_some(BacklogQuota {
            limit_size,
            limit_time,
            policy: self.backlog_quota_policy,
        })
    }
}

/// The storage policies in effect on one topic.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EffectivePolicies {
    /// Retention of acknowledged messages.
    pub retention: Sourced<RetentionPolicies>,
    /// Message TTL in seconds (0: none).
    pub message_ttl_seconds: Sourced<u32>,
    /// The size quota, if any level sets one.
    pub size_quota: Option<Sourced<BacklogQuota>>,
    /// The age quota, if any level sets one.
    pub age_quota: Option<Sourced<BacklogQuota>>,
    /// Compaction threshold in bytes (0: never automatically).
    pub compaction_threshold_bytes: Sourced<i64>,
}

impl EffectivePolicies {
    /// Resolves topic, namespace and broker values.
    pub fn resolve(topic: &TopicPolicies, namespace: &Policies, defaults: &PolicyDefaults) -> Self {
        let quota = |kind: BacklogQuotaType| {
            let level = |map: Option<&BacklogQuotaMap>| map.and_then(|m| m.get(&kind)).copied();
            let topic_quota = level(topic.back_log_quota_map.as_ref());
            let ns_quota = level(Some(&namespace.backlog_quota_map));
            match (topic_quota, ns_quota, defaults.backlog_quota(kind)) {
                (None, None, None) => None,
                (t, n, d) => Some(Sourced::resolve(t, n, d.unwrap_or_default())),
            }
        };
        Self {
            retention: Sourced::resolve(
                topic.retention_policies,
                namespace.retention_policies,
                defaults.retention,
            ),
            message_ttl_seconds: Sourced::resolve(
                topic.message_ttl_in_seconds,
                namespace.message_ttl_in_seconds,
                defaults.message_ttl_seconds,
            ),
            size_quota: quota(BacklogQuotaType::DestinationStorage),
            age_quota: quota(BacklogQuotaType::MessageAge),
            compaction_threshold_bytes: Sourced::resolve(
                topic.compaction_threshold,
                namespace.compaction_threshold,
                defaults.compaction_threshold_bytes,
            ),
        }
    }

    /// Quotas whose policy blocks producers, with their type.
    pub fn producer_quotas(&self) -> impl Iterator<Item = (BacklogQuotaType, BacklogQuota)> + '_ {
        self.quotas().filter(|(_, q)| {
            matches!(
                q.policy,
                BacklogQuotaPolicy::ProducerRequestHold | BacklogQuotaPolicy::ProducerException
            )
        })
    }

    /// Every quota that limits something, with its type.
    pub fn quotas(&self) -> impl Iterator<Item = (BacklogQuotaType, BacklogQuota)> + '_ {
        let size = self
            .size_quota
            .map(|q| (BacklogQuotaType::DestinationStorage, q.value))
            .filter(|(_, q)| q.limit_size >= 0);
        let age = self
            .age_quota
            .map(|q| (BacklogQuotaType::MessageAge, q.value))
            .filter(|(_, q)| q.limit_time >= 0);
        size.into_iter().chain(age)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topic_beats_namespace_beats_broker() {
        let defaults = PolicyDefaults {
            message_ttl_seconds: 5,
            ..PolicyDefaults::default()
        };
        let mut ns = Policies::default();
        let mut topic = TopicPolicies::default();
        let e = EffectivePolicies::resolve(&topic, &ns, &defaults);
        assert_eq!(e.message_ttl_seconds.value, 5);
        assert_eq!(e.message_ttl_seconds.source, PolicySource::Broker);
        assert_eq!(e.size_quota, None, "no level limits the backlog");
        ns.message_ttl_in_seconds = Some(60);
        ns.backlog_quota_map.insert(
            BacklogQuotaType::DestinationStorage,
            BacklogQuota {
                limit_size: 10,
                ..BacklogQuota::default()
            },
        );
        let e = EffectivePolicies::resolve(&topic, &ns, &defaults);
        assert_eq!(e.message_ttl_seconds.value, 60);
        assert_eq!(e.message_ttl_seconds.source, PolicySource::Namespace);
        assert_eq!(e.quotas().count(), 1);
        assert_eq!(e.producer_quotas().count(), 1);
        topic.message_ttl_in_seconds = Some(0);
        topic.retention_policies = Some(RetentionPolicies {
            retention_time_in_minutes: -1,
            retention_size_in_mb: -1,
        });
        let e = EffectivePolicies::resolve(&topic, &ns, &defaults);
        assert_eq!(e.message_ttl_seconds.value, 0, "a topic may switch TTL off");
        assert_eq!(e.message_ttl_seconds.source, PolicySource::Topic);
        assert!(e.retention.value.is_infinite());
    }

    #[test]
    fn broker_quota_applies_only_when_it_limits_something() {
        let defaults = PolicyDefaults {
            backlog_quota_limit_seconds: 30,
            backlog_quota_policy: BacklogQuotaPolicy::ConsumerBacklogEviction,
            ..PolicyDefaults::default()
        };
        let e =
            EffectivePolicies::resolve(&TopicPolicies::default(), &Policies::default(), &defaults);
        assert_eq!(e.size_quota, None);
        let age = e.age_quota.unwrap();
        assert_eq!(age.value.limit_time, 30);
        assert_eq!(age.source, PolicySource::Broker);
        assert_eq!(
            e.producer_quotas().count(),
            0,
            "eviction does not block producers"
        );
    }
}
