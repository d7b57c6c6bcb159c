//! Topic-level policies (`/admin/topic-policies/{tenant}/{namespace}/{domain}/{topic}`): the one
//! typed representation the admin API, the metadata service and the topic actor share.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::policies::BacklogQuotaMap;
use super::policy_types::{DispatchRate, PublishRate, SchemaCompatibilityStrategy};

/// Retention of acknowledged messages (Pulsar's `RetentionPolicies`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct RetentionPolicies {
    /// Minutes to keep acknowledged messages (-1: forever).
    pub retention_time_in_minutes: i32,
    /// Megabytes of acknowledged messages to keep (-1: unlimited).
    #[serde(rename = "retentionSizeInMB")]
    pub retention_size_in_mb: i64,
}

/// A topic's policies, by Pulsar's `TopicPolicies` field names. Unset fields are `None` (the
/// namespace or broker value applies); fields Geminga does not model are kept in `other`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct TopicPolicies {
    /// Unacked messages a Shared/Key_Shared consumer may hold before dispatch to it pauses.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_unacked_messages_on_consumer: Option<u32>,
    /// Unacked messages a subscription may hold (stored; not applied yet).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_unacked_messages_on_subscription: Option<u32>,
    /// Messages older than this are acknowledged for every subscription (expiry).
    #[serde(
        rename = "messageTTLInSeconds",
        skip_serializing_if = "Option::is_none"
    )]
    pub message_ttl_in_seconds: Option<u32>,
    /// Retention of acknowledged messages.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retention_policies: Option<RetentionPolicies>,
    /// Producers allowed on the topic at once (0: unlimited).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_producer_per_topic: Option<u32>,
    /// Consumers allowed on the topic at once, over all subscriptions (0: unlimited).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_consumer_per_topic: Option<u32>,
    /// Consumers allowed per subscription (0: unlimited).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_consumers_per_subscription: Option<u32>,
    /// Drop re-sent messages by producer name and sequence id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deduplication_enabled: Option<bool>,
    /// Dispatch rate of the whole topic (all subscriptions together).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dispatch_rate: Option<DispatchRate>,
    /// Dispatch rate of each subscription.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subscription_dispatch_rate: Option<DispatchRate>,
    /// Publish rate of the topic.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub publish_rate: Option<PublishRate>,
    /// How new schemas must relate to the stored ones.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schema_compatibility_strategy: Option<SchemaCompatibilityStrategy>,
    /// Backlog quotas (Pulsar spells this field `backLogQuotaMap`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub back_log_quota_map: Option<BacklogQuotaMap>,
    /// Backlog bytes of the compaction cursor that trigger a compaction (0: never).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub compaction_threshold: Option<i64>,
    /// Fields not modelled, kept as stored.
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

impl TopicPolicies {
    /// The typed view of a stored policies document. A field of the wrong type is not lost:
    /// it stays in `other` as it was and the typed field is unset.
    pub fn from_document(document: &Map<String, Value>) -> Self {
        let mut document = document.clone();
        let mut set_aside = Map::new();
        loop {
            match serde_json::from_value::<TopicPolicies>(Value::Object(document.clone())) {
                Ok(mut policies) => {
                    policies.other.extend(set_aside);
                    return policies;
                }
                Err(_) => {
                    // Find one field that does not parse on its own and set it aside.
                    let bad = document.iter().find_map(|(k, v)| {
                        let single = Map::from_iter([(k.clone(), v.clone())]);
                        serde_json::from_value::<TopicPolicies>(Value::Object(single))
                            .is_err()
                            .then(|| k.clone())
                    });
                    match bad.and_then(|k| document.remove_entry(&k)) {
                        Some((k, v)) => {
                            set_aside.insert(k, v);
                        }
                        None => return TopicPolicies::default(),
                    }
                }
            }
        }
    }

    /// The stored document of these policies.
    pub fn to_document(&self) -> Map<String, Value> {
        match serde_json::to_value(self) {
            Ok(Value::Object(map)) => map,
            _ => Map::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_view_reads_pulsar_field_names_and_keeps_bad_values() {
        let document: Map<String, Value> = serde_json::from_str(
            r#"{"maxUnackedMessagesOnConsumer": 7, "messageTTLInSeconds": 30,
                "retentionPolicies": {"retentionTimeInMinutes": 10, "retentionSizeInMB": 5},
                "maxProducerPerTopic": "nope", "somethingElse": true,
                "deduplicationEnabled": true,
                "dispatchRate": {"dispatchThrottlingRateInMsg": 3},
                "schemaCompatibilityStrategy": "FORWARD"}"#,
        )
        .unwrap();
        let policies = TopicPolicies::from_document(&document);
        assert_eq!(policies.max_unacked_messages_on_consumer, Some(7));
        assert_eq!(policies.message_ttl_in_seconds, Some(30));
        assert_eq!(policies.max_producer_per_topic, None);
        assert_eq!(
            policies.other.get("maxProducerPerTopic"),
            Some(&"nope".into())
        );
        assert_eq!(policies.other.get("somethingElse"), Some(&true.into()));
        assert_eq!(policies.deduplication_enabled, Some(true));
        assert_eq!(
            policies
                .dispatch_rate
                .map(|r| r.dispatch_throttling_rate_in_msg),
            Some(3)
        );
        assert_eq!(
            policies.schema_compatibility_strategy,
            Some(SchemaCompatibilityStrategy::Forward)
        );
        assert_eq!(
            policies.retention_policies,
            Some(RetentionPolicies {
                retention_time_in_minutes: 10,
                retention_size_in_mb: 5
            })
        );
        let back = policies.to_document();
        assert_eq!(back.get("maxProducerPerTopic"), Some(&"nope".into()));
        assert_eq!(back.get("messageTTLInSeconds"), Some(&30.into()));
    }
}
