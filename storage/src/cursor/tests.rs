//! Cursor semantics and its incremental persistence format.

use bytes::Bytes;

use super::*;
use crate::cursor::codec::StoredCursor;

/// Rebuilds a cursor from a full update, as storage would after a reopen.
fn round_trip(cursor: &Cursor) -> Cursor {
    let mut copy = cursor.clone();
    copy.force_full_update();
    let update = copy.take_update().unwrap();
    let bytes = |v: Option<Vec<u8>>| Bytes::from(v.unwrap());
    Cursor::restore(StoredCursor {
        name: update.name,
        header: update.header.map(Bytes::from),
        chunks: update
            .chunks
            .into_iter()
            .map(|(i, v)| (i, bytes(v)))
            .collect(),
        batches: update
            .batches
            .into_iter()
            .map(|(i, v)| (i, bytes(v)))
            .collect(),
        deferred: update
            .deferred
            .into_iter()
            .map(|(i, v)| (i, bytes(v)))
            .collect(),
        redeliveries: update
            .redeliveries
            .into_iter()
            .map(|(i, v)| (i, bytes(v)))
            .collect(),
    })
    .unwrap()
}

#[test]
fn new_cursor_treats_ids_below_floor_as_acked() {
    let c = Cursor::new("s", 5);
    assert_eq!(c.name(), "s");
    assert_eq!(c.ack_floor(), 5);
    assert_eq!(c.mark_delete(), Some(4));
    assert!(c.is_acked(4));
    assert!(!c.is_acked(5));
    assert_eq!(Cursor::new("s", 0).mark_delete(), None);
}

#[test]
fn ack_reports_only_new_acks_and_advances_floor_over_contiguous_ids() {
    let mut c = Cursor::new("s", 0);
    assert!(c.ack(2));
    assert!(!c.ack(2));
    assert!(c.ack(1));
    assert_eq!(c.ack_floor(), 0, "id 0 is still unacked");
    assert_eq!(c.individually_acked(), 2);
    assert!(c.ack(0));
    assert_eq!(c.ack_floor(), 3);
    assert_eq!(c.individually_acked(), 0);
    assert!(!c.ack(1), "below the floor is already acked");
}

#[test]
fn floor_advances_across_chunk_boundaries() {
    let mut c = Cursor::new("s", 0);
    for id in 1..(3 * 65_536 + 10) {
        c.ack(id);
    }
    assert_eq!(c.ack_floor(), 0);
    assert_eq!(c.chunks.len(), 4);
    c.ack(0);
    assert_eq!(c.ack_floor(), 3 * 65_536 + 10);
    assert!(c.chunks.is_empty());
}

#[test]
fn cumulative_ack_drops_holes_below_and_absorbs_contiguous_acks_above() {
    let mut c = Cursor::new("s", 0);
    c.ack(3);
    c.ack(70_000);
    c.ack(70_002);
    c.ack(70_003);
    c.ack_cumulative(70_001);
    assert_eq!(c.ack_floor(), 70_004);
    assert_eq!(c.individually_acked(), 0);
    c.ack_cumulative(10);
    assert_eq!(
        c.ack_floor(),
        70_004,
        "cumulative ack never moves the floor back"
    );
}

#[test]
fn batch_index_acks_and_the_stored_unacked_sets() {
    let mut c = Cursor::new("s", 0);
    // Batch of 4 messages: bits 0..4 set = all unacked. Ack message 1, then 0 and 3.
    assert!(!c.ack_batch_index(0, &[0b1101]));
    assert_eq!(c.batch_ack_set(0), Some(&[0b1101][..]));
    assert!(!c.ack_batch_index(0, &[0b0110]));
    assert_eq!(
        c.batch_ack_set(0),
        Some(&[0b0100][..]),
        "AND keeps only bits unacked in both"
    );
    assert!(!c.is_acked(0));
    assert_eq!(c.ack_floor(), 0);
    assert!(
        c.ack_batch_index(0, &[0b1011]),
        "last message acked -> whole entry acked"
    );
    assert_eq!(c.ack_floor(), 1);
    assert_eq!(c.batch_ack_set(0), None);
    assert!(!c.ack_batch_index(0, &[1]), "already acked");
}

#[test]
fn batch_sets_of_different_lengths_and_whole_entry_acks() {
    let mut c = Cursor::new("s", 0);
    // A 70-message batch needs two words; a shorter ack set means the missing word is zero.
    assert!(!c.ack_batch_index(5, &[-1, 0b11]));
    assert!(!c.ack_batch_index(5, &[1]));
    assert_eq!(c.batch_ack_set(5), Some(&[1][..]));
    assert!(c.ack(5), "a whole-entry ack overrides a partial state");
    assert_eq!(c.batch_ack_set(5), None);
    assert!(
        c.ack_batch_index(6, &[]),
        "an empty unacked set means everything is acked"
    );
    assert!(c.is_acked(6));
}

#[test]
fn reset_forgets_acks_and_can_move_back() {
    let mut c = Cursor::new("s", 10);
    c.ack(12);
    c.ack_batch_index(15, &[1]);
    c.set_property("k", "v");
    c.reset(3);
    assert_eq!(c.ack_floor(), 3);
    assert!(!c.is_acked(12));
    assert_eq!(c.batch_ack_set(15), None);
    assert_eq!(c.properties().get("k").map(String::as_str), Some("v"));
    let update = c.take_update().unwrap();
    assert!(update.is_full());
}

#[test]
fn unacked_in_counts_holes_only() {
    let mut c = Cursor::new("s", 10);
    for id in [11, 13, 65_540, 65_541] {
        c.ack(id);
    }
    assert_eq!(c.unacked_in(0, 9), 0);
    assert_eq!(c.unacked_in(0, 14), 3, "10, 12, 14");
    assert_eq!(c.unacked_in(12, 12), 1);
    assert_eq!(c.unacked_in(13, 13), 0);
    assert_eq!(c.unacked_in(10, 65_545), 65_536 - 4);
    assert_eq!(c.unacked_in(20, 19), 0);
    assert_eq!(Cursor::new("s", 0).unacked_in(0, u64::MAX), u64::MAX);
}

#[test]
fn take_update_is_none_when_clean_and_tracks_only_touched_chunks() {
    let mut c = Cursor::new("s", 0);
    assert!(
        c.take_update().unwrap().is_full(),
        "a new cursor is written whole"
    );
    assert!(c.take_update().is_none());
    c.ack(1);
    c.ack(200_000);
    let update = c.take_update().unwrap();
    assert!(!update.is_full());
    assert!(update.header.is_none(), "the floor did not move");
    assert_eq!(update.chunks_written(), 2);
    c.ack(0);
    let update = c.take_update().unwrap();
    assert!(update.header.is_some());
    assert_eq!(
        (update.chunks_written(), update.chunks_deleted()),
        (0, 1),
        "chunk 0 emptied"
    );
    c.ack(200_001);
    let update = c.take_update().unwrap();
    assert_eq!(update.chunks_written(), 1);
    assert!(
        update.bytes_written() < 64,
        "one small chunk, not the whole state"
    );
}

#[test]
fn in_order_acks_write_only_the_header() {
    let mut c = Cursor::new("s", 0);
    c.take_update();
    for id in 0..1000 {
        c.ack(id);
    }
    let update = c.take_update().unwrap();
    assert_eq!(update.chunks.len(), 0);
    assert_eq!(
        update.header.as_ref().map(Vec::len),
        Some(25),
        "version, floor, incarnation, property count"
    );
}

#[test]
fn properties_are_persisted_and_unchanged_sets_are_not_dirty() {
    let mut c = Cursor::new("s", 0);
    c.take_update();
    c.set_property("a", "1");
    assert!(c.take_update().unwrap().header.is_some());
    c.set_property("a", "1");
    assert!(c.take_update().is_none());
    assert_eq!(c.remove_property("a").as_deref(), Some("1"));
    assert!(c.take_update().is_some());
}

#[test]
fn restore_round_trips_every_part_of_the_state() {
    let mut c = Cursor::new("sub-1", 7);
    for id in [9, 11, 70_000, 1 << 40] {
        c.ack(id);
    }
    c.ack_batch_index(8, &[0b10, 1]);
    c.set_property("owner", "me");
    let restored = round_trip(&c);
    assert_eq!(restored, c);
    assert_eq!(restored.batch_ack_set(8), Some(&[0b10, 1][..]));
    assert!(restored.is_acked(1 << 40));
}

#[test]
fn restore_drops_stale_parts_below_the_floor_and_schedules_their_deletion() {
    let mut stale = Cursor::new("s", 0);
    stale.ack(5);
    stale.ack(65_540);
    stale.ack_batch_index(6, &[1]);
    let mut full = stale.clone();
    full.force_full_update();
    let mut update = full.take_update().unwrap();
    // Pretend the header says floor 65_537 while old chunks and batch sets linger.
    update.header = Some(super::codec::encode_header(65_537, 0, &BTreeMap::new()));
    let bytes = |v: Option<Vec<u8>>| Bytes::from(v.unwrap());
    let mut restored = Cursor::restore(StoredCursor {
        name: update.name,
        header: update.header.map(Bytes::from),
        chunks: update
            .chunks
            .into_iter()
            .map(|(i, v)| (i, bytes(v)))
            .collect(),
        batches: update
            .batches
            .into_iter()
            .map(|(i, v)| (i, bytes(v)))
            .collect(),
        ..StoredCursor::default()
    })
    .unwrap();
    assert_eq!(restored.ack_floor(), 65_537);
    assert_eq!(restored.individually_acked(), 1);
    assert_eq!(restored.batch_ack_set(6), None);
    let repair = restored.take_update().unwrap();
    assert_eq!(
        repair.chunks_deleted(),
        1,
        "chunk 0 lies wholly below the floor"
    );
    assert_eq!(repair.batches, vec![(6, None)]);
}

#[test]
fn restore_rejects_corrupt_parts() {
    let header = Bytes::from(super::codec::encode_header(0, 0, &BTreeMap::new()));
    let no_header = StoredCursor {
        name: "s".into(),
        ..StoredCursor::default()
    };
    assert!(Cursor::restore(no_header).is_err());
    let bad_chunk = StoredCursor {
        name: "s".into(),
        header: Some(header.clone()),
        chunks: vec![(0, Bytes::from_static(b"garbage"))],
        ..StoredCursor::default()
    };
    assert!(matches!(
        Cursor::restore(bad_chunk),
        Err(crate::StorageError::Corrupt { .. })
    ));
    let mut wide = RoaringBitmap::new();
    wide.insert(70_000);
    let out_of_chunk = StoredCursor {
        name: "s".into(),
        header: Some(header.clone()),
        chunks: vec![(0, Bytes::from(super::codec::encode_chunk(&wide)))],
        ..StoredCursor::default()
    };
    assert!(Cursor::restore(out_of_chunk).is_err());
    let bad_batch = StoredCursor {
        name: "s".into(),
        header: Some(header),
        batches: vec![(1, Bytes::from_static(b"abc"))],
        ..StoredCursor::default()
    };
    assert!(Cursor::restore(bad_batch).is_err());
}

#[test]
fn a_million_random_acks_stay_compact() {
    // Deterministic shuffle of 0..2M; ack the first half.
    let mut ids: Vec<u64> = (0..2_000_000).collect();
    let mut state = 0x9E37_79B9_7F4A_7C15_u64;
    for i in (1..ids.len()).rev() {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        ids.swap(i, (state % (i as u64 + 1)) as usize);
    }
    let mut c = Cursor::new("s", 0);
    for &id in &ids[..1_000_000] {
        c.ack(id);
    }
    let acked = c.individually_acked() + c.ack_floor();
    assert_eq!(acked, 1_000_000);
    assert!(
        c.persisted_size_estimate() < 400 * 1024,
        "{}",
        c.persisted_size_estimate()
    );
    assert!(
        c.memory_size_estimate() < 400 * 1024,
        "{}",
        c.memory_size_estimate()
    );
    let first = c.take_update().unwrap();
    assert!(first.bytes_written() < 400 * 1024);
    c.ack(ids[1_500_000]);
    let single = c.take_update().unwrap();
    assert_eq!(single.chunks_written(), 1);
    assert!(
        single.bytes_written() <= 8 * 1024 + 64,
        "{}",
        single.bytes_written()
    );
}
