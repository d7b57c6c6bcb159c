//! Broker-wide defaults and check periods of the storage policies (retention, message TTL,
//! backlog quotas, compaction), read from Pulsar's `broker.conf` keys.

use std::time::Duration;

use geminga_actors::{
    metadata::{BacklogQuotaPolicy, PolicyDefaults, RetentionPolicies},
    StoragePolicyConfig as ActorStoragePolicyConfig,
};

use super::parse::{boolean, number};

/// The keys this module reads (Pulsar's names; `messageExpiryCheckIntervalInSeconds` and
/// `retentionGracePeriodSeconds` are Geminga's).
pub const KEYS: &[&str] = &[
    "defaultRetentionTimeInMinutes",
    "defaultRetentionSizeInMB",
    "ttlDurationDefaultInSeconds",
    "messageExpiryCheckIntervalInMinutes",
    "messageExpiryCheckIntervalInSeconds",
    "retentionCheckIntervalInSeconds",
    "retentionGracePeriodSeconds",
    "backlogQuotaCheckEnabled",
    "backlogQuotaCheckIntervalInSeconds",
    "backlogQuotaDefaultLimitBytes",
    "backlogQuotaDefaultLimitSecond",
    "backlogQuotaDefaultRetentionPolicy",
    "brokerServiceCompactionThresholdInBytes",
    "brokerServiceCompactionMonitorIntervalInSeconds",
    "topicCompactionRetainNullKey",
];

/// Storage policy settings. Field comments name the key that sets each one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoragePolicyConfig {
    /// `defaultRetentionTimeInMinutes` (-1: forever; Pulsar's default 0).
    pub default_retention_time_minutes: i32,
    /// `defaultRetentionSizeInMB` (-1: unlimited; Pulsar's default 0).
    pub default_retention_size_mb: i64,
    /// `ttlDurationDefaultInSeconds` (0: no TTL).
    pub ttl_default_seconds: u32,
    /// `messageExpiryCheckIntervalInMinutes` (Pulsar's default 5).
    pub message_expiry_check_minutes: u64,
    /// `messageExpiryCheckIntervalInSeconds`: a finer period, used instead when set. Geminga
    /// checks every 5 s by default (a check is one seek per subscription); setting
    /// `messageExpiryCheckIntervalInMinutes` clears it, for Pulsar's behaviour.
    pub message_expiry_check_seconds: Option<u64>,
    /// `retentionCheckIntervalInSeconds`: how often topics re-check retention when nothing
    /// else triggers it (acks, publishes and policy changes trigger it at once).
    pub retention_check_seconds: u64,
    /// `retentionGracePeriodSeconds`: entries younger than this are never trimmed, so a
    /// reader started right after publishing to an unsubscribed topic still finds them.
    pub retention_grace_seconds: u64,
    /// `backlogQuotaCheckEnabled`.
    pub backlog_quota_check_enabled: bool,
    /// `backlogQuotaCheckIntervalInSeconds`: the re-check period of age quotas.
    pub backlog_quota_check_seconds: u64,
    /// `backlogQuotaDefaultLimitBytes` (-1: none).
    pub backlog_quota_limit_bytes: i64,
    /// `backlogQuotaDefaultLimitSecond` (-1: none).
    pub backlog_quota_limit_seconds: i64,
    /// `backlogQuotaDefaultRetentionPolicy`.
    pub backlog_quota_policy: BacklogQuotaPolicy,
    /// `brokerServiceCompactionThresholdInBytes` (0: never compact automatically).
    pub compaction_threshold_bytes: i64,
    /// `brokerServiceCompactionMonitorIntervalInSeconds`.
    pub compaction_monitor_seconds: u64,
    /// `topicCompactionRetainNullKey`.
    pub compaction_retain_null_key: bool,
}

impl Default for StoragePolicyConfig {
    fn default() -> Self {
        Self {
            default_retention_time_minutes: 0,
            default_retention_size_mb: 0,
            ttl_default_seconds: 0,
            message_expiry_check_minutes: 5,
            message_expiry_check_seconds: Some(5),
            retention_check_seconds: 60,
            retention_grace_seconds: 60,
            backlog_quota_check_enabled: true,
            backlog_quota_check_seconds: 60,
            backlog_quota_limit_bytes: -1,
            backlog_quota_limit_seconds: -1,
            backlog_quota_policy: BacklogQuotaPolicy::ProducerRequestHold,
            compaction_threshold_bytes: 0,
            compaction_monitor_seconds: 60,
            compaction_retain_null_key: false,
        }
    }
}

impl StoragePolicyConfig {
    /// What the actors need: defaults and periods (the periodic upkeep runs at the shortest
    /// of the retention, backlog quota and compaction periods).
    pub fn to_actor_config(&self) -> ActorStoragePolicyConfig {
        let expiry = self
            .message_expiry_check_seconds
            .unwrap_or(self.message_expiry_check_minutes.saturating_mul(60));
        let upkeep = self
            .retention_check_seconds
            .min(self.backlog_quota_check_seconds)
            .min(self.compaction_monitor_seconds);
        ActorStoragePolicyConfig {
            defaults: PolicyDefaults {
                retention: RetentionPolicies {
                    retention_time_in_minutes: self.default_retention_time_minutes,
                    retention_size_in_mb: self.default_retention_size_mb,
                },
                message_ttl_seconds: self.ttl_default_seconds,
                backlog_quota_limit_bytes: self.backlog_quota_limit_bytes,
                backlog_quota_limit_seconds: self.backlog_quota_limit_seconds,
                backlog_quota_policy: self.backlog_quota_policy,
                compaction_threshold_bytes: self.compaction_threshold_bytes,
            },
            message_expiry_check_interval: Duration::from_secs(expiry.max(1)),
            retention_check_interval: Duration::from_secs(upkeep.max(1)),
            retention_grace: Duration::from_secs(self.retention_grace_seconds),
            backlog_quota_check_enabled: self.backlog_quota_check_enabled,
            compaction_retain_null_key: self.compaction_retain_null_key,
        }
    }
}

/// Sets the field behind one of [`KEYS`] and answers `true`, or `false` for any other key;
/// the error is the reason shown to the user.
pub(super) fn apply(c: &mut StoragePolicyConfig, key: &str, v: &str) -> Result<bool, String> {
    const DAY: u64 = 86_400;
    match key {
        "defaultRetentionTimeInMinutes" => {
            c.default_retention_time_minutes = number(v, -1, i32::MAX)?
        }
        "defaultRetentionSizeInMB" => c.default_retention_size_mb = number(v, -1, i64::MAX)?,
        "ttlDurationDefaultInSeconds" => c.ttl_default_seconds = number(v, 0, u32::MAX)?,
        "messageExpiryCheckIntervalInMinutes" => {
            c.message_expiry_check_minutes = number(v, 1, 7 * 24 * 60)?;
            c.message_expiry_check_seconds = None;
        }
        "messageExpiryCheckIntervalInSeconds" => {
            c.message_expiry_check_seconds = Some(number(v, 1, 7 * DAY)?);
        }
        "retentionCheckIntervalInSeconds" => c.retention_check_seconds = number(v, 1, 7 * DAY)?,
        "retentionGracePeriodSeconds" => c.retention_grace_seconds = number(v, 0, 7 * DAY)?,
        "backlogQuotaCheckEnabled" => c.backlog_quota_check_enabled = boolean(v)?,
        "backlogQuotaCheckIntervalInSeconds" => {
            c.backlog_quota_check_seconds = number(v, 1, 7 * DAY)?;
        }
        "backlogQuotaDefaultLimitBytes" => c.backlog_quota_limit_bytes = number(v, -1, i64::MAX)?,
        "backlogQuotaDefaultLimitSecond" => {
            c.backlog_quota_limit_seconds = number(v, -1, i64::MAX)?;
        }
        "backlogQuotaDefaultRetentionPolicy" => c.backlog_quota_policy = quota_policy(v)?,
        "brokerServiceCompactionThresholdInBytes" => {
            c.compaction_threshold_bytes = number(v, 0, i64::MAX)?;
        }
        "brokerServiceCompactionMonitorIntervalInSeconds" => {
            c.compaction_monitor_seconds = number(v, 1, 7 * DAY)?;
        }
        "topicCompactionRetainNullKey" => c.compaction_retain_null_key = boolean(v)?,
        _ => return Ok(false),
    }
    Ok(true)
}

fn quota_policy(value: &str) -> Result<BacklogQuotaPolicy, String> {
    match value {
        "producer_request_hold" => Ok(BacklogQuotaPolicy::ProducerRequestHold),
        "producer_exception" => Ok(BacklogQuotaPolicy::ProducerException),
        "consumer_backlog_eviction" => Ok(BacklogQuotaPolicy::ConsumerBacklogEviction),
        _ => Err(
            "expected producer_request_hold, producer_exception or consumer_backlog_eviction"
                .to_owned(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::super::BrokerConfig;
    use super::*;

    #[test]
    fn policy_keys_parse_and_reach_the_actor_config() {
        let text = "defaultRetentionTimeInMinutes=-1\n\
                    defaultRetentionSizeInMB=100\n\
                    ttlDurationDefaultInSeconds=30\n\
                    messageExpiryCheckIntervalInMinutes=2\n\
                    retentionCheckIntervalInSeconds=120\n\
                    backlogQuotaCheckIntervalInSeconds=10\n\
                    backlogQuotaDefaultLimitBytes=1024\n\
                    backlogQuotaDefaultRetentionPolicy=consumer_backlog_eviction\n\
                    topicCompactionRetainNullKey=true\n";
        let (config, unknown) = BrokerConfig::from_pulsar_conf(text).unwrap();
        assert!(unknown.is_empty(), "{unknown:?}");
        let actors = config.storage_policies.to_actor_config();
        assert_eq!(actors.defaults.retention.retention_time_in_minutes, -1);
        assert_eq!(actors.defaults.retention.retention_size_in_mb, 100);
        assert_eq!(actors.defaults.message_ttl_seconds, 30);
        assert_eq!(
            actors.message_expiry_check_interval,
            Duration::from_secs(120)
        );
        assert_eq!(actors.retention_check_interval, Duration::from_secs(10));
        assert_eq!(actors.defaults.backlog_quota_limit_bytes, 1024);
        assert_eq!(
            actors.defaults.backlog_quota_policy,
            BacklogQuotaPolicy::ConsumerBacklogEviction
        );
        assert!(actors.compaction_retain_null_key);
        let default = BrokerConfig::default().storage_policies.to_actor_config();
        assert_eq!(
            default.message_expiry_check_interval,
            Duration::from_secs(5)
        );
        let (config, _) =
            BrokerConfig::from_pulsar_conf("messageExpiryCheckIntervalInSeconds=3\n").unwrap();
        let expiry = config
            .storage_policies
            .to_actor_config()
            .message_expiry_check_interval;
        assert_eq!(expiry, Duration::from_secs(3), "the finer key wins");
    }

    #[test]
    fn bad_policy_values_name_the_key() {
        for bad in [
            "backlogQuotaDefaultRetentionPolicy=drop_everything",
            "defaultRetentionTimeInMinutes=-2",
            "backlogQuotaCheckEnabled=maybe",
        ] {
            let err = BrokerConfig::from_pulsar_conf(bad).unwrap_err().to_string();
            let key = bad.split('=').next().unwrap();
            assert!(err.contains(key), "{err}");
        }
    }
}
