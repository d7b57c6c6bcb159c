//! Namespace names and the metadata keys of tenants, namespaces and topics.

use std::fmt;

use geminga_protocol::topic_name::TopicName;

use super::MetadataError;

/// Root of the clusters in the store (Pulsar's ZooKeeper layout).
pub(crate) const CLUSTERS: &str = "/admin/clusters/";
/// Root of tenants (`/admin/policies/{tenant}`) and namespaces (`.../{tenant}/{namespace}`).
pub(crate) const POLICIES: &str = "/admin/policies/";
/// Root of partitioned-topic metadata.
pub(crate) const PARTITIONED: &str = "/admin/partitioned-topics/";
/// Root of topic-level policies.
pub(crate) const TOPIC_POLICIES: &str = "/admin/topic-policies/";

/// A validated `tenant/namespace`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NamespaceName {
    tenant: String,
    namespace: String,
}

impl NamespaceName {
    /// A namespace from its two parts.
    ///
    /// # Errors
    /// [`MetadataError::Invalid`] when a part is empty or holds characters outside Pulsar's
    /// `[-=:.\w%]`.
    pub fn new(tenant: &str, namespace: &str) -> Result<Self, MetadataError> {
        check_name("tenant", tenant)?;
        check_name("namespace", namespace)?;
        Ok(Self {
            tenant: tenant.to_owned(),
            namespace: namespace.to_owned(),
        })
    }

    /// Parses `tenant/namespace`.
    ///
    /// # Errors
    /// [`MetadataError::Invalid`] for any other shape or an invalid part.
    pub fn parse(name: &str) -> Result<Self, MetadataError> {
        match name.split_once('/') {
            Some((tenant, namespace)) if !namespace.contains('/') => Self::new(tenant, namespace),
            _ => Err(MetadataError::invalid(format!(
                "invalid namespace name {name:?}: expected tenant/namespace"
            ))),
        }
    }

    /// The namespace a topic belongs to.
    pub fn of_topic(topic: &TopicName) -> Self {
        // TopicName validated both parts with the same rule.
        Self {
            tenant: topic.tenant().to_owned(),
            namespace: topic.namespace().to_owned(),
        }
    }

    /// The tenant.
    pub fn tenant(&self) -> &str {
        &self.tenant
    }

    /// The namespace within the tenant.
    pub fn local(&self) -> &str {
        &self.namespace
    }

    pub(crate) fn key(&self) -> String {
        format!("{POLICIES}{}/{}", self.tenant, self.namespace)
    }
}

impl fmt::Display for NamespaceName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.tenant, self.namespace)
    }
}

/// Checks a tenant, namespace or cluster name with Java's `NamedEntity` rule.
///
/// # Errors
/// [`MetadataError::Invalid`] naming `what`.
pub fn check_name(what: &str, name: &str) -> Result<(), MetadataError> {
    let valid = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '=' | ':' | '.' | '%'));
    if valid {
        Ok(())
    } else {
        Err(MetadataError::invalid(format!(
            "invalid {what} name {name:?}: use letters, digits and -_=:.%"
        )))
    }
}

pub(crate) fn cluster_key(cluster: &str) -> String {
    format!("{CLUSTERS}{cluster}")
}

pub(crate) fn tenant_key(tenant: &str) -> String {
    format!("{POLICIES}{tenant}")
}

/// `{root}{tenant}/{namespace}/{domain}/{local name}` of a topic's base (unpartitioned) name.
pub(crate) fn topic_key(root: &str, topic: &TopicName) -> String {
    let base = topic.base_name();
    format!(
        "{root}{}/{}/{}/{}",
        base.tenant(),
        base.namespace(),
        base.domain(),
        base.local_name()
    )
}
