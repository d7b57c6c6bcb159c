//! Delayed delivery on the plain subscription state: deferring, scanning, switching off.

use bytes::Bytes;
use geminga_protocol::proto::{command_ack::AckType, command_subscribe::SubType, MessageIdData};
use geminga_storage::{Cursor, DelayedKey, DueDelayed, Entry, EntryMeta};

use super::{AttachedConsumer, SubscriptionState};

fn entry(id: u64, deliver_at_ms: Option<u64>) -> Entry {
    Entry {
        entry_id: id,
        meta: EntryMeta {
            num_messages: 1,
            deliver_at_ms,
            ..EntryMeta::default()
        },
        data: Bytes::from_static(b"x"),
    }
}

fn state_with(sub_type: SubType, durable_next: u64) -> SubscriptionState {
    let mut s = SubscriptionState::new(7, Cursor::new("s", 0), true, durable_next, 0);
    s.add_consumer(AttachedConsumer {
        key: 1,
        name: "c".into(),
        sub_type,
    })
    .unwrap();
    s.refresh_delays();
    s
}

/// What the actor does around a cursor write: take the update, write it, done.
fn persist(s: &mut SubscriptionState) {
    s.cursor_mut().take_update();
    s.on_persist_started();
    s.on_persist_finished();
}

fn ids(out: &[crate::dispatcher::ReadEntry]) -> Vec<u64> {
    out.iter().map(|r| r.entry.entry_id).collect()
}

fn due(keys: &[(u64, u64)], next_at_ms: Option<u64>) -> DueDelayed {
    DueDelayed {
        due: keys
            .iter()
            .map(|&(deliver_at_ms, entry_id)| DelayedKey {
                deliver_at_ms,
                entry_id,
            })
            .collect(),
        next_at_ms,
    }
}

/// Reads entries 0..4 at time 1 000: 1 and 3 are due later.
fn read_mixed(s: &mut SubscriptionState) -> Vec<u64> {
    s.set_demand(s.epoch(), 10);
    let (from, _) = s.next_read().unwrap();
    let log = vec![
        entry(0, None),
        entry(1, Some(5_000)),
        entry(2, Some(500)),
        entry(3, Some(2_000)),
    ];
    ids(&s.on_read(from, log, 1_000))
}

#[test]
fn shared_defers_future_entries_and_delivers_due_ones() {
    let mut s = state_with(SubType::Shared, 4);
    assert_eq!(read_mixed(&mut s), vec![0, 2], "2 was due already");
    assert_eq!(s.delayed_messages(), 2);
    assert_eq!(s.demand(), 8, "deferred entries cost no demand");
    assert_eq!(
        s.next_due_ms(),
        Some(0),
        "a fresh state looks at the index at once"
    );
    let update = s.cursor_mut().take_update().unwrap();
    assert_eq!(
        update.delayed_ops().len(),
        2,
        "index keys ride with the cursor"
    );
}

#[test]
fn exclusive_and_failover_deliver_at_once() {
    for sub_type in [SubType::Exclusive, SubType::Failover] {
        let mut s = state_with(sub_type, 4);
        assert_eq!(read_mixed(&mut s), vec![0, 1, 2, 3], "{sub_type:?}");
        assert_eq!(s.delayed_messages(), 0);
    }
}

#[test]
fn a_rewind_skips_deferred_entries_without_reading_them() {
    let mut s = state_with(SubType::KeyShared, 4);
    read_mixed(&mut s);
    s.rewind();
    s.set_demand(s.epoch(), 10);
    s.apply_ack(AckType::Individual, &[id(0), id(2)]).unwrap();
    assert_eq!(s.next_read(), None, "0 and 2 acked, 1 and 3 deferred");
}

fn id(entry_id: u64) -> MessageIdData {
    MessageIdData {
        ledger_id: 7,
        entry_id,
        ..Default::default()
    }
}

#[test]
fn due_entries_come_out_in_key_order_and_leave_the_index() {
    let mut s = state_with(SubType::Shared, 4);
    read_mixed(&mut s);
    persist(&mut s);
    let read = s.due_read(2_500).unwrap();
    assert_eq!((read.from_ms, read.now_ms), (0, 2_500));
    assert_eq!(s.due_read(2_500), None, "one scan in flight");
    let out = s.on_due(
        &read,
        due(&[(2_000, 3)], Some(5_000)),
        vec![entry(3, Some(2_000))],
    );
    assert_eq!(ids(&out), vec![3]);
    assert_eq!(s.delayed_messages(), 1);
    assert_eq!(s.next_due_ms(), Some(5_000));
    assert_eq!(s.due_read(4_999), None, "nothing due before 5 000");
    let removed = s.cursor_mut().take_update().unwrap();
    assert_eq!(removed.delayed_ops().len(), 1);
    assert!(!removed.delayed_ops()[0].add);
    let read = s.due_read(5_000).unwrap();
    assert_eq!(read.from_ms, 2_501, "scans start after what was taken");
}

#[test]
fn acked_entries_are_dead_keys_and_are_not_delivered() {
    let mut s = state_with(SubType::Shared, 4);
    read_mixed(&mut s);
    s.apply_ack(AckType::Individual, &[id(1)]).unwrap();
    let read = s.due_read(9_000).unwrap();
    let keys = due(&[(2_000, 3), (5_000, 1)], None);
    let out = s.on_due(
        &read,
        keys,
        vec![entry(1, Some(5_000)), entry(3, Some(2_000))],
    );
    assert_eq!(ids(&out), vec![3]);
    let update = s.cursor_mut().take_update().unwrap();
    let ops = update.delayed_ops();
    assert_eq!(ops.len(), 2, "a removal staged after an add replaces it");
    assert!(ops.iter().all(|op| !op.add));
    assert_eq!(s.delayed_messages(), 0);
    assert_eq!(s.next_due_ms(), None, "nothing left to wait for");
}

#[test]
fn no_scan_without_demand_and_stale_scans_are_dropped() {
    let mut s = state_with(SubType::Shared, 4);
    read_mixed(&mut s);
    s.set_demand(s.epoch(), 0);
    assert_eq!(
        s.due_read(9_000),
        None,
        "no demand: due entries wait on disk"
    );
    s.set_demand(s.epoch(), 5);
    let read = s.due_read(9_000).unwrap();
    assert_eq!(read.limit, 5, "at most what the dispatcher asked for");
    s.rewind();
    let out = s.on_due(&read, due(&[(2_000, 3)], None), vec![entry(3, None)]);
    assert!(out.is_empty());
    assert_eq!(
        s.delayed_messages(),
        2,
        "untouched: the next scan takes them"
    );
}

#[test]
fn a_cut_short_scan_looks_again_at_once() {
    let mut s = state_with(SubType::Shared, 4);
    read_mixed(&mut s);
    let read = s.due_read(9_000).unwrap();
    let out = s.on_due(&read, due(&[(2_000, 3)], Some(5_000)), vec![entry(3, None)]);
    assert_eq!(out.len(), 1);
    assert_eq!(s.next_due_ms(), Some(9_000), "5 000 <= now: more is due");
    let again = s.due_read(9_000).unwrap();
    assert_eq!(again.from_ms, 2_000, "keys at the last time may remain");
}

#[test]
fn keys_not_yet_written_bound_the_scan_floor_and_wake_the_next_scan() {
    let mut s = state_with(SubType::Shared, 4);
    read_mixed(&mut s);
    s.on_persist_started();
    // The write carrying keys (2 000, 3) and (5 000, 1) is in flight: a scan cannot see them.
    let read = s.due_read(3_000).unwrap();
    s.on_due(&read, due(&[], None), Vec::new());
    assert_eq!(s.delayed_messages(), 2);
    s.on_persist_finished();
    assert_eq!(s.next_due_ms(), Some(2_000), "looked for once written");
    let again = s.due_read(3_000).unwrap();
    assert!(
        again.from_ms <= 2_000,
        "the floor did not pass the unseen key"
    );
}

#[test]
fn becoming_exclusive_or_switching_off_releases_deferred_entries() {
    let mut s = state_with(SubType::Shared, 4);
    read_mixed(&mut s);
    s.remove_consumer(1);
    assert!(!s.refresh_delays(), "no consumers: the index is kept");
    assert_eq!(s.delayed_messages(), 2);
    s.add_consumer(AttachedConsumer {
        key: 2,
        name: "x".into(),
        sub_type: SubType::Exclusive,
    })
    .unwrap();
    assert!(
        s.refresh_delays(),
        "rewind: deferred entries are read again"
    );
    assert_eq!(s.delayed_messages(), 0);

    let mut off = state_with(SubType::Shared, 4);
    read_mixed(&mut off);
    assert!(off.set_delays_enabled(false));
    assert_eq!(off.delayed_messages(), 0);
    off.rewind();
    off.set_demand(off.epoch(), 10);
    let (from, _) = off.next_read().unwrap();
    let log = vec![entry(0, None), entry(1, Some(5_000))];
    assert_eq!(ids(&off.on_read(from, log, 1_000)), vec![0, 1]);
}

#[test]
fn reads_carry_the_persisted_redelivery_count() {
    let mut s = state_with(SubType::Shared, 4);
    s.cursor_mut().set_redelivery_count(2, 3);
    let out = s.filter_unacked(vec![entry(1, None), entry(2, None)]);
    let counts: Vec<u32> = out.iter().map(|r| r.redelivery_count).collect();
    assert_eq!(counts, vec![0, 3]);
}

#[test]
fn reads_grow_over_runs_of_delayed_entries_without_overshooting_the_demand() {
    let mut s = state_with(SubType::Shared, 1_000);
    s.set_demand(s.epoch(), 2);
    assert_eq!(s.next_read(), Some((0, 2)));
    let delayed: Vec<Entry> = (0..2).map(|i| entry(i, Some(9_000))).collect();
    assert!(s.on_read(0, delayed, 1_000).is_empty());
    assert_eq!(s.next_read(), Some((2, 4)), "only delayed found: read more");
    let mixed = vec![
        entry(2, Some(9_000)),
        entry(3, None),
        entry(4, None),
        entry(5, None),
    ];
    assert_eq!(ids(&s.on_read(2, mixed, 1_000)), vec![3, 4]);
    assert_eq!(s.demand(), 0);
    s.set_demand(s.epoch(), 2);
    assert_eq!(
        s.next_read(),
        Some((5, 2)),
        "5 is read again; back to the demand"
    );
}
