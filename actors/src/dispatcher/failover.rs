//! Failover: one active consumer among several; the others stand by.
//!
//! Only consumers of the best (lowest) priority level are candidates. On a partitioned topic the
//! candidates are sorted by name (then attachment order) and partition `N` goes to candidate
//! `N % count`, so the partitions of a topic spread over the consumers. On a non-partitioned
//! topic the earliest attached candidate is active, so a newcomer never takes over.

use super::consumers::Slot;

/// The active consumer of a Failover subscription.
pub(super) fn active(consumers: &[Slot], partition: Option<u32>) -> Option<u64> {
    let best = consumers.iter().map(|c| c.priority).min()?;
    let mut candidates: Vec<&Slot> = consumers.iter().filter(|c| c.priority == best).collect();
    match partition {
        Some(index) => {
            candidates.sort_by(|a, b| (&a.name, a.order).cmp(&(&b.name, b.order)));
            let count = candidates.len();
            let pick = usize::try_from(index).unwrap_or(0) % count.max(1);
            candidates.get(pick).map(|c| c.key)
        }
        None => candidates.iter().min_by_key(|c| c.order).map(|c| c.key),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slot(key: u64, name: &str, priority: i32) -> Slot {
        Slot {
            key,
            name: name.into(),
            priority,
            order: key,
            permits: 0,
            unacked_messages: 0,
            pending_entries: 0,
        }
    }

    #[test]
    fn non_partitioned_picks_the_earliest_of_the_best_priority() {
        let consumers = vec![slot(1, "z", 1), slot(2, "y", 0), slot(3, "a", 0)];
        assert_eq!(active(&consumers, None), Some(2));
        assert_eq!(active(&consumers[..1], None), Some(1));
        assert_eq!(active(&[], None), None);
    }

    #[test]
    fn partitions_spread_over_the_best_priority_sorted_by_name() {
        let consumers = vec![
            slot(1, "c", 0),
            slot(2, "a", 0),
            slot(3, "b", 0),
            slot(4, "aa", 1),
        ];
        // Sorted candidates: a(2), b(3), c(1).
        assert_eq!(active(&consumers, Some(0)), Some(2));
        assert_eq!(active(&consumers, Some(1)), Some(3));
        assert_eq!(active(&consumers, Some(2)), Some(1));
        assert_eq!(active(&consumers, Some(5)), Some(1));
    }
}
