//! Cursor persistence through storage: round trips, incremental updates, deletion.

use geminga_storage::{Cursor, WriteOp};

use crate::common::TestStore;

fn persist(t: &TestStore, ledger_id: u64, cursor: &mut Cursor) {
    if let Some(update) = cursor.take_update() {
        t.s()
            .write(vec![WriteOp::Cursor { ledger_id, update }])
            .unwrap();
    }
}

#[test]
fn cursor_state_is_identical_after_reopen() {
    let mut t = TestStore::new();
    let mut c = Cursor::new("sub", 3);
    persist(&t, 1, &mut c);
    for id in [5, 7, 70_000, 70_001, 1 << 33] {
        c.ack(id);
    }
    c.ack_batch_index(4, &[0b101]);
    c.set_property("consumer", "c-1");
    persist(&t, 1, &mut c);
    // More incremental changes on top of the first write.
    c.ack(3);
    c.ack(70_002);
    c.ack_batch_index(8, &[0b1, 0b1]);
    persist(&t, 1, &mut c);
    t.s().sync().unwrap();
    let s = t.reopen();
    let loaded = s.load_cursor(1, "sub").unwrap().unwrap();
    assert_eq!(loaded, c);
    assert_eq!(loaded.ack_floor(), 4);
    assert_eq!(loaded.batch_ack_set(4), Some(&[0b101][..]));
    assert_eq!(loaded.batch_ack_set(8), Some(&[1, 1][..]));
    assert_eq!(
        loaded.properties().get("consumer").map(String::as_str),
        Some("c-1")
    );
    assert_eq!(loaded.individually_acked(), c.individually_acked());
    let mut loaded = loaded;
    assert!(
        loaded.take_update().is_none(),
        "a freshly loaded cursor is clean"
    );
}

#[test]
fn load_cursors_returns_each_subscription_of_the_ledger_only() {
    let t = TestStore::new();
    let mut names = vec!["b", "a", "long-name", "a2"];
    for (i, name) in names.iter().enumerate() {
        let mut c = Cursor::new(name, i as u64);
        c.ack(100 + i as u64);
        persist(&t, 1, &mut c);
    }
    let mut other = Cursor::new("a", 0);
    persist(&t, 2, &mut other);
    let loaded = t.s().load_cursors(1).unwrap();
    let mut loaded_names: Vec<_> = loaded.iter().map(|c| c.name().to_owned()).collect();
    loaded_names.sort();
    names.sort();
    assert_eq!(loaded_names, names);
    let b = loaded.iter().find(|c| c.name() == "b").unwrap();
    assert!(b.is_acked(100) && !b.is_acked(101));
    assert_eq!(t.s().load_cursors(2).unwrap().len(), 1);
    assert!(t.s().load_cursors(3).unwrap().is_empty());
    assert_eq!(t.s().load_cursor(1, "zzz").unwrap(), None);
}

#[test]
fn incremental_updates_rewrite_only_changed_chunks_and_delete_emptied_ones() {
    let mut t = TestStore::new();
    let mut c = Cursor::new("s", 0);
    // Holes in 8 chunks.
    for chunk in 0..8u64 {
        for i in 1..100 {
            c.ack((chunk << 16) + i * 3);
        }
    }
    persist(&t, 1, &mut c);
    c.ack(5 << 16);
    let update = c.take_update().unwrap();
    assert_eq!((update.chunks_written(), update.chunks_deleted()), (1, 0));
    assert!(
        update.bytes_written() < 300,
        "{} bytes for one ack",
        update.bytes_written()
    );
    t.s()
        .write(vec![WriteOp::Cursor {
            ledger_id: 1,
            update,
        }])
        .unwrap();
    // Cumulative ack past chunk 3 drops chunks 0..=2 and part of 3.
    c.ack_cumulative((3 << 16) + 10);
    let update = c.take_update().unwrap();
    assert_eq!(update.chunks_deleted(), 3);
    assert_eq!(update.chunks_written(), 1);
    t.s()
        .write(vec![WriteOp::Cursor {
            ledger_id: 1,
            update,
        }])
        .unwrap();
    t.s().sync().unwrap();
    let s = t.reopen();
    let loaded = s.load_cursor(1, "s").unwrap().unwrap();
    assert_eq!(loaded, c);
    assert_eq!(
        loaded.ack_floor(),
        (3 << 16) + 11,
        "id 3<<16 + 12 is acked, +11 is not"
    );
}

#[test]
fn reset_and_new_cursor_replace_stale_stored_state() {
    let mut t = TestStore::new();
    let mut c = Cursor::new("s", 0);
    c.ack(10);
    c.ack(200_000);
    c.ack_batch_index(3, &[1]);
    persist(&t, 1, &mut c);
    c.reset(2);
    persist(&t, 1, &mut c);
    assert_eq!(
        t.s().load_cursor(1, "s").unwrap().unwrap(),
        Cursor::new("s", 2)
    );
    // A new cursor of the same name (subscription re-created) wipes what was stored.
    let mut stale = Cursor::new("s", 0);
    stale.ack(50);
    persist(&t, 1, &mut stale);
    let mut fresh = Cursor::new("s", 7);
    persist(&t, 1, &mut fresh);
    let s = t.reopen();
    assert_eq!(s.load_cursor(1, "s").unwrap().unwrap(), Cursor::new("s", 7));
}

#[test]
fn delete_cursor_removes_every_part_even_staged_in_the_same_batch() {
    let t = TestStore::new();
    let mut c = Cursor::new("s", 0);
    c.ack(9);
    persist(&t, 1, &mut c);
    c.ack(100_000);
    let update = c.take_update().unwrap();
    let mut keep = Cursor::new("s2", 0);
    let keep_update = keep.take_update().unwrap();
    t.s()
        .write(vec![
            WriteOp::Cursor {
                ledger_id: 1,
                update,
            },
            WriteOp::DeleteCursor {
                ledger_id: 1,
                name: "s".into(),
            },
            WriteOp::Cursor {
                ledger_id: 1,
                update: keep_update,
            },
        ])
        .unwrap();
    assert_eq!(t.s().load_cursor(1, "s").unwrap(), None);
    assert_eq!(t.s().load_cursors(1).unwrap(), vec![keep]);
}

#[test]
fn a_failed_persist_is_repaired_by_a_full_update() {
    let t = TestStore::new();
    let mut c = Cursor::new("s", 0);
    c.ack(5);
    persist(&t, 1, &mut c);
    c.ack(0);
    c.ack(1);
    t.s()
        .faults()
        .fail_writes_for(std::time::Duration::from_secs(60));
    let lost = c.take_update().unwrap();
    assert!(t
        .s()
        .write(vec![WriteOp::Cursor {
            ledger_id: 1,
            update: lost
        }])
        .is_err());
    t.s().faults().clear();
    c.force_full_update();
    persist(&t, 1, &mut c);
    assert_eq!(t.s().load_cursor(1, "s").unwrap().unwrap(), c);
}
