//! Key_Shared selection: which consumer owns a key, and the rules that keep each key in order.
//!
//! AUTO_SPLIT ([`ring`]) spreads the 65 536 slots over the consumers by consistent hashing;
//! STICKY ([`sticky`]) uses the ranges consumers declare. [`order`] tracks which consumer holds
//! unacked entries of each key so a key only moves once its older entries are acked.

pub mod hash;
pub mod order;
pub mod ring;
pub mod sticky;

use geminga_protocol::proto::{KeySharedMeta, KeySharedMode};

use self::sticky::StickyRanges;
use self::{hash::ring_slot, hash::sticky_slot, order::KeyOrder, ring::HashRing};
use super::consumers::{AddConsumerError, DispatchConsumer};

/// How the slots are split.
#[derive(Debug)]
enum Selector {
    AutoSplit(HashRing),
    Sticky(StickyRanges),
}

/// The Key_Shared part of a dispatcher: the selector, the subscription-wide out-of-order flag
/// and the per-key ordering bookkeeping.
#[derive(Debug)]
pub struct KeyShared {
    selector: Selector,
    allow_out_of_order: bool,
    /// Per-key holders and replay entries.
    pub order: KeyOrder,
}

/// AUTO_SPLIT or STICKY, as the first consumer declared it (absent meta means AUTO_SPLIT, which
/// is what pulsar-rs always gets).
fn mode_of(meta: Option<&KeySharedMeta>) -> KeySharedMode {
    meta.map_or(KeySharedMode::AutoSplit, KeySharedMeta::key_shared_mode)
}

fn out_of_order(meta: Option<&KeySharedMeta>) -> bool {
    meta.is_some_and(KeySharedMeta::allow_out_of_order_delivery)
}

impl KeyShared {
    /// The Key_Shared state set up by the subscription's first consumer.
    pub fn for_first(meta: Option<&KeySharedMeta>) -> Self {
        let selector = match mode_of(meta) {
            KeySharedMode::Sticky => Selector::Sticky(StickyRanges::default()),
            _ => Selector::AutoSplit(HashRing::default()),
        };
        Self {
            selector,
            allow_out_of_order: out_of_order(meta),
            order: KeyOrder::default(),
        }
    }

    /// Adds a consumer to the selector.
    ///
    /// # Errors
    /// [`AddConsumerError::Incompatible`] when its mode or out-of-order flag differs from the
    /// subscription's (Pulsar answers ConsumerBusy); [`AddConsumerError::HashRangeConflict`] when
    /// STICKY ranges are missing, invalid or overlap (ConsumerAssignError).
    pub fn add(&mut self, consumer: &DispatchConsumer) -> Result<(), AddConsumerError> {
        let meta = consumer.key_shared.as_ref();
        let mode = mode_of(meta);
        if mode != self.mode() || out_of_order(meta) != self.allow_out_of_order {
            return Err(AddConsumerError::Incompatible {
                reason: format!(
                    "the Key_Shared subscription uses mode {} with allowOutOfOrderDelivery={}",
                    self.mode().as_str_name(),
                    self.allow_out_of_order
                ),
            });
        }
        match &mut self.selector {
            Selector::AutoSplit(ring) => ring.add(consumer.key, &consumer.name),
            Selector::Sticky(ranges) => {
                let declared = meta.map_or(&[][..], |m| m.hash_ranges.as_slice());
                let checked = ranges
                    .check(declared)
                    .map_err(|reason| AddConsumerError::HashRangeConflict { reason })?;
                ranges.add(consumer.key, &consumer.name, &checked);
            }
        }
        Ok(())
    }

    /// Removes a consumer from the selector.
    pub fn remove(&mut self, key: u64) {
        match &mut self.selector {
            Selector::AutoSplit(ring) => ring.remove(key),
            Selector::Sticky(ranges) => ranges.remove(key),
        }
    }

    /// The subscription's mode.
    pub fn mode(&self) -> KeySharedMode {
        match self.selector {
            Selector::AutoSplit(_) => KeySharedMode::AutoSplit,
            Selector::Sticky(_) => KeySharedMode::Sticky,
        }
    }

    /// Whether consumers accept a key before its older entries are acked elsewhere.
    pub fn allow_out_of_order(&self) -> bool {
        self.allow_out_of_order
    }

    /// The slot of a raw key hash under this subscription's mode.
    pub fn slot(&self, raw_hash: u32) -> u32 {
        match self.selector {
            Selector::AutoSplit(_) => ring_slot(raw_hash),
            Selector::Sticky(_) => sticky_slot(raw_hash),
        }
    }

    /// The consumer owning the key with this raw hash, if any.
    pub fn select(&self, raw_hash: u32) -> Option<u64> {
        let slot = self.slot(raw_hash);
        match &self.selector {
            Selector::AutoSplit(ring) => ring.select(slot),
            Selector::Sticky(ranges) => ranges.select(slot),
        }
    }

    /// Inclusive slot ranges with their owner, in slot order.
    pub fn assignments(&self) -> Vec<(u32, u32, u64)> {
        match &self.selector {
            Selector::AutoSplit(ring) => ring.assignments(),
            Selector::Sticky(ranges) => ranges.assignments(),
        }
    }
}
