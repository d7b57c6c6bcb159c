//! Which payload segments some ledger still needs: plain bookkeeping, no I/O.

use std::collections::{BTreeMap, HashMap, VecDeque};

/// For every ledger, the segments holding its entries (oldest first) with the highest entry id
/// in each; for every segment, how many ledgers still need it. A segment is free once every
/// ledger that wrote to it was trimmed past its last entry there.
#[derive(Debug, Default)]
pub(crate) struct Liveness {
    by_ledger: HashMap<u64, VecDeque<(u64, u64)>>,
    holders: BTreeMap<u64, usize>,
}

impl Liveness {
    /// Records that `ledger` stored entries up to `max_entry` in `segment`. Segments of one
    /// ledger are recorded in increasing order (appends go to the newest segment).
    pub(crate) fn record(&mut self, segment: u64, ledger: u64, max_entry: u64) {
        let spans = self.by_ledger.entry(ledger).or_default();
        match spans.back_mut() {
            Some((seg, max)) if *seg == segment => *max = (*max).max(max_entry),
            _ => {
                spans.push_back((segment, max_entry));
                *self.holders.entry(segment).or_default() += 1;
            }
        }
    }

    /// `ledger` no longer needs entries below `before`: answers the segments nobody needs any
    /// more because of it.
    pub(crate) fn trimmed(&mut self, ledger: u64, before: u64) -> Vec<u64> {
        let mut freed = Vec::new();
        let Some(spans) = self.by_ledger.get_mut(&ledger) else {
            return freed;
        };
        while let Some(&(segment, max)) = spans.front() {
            if max >= before {
                break;
            }
            spans.pop_front();
            if let Some(count) = self.holders.get_mut(&segment) {
                *count = count.saturating_sub(1);
                if *count == 0 {
                    self.holders.remove(&segment);
                    freed.push(segment);
                }
            }
        }
        if spans.is_empty() {
            self.by_ledger.remove(&ledger);
        }
        freed
    }

    /// Whether some ledger still needs `segment`.
    pub(crate) fn is_held(&self, segment: u64) -> bool {
        self.holders.contains_key(&segment)
    }

    /// Every ledger with entries in some segment.
    pub(crate) fn ledgers(&self) -> Vec<u64> {
        self.by_ledger.keys().copied().collect()
    }

    /// The highest segment id recorded.
    pub(crate) fn newest(&self) -> Option<u64> {
        self.holders.keys().next_back().copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_segment_is_free_once_every_ledger_in_it_is_trimmed_past_it() {
        let mut live = Liveness::default();
        live.record(1, 10, 5);
        live.record(1, 20, 3);
        live.record(1, 10, 6);
        live.record(2, 10, 9);
        assert!(
            live.trimmed(10, 6).is_empty(),
            "entry 6 of ledger 10 is in 1"
        );
        assert!(live.trimmed(10, 7).is_empty(), "ledger 20 still needs 1");
        assert_eq!(live.trimmed(20, 4), vec![1]);
        assert!(!live.is_held(1) && live.is_held(2));
        assert_eq!(live.trimmed(10, u64::MAX), vec![2]);
        assert!(live.ledgers().is_empty());
        assert_eq!(live.newest(), None);
    }

    #[test]
    fn trims_that_stop_inside_a_segment_keep_it() {
        let mut live = Liveness::default();
        live.record(4, 1, 100);
        live.record(5, 1, 200);
        assert_eq!(live.trimmed(1, 150), vec![4]);
        assert!(live.is_held(5), "entries 101..=200 are still needed");
        assert_eq!(live.newest(), Some(5));
        assert!(live.trimmed(99, 10).is_empty(), "unknown ledger");
    }
}
