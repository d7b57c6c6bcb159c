//! Broker configuration: defaults, Pulsar-style `key=value` files, and validation.

mod client_auth;
mod parse;
mod policy;
mod security;
mod storage_policies;
#[cfg(test)]
mod tests;

use geminga_storage::StorageConfig;
use std::path::{Path, PathBuf};

pub use client_auth::BrokerClientAuth;
pub use parse::{parse_host_port, KNOWN_KEYS};
pub use policy::{PolicyConfig, POLICY_KEYS};
pub use security::{ProviderKind, SecurityConfig, SECURITY_KEYS};
pub use storage_policies::StoragePolicyConfig;

/// Default Pulsar binary-protocol port.
pub const DEFAULT_BROKER_PORT: u16 = 6650;
/// Default admin (HTTP) port.
pub const DEFAULT_ADMIN_PORT: u16 = 8080;
/// Default host the broker binds on: loopback, so a fresh install is not exposed to the network.
pub const DEFAULT_BIND_HOST: &str = "127.0.0.1";

/// Everything the broker needs to start. Field comments name the Pulsar key that sets each one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BrokerConfig {
    /// Where topic logs and cursors live (geminga key `dataDir`); default `./data`.
    pub data_dir: PathBuf,
    /// `host:port` of the Pulsar protocol listener (`bindAddress` + `brokerServicePort`); port 0
    /// picks a free port.
    pub bind: String,
    /// `host:port` of the admin HTTP listener (`bindAddress` + `webServicePort`).
    pub admin_bind: String,
    /// Host put into lookup answers (`advertisedAddress`); `None` means the bound address.
    pub advertised_address: Option<String>,
    /// Cluster name reported by the admin API (`clusterName`).
    pub cluster_name: String,
    /// Largest message (metadata + payload) accepted and advertised in CONNECTED
    /// (`maxMessageSize`), in bytes.
    pub max_message_size: usize,
    /// Whether appends are fsynced before the SEND_RECEIPT (`journalSyncData`).
    pub fsync: bool,
    /// Runtime worker threads (`numIOThreads`); default is the number of available cores.
    pub worker_threads: usize,
    /// Seconds between broker PINGs to idle clients (`keepAliveIntervalSeconds`); 0 disables.
    pub keep_alive_interval_secs: u64,
    /// Unacked messages after which a consumer stops receiving (`maxUnackedMessagesPerConsumer`);
    /// 0 = unlimited.
    pub max_unacked_messages_per_consumer: u32,
    /// Unacked messages after which a subscription stops dispatching
    /// (`maxUnackedMessagesPerSubscription`); 0 = unlimited.
    pub max_unacked_messages_per_subscription: u32,
    /// Entries read from the log per dispatch round (`dispatcherMaxReadBatchSize`).
    pub dispatcher_max_read_batch_size: usize,
    /// Entry cache size in MiB (`managedLedgerCacheSizeMB`).
    pub cache_size_mb: u64,
    /// Entries with at least this many data bytes are stored in payload segments, smaller
    /// ones inline in the LSM tree (geminga key `payloadSegmentMinBytes`; see
    /// `StorageConfig::payload_segment_min_bytes`).
    pub payload_segment_min_bytes: usize,
    /// Whether unknown topics are created on first use (`allowAutoTopicCreation`).
    pub allow_auto_topic_creation: bool,
    /// `non-partitioned` or `partitioned` (`allowAutoTopicCreationType`).
    pub allow_auto_topic_creation_type: String,
    /// Partitions of an auto-created partitioned topic (`defaultNumPartitions`).
    pub default_num_partitions: u32,
    /// Bundles of a namespace created without a count (`defaultNumberOfNamespaceBundles`).
    pub default_number_of_namespace_bundles: u32,
    /// Named address sets for clients on different networks (`advertisedListeners`,
    /// `name:pulsar://host:port,...`); validated, kept as written.
    pub advertised_listeners: Option<String>,
    /// The listener answered when a client names none (`internalListenerName`); default the
    /// first listener by name.
    pub internal_listener_name: Option<String>,
    /// Producers allowed on one topic (`maxProducersPerTopic`); 0 = unlimited.
    pub max_producers_per_topic: u32,
    /// Consumers allowed on one subscription (`maxConsumersPerSubscription`); 0 = unlimited.
    pub max_consumers_per_subscription: u32,
    /// In-flight SENDs per connection before the broker stops reading from it
    /// (`maxPendingPublishRequestsPerConnection`).
    pub max_pending_publish_requests_per_connection: usize,
    /// Enables the admin fault-injection endpoints used by tests (geminga key
    /// `faultInjectionEnabled`).
    pub fault_injection_enabled: bool,
    /// Log filter used when `RUST_LOG` is unset (geminga key `logLevel`).
    pub log_level: Option<String>,
    /// Retention, TTL, backlog quota and compaction defaults and periods.
    pub storage_policies: StoragePolicyConfig,
    /// Broker-wide defaults of deduplication, rates, consumer limits and schemas.
    pub policy: PolicyConfig,
    /// Whether messages with a delivery time are held back on Shared and Key_Shared
    /// subscriptions (`delayedDeliveryEnabled`); namespaces and topics may override it.
    pub delayed_delivery_enabled: bool,
    /// Longest a due delayed message waits for dispatch, in ms
    /// (`delayedDeliveryTickTimeMillis`).
    pub delayed_delivery_tick_ms: u64,
    /// Broker-side dead-lettering: a message is moved to `<topic>-<subscription>-DLQ` instead
    /// of being delivered for the (N+1)-th time (geminga key `deadLetterMaxRedeliverCount`;
    /// 0 = off, the default; namespace and topic policies may set it).
    pub dead_letter_max_redeliver_count: u32,
    /// Broker-side redelivery backoff: delay before the first redelivery of a nacked message,
    /// doubling with each further one (geminga key `redeliveryBackoffMinMillis`).
    pub redelivery_backoff_min_ms: u64,
    /// Largest redelivery delay; 0 switches the backoff off, the default (geminga key
    /// `redeliveryBackoffMaxMillis`).
    pub redelivery_backoff_max_ms: u64,
    /// Authentication, authorization, TLS and client limits (Pulsar's keys; see
    /// [`SecurityConfig`]).
    pub security: SecurityConfig,
}

impl Default for BrokerConfig {
    fn default() -> Self {
        BrokerConfig {
            data_dir: PathBuf::from("./data"),
            bind: format!("{DEFAULT_BIND_HOST}:{DEFAULT_BROKER_PORT}"),
            admin_bind: format!("{DEFAULT_BIND_HOST}:{DEFAULT_ADMIN_PORT}"),
            advertised_address: None,
            cluster_name: "standalone".to_owned(),
            max_message_size: 5 * 1024 * 1024,
            fsync: true,
            worker_threads: default_worker_threads(),
            keep_alive_interval_secs: 30,
            max_unacked_messages_per_consumer: 50_000,
            max_unacked_messages_per_subscription: 200_000,
            dispatcher_max_read_batch_size: 100,
            cache_size_mb: 64,
            payload_segment_min_bytes: StorageConfig::default().payload_segment_min_bytes,
            allow_auto_topic_creation: true,
            allow_auto_topic_creation_type: "non-partitioned".to_owned(),
            default_num_partitions: 1,
            default_number_of_namespace_bundles: 4,
            advertised_listeners: None,
            internal_listener_name: None,
            max_producers_per_topic: 0,
            max_consumers_per_subscription: 0,
            max_pending_publish_requests_per_connection: 1000,
            fault_injection_enabled: false,
            log_level: None,
            storage_policies: StoragePolicyConfig::default(),
            policy: PolicyConfig::default(),
            delayed_delivery_enabled: true,
            delayed_delivery_tick_ms: 1000,
            dead_letter_max_redeliver_count: 0,
            redelivery_backoff_min_ms: 0,
            redelivery_backoff_max_ms: 0,
            security: SecurityConfig::default(),
        }
    }
}

/// The number of cores the process may use, at least 1.
fn default_worker_threads() -> usize {
    std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
}

impl BrokerConfig {
    /// Parses a Pulsar-style properties file: `key=value` lines, `#` or `!` comments, blank
    /// lines, whitespace trimmed. An empty value keeps the default. Pulsar's own key names are
    /// used where one exists, so a `standalone.conf` can be reused as is.
    ///
    /// Returns the config and the keys Geminga does not use, in file order without duplicates,
    /// so the caller can warn once.
    ///
    /// # Errors
    /// [`ConfigError::MissingSeparator`] for a line without `=`, and
    /// [`ConfigError::InvalidValue`] (naming key, value, line and reason) for a value that does
    /// not parse or is out of range.
    pub fn from_pulsar_conf(text: &str) -> Result<(BrokerConfig, Vec<String>), ConfigError> {
        parse::parse(text)
    }

    /// Reads and parses the file at `path` (see [`BrokerConfig::from_pulsar_conf`]).
    ///
    /// # Errors
    /// [`ConfigError::Read`] when the file cannot be read, [`ConfigError::InFile`] wrapping the
    /// parse error otherwise.
    pub fn load_file(path: &Path) -> Result<(BrokerConfig, Vec<String>), ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_pulsar_conf(&text).map_err(|source| ConfigError::InFile {
            path: path.to_path_buf(),
            source: Box::new(source),
        })
    }
}

/// Why a configuration could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The config file could not be read; check the path and permissions.
    #[error("cannot read config file {}: {source}", path.display())]
    Read {
        /// The file given with `--config`.
        path: PathBuf,
        /// The underlying I/O error.
        source: std::io::Error,
    },
    /// A parse error inside a config file; `source` names the line.
    #[error("config file {}: {source}", path.display())]
    InFile {
        /// The file being parsed.
        path: PathBuf,
        /// The error on one of its lines.
        source: Box<ConfigError>,
    },
    /// A non-comment line has no `=`; fix or comment out the line.
    #[error("line {line}: expected `key=value`, found {text:?}")]
    MissingSeparator {
        /// 1-based line number.
        line: usize,
        /// The offending line, trimmed.
        text: String,
    },
    /// A key's value does not parse or is out of range.
    #[error("line {line}: invalid value {value:?} for {key}: {reason}")]
    InvalidValue {
        /// The key as written in the file.
        key: String,
        /// The value as written in the file.
        value: String,
        /// 1-based line number.
        line: usize,
        /// What a valid value looks like.
        reason: String,
    },
    /// A command-line flag has an invalid value.
    #[error("invalid value {value:?} for {flag}: {reason}")]
    InvalidFlag {
        /// The flag, e.g. `--bind`.
        flag: &'static str,
        /// The value given.
        value: String,
        /// What a valid value looks like.
        reason: String,
    },
}
