//! Per-topic and per-subscription counters, updated by the topic and subscription actors.

use std::{
    collections::BTreeMap,
    sync::{
        atomic::{AtomicU64, AtomicU8, Ordering},
        Arc, Mutex, MutexGuard, PoisonError,
    },
};

use serde::Serialize;

use super::rate::RateCounter;

/// One topic's counters. Shared by every incarnation of its actor, so a restart does not
/// reset the counters.
#[derive(Debug)]
pub struct TopicStats {
    name: String,
    /// Messages published (a batch counts its messages).
    pub msgs_in: RateCounter,
    /// Payload bytes published.
    pub bytes_in: RateCounter,
    /// Bytes stored in the topic's log.
    pub storage_size: AtomicU64,
    /// Producers attached now.
    pub producers: AtomicU64,
    subscriptions: Mutex<BTreeMap<String, Arc<SubscriptionStats>>>,
}

/// One subscription's counters.
#[derive(Debug)]
pub struct SubscriptionStats {
    name: String,
    /// Messages delivered to consumers (redeliveries included).
    pub msgs_out: RateCounter,
    /// Payload bytes delivered to consumers.
    pub bytes_out: RateCounter,
    /// Entries not yet acknowledged (a batch counts once).
    pub backlog: AtomicU64,
    /// Entries handed to consumers and not yet acknowledged.
    pub unacked: AtomicU64,
    /// Messages held back until their deliver-at time.
    pub delayed: AtomicU64,
    /// Messages the broker moved to the dead-letter topic (since the subscription loaded).
    pub dead_lettered: AtomicU64,
    /// Redeliveries counted (since the subscription loaded).
    pub redeliveries: AtomicU64,
    /// Consumers attached now.
    pub consumers: AtomicU64,
    /// Index into [`SUB_TYPES`] plus one; 0 until a consumer attached.
    sub_type: AtomicU8,
}

/// Pulsar's spellings of the subscription types, as shown in stats.
pub const SUB_TYPES: [&str; 4] = ["Exclusive", "Shared", "Failover", "Key_Shared"];

impl TopicStats {
    /// Fresh counters for `name`.
    pub fn new(name: &str) -> Self {
        Self {
            name: name.to_owned(),
            msgs_in: RateCounter::default(),
            bytes_in: RateCounter::default(),
            storage_size: AtomicU64::new(0),
            producers: AtomicU64::new(0),
            subscriptions: Mutex::default(),
        }
    }

    /// Full topic name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Counts one stored entry of `messages` messages and `bytes` bytes.
    pub fn on_published(&self, messages: u64, bytes: u64) {
        self.msgs_in.add(messages);
        self.bytes_in.add(bytes);
        self.storage_size.fetch_add(bytes, Ordering::Relaxed);
    }

    fn lock(&self) -> MutexGuard<'_, BTreeMap<String, Arc<SubscriptionStats>>> {
        self.subscriptions
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// The counters of subscription `name`, created on first use.
    pub fn subscription(&self, name: &str) -> Arc<SubscriptionStats> {
        self.lock()
            .entry(name.to_owned())
            .or_insert_with(|| Arc::new(SubscriptionStats::new(name)))
            .clone()
    }

    /// Forgets a subscription that ended for good (unsubscribed, reader gone).
    pub fn remove_subscription(&self, name: &str) {
        self.lock().remove(name);
    }

    /// Every subscription's counters, by name.
    pub fn subscriptions(&self) -> Vec<Arc<SubscriptionStats>> {
        self.lock().values().cloned().collect()
    }

    /// Entries not yet acknowledged, summed over the subscriptions (Pulsar's `msgBacklog`).
    pub fn backlog(&self) -> u64 {
        self.lock()
            .values()
            .map(|s| s.backlog.load(Ordering::Relaxed))
            .sum()
    }

    /// Recomputes the rates (the sampler calls this).
    pub fn sample(&self, seconds: f64) {
        self.msgs_in.sample(seconds);
        self.bytes_in.sample(seconds);
        for sub in self.subscriptions() {
            sub.msgs_out.sample(seconds);
            sub.bytes_out.sample(seconds);
        }
    }

    /// A JSON-ready read-out in Pulsar's field names.
    pub fn snapshot(&self) -> TopicStatsSnapshot {
        let subscriptions: BTreeMap<String, SubscriptionStatsSnapshot> = self
            .subscriptions()
            .iter()
            .map(|s| (s.name.clone(), s.snapshot()))
            .collect();
        let (rate_out, throughput_out, msgs_out, bytes_out) =
            subscriptions
                .values()
                .fold((0.0, 0.0, 0, 0), |(r, t, m, b), s| {
                    (
                        r + s.msg_rate_out,
                        t + s.msg_throughput_out,
                        m + s.msg_out_counter,
                        b + s.bytes_out_counter,
                    )
                });
        TopicStatsSnapshot {
            msg_rate_in: self.msgs_in.rate(),
            msg_throughput_in: self.bytes_in.rate(),
            msg_rate_out: rate_out,
            msg_throughput_out: throughput_out,
            msg_in_counter: self.msgs_in.total(),
            bytes_in_counter: self.bytes_in.total(),
            msg_out_counter: msgs_out,
            bytes_out_counter: bytes_out,
            storage_size: self.storage_size.load(Ordering::Relaxed),
            msg_backlog: subscriptions.values().map(|s| s.msg_backlog).sum(),
            producer_count: self.producers.load(Ordering::Relaxed),
            subscriptions,
        }
    }
}

impl SubscriptionStats {
    fn new(name: &str) -> Self {
        Self {
            name: name.to_owned(),
            msgs_out: RateCounter::default(),
            bytes_out: RateCounter::default(),
            backlog: AtomicU64::new(0),
            unacked: AtomicU64::new(0),
            delayed: AtomicU64::new(0),
            dead_lettered: AtomicU64::new(0),
            redeliveries: AtomicU64::new(0),
            consumers: AtomicU64::new(0),
            sub_type: AtomicU8::new(0),
        }
    }

    /// Subscription name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Counts messages written to a consumer.
    pub fn on_delivered(&self, messages: u64, bytes: u64) {
        self.msgs_out.add(messages);
        self.bytes_out.add(bytes);
    }

    /// Records the subscription type (one of [`SUB_TYPES`]) once consumers attach; cheap
    /// enough for every update (no allocation, no lock).
    pub fn set_sub_type(&self, sub_type: Option<&str>) {
        let code = sub_type
            .and_then(|t| SUB_TYPES.iter().position(|known| *known == t))
            .and_then(|i| u8::try_from(i + 1).ok())
            .unwrap_or(0);
        self.sub_type.store(code, Ordering::Relaxed);
    }

    /// The subscription type, once a consumer attached.
    pub fn sub_type(&self) -> Option<&'static str> {
        let code = usize::from(self.sub_type.load(Ordering::Relaxed));
        code.checked_sub(1).and_then(|i| SUB_TYPES.get(i)).copied()
    }

    /// A JSON-ready read-out in Pulsar's field names.
    pub fn snapshot(&self) -> SubscriptionStatsSnapshot {
        SubscriptionStatsSnapshot {
            msg_rate_out: self.msgs_out.rate(),
            msg_throughput_out: self.bytes_out.rate(),
            msg_out_counter: self.msgs_out.total(),
            bytes_out_counter: self.bytes_out.total(),
            msg_backlog: self.backlog.load(Ordering::Relaxed),
            unacked_messages: self.unacked.load(Ordering::Relaxed),
            msg_delayed: self.delayed.load(Ordering::Relaxed),
            consumer_count: self.consumers.load(Ordering::Relaxed),
            sub_type: self.sub_type().map(str::to_owned),
        }
    }
}

/// A topic's stats as JSON (Pulsar's `TopicStats` field names, a subset).
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TopicStatsSnapshot {
    /// Messages published per second.
    pub msg_rate_in: f64,
    /// Bytes published per second.
    pub msg_throughput_in: f64,
    /// Messages delivered per second, over all subscriptions.
    pub msg_rate_out: f64,
    /// Bytes delivered per second, over all subscriptions.
    pub msg_throughput_out: f64,
    /// Messages published since the broker started.
    pub msg_in_counter: u64,
    /// Bytes published since the broker started.
    pub bytes_in_counter: u64,
    /// Messages delivered since the broker started.
    pub msg_out_counter: u64,
    /// Bytes delivered since the broker started.
    pub bytes_out_counter: u64,
    /// Bytes stored in the topic's log.
    pub storage_size: u64,
    /// Entries not yet acknowledged, summed over subscriptions.
    pub msg_backlog: u64,
    /// Producers attached.
    pub producer_count: u64,
    /// Per subscription.
    pub subscriptions: BTreeMap<String, SubscriptionStatsSnapshot>,
}

/// A subscription's stats as JSON.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SubscriptionStatsSnapshot {
    /// Messages delivered per second.
    pub msg_rate_out: f64,
    /// Bytes delivered per second.
    pub msg_throughput_out: f64,
    /// Messages delivered since the broker started.
    pub msg_out_counter: u64,
    /// Bytes delivered since the broker started.
    pub bytes_out_counter: u64,
    /// Entries not yet acknowledged.
    pub msg_backlog: u64,
    /// Entries handed to consumers and not yet acknowledged.
    pub unacked_messages: u64,
    /// Messages waiting for their deliver-at time.
    pub msg_delayed: u64,
    /// Consumers attached.
    pub consumer_count: u64,
    /// Subscription type, once a consumer attached.
    #[serde(rename = "type")]
    pub sub_type: Option<String>,
}
