//! Broker-wide defaults of deduplication, rate limits, consumer limits and schemas: the values
//! a topic gets when neither it nor its namespace sets the policy.

use geminga_actors::metadata::SchemaCompatibilityStrategy;

/// Policy defaults, by Pulsar's `broker.conf` keys.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicyConfig {
    /// `brokerDeduplicationEnabled`.
    pub broker_deduplication_enabled: bool,
    /// `maxConsumersPerTopic` (0 = unlimited).
    pub max_consumers_per_topic: u32,
    /// `dispatchThrottlingRatePerTopicInMsg` (0 = off).
    pub dispatch_rate_per_topic_msg: i64,
    /// `dispatchThrottlingRatePerTopicInByte` (0 = off).
    pub dispatch_rate_per_topic_byte: i64,
    /// `dispatchThrottlingRatePerSubscriptionInMsg` (0 = off).
    pub dispatch_rate_per_subscription_msg: i64,
    /// `dispatchThrottlingRatePerSubscriptionInByte` (0 = off).
    pub dispatch_rate_per_subscription_byte: i64,
    /// `maxPublishRatePerTopicInMessages` (0 = off).
    pub publish_rate_per_topic_msg: i64,
    /// `maxPublishRatePerTopicInBytes` (0 = off).
    pub publish_rate_per_topic_byte: i64,
    /// `schemaCompatibilityStrategy` (FULL).
    pub schema_compatibility_strategy: SchemaCompatibilityStrategy,
    /// `isAllowAutoUpdateSchemaEnabled` (true).
    pub allow_auto_update_schema: bool,
}

impl Default for PolicyConfig {
    fn default() -> Self {
        Self {
            broker_deduplication_enabled: false,
            max_consumers_per_topic: 0,
            dispatch_rate_per_topic_msg: 0,
            dispatch_rate_per_topic_byte: 0,
            dispatch_rate_per_subscription_msg: 0,
            dispatch_rate_per_subscription_byte: 0,
            publish_rate_per_topic_msg: 0,
            publish_rate_per_topic_byte: 0,
            schema_compatibility_strategy: SchemaCompatibilityStrategy::Full,
            allow_auto_update_schema: true,
        }
    }
}

/// The keys read into [`PolicyConfig`].
pub const POLICY_KEYS: &[&str] = &[
    "brokerDeduplicationEnabled",
    "maxConsumersPerTopic",
    "dispatchThrottlingRatePerTopicInMsg",
    "dispatchThrottlingRatePerTopicInByte",
    "dispatchThrottlingRatePerSubscriptionInMsg",
    "dispatchThrottlingRatePerSubscriptionInByte",
    "maxPublishRatePerTopicInMessages",
    "maxPublishRatePerTopicInBytes",
    "schemaCompatibilityStrategy",
    "isAllowAutoUpdateSchemaEnabled",
];

/// Sets the field behind one of [`POLICY_KEYS`] and answers `true`, or `false` for any other
/// key; the error is the reason shown to the user.
pub(super) fn apply(c: &mut PolicyConfig, key: &str, v: &str) -> Result<bool, String> {
    let rate = |v: &str| -> Result<i64, String> {
        v.parse::<i64>()
            .map_err(|_| "expected an integer (0 or less: off)".to_owned())
    };
    match key {
        "brokerDeduplicationEnabled" => c.broker_deduplication_enabled = super::parse::boolean(v)?,
        "maxConsumersPerTopic" => {
            c.max_consumers_per_topic = v
                .parse()
                .map_err(|_| "expected a non-negative integer".to_owned())?;
        }
        "dispatchThrottlingRatePerTopicInMsg" => c.dispatch_rate_per_topic_msg = rate(v)?,
        "dispatchThrottlingRatePerTopicInByte" => c.dispatch_rate_per_topic_byte = rate(v)?,
        "dispatchThrottlingRatePerSubscriptionInMsg" => {
            c.dispatch_rate_per_subscription_msg = rate(v)?;
        }
        "dispatchThrottlingRatePerSubscriptionInByte" => {
            c.dispatch_rate_per_subscription_byte = rate(v)?;
        }
        "maxPublishRatePerTopicInMessages" => c.publish_rate_per_topic_msg = rate(v)?,
        "maxPublishRatePerTopicInBytes" => c.publish_rate_per_topic_byte = rate(v)?,
        "schemaCompatibilityStrategy" => c.schema_compatibility_strategy = v.parse()?,
        "isAllowAutoUpdateSchemaEnabled" => c.allow_auto_update_schema = super::parse::boolean(v)?,
        _ => return Ok(false),
    }
    Ok(true)
}

impl PolicyConfig {
    /// Copies the defaults into the actors' configuration.
    pub fn apply_to(&self, actors: &mut geminga_actors::ActorConfig) {
        actors.broker_deduplication_enabled = self.broker_deduplication_enabled;
        actors.max_consumers_per_topic = self.max_consumers_per_topic;
        actors.dispatch_rate_per_topic = (
            self.dispatch_rate_per_topic_msg,
            self.dispatch_rate_per_topic_byte,
        );
        actors.dispatch_rate_per_subscription = (
            self.dispatch_rate_per_subscription_msg,
            self.dispatch_rate_per_subscription_byte,
        );
        actors.publish_rate_per_topic = (
            self.publish_rate_per_topic_msg,
            self.publish_rate_per_topic_byte,
        );
        actors.schema_compatibility_strategy = self.schema_compatibility_strategy;
        actors.allow_auto_update_schema = self.allow_auto_update_schema;
    }
}

#[cfg(test)]
mod tests {
    use crate::config::BrokerConfig;

    use super::*;

    #[test]
    fn policy_keys_parse_and_bad_values_are_reported() {
        let (c, unknown) = BrokerConfig::from_pulsar_conf(
            "brokerDeduplicationEnabled=true\nmaxConsumersPerTopic=3\n\
             dispatchThrottlingRatePerSubscriptionInMsg=50\nmaxPublishRatePerTopicInBytes=-1\n\
             schemaCompatibilityStrategy=backward_transitive\nisAllowAutoUpdateSchemaEnabled=false\n",
        )
        .unwrap();
        assert!(unknown.is_empty(), "{unknown:?}");
        assert!(c.policy.broker_deduplication_enabled);
        assert_eq!(c.policy.max_consumers_per_topic, 3);
        assert_eq!(c.policy.dispatch_rate_per_subscription_msg, 50);
        assert_eq!(c.policy.publish_rate_per_topic_byte, -1);
        assert_eq!(
            c.policy.schema_compatibility_strategy,
            SchemaCompatibilityStrategy::BackwardTransitive
        );
        assert!(!c.policy.allow_auto_update_schema);
        let mut actors = geminga_actors::ActorConfig::default();
        c.policy.apply_to(&mut actors);
        assert_eq!(actors.dispatch_rate_per_subscription, (50, 0));
        assert!(BrokerConfig::from_pulsar_conf("schemaCompatibilityStrategy=LOOSE\n").is_err());
        assert!(BrokerConfig::from_pulsar_conf("brokerDeduplicationEnabled=yes\n").is_err());
    }
}
