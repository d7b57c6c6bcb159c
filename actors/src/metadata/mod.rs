//! Metadata: clusters, tenants, namespaces, partitioned topics and topic policies, kept as
//! JSON in the versioned [`geminga_storage::MetadataStore`] under Pulsar's ZooKeeper paths
//! (`/admin/clusters/..`, `/admin/policies/{tenant}[/{namespace}]`,
//! `/admin/partitioned-topics/..`, `/admin/topic-policies/..`), so a cluster can later keep
//! them in etcd behind the same trait.
//!
//! [`MetadataService`] is plain blocking code: actors call it on the blocking pool.

mod effective;
mod error;
mod model;
mod names;
mod namespaces;
mod permissions;
mod policies;
mod policy_types;
mod schemas;
mod service;
mod store;
mod topic_policies;
mod topics;

#[cfg(test)]
mod tests;

pub use effective::{EffectivePolicies, PolicyDefaults, PolicySource, Sourced};
pub use error::MetadataError;
pub use model::{
    AutoTopicCreation, AutoTopicCreationOverride, BundlesData, ClusterData,
    PartitionedTopicMetadata, Policies, TenantInfo, TOPIC_TYPE_NON_PARTITIONED,
    TOPIC_TYPE_PARTITIONED,
};
pub use names::{check_name, NamespaceName};
pub use policies::{BacklogQuota, BacklogQuotaMap, BacklogQuotaPolicy, BacklogQuotaType};
pub use policy_types::{
    AuthAction, AuthPolicies, DispatchRate, Grants, PublishRate, RateLimit,
    SchemaCompatibilityStrategy,
};
pub use schemas::{
    decode_schema_version, encode_schema_version, schema_data_text, schema_id, SchemaData,
    SchemaHistory, SchemaType, SchemaVersion,
};
pub use service::MetadataService;
pub use store::{MemoryMetadataStore, StorageMetadata};
pub use topic_policies::{RetentionPolicies, TopicPolicies};
pub use topics::{TopicAdmission, MAX_PARTITIONS};
