//! Effective policies: the topic's own value, else its namespace's, else the broker's, for
//! the policies the topic, its producers and its dispatchers apply.

use crate::{
    config::ActorConfig,
    metadata::{Policies, RateLimit, SchemaCompatibilityStrategy, TopicPolicies},
};

/// The policy levels of one topic.
#[derive(Clone, Copy, Debug)]
pub struct PolicyLevels<'a> {
    /// The topic's own policies.
    pub topic: &'a TopicPolicies,
    /// Its namespace's policies.
    pub namespace: &'a Policies,
    /// The broker's settings.
    pub broker: &'a ActorConfig,
}

impl PolicyLevels<'_> {
    /// Whether re-sent messages are dropped by producer name and sequence id.
    pub fn deduplication(&self) -> bool {
        self.topic
            .deduplication_enabled
            .or(self.namespace.deduplication_enabled)
            .unwrap_or(self.broker.broker_deduplication_enabled)
    }

    /// Producers allowed on the topic (0: unlimited).
    pub fn max_producers(&self) -> u32 {
        self.topic
            .max_producer_per_topic
            .or(self.namespace.max_producers_per_topic)
            .unwrap_or(self.broker.max_producers_per_topic)
    }

    /// Consumers allowed on the topic, over all subscriptions (0: unlimited).
    pub fn max_consumers(&self) -> u32 {
        self.topic
            .max_consumer_per_topic
            .or(self.namespace.max_consumers_per_topic)
            .unwrap_or(self.broker.max_consumers_per_topic)
    }

    /// Consumers allowed per subscription (0: unlimited).
    pub fn max_consumers_per_subscription(&self) -> u32 {
        self.topic
            .max_consumers_per_subscription
            .or(self.namespace.max_consumers_per_subscription)
            .unwrap_or(self.broker.max_consumers_per_subscription)
    }

    /// The dispatch rate of the whole topic, if limited.
    pub fn topic_dispatch_rate(&self) -> Option<RateLimit> {
        match self.topic.dispatch_rate.as_ref().or_else(|| {
            self.namespace
                .topic_dispatch_rate
                .get(&self.broker.cluster_name)
        }) {
            Some(rate) => rate.limit(),
            None => broker_rate(self.broker.dispatch_rate_per_topic),
        }
    }

    /// The dispatch rate of each subscription, if limited.
    pub fn subscription_dispatch_rate(&self) -> Option<RateLimit> {
        match self.topic.subscription_dispatch_rate.as_ref().or_else(|| {
            self.namespace
                .subscription_dispatch_rate
                .get(&self.broker.cluster_name)
        }) {
            Some(rate) => rate.limit(),
            None => broker_rate(self.broker.dispatch_rate_per_subscription),
        }
    }

    /// The publish rate of the topic, if limited.
    pub fn publish_rate(&self) -> Option<RateLimit> {
        match self.topic.publish_rate.as_ref().or_else(|| {
            self.namespace
                .publish_max_message_rate
                .get(&self.broker.cluster_name)
        }) {
            Some(rate) => rate.limit(),
            None => broker_rate(self.broker.publish_rate_per_topic),
        }
    }

    /// How new schemas must relate to the stored ones.
    pub fn schema_strategy(&self) -> SchemaCompatibilityStrategy {
        self.topic
            .schema_compatibility_strategy
            .unwrap_or_default()
            .or(self.namespace.schema_compatibility_strategy)
            .or(self.broker.schema_compatibility_strategy)
            .or(SchemaCompatibilityStrategy::Full)
    }

    /// Whether producers may add schema versions.
    pub fn allow_auto_update_schema(&self) -> bool {
        self.namespace
            .is_allow_auto_update_schema
            .unwrap_or(self.broker.allow_auto_update_schema)
    }

    /// Whether producers and consumers without a schema are refused on a topic with one.
    pub fn schema_validation_enforced(&self) -> bool {
        self.namespace.schema_validation_enforced
    }
}

fn broker_rate((messages, bytes): (i64, i64)) -> Option<RateLimit> {
    RateLimit::new(messages, bytes, 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metadata::DispatchRate;

    #[test]
    fn topic_then_namespace_then_broker() {
        let mut topic = TopicPolicies::default();
        let mut namespace = Policies::default();
        let mut broker = ActorConfig::default();
        let levels = |t: &TopicPolicies, n: &Policies, b: &ActorConfig| {
            let l = PolicyLevels {
                topic: t,
                namespace: n,
                broker: b,
            };
            (l.deduplication(), l.max_producers(), l.schema_strategy())
        };
        assert_eq!(
            levels(&topic, &namespace, &broker),
            (false, 0, SchemaCompatibilityStrategy::Full)
        );
        broker.broker_deduplication_enabled = true;
        broker.max_producers_per_topic = 9;
        namespace.max_producers_per_topic = Some(5);
        namespace.schema_compatibility_strategy = SchemaCompatibilityStrategy::Backward;
        assert_eq!(
            levels(&topic, &namespace, &broker),
            (true, 5, SchemaCompatibilityStrategy::Backward)
        );
        namespace.deduplication_enabled = Some(false);
        topic.max_producer_per_topic = Some(1);
        topic.schema_compatibility_strategy = Some(SchemaCompatibilityStrategy::Undefined);
        assert_eq!(
            levels(&topic, &namespace, &broker),
            (false, 1, SchemaCompatibilityStrategy::Backward)
        );
        topic.deduplication_enabled = Some(true);
        assert!(levels(&topic, &namespace, &broker).0);
    }

    #[test]
    fn rates_come_from_the_cluster_entry_and_minus_one_is_off() {
        let broker = ActorConfig {
            dispatch_rate_per_subscription: (100, 0),
            ..ActorConfig::default()
        };
        let mut namespace = Policies::default();
        let topic = TopicPolicies::default();
        let levels = PolicyLevels {
            topic: &topic,
            namespace: &namespace,
            broker: &broker,
        };
        assert_eq!(levels.topic_dispatch_rate(), None);
        assert_eq!(
            levels.subscription_dispatch_rate().and_then(|r| r.messages),
            Some(100)
        );
        namespace.subscription_dispatch_rate.insert(
            "standalone".into(),
            DispatchRate::default(), // -1: explicitly off at the namespace
        );
        namespace.topic_dispatch_rate.insert(
            "other-cluster".into(),
            DispatchRate {
                dispatch_throttling_rate_in_msg: 1,
                ..DispatchRate::default()
            },
        );
        let levels = PolicyLevels {
            topic: &topic,
            namespace: &namespace,
            broker: &broker,
        };
        assert_eq!(levels.subscription_dispatch_rate(), None);
        assert_eq!(levels.topic_dispatch_rate(), None);
    }
}
