//! STICKY: every consumer declares the slots it serves; overlapping declarations are refused.

use std::collections::BTreeMap;

use geminga_protocol::proto::IntRange;

use super::hash::MAX_SLOT;

#[derive(Debug)]
struct Claim {
    end: u32,
    owner: u64,
    owner_name: String,
}

/// The declared ranges of one STICKY subscription, keyed by their first slot.
#[derive(Debug, Default)]
pub struct StickyRanges {
    by_start: BTreeMap<u32, Claim>,
}

impl StickyRanges {
    /// Validates `ranges` against each other and the ranges already declared.
    ///
    /// # Errors
    /// A reason fit for the client when the ranges are empty, out of `0..=65535`, reversed,
    /// or overlap a range already declared.
    pub fn check(&self, ranges: &[IntRange]) -> Result<Vec<(u32, u32)>, String> {
        if ranges.is_empty() {
            return Err("a STICKY Key_Shared consumer must declare at least one hash range".into());
        }
        let mut accepted: Vec<(u32, u32)> = Vec::with_capacity(ranges.len());
        for range in ranges {
            let (Ok(start), Ok(end)) = (u32::try_from(range.start), u32::try_from(range.end))
            else {
                return Err(format!(
                    "hash range [{}, {}] is negative",
                    range.start, range.end
                ));
            };
            if start > end || end > MAX_SLOT {
                return Err(format!(
                    "hash range [{start}, {end}] is not inside [0, {MAX_SLOT}] with start <= end"
                ));
            }
            if let Some(claim) = self.overlapping(start, end) {
                return Err(format!(
                    "hash range [{start}, {end}] overlaps range ending at {} of consumer {}",
                    claim.end, claim.owner_name
                ));
            }
            if let Some((s, e)) = accepted.iter().find(|(s, e)| *s <= end && *e >= start) {
                return Err(format!(
                    "hash range [{start}, {end}] overlaps the consumer's own range [{s}, {e}]"
                ));
            }
            accepted.push((start, end));
        }
        Ok(accepted)
    }

    fn overlapping(&self, start: u32, end: u32) -> Option<&Claim> {
        // Only the last claim starting at or before `end` can reach into [start, end]: claims
        // never overlap each other.
        self.by_start
            .range(..=end)
            .next_back()
            .map(|(_, claim)| claim)
            .filter(|claim| claim.end >= start)
    }

    /// Records checked ranges for `owner`.
    pub fn add(&mut self, owner: u64, owner_name: &str, ranges: &[(u32, u32)]) {
        for (start, end) in ranges {
            self.by_start.insert(
                *start,
                Claim {
                    end: *end,
                    owner,
                    owner_name: owner_name.to_owned(),
                },
            );
        }
    }

    /// Forgets the ranges of `owner`.
    pub fn remove(&mut self, owner: u64) {
        self.by_start.retain(|_, claim| claim.owner != owner);
    }

    /// The consumer that declared `slot`, if any.
    pub fn select(&self, slot: u32) -> Option<u64> {
        self.overlapping(slot, slot).map(|claim| claim.owner)
    }

    /// Declared ranges in slot order with their owner.
    pub fn assignments(&self) -> Vec<(u32, u32, u64)> {
        self.by_start
            .iter()
            .map(|(start, claim)| (*start, claim.end, claim.owner))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(start: i32, end: i32) -> IntRange {
        IntRange { start, end }
    }

    #[test]
    fn declared_ranges_select_their_owner_and_leave_gaps_unowned() {
        let mut ranges = StickyRanges::default();
        let a = ranges.check(&[r(0, 99), r(200, 299)]).unwrap();
        ranges.add(1, "a", &a);
        let b = ranges.check(&[r(100, 199)]).unwrap();
        ranges.add(2, "b", &b);
        assert_eq!(ranges.select(0), Some(1));
        assert_eq!(ranges.select(150), Some(2));
        assert_eq!(ranges.select(299), Some(1));
        assert_eq!(ranges.select(300), None);
        ranges.remove(1);
        assert_eq!(ranges.select(50), None);
        assert_eq!(ranges.assignments(), vec![(100, 199, 2)]);
    }

    #[test]
    fn overlaps_and_invalid_ranges_are_refused() {
        let mut ranges = StickyRanges::default();
        let a = ranges.check(&[r(100, 199)]).unwrap();
        ranges.add(1, "a", &a);
        for bad in [
            vec![r(150, 250)],
            vec![r(0, 100)],
            vec![r(199, 199)],
            vec![r(0, 65_535)],
            vec![r(10, 5)],
            vec![r(-1, 5)],
            vec![r(0, 65_536)],
            vec![r(0, 10), r(5, 20)],
            vec![],
        ] {
            assert!(ranges.check(&bad).is_err(), "{bad:?} accepted");
        }
        assert!(ranges.check(&[r(0, 99), r(200, 65_535)]).is_ok());
    }
}
