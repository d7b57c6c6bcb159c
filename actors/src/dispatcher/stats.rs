//! A serializable view of a dispatcher: who has what, who is blocked and why.

use std::collections::{HashMap, HashSet};

use geminga_protocol::proto::command_subscribe::SubType;
use serde::Serialize;

use super::state::DispatcherState;

/// Blocked keys listed at most (the oldest waiting first).
const MAX_BLOCKED_HASHES: usize = 100;

/// The dispatch state of one subscription.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DispatcherStats {
    /// `Exclusive`, `Shared`, `Failover` or `Key_Shared`; `None` without consumers.
    pub sub_type: Option<String>,
    /// `AUTO_SPLIT` or `STICKY` for Key_Shared.
    pub key_shared_mode: Option<String>,
    /// Key_Shared: whether keys may move before their older messages are acked.
    pub allow_out_of_order_delivery: bool,
    /// Name of the consumer receiving everything (Exclusive, Failover).
    pub active_consumer: Option<String>,
    /// Messages delivered and not acked, over all consumers.
    pub unacked_messages: u64,
    /// The subscription's unacked-message limit (0 = none).
    pub max_unacked_messages: u32,
    /// Dispatch is paused because the subscription reached its unacked-message limit.
    pub blocked_on_unacked_messages: bool,
    /// Entries delivered and not acked.
    pub pending_entries: usize,
    /// Entries waiting to be (re)delivered.
    pub replay_entries: usize,
    /// Redeliveries counted since the dispatcher started (nacks, ack timeouts, consumers
    /// leaving with unacked entries; Shared and Key_Shared).
    pub redeliveries: u64,
    /// Nacked entries waiting out a redelivery backoff.
    pub backoff_entries: usize,
    /// Entries handed to the dead-letter path and not yet acked.
    pub dead_lettering_entries: usize,
    /// Per consumer, in attachment order.
    pub consumers: Vec<ConsumerDispatchStats>,
    /// Key_Shared keys whose waiting entries cannot be delivered now, oldest first.
    pub blocked_hashes: Vec<BlockedHash>,
    /// More blocked keys exist than are listed.
    pub blocked_hashes_truncated: bool,
}

/// One consumer's share of the dispatch.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ConsumerDispatchStats {
    /// Consumer handle id.
    pub key: u64,
    /// Consumer name.
    pub name: String,
    /// Priority level (lower is preferred).
    pub priority_level: i32,
    /// Messages it can still take (FLOW credit).
    pub permits: i64,
    /// Messages delivered to it and not acked.
    pub unacked_messages: u64,
    /// Entries delivered to it and not acked.
    pub pending_entries: u64,
    /// Whether dispatch to it is paused by an unacked-message limit.
    pub blocked: bool,
    /// Which limit pauses it.
    pub blocked_reason: Option<BlockedReason>,
    /// Key_Shared: the slots (of 0..=65535) whose keys it receives.
    pub hash_ranges: Vec<HashRange>,
    /// Failover/Exclusive: whether it is the active consumer.
    pub is_active: Option<bool>,
}

/// Why dispatch to a consumer is paused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BlockedReason {
    /// It holds `max_unacked_per_consumer` unacked messages; resumes as it acks.
    ConsumerUnackedLimit,
    /// The subscription holds `max_unacked_per_subscription`; resumes as anyone acks.
    SubscriptionUnackedLimit,
}

/// An inclusive range of Key_Shared slots.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HashRange {
    /// First slot.
    pub start: u32,
    /// Last slot.
    pub end: u32,
}

/// A Key_Shared key with entries waiting that cannot be delivered now.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BlockedHash {
    /// The key's slot in the subscription's hash range.
    pub slot: u32,
    /// The raw Murmur3-32 of the key.
    pub key_hash: u32,
    /// Its entries waiting for delivery.
    pub waiting_entries: usize,
    /// The oldest of them.
    pub oldest_waiting_entry: u64,
    /// The consumer that owns the key now, if any.
    pub owner: Option<String>,
    /// Its handle id.
    pub owner_key: Option<u64>,
    /// Why the entries wait.
    pub reason: HashBlockReason,
    /// The consumer still holding unacked entries of the key (for `waits_for_ack`).
    pub waits_for_consumer: Option<String>,
    /// Its handle id.
    pub waits_for_consumer_key: Option<u64>,
    /// Its oldest unacked entry of the key: once that consumer acks its entries of the key
    /// (or leaves), the key moves on.
    pub waits_for_entry: Option<u64>,
}

/// Why a key's entries wait.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum HashBlockReason {
    /// Another consumer still holds unacked entries of the key (ordering on a consumer change).
    WaitsForAck,
    /// No consumer owns the key's slot (STICKY ranges leave it uncovered).
    NoConsumerForSlot,
    /// The owner has no permits or reached an unacked limit.
    OwnerCannotTake,
}

/// Pulsar's spelling of a subscription type in stats (`Key_Shared`, not `KeyShared`).
pub fn sub_type_name(sub_type: SubType) -> &'static str {
    match sub_type {
        SubType::KeyShared => "Key_Shared",
        other => other.as_str_name(),
    }
}

impl DispatcherState {
    /// The current dispatch state, for the admin API.
    pub fn stats(&self) -> DispatcherStats {
        let name_of = |key: u64| self.slot(key).map(|s| s.name.clone());
        let assignments = self
            .key_shared
            .as_ref()
            .map(|ks| ks.assignments())
            .unwrap_or_default();
        let consumers = self
            .consumers
            .iter()
            .map(|c| {
                let blocked_reason = if self.consumer_over_limit(c) {
                    Some(BlockedReason::ConsumerUnackedLimit)
                } else if self.subscription_over_limit() {
                    Some(BlockedReason::SubscriptionUnackedLimit)
                } else {
                    None
                };
                ConsumerDispatchStats {
                    key: c.key,
                    name: c.name.clone(),
                    priority_level: c.priority,
                    permits: c.permits,
                    unacked_messages: c.unacked_messages,
                    pending_entries: c.pending_entries,
                    blocked: blocked_reason.is_some(),
                    blocked_reason,
                    hash_ranges: assignments
                        .iter()
                        .filter(|(_, _, owner)| *owner == c.key)
                        .map(|(start, end, _)| HashRange {
                            start: *start,
                            end: *end,
                        })
                        .collect(),
                    is_active: matches!(self.sub_type, SubType::Exclusive | SubType::Failover)
                        .then_some(self.active == Some(c.key)),
                }
            })
            .collect();
        let (blocked_hashes, blocked_hashes_truncated) = self.blocked_hashes();
        DispatcherStats {
            sub_type: self.sub_type().map(|t| sub_type_name(t).to_owned()),
            key_shared_mode: self
                .key_shared
                .as_ref()
                .map(|ks| ks.mode().as_str_name().to_owned()),
            allow_out_of_order_delivery: self
                .key_shared
                .as_ref()
                .is_some_and(|ks| ks.allow_out_of_order()),
            active_consumer: self.active.and_then(name_of),
            unacked_messages: self.unacked_total,
            max_unacked_messages: self.limits.max_unacked_per_subscription,
            blocked_on_unacked_messages: self.subscription_over_limit(),
            pending_entries: self.pending.len(),
            replay_entries: self.replay.len(),
            redeliveries: self.redeliveries_total,
            backoff_entries: self.backoff.len(),
            dead_lettering_entries: self.dead_lettering.len(),
            consumers,
            blocked_hashes,
            blocked_hashes_truncated,
        }
    }

    fn blocked_hashes(&self) -> (Vec<BlockedHash>, bool) {
        let Some(key_shared) = self.key_shared.as_ref() else {
            return (Vec::new(), false);
        };
        let mut blocked: Vec<BlockedHash> = Vec::new();
        for (hash, ids) in self.order.replay_hashes() {
            let Some(oldest) = ids.first().copied() else {
                continue;
            };
            let owner = key_shared.select(hash);
            let holder = owner
                .filter(|_| !key_shared.allow_out_of_order())
                .and_then(|o| self.order.held_elsewhere(hash, o));
            let reason = match (owner.and_then(|o| self.slot(o)), holder) {
                (None, _) => HashBlockReason::NoConsumerForSlot,
                (Some(_), Some(_)) => HashBlockReason::WaitsForAck,
                (Some(slot), None) if !self.eligible(slot) => HashBlockReason::OwnerCannotTake,
                (Some(_), None) => continue, // deliverable: it goes out with the next read
            };
            blocked.push(BlockedHash {
                slot: key_shared.slot(hash),
                key_hash: hash,
                waiting_entries: ids.len(),
                oldest_waiting_entry: oldest,
                owner: owner.and_then(|o| self.slot(o)).map(|s| s.name.clone()),
                owner_key: owner,
                reason,
                waits_for_consumer: holder.and_then(|h| self.slot(h)).map(|s| s.name.clone()),
                waits_for_consumer_key: holder,
                waits_for_entry: None,
            });
        }
        blocked.sort_by_key(|b| b.oldest_waiting_entry);
        let truncated = blocked.len() > MAX_BLOCKED_HASHES;
        blocked.truncate(MAX_BLOCKED_HASHES);
        self.fill_waited_entries(&mut blocked);
        (blocked, truncated)
    }

    /// Sets `waits_for_entry` to the holder's oldest unacked entry of each listed key, in one
    /// pass over the pending entries.
    fn fill_waited_entries(&self, blocked: &mut [BlockedHash]) {
        let wanted: HashSet<u32> = blocked
            .iter()
            .filter(|b| b.waits_for_consumer_key.is_some())
            .map(|b| b.key_hash)
            .collect();
        let mut oldest: HashMap<(u32, u64), u64> = HashMap::new();
        for (id, pending) in &self.pending {
            if let Some(hash) = pending.hash.filter(|h| wanted.contains(h)) {
                let slot = oldest.entry((hash, pending.consumer)).or_insert(*id);
                *slot = (*slot).min(*id);
            }
        }
        for entry in blocked.iter_mut() {
            entry.waits_for_entry = entry
                .waits_for_consumer_key
                .and_then(|h| oldest.get(&(entry.key_hash, h)).copied());
        }
    }
}
