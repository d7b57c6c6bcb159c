//! Settings the actors need, derived from the broker configuration.

use std::time::Duration;

/// Tunables of the actor system. Defaults follow Pulsar's where Pulsar has the setting.
#[derive(Clone, Debug)]
pub struct ActorConfig {
    /// Cluster name reported in stats and metrics.
    pub cluster_name: String,
    /// Largest message (metadata + payload) accepted, advertised in CONNECTED.
    pub max_message_size: usize,
    /// How often an idle connection is pinged; two silent intervals close it.
    pub keep_alive_interval: Duration,
    /// Unacked messages a consumer may hold before dispatch to it pauses.
    pub max_unacked_per_consumer: u32,
    /// Unacked messages a subscription may hold before its dispatch pauses.
    pub max_unacked_per_subscription: u32,
    /// Entries read from the log per dispatch round.
    pub dispatcher_max_read_batch_size: usize,
    /// Bytes of recent entries each topic keeps in memory for tailing readers.
    pub topic_cache_bytes: usize,
    /// Whether a producer or consumer may create a topic by using it.
    pub allow_auto_topic_creation: bool,
    /// Whether auto-created topics are partitioned (`allowAutoTopicCreationType`).
    pub auto_topic_creation_partitioned: bool,
    /// Partitions of an auto-created partitioned topic (`defaultNumPartitions`).
    pub default_num_partitions: u32,
    /// Bundles of a new namespace (`defaultNumberOfNamespaceBundles`).
    pub default_bundles: u32,
    /// SEND requests in flight per connection before the broker stops reading from it.
    pub max_pending_publish_per_connection: usize,
    /// Producers per topic (0 = unlimited).
    pub max_producers_per_topic: u32,
    /// Consumers per subscription (0 = unlimited).
    pub max_consumers_per_subscription: u32,
    /// Sent as `server_version` in CONNECTED.
    pub server_version: String,
    /// Deduplication where neither topic nor namespace says (`brokerDeduplicationEnabled`).
    pub broker_deduplication_enabled: bool,
    /// Consumers per topic (0 = unlimited; `maxConsumersPerTopic`).
    pub max_consumers_per_topic: u32,
    /// Dispatch rate of each topic: (messages, bytes) per second, <= 0 off
    /// (`dispatchThrottlingRatePerTopicInMsg` / `...InByte`).
    pub dispatch_rate_per_topic: (i64, i64),
    /// Dispatch rate of each subscription: (messages, bytes) per second, <= 0 off
    /// (`dispatchThrottlingRatePerSubscriptionInMsg` / `...InByte`).
    pub dispatch_rate_per_subscription: (i64, i64),
    /// Publish rate of each topic: (messages, bytes) per second, <= 0 off
    /// (`maxPublishRatePerTopicInMessages` / `...InBytes`).
    pub publish_rate_per_topic: (i64, i64),
    /// Schema compatibility where neither topic nor namespace says
    /// (`schemaCompatibilityStrategy`, FULL by default as in Pulsar).
    pub schema_compatibility_strategy: crate::metadata::SchemaCompatibilityStrategy,
    /// Whether producers may add schema versions where the namespace does not say
    /// (`isAllowAutoUpdateSchemaEnabled`).
    pub allow_auto_update_schema: bool,
    /// Hold messages with `deliver_at_time` back on Shared/Key_Shared subscriptions.
    pub delayed_delivery_enabled: bool,
    /// Longest a due delayed message waits for dispatch.
    pub delayed_delivery_tick: Duration,
    /// Broker-side dead-lettering after this many redeliveries (0 = off).
    pub dead_letter_max_redeliver_count: u32,
    /// Delay before the first broker-side redelivery of a nacked message.
    pub redelivery_backoff_min: Duration,
    /// Longest redelivery delay (zero = no backoff).
    pub redelivery_backoff_max: Duration,
    /// Retention, TTL, backlog quota and compaction defaults and check periods.
    pub storage_policies: StoragePolicyConfig,
}

/// Broker-wide settings of the storage policies (retention, TTL, backlog quotas, compaction).
#[derive(Clone, Debug)]
pub struct StoragePolicyConfig {
    /// Values a topic gets when neither it nor its namespace sets one.
    pub defaults: crate::metadata::PolicyDefaults,
    /// How often messages past their TTL are expired (`messageExpiryCheckIntervalInMinutes`
    /// or `messageExpiryCheckIntervalInSeconds`; 5 s unless set).
    pub message_expiry_check_interval: Duration,
    /// How often a topic re-checks retention, backlog quotas and the compaction threshold
    /// when nothing else makes it (time bounds move with the clock). Acks, publishes and
    /// policy changes trigger a check at once (`retentionCheckIntervalInSeconds`).
    pub retention_check_interval: Duration,
    /// Entries younger than this are never trimmed, even when nothing holds them, so a
    /// reader started right after publishing still finds them (Pulsar keeps them at least
    /// until its ledger rolls over, `managedLedgerMinLedgerRolloverTimeInMinutes`). Geminga
    /// key `retentionGracePeriodSeconds`; 0 trims as soon as nothing holds an entry.
    pub retention_grace: Duration,
    /// Whether backlog quotas are enforced (`backlogQuotaCheckEnabled`).
    pub backlog_quota_check_enabled: bool,
    /// Whether compaction keeps messages without a key (`topicCompactionRetainNullKey`).
    pub compaction_retain_null_key: bool,
}

impl Default for StoragePolicyConfig {
    fn default() -> Self {
        Self {
            defaults: crate::metadata::PolicyDefaults::default(),
            message_expiry_check_interval: Duration::from_secs(5),
            retention_check_interval: Duration::from_secs(60),
            retention_grace: Duration::from_secs(60),
            backlog_quota_check_enabled: true,
            compaction_retain_null_key: false,
        }
    }
}

impl ActorConfig {
    /// The broker-wide auto topic creation settings (namespaces may override them).
    pub fn auto_topic_creation(&self) -> crate::metadata::AutoTopicCreation {
        crate::metadata::AutoTopicCreation {
            allow: self.allow_auto_topic_creation,
            partitioned: self.auto_topic_creation_partitioned,
            default_partitions: self.default_num_partitions,
        }
    }
}

impl Default for ActorConfig {
    fn default() -> Self {
        Self {
            cluster_name: "standalone".to_owned(),
            max_message_size: 5 * 1024 * 1024,
            keep_alive_interval: Duration::from_secs(30),
            max_unacked_per_consumer: 50_000,
            max_unacked_per_subscription: 200_000,
            dispatcher_max_read_batch_size: 100,
            topic_cache_bytes: 8 * 1024 * 1024,
            allow_auto_topic_creation: true,
            auto_topic_creation_partitioned: false,
            default_num_partitions: 1,
            default_bundles: 4,
            max_pending_publish_per_connection: 1000,
            max_producers_per_topic: 0,
            max_consumers_per_subscription: 0,
            server_version: concat!("Geminga ", env!("CARGO_PKG_VERSION")).to_owned(),
            storage_policies: StoragePolicyConfig::default(),
            broker_deduplication_enabled: false,
            max_consumers_per_topic: 0,
            dispatch_rate_per_topic: (0, 0),
            dispatch_rate_per_subscription: (0, 0),
            publish_rate_per_topic: (0, 0),
            schema_compatibility_strategy: crate::metadata::SchemaCompatibilityStrategy::Full,
            allow_auto_update_schema: true,
            delayed_delivery_enabled: true,
            delayed_delivery_tick: Duration::from_secs(1),
            dead_letter_max_redeliver_count: 0,
            redelivery_backoff_min: Duration::ZERO,
            redelivery_backoff_max: Duration::ZERO,
        }
    }
}
