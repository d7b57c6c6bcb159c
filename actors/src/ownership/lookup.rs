//! Topic lookup: namespace check, bundle, owner and listener, as one blocking call.

use geminga_protocol::topic_name::TopicName;
use thiserror::Error;

use super::{BundleRange, ListenerAddress, OwnershipError, OwnershipService};
use crate::{
    context::BrokerContext,
    error::RequestError,
    metadata::{MetadataError, MetadataService, NamespaceName},
};

/// Where a client finds a topic.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LookupAnswer {
    /// The bundle the topic belongs to.
    pub bundle: BundleRange,
    /// The owning broker's addresses for the client's listener.
    pub address: ListenerAddress,
}

/// Why a lookup failed.
#[derive(Clone, Debug, Error)]
#[non_exhaustive]
pub enum LookupError {
    /// The tenant or namespace does not exist (the client gets TopicNotFound / HTTP 404).
    #[error("topic {topic} not found: {source}")]
    NamespaceMissing {
        /// The topic looked up.
        topic: String,
        /// What is missing.
        source: MetadataError,
    },
    /// Reading the metadata failed.
    #[error(transparent)]
    Metadata(MetadataError),
    /// The owner cannot answer for the client's listener.
    #[error(transparent)]
    Ownership(#[from] OwnershipError),
}

impl From<LookupError> for RequestError {
    fn from(e: LookupError) -> Self {
        match e {
            LookupError::NamespaceMissing { topic, .. } => RequestError::TopicNotFound { topic },
            LookupError::Metadata(e) => RequestError::from(e),
            // Pulsar answers ServiceNotReady with this text for an unknown listener.
            LookupError::Ownership(e) => RequestError::ServiceNotReady {
                reason: e.to_string(),
            },
        }
    }
}

/// Maps a metadata error of a topic request: a missing tenant or namespace means the topic
/// is not found.
pub fn topic_error(topic: &TopicName, e: MetadataError) -> LookupError {
    match e {
        MetadataError::NotFound { .. } => LookupError::NamespaceMissing {
            topic: topic.to_string(),
            source: e,
        },
        other => LookupError::Metadata(other),
    }
}

/// The bundle `topic` belongs to (named in topic stats).
///
/// # Errors
/// [`MetadataError::NotFound`] when the namespace does not exist, store failures.
pub fn bundle_of_topic(
    metadata: &MetadataService,
    topic: &TopicName,
) -> Result<BundleRange, MetadataError> {
    let bundles = metadata.bundles(&NamespaceName::of_topic(topic))?;
    Ok(bundles.bundle_of(&topic.to_string()))
}

/// Looks `topic` up for a client that asked for `listener`. Blocking.
///
/// # Errors
/// [`LookupError::NamespaceMissing`] for a topic in a missing tenant or namespace,
/// [`LookupError::Ownership`] for an unknown listener, metadata failures.
pub fn lookup_topic(
    metadata: &MetadataService,
    ownership: &dyn OwnershipService,
    topic: &TopicName,
    listener: Option<&str>,
) -> Result<LookupAnswer, LookupError> {
    let bundle = bundle_of_topic(metadata, topic).map_err(|e| topic_error(topic, e))?;
    let owner = ownership.owner(&NamespaceName::of_topic(topic), &bundle);
    let address = owner.select(listener)?.clone();
    Ok(LookupAnswer { bundle, address })
}

/// The partition count a client is told for `topic` (PARTITIONED_METADATA, HTTP
/// `/partitions`). With `auto_create`, a missing topic in a namespace that auto-creates
/// partitioned topics becomes one here. Blocking.
///
/// # Errors
/// [`LookupError::NamespaceMissing`] for a topic in a missing tenant or namespace, store
/// failures.
pub fn client_partitions(
    context: &BrokerContext,
    topic: &TopicName,
    auto_create: bool,
) -> Result<u32, LookupError> {
    let exists = topic.is_persistent()
        && context
            .storage()
            .topic(&topic.to_string())
            .map_err(|e| LookupError::Metadata(MetadataError::from(e)))?
            .is_some();
    let auto = context.config().auto_topic_creation();
    context
        .metadata()
        .partitions_for_client(topic, auto, exists, auto_create)
        .map_err(|e| topic_error(topic, e))
}
