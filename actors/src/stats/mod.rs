//! Shared stats objects: counters the topic and subscription actors update with relaxed
//! atomics, and rates a periodic sampler computes from them. Metrics, the broker-stats JSON and
//! the status page read them without sending a single message to an actor.

mod rate;
mod topic;

use std::{
    collections::BTreeMap,
    sync::{Arc, Mutex, MutexGuard, PoisonError},
    time::Instant,
};

pub use rate::RateCounter;
pub use topic::{
    SubscriptionStats, SubscriptionStatsSnapshot, TopicStats, TopicStatsSnapshot, SUB_TYPES,
};

/// Every topic's counters, by full topic name.
#[derive(Debug)]
pub struct BrokerStats {
    cluster: String,
    topics: Mutex<BTreeMap<String, Arc<TopicStats>>>,
    last_sample: Mutex<Option<Instant>>,
}

impl BrokerStats {
    /// Empty stats for a broker of `cluster`.
    pub fn new(cluster: String) -> Arc<Self> {
        Arc::new(Self {
            cluster,
            topics: Mutex::default(),
            last_sample: Mutex::default(),
        })
    }

    /// The cluster name used as a label.
    pub fn cluster(&self) -> &str {
        &self.cluster
    }

    fn lock(&self) -> MutexGuard<'_, BTreeMap<String, Arc<TopicStats>>> {
        self.topics.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The counters of topic `name`, created on first use.
    pub fn topic(&self, name: &str) -> Arc<TopicStats> {
        self.lock()
            .entry(name.to_owned())
            .or_insert_with(|| Arc::new(TopicStats::new(name)))
            .clone()
    }

    /// Forgets a topic (unloaded or deleted for good).
    pub fn remove_topic(&self, name: &str) {
        self.lock().remove(name);
    }

    /// Every topic's counters, ordered by name.
    pub fn topics(&self) -> Vec<Arc<TopicStats>> {
        self.lock().values().cloned().collect()
    }

    /// Recomputes every rate over the time since the previous call.
    pub fn sample(&self) {
        let now = Instant::now();
        let previous = self
            .last_sample
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .replace(now);
        let seconds = previous.map_or(0.0, |p| now.duration_since(p).as_secs_f64());
        for topic in self.topics() {
            topic.sample(seconds);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::Ordering;

    use super::*;

    #[test]
    fn snapshots_sum_subscriptions_into_the_topic() {
        let stats = BrokerStats::new("c".into());
        let topic = stats.topic("persistent://t/n/a");
        topic.on_published(3, 300);
        let sub = topic.subscription("s");
        sub.on_delivered(2, 200);
        sub.backlog.store(1, Ordering::Relaxed);
        sub.set_sub_type(Some("Key_Shared"));
        assert_eq!(sub.sub_type(), Some("Key_Shared"));
        topic.subscription("s2").backlog.store(4, Ordering::Relaxed);
        let snap = stats.topic("persistent://t/n/a").snapshot();
        assert_eq!(snap.msg_in_counter, 3);
        assert_eq!(snap.storage_size, 300);
        assert_eq!(snap.msg_out_counter, 2);
        assert_eq!(snap.msg_backlog, 5);
        assert_eq!(snap.subscriptions.len(), 2);
        assert_eq!(topic.backlog(), 5);
    }
}
