//! Exclusive: the one attached consumer is active.

use super::consumers::Slot;

/// The active consumer of an Exclusive subscription: the first attached (there is only one).
pub(super) fn active(consumers: &[Slot]) -> Option<u64> {
    consumers.first().map(|c| c.key)
}
