//! The `key=value` parser behind `BrokerConfig::from_pulsar_conf`, and value validators.

use std::path::PathBuf;
use std::str::FromStr;

use geminga_actors::ownership::parse_listeners;

use super::{
    BrokerConfig, ConfigError, DEFAULT_ADMIN_PORT, DEFAULT_BIND_HOST, DEFAULT_BROKER_PORT,
};

/// Every key Geminga reads; any other key is reported back as unused.
pub const KNOWN_KEYS: &[&str] = &[
    "dataDir",
    "bindAddress",
    "brokerServicePort",
    "webServicePort",
    "advertisedAddress",
    "clusterName",
    "maxMessageSize",
    "journalSyncData",
    "numIOThreads",
    "keepAliveIntervalSeconds",
    "maxUnackedMessagesPerConsumer",
    "maxUnackedMessagesPerSubscription",
    "dispatcherMaxReadBatchSize",
    "managedLedgerCacheSizeMB",
    "payloadSegmentMinBytes",
    "allowAutoTopicCreation",
    "allowAutoTopicCreationType",
    "defaultNumPartitions",
    "defaultNumberOfNamespaceBundles",
    "advertisedListeners",
    "internalListenerName",
    "maxProducersPerTopic",
    "maxConsumersPerSubscription",
    "maxPendingPublishRequestsPerConnection",
    "faultInjectionEnabled",
    "logLevel",
    "delayedDeliveryEnabled",
    "delayedDeliveryTickTimeMillis",
    "deadLetterMaxRedeliverCount",
    "redeliveryBackoffMinMillis",
    "redeliveryBackoffMaxMillis",
];

/// Largest `maxMessageSize`: CONNECTED carries it as an int32, and the frame limit adds 10 KiB
/// of headroom on top, which must still fit.
const MAX_MESSAGE_SIZE_LIMIT: usize = i32::MAX as usize - 10 * 1024;

/// Listener parts that combine into `bind`/`admin_bind` only once the whole file is read,
/// because `bindAddress` and the ports may come in any order.
#[derive(Default)]
pub(super) struct Listeners {
    host: Option<String>,
    broker_port: Option<u16>,
    web_port: Option<u16>,
}

pub(super) fn parse(text: &str) -> Result<(BrokerConfig, Vec<String>), ConfigError> {
    let mut config = BrokerConfig::default();
    let mut listeners = Listeners::default();
    let mut unknown: Vec<String> = Vec::new();
    // Where internalListenerName was set, for the cross-key check at the end.
    let mut internal_listener_line = 0;
    for (index, raw) in text.lines().enumerate() {
        let line = index + 1;
        let trimmed = raw.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') || trimmed.starts_with('!') {
            continue;
        }
        let Some((key, value)) = trimmed.split_once('=') else {
            return Err(ConfigError::MissingSeparator {
                line,
                text: trimmed.to_owned(),
            });
        };
        let (key, value) = (key.trim(), value.trim());
        let read = if value.is_empty() {
            // Unset: nothing to apply, only whether Geminga has such a key.
            is_known(key)
        } else {
            if key == "internalListenerName" {
                internal_listener_line = line;
            }
            apply(&mut config, &mut listeners, key, value).map_err(|reason| {
                ConfigError::InvalidValue {
                    key: key.to_owned(),
                    value: value.to_owned(),
                    line,
                    reason,
                }
            })?
        };
        if !read && !unknown.iter().any(|k| k == key) {
            unknown.push(key.to_owned());
        }
    }
    let host = listeners.host.as_deref().unwrap_or(DEFAULT_BIND_HOST);
    if listeners.host.is_some() || listeners.broker_port.is_some() {
        config.bind = join_host_port(host, listeners.broker_port.unwrap_or(DEFAULT_BROKER_PORT));
    }
    if listeners.host.is_some() || listeners.web_port.is_some() {
        config.admin_bind = join_host_port(host, listeners.web_port.unwrap_or(DEFAULT_ADMIN_PORT));
    }
    config
        .check_listeners()
        .map_err(|reason| ConfigError::InvalidValue {
            key: "internalListenerName".to_owned(),
            value: config.internal_listener_name.clone().unwrap_or_default(),
            line: internal_listener_line,
            reason,
        })?;
    config
        .security
        .check()
        .map_err(|(key, reason)| ConfigError::InvalidValue {
            key: key.to_owned(),
            value: String::new(),
            line: 0,
            reason,
        })?;
    Ok((config, unknown))
}

/// Whether Geminga reads `key` (for reporting unset keys; set ones are reported by `apply`).
fn is_known(key: &str) -> bool {
    KNOWN_KEYS.contains(&key)
        || super::policy::POLICY_KEYS.contains(&key)
        || super::storage_policies::KEYS.contains(&key)
        || super::security::SECURITY_KEYS.contains(&key)
}

/// Sets the field behind one non-empty key and answers `true`, or `false` when Geminga does
/// not read the key; the error is the reason shown to the user. The key lists are not
/// consulted: a key with a match arm here is applied even if a list misses it.
pub(super) fn apply(
    c: &mut BrokerConfig,
    l: &mut Listeners,
    key: &str,
    v: &str,
) -> Result<bool, String> {
    if super::security::apply(&mut c.security, key, v)?
        || super::policy::apply(&mut c.policy, key, v)?
        || super::storage_policies::apply(&mut c.storage_policies, key, v)?
    {
        return Ok(true);
    }
    match key {
        "dataDir" => c.data_dir = PathBuf::from(v),
        "bindAddress" => l.host = Some(parse_host(v)?),
        "brokerServicePort" => l.broker_port = Some(number(v, 0, u16::MAX)?),
        "webServicePort" => l.web_port = Some(number(v, 0, u16::MAX)?),
        "advertisedAddress" => c.advertised_address = Some(parse_host(v)?),
        "clusterName" => c.cluster_name = v.to_owned(),
        "maxMessageSize" => c.max_message_size = number(v, 1, MAX_MESSAGE_SIZE_LIMIT)?,
        "journalSyncData" => c.fsync = boolean(v)?,
        "numIOThreads" => c.worker_threads = number(v, 1, 1024)?,
        "keepAliveIntervalSeconds" => c.keep_alive_interval_secs = number(v, 0, 86_400)?,
        "maxUnackedMessagesPerConsumer" => {
            c.max_unacked_messages_per_consumer = number(v, 0, u32::MAX)?;
        }
        "maxUnackedMessagesPerSubscription" => {
            c.max_unacked_messages_per_subscription = number(v, 0, u32::MAX)?;
        }
        "dispatcherMaxReadBatchSize" => {
            c.dispatcher_max_read_batch_size = number(v, 1, 100_000)?;
        }
        "managedLedgerCacheSizeMB" => c.cache_size_mb = number(v, 0, 1 << 20)?,
        "payloadSegmentMinBytes" => {
            c.payload_segment_min_bytes = number(v, 0, MAX_MESSAGE_SIZE_LIMIT)?;
        }
        "allowAutoTopicCreation" => c.allow_auto_topic_creation = boolean(v)?,
        "allowAutoTopicCreationType" => {
            c.allow_auto_topic_creation_type = auto_creation_type(v)?;
        }
        "defaultNumPartitions" => c.default_num_partitions = number(v, 1, 10_000)?,
        "defaultNumberOfNamespaceBundles" => {
            c.default_number_of_namespace_bundles = number(v, 1, 1024)?;
        }
        "advertisedListeners" => {
            parse_listeners(v).map_err(|e| e.to_string())?;
            c.advertised_listeners = Some(v.to_owned());
        }
        "internalListenerName" => c.internal_listener_name = Some(v.to_owned()),
        "maxProducersPerTopic" => c.max_producers_per_topic = number(v, 0, u32::MAX)?,
        "maxConsumersPerSubscription" => {
            c.max_consumers_per_subscription = number(v, 0, u32::MAX)?;
        }
        "maxPendingPublishRequestsPerConnection" => {
            c.max_pending_publish_requests_per_connection = number(v, 1, 1_000_000)?;
        }
        "faultInjectionEnabled" => c.fault_injection_enabled = boolean(v)?,
        "logLevel" => c.log_level = Some(log_filter(v)?),
        "delayedDeliveryEnabled" => c.delayed_delivery_enabled = boolean(v)?,
        "delayedDeliveryTickTimeMillis" => c.delayed_delivery_tick_ms = number(v, 1, 3_600_000)?,
        "deadLetterMaxRedeliverCount" => {
            c.dead_letter_max_redeliver_count = number(v, 0, 1_000_000)?;
        }
        "redeliveryBackoffMinMillis" => c.redelivery_backoff_min_ms = number(v, 0, 86_400_000)?,
        "redeliveryBackoffMaxMillis" => c.redelivery_backoff_max_ms = number(v, 0, 86_400_000)?,
        _ => return Ok(false),
    }
    Ok(true)
}

/// Parses an integer within `min..=max`.
pub(super) fn number<T>(value: &str, min: T, max: T) -> Result<T, String>
where
    T: FromStr + PartialOrd + std::fmt::Display + Copy,
{
    match value.parse::<T>() {
        Ok(n) if n >= min && n <= max => Ok(n),
        _ => Err(format!("expected an integer from {min} to {max}")),
    }
}

/// Accepts `true`/`false` in any case; Java's lenient "anything else is false" hides typos.
pub(super) fn boolean(value: &str) -> Result<bool, String> {
    if value.eq_ignore_ascii_case("true") {
        Ok(true)
    } else if value.eq_ignore_ascii_case("false") {
        Ok(false)
    } else {
        Err("expected true or false".to_owned())
    }
}

fn auto_creation_type(value: &str) -> Result<String, String> {
    let lower = value.to_ascii_lowercase();
    match lower.as_str() {
        "non-partitioned" | "partitioned" => Ok(lower),
        _ => Err("expected non-partitioned or partitioned".to_owned()),
    }
}

fn log_filter(value: &str) -> Result<String, String> {
    tracing_subscriber::EnvFilter::try_new(value)
        .map(|_| value.to_owned())
        .map_err(|e| format!("expected a log filter such as info or geminga=debug: {e}"))
}

/// A host name or IP address: non-empty, no whitespace, no port; IPv6 may be bracketed.
fn parse_host(value: &str) -> Result<String, String> {
    let host = value
        .strip_prefix('[')
        .and_then(|v| v.strip_suffix(']'))
        .unwrap_or(value);
    let valid = !host.is_empty()
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | ':' | '%'));
    if !valid {
        return Err("expected a host name or IP address".to_owned());
    }
    if host.contains(':') && host.parse::<std::net::Ipv6Addr>().is_err() {
        return Err("expected a host name or IP address without a port".to_owned());
    }
    Ok(host.to_owned())
}

/// Splits `host:port` (IPv6 as `[addr]:port`), validating both parts; port 0 is allowed.
///
/// # Errors
/// A human-readable reason when the value is not `host:port`.
pub fn parse_host_port(value: &str) -> Result<(String, u16), String> {
    let reason = || "expected HOST:PORT, for example 127.0.0.1:6650".to_owned();
    let (host, port) = value.rsplit_once(':').ok_or_else(reason)?;
    if host.contains(':') && !host.starts_with('[') {
        return Err("an IPv6 address needs brackets, for example [::1]:6650".to_owned());
    }
    let port = port.parse::<u16>().map_err(|_| reason())?;
    let host = parse_host(host)?;
    Ok((host, port))
}

/// Formats `host:port`, bracketing IPv6 addresses so the result parses as a socket address.
pub(super) fn join_host_port(host: &str, port: u16) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

impl BrokerConfig {
    /// Validates and sets `bind` from a `--bind` flag value.
    ///
    /// # Errors
    /// [`ConfigError::InvalidFlag`] when the value is not `HOST:PORT`.
    pub fn set_bind(&mut self, value: &str) -> Result<(), ConfigError> {
        self.bind = normalized_host_port("--bind", value)?;
        Ok(())
    }

    /// Validates and sets `admin_bind` from an `--admin-bind` flag value.
    ///
    /// # Errors
    /// [`ConfigError::InvalidFlag`] when the value is not `HOST:PORT`.
    pub fn set_admin_bind(&mut self, value: &str) -> Result<(), ConfigError> {
        self.admin_bind = normalized_host_port("--admin-bind", value)?;
        Ok(())
    }
}

fn normalized_host_port(flag: &'static str, value: &str) -> Result<String, ConfigError> {
    let (host, port) = parse_host_port(value).map_err(|reason| ConfigError::InvalidFlag {
        flag,
        value: value.to_owned(),
        reason,
    })?;
    Ok(join_host_port(&host, port))
}

impl BrokerConfig {
    /// `internalListenerName` must name one of `advertisedListeners` (keys may come in any
    /// order, so this runs once the whole file is read).
    fn check_listeners(&self) -> Result<(), String> {
        let Some(name) = &self.internal_listener_name else {
            return Ok(());
        };
        let listeners = self
            .advertised_listeners
            .as_deref()
            .map(parse_listeners)
            .transpose()
            .map_err(|e| e.to_string())?
            .unwrap_or_default();
        if listeners.contains_key(name) {
            Ok(())
        } else {
            Err(format!("{name} is not one of advertisedListeners"))
        }
    }
}
