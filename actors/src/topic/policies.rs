//! Topic-level policies and the termination marker, kept in the metadata store.
//!
//! Policies live at `/admin/topic-policies/{tenant}/{namespace}/{domain}/{topic}` as Pulsar's
//! `TopicPolicies` JSON (camelCase field names). A partition uses the policies of its
//! partitioned topic, as in Pulsar. Every call here blocks: run it on the blocking pool.

use geminga_protocol::topic_name::TopicName;
use geminga_storage::{MetadataStore, StorageError};
use serde_json::{Map, Value};

pub use crate::metadata::{RetentionPolicies, TopicPolicies};

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
    super::forget_epoch(store, name)?;
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
}
