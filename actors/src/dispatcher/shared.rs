//! Shared: round-robin over the consumers that can take messages, best priority level first.

use super::consumers::Slot;

/// Round-robin position over the consumer list.
#[derive(Debug, Default)]
pub(super) struct RoundRobin {
    next: usize,
}

impl RoundRobin {
    /// The next consumer of the best priority level among those `eligible` accepts.
    pub fn pick(&mut self, consumers: &[Slot], eligible: impl Fn(&Slot) -> bool) -> Option<u64> {
        let best = consumers
            .iter()
            .filter(|c| eligible(c))
            .map(|c| c.priority)
            .min()?;
        let n = consumers.len();
        for step in 0..n {
            let index = (self.next + step) % n;
            let Some(slot) = consumers.get(index) else {
                continue;
            };
            if slot.priority == best && eligible(slot) {
                self.next = index + 1;
                return Some(slot.key);
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slot(key: u64, priority: i32, permits: i64) -> Slot {
        Slot {
            key,
            name: format!("c{key}"),
            priority,
            order: key,
            permits,
            unacked_messages: 0,
            pending_entries: 0,
        }
    }

    #[test]
    fn rotates_within_the_best_priority_with_permits() {
        let consumers = vec![slot(1, 1, 5), slot(2, 0, 5), slot(3, 0, 0), slot(4, 0, 5)];
        let mut rr = RoundRobin::default();
        let picks: Vec<u64> = (0..4)
            .filter_map(|_| rr.pick(&consumers, |c| c.permits > 0))
            .collect();
        assert_eq!(
            picks,
            vec![2, 4, 2, 4],
            "priority 1 waits while priority 0 has permits"
        );
        let only_low = vec![slot(1, 1, 5), slot(2, 0, 0)];
        assert_eq!(rr.pick(&only_low, |c| c.permits > 0), Some(1));
        assert_eq!(rr.pick(&[], |c| c.permits > 0), None);
    }
}
