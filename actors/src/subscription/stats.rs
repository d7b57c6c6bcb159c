//! Delivery figures of a subscription: delayed messages, dead letters, redeliveries.

use std::sync::atomic::{AtomicU64, Ordering};

use serde::Serialize;

/// Live counters shared with whoever collects metrics (read without messaging the actor).
/// They start at zero when the broker starts, except `delayed`, which is a gauge restored
/// from the cursor.
#[derive(Debug, Default)]
pub struct SubscriptionCounters {
    delayed: AtomicU64,
    dead_lettered: AtomicU64,
    redeliveries: AtomicU64,
}

impl SubscriptionCounters {
    /// Messages waiting in the delayed-delivery index (`pulsar_subscription_delayed`).
    pub fn delayed_messages(&self) -> u64 {
        self.delayed.load(Ordering::Relaxed)
    }

    /// Messages moved to the dead-letter topic by the broker.
    pub fn dead_lettered_messages(&self) -> u64 {
        self.dead_lettered.load(Ordering::Relaxed)
    }

    /// Redeliveries counted (nacks, ack timeouts, consumers leaving with unacked entries).
    pub fn redeliveries(&self) -> u64 {
        self.redeliveries.load(Ordering::Relaxed)
    }

    pub(super) fn set_delayed(&self, value: u64) {
        self.delayed.store(value, Ordering::Relaxed);
    }

    pub(super) fn add_dead_lettered(&self, messages: u64) {
        self.dead_lettered.fetch_add(messages, Ordering::Relaxed);
    }

    pub(super) fn add_redeliveries(&self, count: u64) {
        self.redeliveries.fetch_add(count, Ordering::Relaxed);
    }
}

/// Answer to `GetDeliveryStats`, for the admin API (camelCase like Pulsar's stats).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DeliveryStats {
    /// Pulsar's `msgDelayed`: messages held back until their delivery time.
    pub msg_delayed: u64,
    /// Messages the broker moved to the dead-letter topic since it started.
    pub msg_dead_lettered: u64,
    /// Redeliveries counted since the broker started.
    pub msg_redelivered: u64,
    /// Entries with a persisted redelivery count (unacked, redelivered at least once).
    pub entries_with_redelivery_count: usize,
    /// Whether delayed messages are held back on this subscription now.
    pub delayed_delivery_active: bool,
    /// Broker-side dead-lettering threshold (0 = off).
    pub max_redeliver_count: u32,
    /// Where dead letters go.
    pub dead_letter_topic: String,
    /// Dead letters being written now.
    pub dead_letters_in_flight: usize,
}
