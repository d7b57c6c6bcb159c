//! The JSON documents kept in the metadata store, with Pulsar's field names.
//!
//! Every field is optional or defaulted, and fields Geminga does not model yet are kept in
//! `other` and written back unchanged, so policy work only ever adds fields.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::policies::BacklogQuotaMap;
use super::policy_types::{AuthPolicies, DispatchRate, PublishRate, SchemaCompatibilityStrategy};
use super::topic_policies::RetentionPolicies;

/// A cluster's service addresses (`/admin/clusters/{cluster}`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ClusterData {
    /// `http://host:port` of the admin API.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service_url: Option<String>,
    /// `https://host:port` of the admin API.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service_url_tls: Option<String>,
    /// `pulsar://host:port`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub broker_service_url: Option<String>,
    /// `pulsar+ssl://host:port`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub broker_service_url_tls: Option<String>,
    /// Fields not modelled yet, kept as sent.
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

/// Who administers a tenant and where its namespaces may live (`/admin/policies/{tenant}`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct TenantInfo {
    /// Roles allowed to administer the tenant.
    pub admin_roles: BTreeSet<String>,
    /// Clusters the tenant's namespaces may use.
    pub allowed_clusters: BTreeSet<String>,
    /// Fields not modelled yet, kept as sent.
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

/// The hash ranges a namespace is split into (Pulsar's `BundlesData`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct BundlesData {
    /// `0x00000000` ... `0xffffffff`: n + 1 boundaries for n bundles.
    pub boundaries: Vec<String>,
    /// Number of bundles (boundaries minus one).
    pub num_bundles: u32,
}

/// A namespace's override of the broker's `allowAutoTopicCreation*` settings.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct AutoTopicCreationOverride {
    /// Whether using an unknown topic creates it.
    pub allow_auto_topic_creation: bool,
    /// `non-partitioned` or `partitioned`.
    pub topic_type: String,
    /// Partitions of an auto-created partitioned topic.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default_num_partitions: Option<u32>,
}

/// A namespace's policies (`/admin/policies/{tenant}/{namespace}`), Pulsar's `Policies`.
///
/// Pulsar mixes snake_case and camelCase names in this document; the names here are Pulsar's.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Policies {
    /// The namespace's bundles.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bundles: Option<BundlesData>,
    /// Clusters the namespace lives in.
    pub replication_clusters: BTreeSet<String>,
    /// Overrides the broker's auto topic creation.
    #[serde(
        rename = "autoTopicCreationOverride",
        skip_serializing_if = "Option::is_none"
    )]
    pub auto_topic_creation_override: Option<AutoTopicCreationOverride>,
    /// Set while the namespace is being deleted.
    pub deleted: bool,
    /// Backlog quotas of the namespace's topics, by type (may be empty).
    pub backlog_quota_map: BacklogQuotaMap,
    /// Retention of acknowledged messages of the namespace's topics.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retention_policies: Option<RetentionPolicies>,
    /// Message TTL of the namespace's topics, in seconds (0: none).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message_ttl_in_seconds: Option<u32>,
    /// Compaction-cursor backlog bytes that trigger a compaction (0: never).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub compaction_threshold: Option<i64>,
    /// Fields not modelled yet, kept as sent.
    /// Grants on the namespace and its topics.
    pub auth_policies: AuthPolicies,
    /// Drop re-sent messages by producer name and sequence id (topics may override).
    #[serde(
        rename = "deduplicationEnabled",
        skip_serializing_if = "Option::is_none"
    )]
    pub deduplication_enabled: Option<bool>,
    /// Dispatch rate per topic, by cluster name.
    #[serde(
        rename = "topicDispatchRate",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub topic_dispatch_rate: BTreeMap<String, DispatchRate>,
    /// Dispatch rate per subscription, by cluster name.
    #[serde(
        rename = "subscriptionDispatchRate",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub subscription_dispatch_rate: BTreeMap<String, DispatchRate>,
    /// Publish rate per topic, by cluster name.
    #[serde(
        rename = "publishMaxMessageRate",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub publish_max_message_rate: BTreeMap<String, PublishRate>,
    /// Producers per topic (0: unlimited).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_producers_per_topic: Option<u32>,
    /// Consumers per topic (0: unlimited).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_consumers_per_topic: Option<u32>,
    /// Consumers per subscription (0: unlimited).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_consumers_per_subscription: Option<u32>,
    /// How new schemas must relate to the stored ones (`UNDEFINED`: the broker's).
    pub schema_compatibility_strategy: SchemaCompatibilityStrategy,
    /// Whether producers may register new schema versions (unset: allowed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_allow_auto_update_schema: Option<bool>,
    /// Refuse producers and consumers without a schema on a topic that has one.
    pub schema_validation_enforced: bool,
    /// Fields not modelled yet, kept as sent.
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

/// How many partitions a partitioned topic has
/// (`/admin/partitioned-topics/{tenant}/{namespace}/{domain}/{topic}`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct PartitionedTopicMetadata {
    /// Partition count; 0 means "not partitioned" in answers.
    pub partitions: u32,
    /// User properties given at creation.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub properties: BTreeMap<String, String>,
}

/// Whether an unknown topic is created by using it, and as what; a broker's settings or a
/// namespace override of them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AutoTopicCreation {
    /// Whether using an unknown topic creates it.
    pub allow: bool,
    /// Create it as a partitioned topic (else non-partitioned).
    pub partitioned: bool,
    /// Partitions of an auto-created partitioned topic.
    pub default_partitions: u32,
}

impl Default for AutoTopicCreation {
    /// Pulsar's defaults: on, non-partitioned.
    fn default() -> Self {
        Self {
            allow: true,
            partitioned: false,
            default_partitions: 1,
        }
    }
}

impl AutoTopicCreation {
    /// The effective setting: the namespace override where there is one, else `self`.
    pub fn with_override(self, policy: Option<&AutoTopicCreationOverride>) -> Self {
        match policy {
            Some(o) => Self {
                allow: o.allow_auto_topic_creation,
                partitioned: o.topic_type == TOPIC_TYPE_PARTITIONED,
                default_partitions: o.default_num_partitions.unwrap_or(self.default_partitions),
            },
            None => self,
        }
    }
}

/// `topicType` of a partitioned auto-created topic.
pub const TOPIC_TYPE_PARTITIONED: &str = "partitioned";
/// `topicType` of a non-partitioned auto-created topic.
pub const TOPIC_TYPE_NON_PARTITIONED: &str = "non-partitioned";
