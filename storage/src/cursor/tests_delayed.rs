//! Deferred entries, incarnations and redelivery counts of a cursor.

use bytes::Bytes;

use super::*;
use crate::cursor::codec::StoredCursor;

/// Rebuilds a cursor from a full update, as storage would after a reopen.
fn round_trip(cursor: &Cursor) -> Cursor {
    let mut copy = cursor.clone();
    copy.force_full_update();
    let update = copy.take_update().unwrap();
    let parts = |v: Vec<(u64, Option<Vec<u8>>)>| {
        v.into_iter()
            .map(|(i, v)| (i, Bytes::from(v.unwrap())))
            .collect()
    };
    Cursor::restore(StoredCursor {
        name: update.name,
        header: update.header.map(Bytes::from),
        chunks: parts(update.chunks),
        batches: parts(update.batches),
        deferred: parts(update.deferred),
        redeliveries: parts(update.redeliveries),
    })
    .unwrap()
}

#[test]
fn deferring_stages_an_index_key_and_skips_acked_or_repeated_entries() {
    let mut c = Cursor::new("s", 0);
    c.take_update();
    assert!(c.defer(3, 5_000));
    assert!(!c.defer(3, 6_000), "already deferred");
    c.ack(4);
    assert!(!c.defer(4, 5_000), "acked entries are never deferred");
    assert!(c.is_deferred(3));
    assert_eq!(c.deferred_count(), 1);
    let update = c.take_update().unwrap();
    assert_eq!(
        update.delayed_ops(),
        &[DelayedOp {
            deliver_at_ms: 5_000,
            entry_id: 3,
            add: true
        }]
    );
    assert_eq!(update.deferred.len(), 1, "one deferred chunk written");
}

#[test]
fn undefer_is_live_once_and_always_removes_the_key() {
    let mut c = Cursor::new("s", 0);
    c.defer(7, 100);
    c.take_update();
    assert!(c.undefer(7, 100));
    assert!(!c.is_deferred(7));
    assert!(!c.undefer(7, 100), "a second hand-out is a dead key");
    let update = c.take_update().unwrap();
    assert_eq!(update.delayed_ops().len(), 1);
    assert!(!update.delayed_ops()[0].add);
    assert_eq!(c.deferred_count(), 0);
}

#[test]
fn an_ack_kills_the_deferred_bit_so_the_key_is_dead() {
    let mut c = Cursor::new("s", 0);
    c.defer(2, 100);
    c.ack(2);
    assert!(!c.is_deferred(2));
    assert_eq!(c.deferred_count(), 0);
    assert!(!c.undefer(2, 100));
}

#[test]
fn the_floor_stops_at_deferred_entries_and_drops_them_when_passed() {
    let mut c = Cursor::new("s", 0);
    c.defer(1, 100);
    c.ack(0);
    c.ack(2);
    assert_eq!(c.ack_floor(), 1, "a deferred entry is not acked");
    c.ack_cumulative(5);
    assert_eq!(c.deferred_count(), 0);
    assert!(!c.is_deferred(1));
}

#[test]
fn next_readable_skips_acked_and_deferred_runs() {
    let mut c = Cursor::new("s", 0);
    for id in 0..200_000 {
        c.defer(id, 1);
    }
    c.ack(200_000);
    assert_eq!(c.next_readable(0, 300_000), 200_001);
    assert_eq!(c.next_readable(0, 150_000), 150_000, "bounded by end");
    c.undefer(70_000, 1);
    assert_eq!(c.next_readable(5, 300_000), 70_000);
    assert_eq!(c.next_readable(70_001, 300_000), 200_001);
    assert_eq!(
        Cursor::new("e", 9).next_readable(3, 20),
        9,
        "starts at the floor"
    );
}

#[test]
fn clear_deferred_orphans_the_incarnation_and_forgets_staged_keys() {
    let mut c = Cursor::new("s", 0);
    c.defer(1, 100);
    c.take_update();
    c.defer(2, 200);
    let old = c.incarnation();
    assert!(c.clear_deferred());
    assert!(c.incarnation() > old);
    assert_eq!(c.deferred_count(), 0);
    let update = c.take_update().unwrap();
    assert!(
        update.delayed_ops().is_empty(),
        "old keys go with the orphan"
    );
    assert_eq!(update.orphaned, vec![old]);
    assert!(update.header_written(), "the new incarnation is persisted");
    assert!(!c.clear_deferred(), "nothing left");
}

#[test]
fn reset_orphans_the_incarnation_and_forgets_counts() {
    let mut c = Cursor::new("s", 0);
    c.defer(1, 100);
    c.set_redelivery_count(2, 3);
    let old = c.incarnation();
    c.reset(0);
    assert_eq!(c.deferred_count(), 0);
    assert_eq!(c.redelivery_count(2), 0);
    let update = c.take_update().unwrap();
    assert!(update.is_full());
    assert_eq!(update.orphaned, vec![old]);
}

#[test]
fn redelivery_counts_grow_and_vanish_on_ack() {
    let mut c = Cursor::new("s", 0);
    c.take_update();
    assert!(c.set_redelivery_count(5, 2));
    assert!(!c.set_redelivery_count(5, 1), "counts never shrink");
    assert!(c.set_redelivery_count(1030, 1));
    assert_eq!(c.redelivery_count(5), 2);
    let update = c.take_update().unwrap();
    assert_eq!(update.redeliveries.len(), 2, "two chunks of 1024 ids");
    c.ack(5);
    assert_eq!(c.redelivery_count(5), 0);
    let update = c.take_update().unwrap();
    assert_eq!(update.redeliveries, vec![(0, None)], "chunk 0 emptied");
    c.ack_cumulative(2000);
    assert_eq!(c.redelivered_entries(), 0);
    assert!(
        !c.set_redelivery_count(10, 1),
        "acked entries keep no count"
    );
}

#[test]
fn deferred_bits_counts_and_incarnation_survive_a_round_trip() {
    let mut c = Cursor::new("s", 10);
    for id in [10, 11, 70_000, 1 << 20] {
        c.defer(id, id * 2);
    }
    c.set_redelivery_count(12, 4);
    c.set_redelivery_count(5_000, 1);
    let restored = round_trip(&c);
    assert_eq!(restored, c);
    assert_eq!(restored.deferred_count(), 4);
    assert_eq!(restored.incarnation(), c.incarnation());
    assert_eq!(restored.redelivery_count(12), 4);
    assert!(restored.is_deferred(70_000));
}

#[test]
fn a_version_1_header_restores_with_incarnation_zero() {
    let mut header = vec![1u8];
    header.extend_from_slice(&7u64.to_be_bytes());
    header.extend_from_slice(&0u64.to_be_bytes());
    let c = Cursor::restore(StoredCursor {
        name: "old".into(),
        header: Some(Bytes::from(header)),
        ..StoredCursor::default()
    })
    .unwrap();
    assert_eq!((c.ack_floor(), c.incarnation()), (7, 0));
}

#[test]
fn corrupt_redelivery_chunks_are_refused() {
    let header = Bytes::from(super::codec::encode_header(0, 1, &BTreeMap::new()));
    let stored = StoredCursor {
        name: "s".into(),
        header: Some(header),
        redeliveries: vec![(0, Bytes::from_static(&[0, 1, 0]))],
        ..StoredCursor::default()
    };
    assert!(Cursor::restore(stored).is_err());
}
