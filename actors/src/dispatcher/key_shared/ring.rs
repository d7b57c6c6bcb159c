//! AUTO_SPLIT by consistent hashing, as recent Pulsar does it.
//!
//! Every consumer puts [`RING_POINTS`] points on a ring over slots `1..=65535`; a point's slot is
//! the ring slot of `"{name}\0{name_index}\0{point}"`. A key's slot belongs to the first point at
//! or after it (wrapping to the first point). Consumers sharing a name get distinct name indexes,
//! so their points differ. When two points collide, the first consumer keeps the point and the
//! others queue behind it. A consumer joining or leaving moves only the slots next to its points.

use std::collections::{btree_map, BTreeMap, BTreeSet, HashMap};

use super::hash::{murmur3_32, ring_slot, MAX_SLOT};

/// Points per consumer (Pulsar's `subscriptionKeySharedConsistentHashingReplicaPoints` default).
pub const RING_POINTS: u32 = 100;

#[derive(Debug)]
struct RingPoint {
    selected: u64,
    /// Consumers whose point collided with this one; the first takes over when `selected` leaves.
    colliding: Vec<u64>,
}

/// The consistent-hash ring of one AUTO_SPLIT subscription.
#[derive(Debug, Default)]
pub struct HashRing {
    points: BTreeMap<u32, RingPoint>,
    /// Consumer key -> (name, name index).
    members: HashMap<u64, (String, u32)>,
    /// Name indexes in use per consumer name.
    used_indexes: HashMap<String, BTreeSet<u32>>,
}

fn point_slot(name: &str, name_index: u32, point: u32) -> u32 {
    ring_slot(murmur3_32(
        format!("{name}\0{name_index}\0{point}").as_bytes(),
    ))
}

impl HashRing {
    /// Adds a consumer's points; adding a consumer twice changes nothing.
    pub fn add(&mut self, key: u64, name: &str) {
        if self.members.contains_key(&key) {
            return;
        }
        let used = self.used_indexes.entry(name.to_owned()).or_default();
        let name_index = (0u32..).find(|i| !used.contains(i)).unwrap_or(u32::MAX);
        used.insert(name_index);
        for point in 0..RING_POINTS {
            match self.points.entry(point_slot(name, name_index, point)) {
                btree_map::Entry::Vacant(slot) => {
                    slot.insert(RingPoint {
                        selected: key,
                        colliding: Vec::new(),
                    });
                }
                btree_map::Entry::Occupied(mut slot) => slot.get_mut().colliding.push(key),
            }
        }
        self.members.insert(key, (name.to_owned(), name_index));
    }

    /// Removes a consumer's points; colliding consumers take over its points.
    pub fn remove(&mut self, key: u64) {
        let Some((name, name_index)) = self.members.remove(&key) else {
            return;
        };
        if let Some(used) = self.used_indexes.get_mut(&name) {
            used.remove(&name_index);
            if used.is_empty() {
                self.used_indexes.remove(&name);
            }
        }
        for point in 0..RING_POINTS {
            let slot = point_slot(&name, name_index, point);
            let btree_map::Entry::Occupied(mut entry) = self.points.entry(slot) else {
                continue;
            };
            let ring_point = entry.get_mut();
            if ring_point.selected == key {
                if ring_point.colliding.is_empty() {
                    entry.remove();
                } else {
                    ring_point.selected = ring_point.colliding.remove(0);
                }
            } else {
                ring_point.colliding.retain(|c| *c != key);
            }
        }
    }

    /// The consumer owning `slot`.
    pub fn select(&self, slot: u32) -> Option<u64> {
        self.points
            .range(slot..)
            .next()
            .or_else(|| self.points.iter().next())
            .map(|(_, point)| point.selected)
    }

    /// Inclusive slot ranges and their owner, in slot order, adjacent ranges of one owner merged.
    pub fn assignments(&self) -> Vec<(u32, u32, u64)> {
        let mut out: Vec<(u32, u32, u64)> = Vec::new();
        let mut start = 1;
        for (slot, point) in &self.points {
            push_range(&mut out, start, *slot, point.selected);
            start = slot + 1;
        }
        if let (Some((_, first)), true) = (self.points.iter().next(), start <= MAX_SLOT) {
            push_range(&mut out, start, MAX_SLOT, first.selected);
        }
        out
    }
}

fn push_range(out: &mut Vec<(u32, u32, u64)>, start: u32, end: u32, owner: u64) {
    match out.last_mut() {
        Some(last) if last.2 == owner && last.1 + 1 == start => last.1 = end,
        _ => out.push((start, end, owner)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn owned_slots(ring: &HashRing, key: u64) -> u32 {
        ring.assignments()
            .iter()
            .filter(|(_, _, owner)| *owner == key)
            .map(|(s, e, _)| e - s + 1)
            .sum()
    }

    #[test]
    fn assignments_cover_every_slot_once() {
        let mut ring = HashRing::default();
        for key in 1..=4 {
            ring.add(key, &format!("consumer-{key}"));
        }
        let ranges = ring.assignments();
        assert_eq!(ranges.first().map(|r| r.0), Some(1));
        assert_eq!(ranges.last().map(|r| r.1), Some(MAX_SLOT));
        for pair in ranges.windows(2) {
            assert_eq!(pair[0].1 + 1, pair[1].0, "ranges are contiguous");
        }
        for slot in [1, 500, 30_000, MAX_SLOT] {
            let owner = ranges
                .iter()
                .find(|(s, e, _)| (*s..=*e).contains(&slot))
                .map(|r| r.2);
            assert_eq!(owner, ring.select(slot), "slot {slot}");
        }
        let total: u32 = (1..=4).map(|k| owned_slots(&ring, k)).sum();
        assert_eq!(total, MAX_SLOT);
        for key in 1..=4 {
            let share = owned_slots(&ring, key);
            assert!(
                share > MAX_SLOT / 8,
                "consumer {key} owns only {share} slots"
            );
        }
    }

    #[test]
    fn a_joining_consumer_takes_slots_only_for_itself() {
        let mut ring = HashRing::default();
        ring.add(1, "a");
        ring.add(2, "b");
        let before: Vec<Option<u64>> = (1..=MAX_SLOT).map(|s| ring.select(s)).collect();
        ring.add(3, "c");
        for (slot, old) in (1..=MAX_SLOT).zip(before) {
            let new = ring.select(slot);
            assert!(
                new == old || new == Some(3),
                "slot {slot} moved {old:?} -> {new:?}"
            );
        }
        ring.remove(3);
        assert_eq!(owned_slots(&ring, 3), 0);
        assert_eq!(owned_slots(&ring, 1) + owned_slots(&ring, 2), MAX_SLOT);
    }

    #[test]
    fn consumers_with_the_same_name_get_different_points() {
        let mut ring = HashRing::default();
        ring.add(1, "same");
        ring.add(2, "same");
        assert!(owned_slots(&ring, 1) > 0 && owned_slots(&ring, 2) > 0);
        ring.remove(1);
        assert_eq!(owned_slots(&ring, 2), MAX_SLOT);
        ring.remove(2);
        assert_eq!(ring.select(7), None);
        assert!(ring.assignments().is_empty());
    }
}
