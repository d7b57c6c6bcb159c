//! Log upkeep of a topic: trims what no cursor, retention policy or grace period holds any
//! more, enforces backlog quotas (blocking producers or evicting subscriptions), starts
//! compactions due by threshold, and explains what holds the storage (`storage-holds`).
//!
//! A pass runs on the blocking pool, one at a time per topic, shortly after whatever may
//! change its outcome (a publish on a topic with quotas or no cursors, a policy change, a
//! cursor floor moved, this one at most once a second) and periodically for limits that move
//! with the clock.

mod actor;
mod plan;
mod report;
mod schedule;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;

pub use actor::{FloorMoved, GetStorageHolds};
pub use plan::{HoldInput, HoldKind, Plan, PlanInput, QuotaBreach, MAX_TRIM_STEP};
pub use report::{HoldReport, QuotaReport, StorageHoldsReport, TtlReport};
use schedule::{Pace, PassSchedule};

use crate::metadata::{EffectivePolicies, Policies, PolicyDefaults, TopicPolicies};

/// The subscription that holds the not-yet-compacted part of a compacted topic.
pub const COMPACTION_SUBSCRIPTION: &str = "__compaction";

/// A topic's upkeep state: the policies in effect, every cursor's floor, the pass schedule
/// and whether a quota blocks producers.
#[derive(Debug, Default)]
pub struct Upkeep {
    /// Topic, namespace and broker policies resolved.
    pub(crate) effective: EffectivePolicies,
    /// Subscription name -> (kind, ack floor).
    holds: BTreeMap<String, (HoldKind, u64)>,
    /// When passes run.
    pub(crate) schedule: PassSchedule,
    /// The last trim was one step of a longer one.
    more_to_trim: bool,
    /// The exceeded quota that refuses producers, if any.
    pub(crate) blocked: Option<QuotaBreach>,
}

impl Upkeep {
    /// Recomputes the policies in effect from the topic's and the namespace's.
    pub(crate) fn resolve(
        &mut self,
        topic: &TopicPolicies,
        namespace: &Policies,
        defaults: &PolicyDefaults,
    ) {
        self.effective = EffectivePolicies::resolve(topic, namespace, defaults);
    }

    /// Records a cursor and its floor.
    pub(crate) fn add_hold(&mut self, name: &str, durable: bool, floor: u64) {
        let kind = match (durable, name == COMPACTION_SUBSCRIPTION) {
            (true, true) => HoldKind::Compaction,
            (true, false) => HoldKind::Subscription,
            (false, _) => HoldKind::Reader,
        };
        self.holds.insert(name.to_owned(), (kind, floor));
    }

    /// Updates a known cursor's floor; answers whether it changed. Unknown names are
    /// ignored: a late report of a retired subscription must not bring its hold back.
    pub(crate) fn move_hold(&mut self, name: &str, floor: u64) -> bool {
        match self.holds.get_mut(name) {
            Some((_, current)) if *current != floor => {
                *current = floor;
                true
            }
            _ => false,
        }
    }

    /// Forgets a cursor.
    pub(crate) fn remove_hold(&mut self, name: &str) -> bool {
        self.holds.remove(name).is_some()
    }

    /// Forgets every cursor (the topic restarts and reloads them).
    pub(crate) fn clear_holds(&mut self) {
        self.holds.clear();
        self.schedule.reset();
    }

    /// Names and floors of the durable subscriptions that backlog quotas count.
    pub(crate) fn subscriptions(&self) -> impl Iterator<Item = (&str, u64)> {
        self.holds
            .iter()
            .filter(|(_, (kind, _))| *kind == HoldKind::Subscription)
            .map(|(name, (_, floor))| (name.as_str(), *floor))
    }

    /// Whether a publish may change a pass's outcome: quotas or a compaction threshold are
    /// set, or no cursor holds anything (everything published is unheld).
    pub(crate) fn publish_matters(&self, quotas_enabled: bool) -> bool {
        (quotas_enabled && self.effective.quotas().next().is_some())
            || self.effective.compaction_threshold_bytes.value > 0
            || self.holds.is_empty()
    }

    /// The holds as plan input.
    pub(crate) fn hold_inputs(&self) -> Vec<HoldInput> {
        self.holds
            .iter()
            .map(|(name, (kind, floor))| HoldInput {
                name: name.clone(),
                kind: *kind,
                floor: *floor,
            })
            .collect()
    }
}
