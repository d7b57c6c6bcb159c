//! Typed policy values shared by namespace and topic policies: retention, backlog quotas, and
//! the one typed `TopicPolicies` document (Pulsar's camelCase names, unknown fields kept).

use std::collections::BTreeMap;
use std::fmt;

use serde::{de::DeserializeOwned, Deserialize, Serialize};
use serde_json::{Map, Value};

/// Retention of acknowledged messages (Pulsar's `RetentionPolicies`). A bound of -1 is
/// infinite; 0 keeps nothing once acknowledged. An acknowledged entry is deleted once it is
/// older than the time bound *or* the log is larger than the size bound, as Pulsar does.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct RetentionPolicies {
    /// Minutes to keep acknowledged messages (-1: forever).
    pub retention_time_in_minutes: i32,
    /// Megabytes of log to keep (-1: unlimited).
    #[serde(rename = "retentionSizeInMB")]
    pub retention_size_in_mb: i64,
}

impl RetentionPolicies {
    /// Whether acknowledged messages are kept forever (both bounds infinite).
    pub fn is_infinite(&self) -> bool {
        self.retention_time_in_minutes < 0 && self.retention_size_in_mb < 0
    }
}

/// What a backlog quota limits: the backlog's size or the age of its oldest message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum BacklogQuotaType {
    /// Bytes between the slowest subscription and the end of the log.
    DestinationStorage,
    /// Seconds since the oldest unacknowledged message was published.
    MessageAge,
}

impl BacklogQuotaType {
    /// Pulsar's name (`destination_storage`, `message_age`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::DestinationStorage => "destination_storage",
            Self::MessageAge => "message_age",
        }
    }

    /// Parses Pulsar's name.
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "destination_storage" => Some(Self::DestinationStorage),
            "message_age" => Some(Self::MessageAge),
            _ => None,
        }
    }
}

impl fmt::Display for BacklogQuotaType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What happens when a backlog quota is exceeded (Pulsar's `BacklogQuota.RetentionPolicy`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum BacklogQuotaPolicy {
    /// Producers are disconnected and refused (`ProducerBlockedQuotaExceededError`, which
    /// clients retry) until the backlog drops; their sends wait unpersisted in the client.
    #[default]
    ProducerRequestHold,
    /// Producers are disconnected and refused with `ProducerBlockedQuotaExceededException`,
    /// which fails their pending sends.
    ProducerException,
    /// The slowest subscriptions are moved forward until the backlog fits again.
    ConsumerBacklogEviction,
}

impl BacklogQuotaPolicy {
    /// Pulsar's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ProducerRequestHold => "producer_request_hold",
            Self::ProducerException => "producer_exception",
            Self::ConsumerBacklogEviction => "consumer_backlog_eviction",
        }
    }
}

/// One backlog quota (Pulsar's `BacklogQuota`): a size limit in bytes, an age limit in seconds
/// (-1: no limit) and what to do when exceeded.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct BacklogQuota {
    /// Bytes of backlog allowed (-1: unlimited). Pulsar's deprecated `limit` is accepted too.
    #[serde(alias = "limit")]
    pub limit_size: i64,
    /// Seconds the oldest unacknowledged message may wait (-1: unlimited).
    pub limit_time: i64,
    /// What happens once the limit is reached.
    pub policy: BacklogQuotaPolicy,
}

impl Default for BacklogQuota {
    fn default() -> Self {
        Self {
            limit_size: -1,
            limit_time: -1,
            policy: BacklogQuotaPolicy::default(),
        }
    }
}

/// Backlog quotas by type, as Pulsar keys them.
pub type BacklogQuotaMap = BTreeMap<BacklogQuotaType, BacklogQuota>;

/// Topic-level policies (`/admin/topic-policies/{tenant}/{namespace}/{domain}/{topic}`),
/// Pulsar's `TopicPolicies`. `None` means "not set at topic level"; fields Geminga does not
/// model are kept in `other` and written back unchanged. Reading is lenient: a field with a
/// value of the wrong type is kept in `other` rather than failing the whole document.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TopicPolicies {
    /// Unacked messages a Shared/Key_Shared consumer may hold before dispatch to it pauses.
    pub max_unacked_messages_on_consumer: Option<u32>,
    /// Unacked messages a subscription may hold (stored; not applied yet).
    pub max_unacked_messages_on_subscription: Option<u32>,
    /// Messages older than this are acknowledged for every subscription (expiry).
    pub message_ttl_in_seconds: Option<u32>,
    /// Retention of acknowledged messages.
    pub retention_policies: Option<RetentionPolicies>,
    /// Producers allowed on the topic at once (0: unlimited).
    pub max_producer_per_topic: Option<u32>,
    /// Consumers allowed on the topic at once (stored; not applied yet).
    pub max_consumer_per_topic: Option<u32>,
    /// Consumers allowed per subscription (0: unlimited).
    pub max_consumers_per_subscription: Option<u32>,
    /// Backlog quotas (Pulsar spells this field `backLogQuotaMap`).
    pub back_log_quota_map: Option<BacklogQuotaMap>,
    /// Backlog bytes of the compaction cursor that trigger a compaction (0: never).
    pub compaction_threshold: Option<i64>,
    /// Fields not modelled, kept as stored.
    pub other: Map<String, Value>,
}

/// Takes `key` out of `document` as a `T`; a value of another type stays in `document`.
fn take<T: DeserializeOwned>(document: &mut Map<String, Value>, key: &str) -> Option<T> {
    let value = document.get(key)?;
    let parsed = serde_json::from_value(value.clone()).ok()?;
    document.remove(key);
    Some(parsed)
}

/// Puts `value` under `key` when it is set.
fn put<T: Serialize>(document: &mut Map<String, Value>, key: &str, value: Option<&T>) {
    if let Some(value) = value.and_then(|v| serde_json::to_value(v).ok()) {
        document.insert(key.to_owned(), value);
    }
}

impl TopicPolicies {
    /// The typed view of a stored policies document.
    pub fn from_document(document: &Map<String, Value>) -> Self {
        let mut rest = document.clone();
        let mut policies = Self {
            max_unacked_messages_on_consumer: take(&mut rest, "maxUnackedMessagesOnConsumer"),
            max_unacked_messages_on_subscription: take(
                &mut rest,
                "maxUnackedMessagesOnSubscription",
            ),
            message_ttl_in_seconds: take(&mut rest, "messageTTLInSeconds"),
            retention_policies: take(&mut rest, "retentionPolicies"),
            max_producer_per_topic: take(&mut rest, "maxProducerPerTopic"),
            max_consumer_per_topic: take(&mut rest, "maxConsumerPerTopic"),
            max_consumers_per_subscription: take(&mut rest, "maxConsumersPerSubscription"),
            back_log_quota_map: take(&mut rest, "backLogQuotaMap"),
            compaction_threshold: take(&mut rest, "compactionThreshold"),
            other: Map::new(),
        };
        policies.other = rest;
        policies
    }

    /// The stored document: typed fields that are set, then everything kept in `other`.
    pub fn to_document(&self) -> Map<String, Value> {
        let mut document = self.other.clone();
        let d = &mut document;
        put(
            d,
            "maxUnackedMessagesOnConsumer",
            self.max_unacked_messages_on_consumer.as_ref(),
        );
        put(
            d,
            "maxUnackedMessagesOnSubscription",
            self.max_unacked_messages_on_subscription.as_ref(),
        );
        put(
            d,
            "messageTTLInSeconds",
            self.message_ttl_in_seconds.as_ref(),
        );
        put(d, "retentionPolicies", self.retention_policies.as_ref());
        put(
            d,
            "maxProducerPerTopic",
            self.max_producer_per_topic.as_ref(),
        );
        put(
            d,
            "maxConsumerPerTopic",
            self.max_consumer_per_topic.as_ref(),
        );
        put(
            d,
            "maxConsumersPerSubscription",
            self.max_consumers_per_subscription.as_ref(),
        );
        put(d, "backLogQuotaMap", self.back_log_quota_map.as_ref());
        put(d, "compactionThreshold", self.compaction_threshold.as_ref());
        document
    }
}

impl Serialize for TopicPolicies {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.to_document().serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for TopicPolicies {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let document = Map::<String, Value>::deserialize(deserializer)?;
        Ok(Self::from_document(&document))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_view_reads_pulsar_field_names_and_keeps_the_rest() {
        let document: Map<String, Value> = serde_json::from_str(
            r#"{"maxUnackedMessagesOnConsumer": 7, "messageTTLInSeconds": 30,
                "retentionPolicies": {"retentionTimeInMinutes": 10, "retentionSizeInMB": 5},
                "backLogQuotaMap": {"destination_storage":
                    {"limitSize": 100, "limitTime": -1, "policy": "producer_exception"}},
                "compactionThreshold": 1024,
                "maxProducerPerTopic": "nope", "somethingElse": true}"#,
        )
        .unwrap();
        let policies = TopicPolicies::from_document(&document);
        assert_eq!(policies.max_unacked_messages_on_consumer, Some(7));
        assert_eq!(policies.message_ttl_in_seconds, Some(30));
        assert_eq!(
            policies.max_producer_per_topic, None,
            "wrong type is ignored"
        );
        assert_eq!(policies.compaction_threshold, Some(1024));
        assert_eq!(
            policies.retention_policies,
            Some(RetentionPolicies {
                retention_time_in_minutes: 10,
                retention_size_in_mb: 5
            })
        );
        let quota =
            policies.back_log_quota_map.as_ref().unwrap()[&BacklogQuotaType::DestinationStorage];
        assert_eq!(quota.limit_size, 100);
        assert_eq!(quota.policy, BacklogQuotaPolicy::ProducerException);
        assert_eq!(policies.other["somethingElse"], true);
        assert_eq!(policies.to_document(), document, "written back unchanged");
    }

    #[test]
    fn backlog_quota_accepts_the_deprecated_limit_and_defaults() {
        let quota: BacklogQuota = serde_json::from_str(r#"{"limit": 5}"#).unwrap();
        assert_eq!(quota.limit_size, 5);
        assert_eq!(quota.limit_time, -1);
        assert_eq!(quota.policy, BacklogQuotaPolicy::ProducerRequestHold);
        let json = serde_json::to_value(BacklogQuota::default()).unwrap();
        assert_eq!(json["policy"], "producer_request_hold");
        assert_eq!(
            BacklogQuotaType::parse("message_age"),
            Some(BacklogQuotaType::MessageAge)
        );
    }
}
