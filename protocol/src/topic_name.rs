//! `TopicName`: parsing and normalising topic names the way the Pulsar clients do.

use std::fmt;
use std::str::FromStr;

use crate::error::ProtocolError;

/// Marker between a partitioned topic's name and the partition index.
const PARTITION_SUFFIX: &str = "-partition-";
const DEFAULT_TENANT: &str = "public";
const DEFAULT_NAMESPACE: &str = "default";

/// Whether a topic's messages are persisted.
///
/// Deliberately not `#[non_exhaustive]`: Pulsar has exactly these two domains.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TopicDomain {
    /// `persistent://`: stored, replayable.
    Persistent,
    /// `non-persistent://`: delivered only to connected consumers.
    NonPersistent,
}

impl TopicDomain {
    /// The scheme as written before `://`.
    pub fn as_str(&self) -> &'static str {
        match self {
            TopicDomain::Persistent => "persistent",
            TopicDomain::NonPersistent => "non-persistent",
        }
    }
}

impl fmt::Display for TopicDomain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A validated, normalised topic name: `domain://tenant/namespace/local_name`.
///
/// pulsar-rs sends names as the user typed them, C++ normalises them; parsing both into this
/// type is what makes `x`, `public/default/x` and `persistent://public/default/x` the same topic.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TopicName {
    domain: TopicDomain,
    tenant: String,
    namespace: String,
    /// The local name as given, including a `-partition-N` suffix (as Java's `getLocalName`).
    local_name: String,
    /// `N` of a canonical `-partition-N` suffix.
    partition: Option<u32>,
}

impl TopicName {
    /// Parses `x`, `tenant/ns/x`, `persistent://tenant/ns/x` or `non-persistent://tenant/ns/x`.
    ///
    /// Short forms mean `persistent://public/default/...`. A trailing canonical `-partition-N`
    /// (no sign, no leading zero) sets [`TopicName::partition_index`].
    ///
    /// # Errors
    /// [`ProtocolError::InvalidTopicName`] for an unknown domain, the wrong number of `/`
    /// segments, an empty segment, a tenant or namespace with characters outside
    /// letters/digits/`-_=:.%`, or a local name with whitespace or control characters.
    pub fn parse(name: &str) -> Result<TopicName, ProtocolError> {
        let invalid = |reason: &'static str| ProtocolError::InvalidTopicName {
            name: name.to_owned(),
            reason,
        };
        let (domain, rest, explicit_domain) = match name.split_once("://") {
            Some(("persistent", rest)) => (TopicDomain::Persistent, rest, true),
            Some(("non-persistent", rest)) => (TopicDomain::NonPersistent, rest, true),
            Some(_) => return Err(invalid("domain must be persistent or non-persistent")),
            None => (TopicDomain::Persistent, name, false),
        };
        let segments: Vec<&str> = rest.split('/').collect();
        let (tenant, namespace, local_name) = match segments.as_slice() {
            [local] if !explicit_domain => (DEFAULT_TENANT, DEFAULT_NAMESPACE, *local),
            [tenant, namespace, local] => (*tenant, *namespace, *local),
            [_] | [_, _] => return Err(invalid("expected tenant/namespace/topic")),
            _ => return Err(invalid("too many '/' segments")),
        };
        if tenant.is_empty() || namespace.is_empty() || local_name.is_empty() {
            return Err(invalid("empty tenant, namespace or topic"));
        }
        if !tenant.chars().all(is_namespace_char) {
            return Err(invalid("tenant may hold only letters, digits and -_=:.%"));
        }
        if !namespace.chars().all(is_namespace_char) {
            return Err(invalid(
                "namespace may hold only letters, digits and -_=:.%",
            ));
        }
        if local_name
            .chars()
            .any(|c| c.is_whitespace() || c.is_control())
        {
            return Err(invalid(
                "topic may not hold whitespace or control characters",
            ));
        }
        Ok(TopicName {
            domain,
            tenant: tenant.to_owned(),
            namespace: namespace.to_owned(),
            local_name: local_name.to_owned(),
            partition: partition_suffix(local_name).map(|(_, index)| index),
        })
    }

    /// `domain://tenant/namespace/local_name`, the form to store and compare.
    pub fn full_name(&self) -> String {
        self.to_string()
    }

    /// The partitioned topic this partition belongs to, or a copy of `self` if it is not a
    /// partition.
    pub fn base_name(&self) -> TopicName {
        match partition_suffix(&self.local_name) {
            Some((base, _)) => TopicName {
                local_name: base.to_owned(),
                partition: None,
                ..self.clone()
            },
            None => self.clone(),
        }
    }

    /// Partition `index` of this topic's base name: `<base>-partition-<index>`.
    pub fn partition_name(&self, index: u32) -> TopicName {
        let base = self.base_name();
        TopicName {
            local_name: format!("{}{PARTITION_SUFFIX}{index}", base.local_name),
            partition: Some(index),
            ..base
        }
    }

    /// `tenant/namespace`, as GET_TOPICS_OF_NAMESPACE names it.
    pub fn namespace_name(&self) -> String {
        format!("{}/{}", self.tenant, self.namespace)
    }

    /// The tenant.
    pub fn tenant(&self) -> &str {
        &self.tenant
    }

    /// The namespace within the tenant.
    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    /// The local name, including a `-partition-N` suffix if any.
    pub fn local_name(&self) -> &str {
        &self.local_name
    }

    /// Persistent or non-persistent.
    pub fn domain(&self) -> TopicDomain {
        self.domain
    }

    /// True for `persistent://` topics.
    pub fn is_persistent(&self) -> bool {
        self.domain == TopicDomain::Persistent
    }

    /// `Some(N)` when this names partition N of a partitioned topic.
    pub fn partition_index(&self) -> Option<u32> {
        self.partition
    }
}

/// Java's `NamedEntity` rule for tenants and namespaces: `[-=:.\w%]`, ASCII only.
fn is_namespace_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '=' | ':' | '.' | '%')
}

/// Splits `base-partition-N` into `(base, N)` when N is canonical decimal (so that
/// `partition_name(N)` reproduces the same string) and the base is not empty.
fn partition_suffix(local_name: &str) -> Option<(&str, u32)> {
    let at = local_name.rfind(PARTITION_SUFFIX)?;
    let base = local_name.get(..at)?;
    let digits = local_name.get(at + PARTITION_SUFFIX.len()..)?;
    let canonical = !digits.is_empty()
        && digits.bytes().all(|b| b.is_ascii_digit())
        && (digits == "0" || !digits.starts_with('0'));
    if base.is_empty() || !canonical {
        return None;
    }
    digits.parse().ok().map(|index| (base, index))
}

impl fmt::Display for TopicName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}://{}/{}/{}",
            self.domain, self.tenant, self.namespace, self.local_name
        )
    }
}

impl FromStr for TopicName {
    type Err = ProtocolError;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        TopicName::parse(name)
    }
}

#[cfg(test)]
mod tests;
