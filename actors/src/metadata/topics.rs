//! Topic metadata: partitioned topics, topic policies, and whether a topic may be used or
//! created.

use geminga_protocol::topic_name::{TopicDomain, TopicName};

use super::{
    names::{topic_key, NamespaceName, PARTITIONED, TOPIC_POLICIES},
    AutoTopicCreation, MetadataError, MetadataService, PartitionedTopicMetadata, TopicPolicies,
};

/// Largest partition count accepted (Pulsar's `maxNumPartitionsPerPartitionedTopic` guard).
pub const MAX_PARTITIONS: u32 = 10_000;

/// What a producer or consumer may do with a topic that is not in storage yet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum TopicAdmission {
    /// Create it on use: auto-creation allows it, or it is a partition of a partitioned topic.
    Create,
    /// Use it only if it exists already.
    ExistingOnly,
}

impl MetadataService {
    /// The partitioned-topic metadata of `topic`'s base name, if it is partitioned.
    ///
    /// # Errors
    /// Store failures.
    pub fn partitioned_metadata(
        &self,
        topic: &TopicName,
    ) -> Result<Option<PartitionedTopicMetadata>, MetadataError> {
        Ok(self
            .get_json(&topic_key(PARTITIONED, topic))?
            .map(|(meta, _)| meta))
    }

    /// Creates a partitioned topic with `partitions` partitions.
    ///
    /// # Errors
    /// [`MetadataError::NotFound`] for a missing namespace, [`MetadataError::Invalid`] for a
    /// partition name or a count outside 1..=[`MAX_PARTITIONS`],
    /// [`MetadataError::AlreadyExists`], store failures.
    pub fn create_partitioned(
        &self,
        topic: &TopicName,
        meta: PartitionedTopicMetadata,
    ) -> Result<(), MetadataError> {
        check_partition_count(meta.partitions)?;
        if topic.partition_index().is_some() {
            return Err(MetadataError::invalid(format!(
                "{topic} is a partition name; a partitioned topic needs its base name"
            )));
        }
        self.require_namespace(topic)?;
        match self.put_json(&topic_key(PARTITIONED, topic), &meta, Some(0)) {
            Err(MetadataError::Conflict { .. }) => Err(MetadataError::AlreadyExists {
                what: format!("partitioned topic {topic}"),
            }),
            other => other.map(|_| ()),
        }
    }

    /// Raises a partitioned topic's partition count (it can never shrink) and returns the
    /// previous count.
    ///
    /// # Errors
    /// [`MetadataError::NotFound`], [`MetadataError::Precondition`] when `partitions` is not
    /// larger than now, [`MetadataError::Invalid`] past [`MAX_PARTITIONS`], store failures.
    pub fn update_partitioned(
        &self,
        topic: &TopicName,
        partitions: u32,
    ) -> Result<u32, MetadataError> {
        check_partition_count(partitions)?;
        let mut previous = 0;
        self.update_json::<PartitionedTopicMetadata>(
            &topic_key(PARTITIONED, topic),
            &format!("partitioned topic {topic}"),
            |meta| {
                if partitions <= meta.partitions {
                    return Err(MetadataError::precondition(format!(
                        "the number of partitions must be more than the existing {}",
                        meta.partitions
                    )));
                }
                previous = meta.partitions;
                meta.partitions = partitions;
                Ok(())
            },
        )?;
        Ok(previous)
    }

    /// Deletes a partitioned topic's metadata (its partitions are the caller's business) and
    /// returns what it was.
    ///
    /// # Errors
    /// [`MetadataError::NotFound`], store failures.
    pub fn delete_partitioned(
        &self,
        topic: &TopicName,
    ) -> Result<PartitionedTopicMetadata, MetadataError> {
        let key = topic_key(PARTITIONED, topic);
        let (meta, version) = self
            .get_json::<PartitionedTopicMetadata>(&key)?
            .ok_or_else(|| MetadataError::not_found(format!("partitioned topic {topic}")))?;
        self.delete_key(&key, Some(version))?;
        Ok(meta)
    }

    /// The partitioned topics of a namespace in one domain, with their partition counts.
    ///
    /// # Errors
    /// Store failures.
    pub fn partitioned_topics(
        &self,
        ns: &NamespaceName,
        domain: TopicDomain,
    ) -> Result<Vec<(String, u32)>, MetadataError> {
        let prefix = format!("{PARTITIONED}{ns}/{domain}/");
        Ok(self
            .list_json::<PartitionedTopicMetadata>(&prefix)?
            .into_iter()
            .filter_map(|(key, meta)| {
                let local = key.strip_prefix(&prefix)?;
                Some((format!("{domain}://{ns}/{local}"), meta.partitions))
            })
            .collect())
    }

    /// A topic's policies (of its base name), if any were set.
    ///
    /// # Errors
    /// Store failures.
    pub fn topic_policies(
        &self,
        topic: &TopicName,
    ) -> Result<Option<TopicPolicies>, MetadataError> {
        Ok(self
            .get_json::<serde_json::Map<String, serde_json::Value>>(&topic_key(
                TOPIC_POLICIES,
                topic,
            ))?
            .map(|(document, _)| TopicPolicies::from_document(&document)))
    }

    /// Stores a topic's policies (of its base name).
    ///
    /// # Errors
    /// [`MetadataError::NotFound`] for a missing namespace, store failures.
    pub fn set_topic_policies(
        &self,
        topic: &TopicName,
        policies: &TopicPolicies,
    ) -> Result<(), MetadataError> {
        self.require_namespace(topic)?;
        self.put_json(&topic_key(TOPIC_POLICIES, topic), policies, None)
            .map(|_| ())
    }

    /// Removes a topic's policies; removing none is fine.
    ///
    /// # Errors
    /// Store failures.
    pub fn delete_topic_policies(&self, topic: &TopicName) -> Result<(), MetadataError> {
        self.delete_key(&topic_key(TOPIC_POLICIES, topic), None)
    }

    /// The effective auto topic creation of `ns`: its override, else the broker's.
    ///
    /// # Errors
    /// [`MetadataError::NotFound`] for a missing namespace, store failures.
    pub fn auto_topic_creation(
        &self,
        ns: &NamespaceName,
        broker: AutoTopicCreation,
    ) -> Result<AutoTopicCreation, MetadataError> {
        let policies = self.policies(ns)?;
        Ok(broker.with_override(policies.auto_topic_creation_override.as_ref()))
    }

    /// Whether a producer or consumer may create `topic` by using it.
    ///
    /// # Errors
    /// [`MetadataError::NotFound`] when the tenant or namespace does not exist,
    /// [`MetadataError::Precondition`] for the base name of a partitioned topic (clients
    /// must use its partitions), store failures.
    pub fn admit_topic(
        &self,
        topic: &TopicName,
        broker: AutoTopicCreation,
    ) -> Result<TopicAdmission, MetadataError> {
        let auto = self.auto_topic_creation(&NamespaceName::of_topic(topic), broker)?;
        let partitioned = self.partitioned_metadata(topic)?;
        match (topic.partition_index(), partitioned) {
            (Some(index), Some(meta)) if index < meta.partitions => Ok(TopicAdmission::Create),
            (None, Some(meta)) => Err(MetadataError::precondition(format!(
                "{topic} is a partitioned topic with {} partitions; use its partitions",
                meta.partitions
            ))),
            _ if auto.allow => Ok(TopicAdmission::Create),
            _ => Ok(TopicAdmission::ExistingOnly),
        }
    }

    /// The partition count clients are told for `topic` (PARTITIONED_METADATA and the HTTP
    /// `/partitions` path): the partitioned metadata's count, else 0. When `auto_create` is
    /// set, the topic does not exist (`exists` is false) and the namespace creates unknown
    /// topics as partitioned, the partitioned topic is created here, as Pulsar does.
    ///
    /// # Errors
    /// [`MetadataError::NotFound`] when the tenant or namespace does not exist, store failures.
    pub fn partitions_for_client(
        &self,
        topic: &TopicName,
        broker: AutoTopicCreation,
        exists: bool,
        auto_create: bool,
    ) -> Result<u32, MetadataError> {
        let ns = NamespaceName::of_topic(topic);
        let auto = self.auto_topic_creation(&ns, broker)?;
        if topic.partition_index().is_some() {
            return Ok(0);
        }
        if let Some(meta) = self.partitioned_metadata(topic)? {
            return Ok(meta.partitions);
        }
        if exists || !auto_create || !auto.allow || !auto.partitioned {
            return Ok(0);
        }
        let meta = PartitionedTopicMetadata {
            partitions: auto.default_partitions.clamp(1, MAX_PARTITIONS),
            ..PartitionedTopicMetadata::default()
        };
        let partitions = meta.partitions;
        match self.create_partitioned(topic, meta) {
            Ok(()) => Ok(partitions),
            // Another client created it at the same moment: answer what is stored.
            Err(MetadataError::AlreadyExists { .. }) => Ok(self
                .partitioned_metadata(topic)?
                .map_or(partitions, |m| m.partitions)),
            Err(e) => Err(e),
        }
    }

    fn require_namespace(&self, topic: &TopicName) -> Result<(), MetadataError> {
        let ns = NamespaceName::of_topic(topic);
        if self.namespace_exists(&ns)? {
            Ok(())
        } else {
            Err(MetadataError::not_found(format!("namespace {ns}")))
        }
    }
}

fn check_partition_count(partitions: u32) -> Result<(), MetadataError> {
    if partitions == 0 || partitions > MAX_PARTITIONS {
        return Err(MetadataError::invalid(format!(
            "the number of partitions must be from 1 to {MAX_PARTITIONS}, got {partitions}"
        )));
    }
    Ok(())
}
