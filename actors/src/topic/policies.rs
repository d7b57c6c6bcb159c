//! Topic-level policies and the termination marker, kept in the metadata store.
//!
//! Policies live at `/admin/topic-policies/{tenant}/{namespace}/{domain}/{topic}` as Pulsar's
//! `TopicPolicies` JSON (camelCase field names). A partition uses the policies of its
//! partitioned topic, as in Pulsar. Every call here blocks: run it on the blocking pool.

use geminga_protocol::topic_name::TopicName;
use geminga_storage::{MetadataStore, StorageError};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

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

/// The typed view of the policies Geminga applies. Fields not set are `None`; the stored
/// document may hold more fields, which are kept as they are.
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
    /// Retention of acknowledged messages (stored; Geminga does not trim logs yet).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retention_policies: Option<RetentionPolicies>,
    /// Producers allowed on the topic at once (0: unlimited).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_producer_per_topic: Option<u32>,
    /// Consumers allowed on the topic at once (stored; not applied yet).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_consumer_per_topic: Option<u32>,
    /// Consumers allowed per subscription (0: unlimited).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_consumers_per_subscription: Option<u32>,
}

impl TopicPolicies {
    /// The typed view of a stored policies document; fields of the wrong type are ignored.
    pub fn from_document(document: &Map<String, Value>) -> Self {
        let mut policies = TopicPolicies::default();
        let u32_of = |key: &str| {
            document
                .get(key)
                .and_then(Value::as_u64)
                .and_then(|v| u32::try_from(v).ok())
        };
        policies.max_unacked_messages_on_consumer = u32_of("maxUnackedMessagesOnConsumer");
        policies.max_unacked_messages_on_subscription = u32_of("maxUnackedMessagesOnSubscription");
        policies.message_ttl_in_seconds = u32_of("messageTTLInSeconds");
        policies.max_producer_per_topic = u32_of("maxProducerPerTopic");
        policies.max_consumer_per_topic = u32_of("maxConsumerPerTopic");
        policies.max_consumers_per_subscription = u32_of("maxConsumersPerSubscription");
        policies.retention_policies = document
            .get("retentionPolicies")
            .and_then(|v| serde_json::from_value(v.clone()).ok());
        policies
    }
}

/// `{tenant}/{namespace}/{domain}/{topic}` of a topic's partitioned (base) topic: the part of
/// the metadata keys that names it.
pub fn topic_path(topic: &TopicName) -> String {
    let base = topic.base_name();
    format!(
        "{}/{}/{}/{}",
        base.tenant(),
        base.namespace(),
        base.domain().as_str(),
        base.local_name()
    )
}

/// Metadata key of a topic's policies document.
pub fn policies_key(topic: &TopicName) -> String {
    format!("/admin/topic-policies/{}", topic_path(topic))
}

/// Metadata key recording that a (non-partitioned or partition) topic was terminated.
pub fn terminated_key(topic: &TopicName) -> String {
    format!(
        "/geminga/terminated-topics/{}/{}/{}/{}",
        topic.tenant(),
        topic.namespace(),
        topic.domain().as_str(),
        topic.local_name()
    )
}

fn corrupt(what: &'static str, e: &serde_json::Error) -> StorageError {
    StorageError::Corrupt {
        what,
        detail: e.to_string(),
    }
}

/// The stored policies document of `topic` (empty when none is stored).
///
/// # Errors
/// Storage failure or a document that is not a JSON object.
pub fn load_document(
    store: &dyn MetadataStore,
    topic: &TopicName,
) -> Result<Map<String, Value>, StorageError> {
    match store.get(&policies_key(topic))? {
        Some(stored) => {
            serde_json::from_slice(&stored.value).map_err(|e| corrupt("topic policies", &e))
        }
        None => Ok(Map::new()),
    }
}

/// Stores `document` as `topic`'s policies; an empty document removes the key.
///
/// # Errors
/// Storage failure.
pub fn store_document(
    store: &dyn MetadataStore,
    topic: &TopicName,
    document: &Map<String, Value>,
) -> Result<(), StorageError> {
    let key = policies_key(topic);
    if document.is_empty() {
        return store.delete(&key, None);
    }
    let bytes = serde_json::to_vec(document).map_err(|e| corrupt("topic policies", &e))?;
    store.put(&key, &bytes, None).map(|_| ())
}

/// The typed policies of the topic `name` (a full name); defaults when the name does not parse.
///
/// # Errors
/// Storage failure or a corrupt document.
pub fn load_policies(store: &dyn MetadataStore, name: &str) -> Result<TopicPolicies, StorageError> {
    let Ok(topic) = TopicName::parse(name) else {
        return Ok(TopicPolicies::default());
    };
    Ok(TopicPolicies::from_document(&load_document(store, &topic)?))
}

/// Whether the topic `name` was terminated.
///
/// # Errors
/// Storage failure.
pub fn load_terminated(store: &dyn MetadataStore, name: &str) -> Result<bool, StorageError> {
    let Ok(topic) = TopicName::parse(name) else {
        return Ok(false);
    };
    Ok(store.get(&terminated_key(&topic))?.is_some())
}

/// Records that the topic `name` is terminated at entry `last_entry` (`None`: it is empty).
///
/// # Errors
/// Storage failure.
pub fn store_terminated(
    store: &dyn MetadataStore,
    name: &str,
    last_entry: Option<u64>,
) -> Result<(), StorageError> {
    let Ok(topic) = TopicName::parse(name) else {
        return Ok(());
    };
    let value = serde_json::json!({ "lastEntry": last_entry });
    store
        .put(&terminated_key(&topic), value.to_string().as_bytes(), None)
        .map(|_| ())
}

/// Removes every trace of the topic `name` in the metadata store (on delete).
///
/// # Errors
/// Storage failure.
pub fn forget_topic(store: &dyn MetadataStore, name: &str) -> Result<(), StorageError> {
    let Ok(topic) = TopicName::parse(name) else {
        return Ok(());
    };
    store.delete(&terminated_key(&topic), None)?;
    if topic.partition_index().is_none() {
        store.delete(&policies_key(&topic), None)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partitions_share_the_policies_key_of_their_topic() {
        let partition = TopicName::parse("persistent://t/n/orders-partition-3").unwrap();
        let base = TopicName::parse("persistent://t/n/orders").unwrap();
        assert_eq!(policies_key(&partition), policies_key(&base));
        assert_eq!(
            policies_key(&base),
            "/admin/topic-policies/t/n/persistent/orders"
        );
        assert_ne!(terminated_key(&partition), terminated_key(&base));
    }

    #[test]
    fn typed_view_reads_pulsar_field_names_and_ignores_bad_values() {
        let document: Map<String, Value> = serde_json::from_str(
            r#"{"maxUnackedMessagesOnConsumer": 7, "messageTTLInSeconds": 30,
                "retentionPolicies": {"retentionTimeInMinutes": 10, "retentionSizeInMB": 5},
                "maxProducerPerTopic": "nope", "somethingElse": true}"#,
        )
        .unwrap();
        let policies = TopicPolicies::from_document(&document);
        assert_eq!(policies.max_unacked_messages_on_consumer, Some(7));
        assert_eq!(policies.message_ttl_in_seconds, Some(30));
        assert_eq!(policies.max_producer_per_topic, None);
        assert_eq!(
            policies.retention_policies,
            Some(RetentionPolicies {
                retention_time_in_minutes: 10,
                retention_size_in_mb: 5
            })
        );
    }
}
