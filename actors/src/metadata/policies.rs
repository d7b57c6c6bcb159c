//! Backlog quota types shared by namespace and topic policies (Pulsar's `BacklogQuota`), and
//! the retention helpers.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use super::topic_policies::RetentionPolicies;

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

#[cfg(test)]
mod tests {
    use serde_json::{Map, Value};

    use super::*;
    use crate::metadata::TopicPolicies;

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
