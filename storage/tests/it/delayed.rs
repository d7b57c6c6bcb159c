//! The delayed-delivery index: keys written with the cursor, due scans, orphan purges.

use std::time::{Duration, Instant};

use geminga_storage::{Cursor, DelayedKey, Storage, WriteOp};

use crate::common::TestStore;

fn persist(s: &Storage, ledger_id: u64, cursor: &mut Cursor) {
    if let Some(update) = cursor.take_update() {
        s.write(vec![WriteOp::Cursor { ledger_id, update }])
            .unwrap();
    }
}

fn key(deliver_at_ms: u64, entry_id: u64) -> DelayedKey {
    DelayedKey {
        deliver_at_ms,
        entry_id,
    }
}

/// Polls until `check` holds (the purge runs on its own thread), failing after 10 s.
fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn due_scans_return_keys_in_time_order_up_to_now_and_a_limit() {
    let t = TestStore::new();
    let mut c = Cursor::new("sub", 0);
    for (id, at) in [(1, 300), (2, 100), (3, 200), (4, 5_000)] {
        c.defer(id, at);
    }
    persist(t.s(), 1, &mut c);
    let inc = c.incarnation();
    let due = t.s().due_delayed(1, "sub", inc, 0, 250, 10).unwrap();
    assert_eq!(due.due, vec![key(100, 2), key(200, 3)]);
    assert_eq!(due.next_at_ms, Some(300), "when to look again");
    let cut = t.s().due_delayed(1, "sub", inc, 0, 1_000, 2).unwrap();
    assert_eq!(cut.due.len(), 2);
    assert_eq!(cut.next_at_ms, Some(300), "cut short: more is due now");
    let later = t.s().due_delayed(1, "sub", inc, 250, 10_000, 10).unwrap();
    assert_eq!(later.due, vec![key(300, 1), key(5_000, 4)]);
    assert_eq!(later.next_at_ms, None);
    assert!(t
        .s()
        .due_delayed(1, "other", inc, 0, u64::MAX, 10)
        .unwrap()
        .due
        .is_empty());
}

#[test]
fn deferred_entries_and_their_keys_survive_a_reopen_and_leave_when_undeferred() {
    let mut t = TestStore::new();
    let mut c = Cursor::new("sub", 0);
    for id in 0..1_000 {
        c.defer(id, 10_000 + id % 7);
    }
    c.set_redelivery_count(5, 3);
    persist(t.s(), 1, &mut c);
    t.s().sync().unwrap();
    let s = t.reopen();
    let mut loaded = s.load_cursor(1, "sub").unwrap().unwrap();
    assert_eq!(loaded, c);
    assert_eq!(loaded.deferred_count(), 1_000);
    assert_eq!(loaded.redelivery_count(5), 3);
    let inc = loaded.incarnation();
    assert_eq!(s.delayed_keys(1, "sub", inc).unwrap().len(), 1_000);
    let due = s.due_delayed(1, "sub", inc, 0, 10_000, 1_000).unwrap();
    assert_eq!(due.due.len(), 143, "ids 0, 7, 14, ... are due at 10 000");
    for k in &due.due {
        assert!(loaded.undefer(k.entry_id, k.deliver_at_ms));
    }
    persist(s, 1, &mut loaded);
    assert_eq!(s.delayed_keys(1, "sub", inc).unwrap().len(), 857);
    assert_eq!(
        s.load_cursor(1, "sub").unwrap().unwrap().deferred_count(),
        857
    );
}

#[test]
fn a_reset_orphans_the_old_keys_and_the_purge_removes_them() {
    let t = TestStore::new();
    let mut c = Cursor::new("sub", 0);
    for id in 0..40_000 {
        c.defer(id, 1_000);
    }
    persist(t.s(), 1, &mut c);
    let old = c.incarnation();
    c.reset(0);
    c.defer(3, 2_000);
    persist(t.s(), 1, &mut c);
    let due = t.s().due_delayed(1, "sub", c.incarnation(), 0, 5_000, 10);
    assert_eq!(
        due.unwrap().due,
        vec![key(2_000, 3)],
        "old keys are not read"
    );
    eventually("the purge of the old incarnation", || {
        t.s().delayed_keys(1, "sub", old).unwrap().is_empty()
    });
    assert_eq!(
        t.s().delayed_keys(1, "sub", c.incarnation()).unwrap(),
        vec![key(2_000, 3)],
        "the new incarnation is untouched"
    );
}

#[test]
fn deleting_a_cursor_or_its_topic_purges_the_delayed_index() {
    let t = TestStore::new();
    let ledger_id = t.s().create_topic("t").unwrap().ledger_id;
    let mut gone = Cursor::new("gone", 0);
    let mut kept = Cursor::new("kept", 0);
    for id in 0..100 {
        gone.defer(id, 5);
        kept.defer(id, 5);
    }
    persist(t.s(), ledger_id, &mut gone);
    persist(t.s(), ledger_id, &mut kept);
    t.s()
        .write(vec![WriteOp::DeleteCursor {
            ledger_id,
            name: "gone".into(),
        }])
        .unwrap();
    eventually("the deleted cursor's keys to go", || {
        t.s().delayed_keys_of_ledger(ledger_id).unwrap() == 100
    });
    assert_eq!(
        t.s()
            .delayed_keys(ledger_id, "kept", kept.incarnation())
            .unwrap()
            .len(),
        100
    );
    t.s().delete_topic("t").unwrap();
    eventually("the topic's keys to go", || {
        t.s().delayed_keys_of_ledger(ledger_id).unwrap() == 0
    });
}

#[test]
fn a_new_cursor_under_an_old_name_does_not_see_the_old_keys() {
    let t = TestStore::new();
    let mut first = Cursor::new("sub", 0);
    first.defer(1, 10);
    persist(t.s(), 1, &mut first);
    let mut second = Cursor::new("sub", 0);
    second.defer(2, 20);
    persist(t.s(), 1, &mut second);
    let due = t
        .s()
        .due_delayed(1, "sub", second.incarnation(), 0, 100, 10)
        .unwrap();
    assert_eq!(due.due, vec![key(20, 2)]);
    eventually("the replaced cursor's keys to go", || {
        t.s().delayed_keys_of_ledger(1).unwrap() == 1
    });
}
