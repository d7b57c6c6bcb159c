//! Topic records: idempotent creation, durable ledger ids, listing, deletion.

use geminga_storage::{Cursor, StorageError, WriteOp};

use crate::common::{append_range, TestStore};

#[test]
fn create_is_idempotent_and_survives_reopen() {
    let mut t = TestStore::new();
    let a = t.s().create_topic("persistent://public/default/a").unwrap();
    assert_eq!(a.ledger_id, 1, "ledger ids start at 1");
    assert!(a.created_at_ms > 0);
    assert_eq!(
        t.s().create_topic("persistent://public/default/a").unwrap(),
        a
    );
    let s = t.reopen();
    assert_eq!(
        s.topic("persistent://public/default/a").unwrap(),
        Some(a.clone())
    );
    assert_eq!(s.create_topic("persistent://public/default/a").unwrap(), a);
    assert_eq!(s.topic("persistent://public/default/b").unwrap(), None);
}

#[test]
fn ledger_ids_are_never_reused_even_after_delete_and_reopen() {
    let mut t = TestStore::new();
    let a = t.s().create_topic("a").unwrap().ledger_id;
    let b = t.s().create_topic("b").unwrap().ledger_id;
    t.s().delete_topic("b").unwrap();
    let s = t.reopen();
    let c = s.create_topic("c").unwrap().ledger_id;
    let b2 = s.create_topic("b").unwrap().ledger_id;
    let ids = [a, b, c, b2];
    assert_eq!(ids, [1, 2, 3, 4]);
}

#[test]
fn list_returns_every_topic_by_name() {
    let t = TestStore::new();
    for name in ["zeta", "alpha", "mid"] {
        t.s().create_topic(name).unwrap();
    }
    let names: Vec<_> = t
        .s()
        .list_topics()
        .unwrap()
        .into_iter()
        .map(|r| r.name)
        .collect();
    assert_eq!(names, ["alpha", "mid", "zeta"]);
}

#[test]
fn delete_removes_record_entries_and_cursors_but_not_other_topics() {
    let mut t = TestStore::new();
    let doomed = t.s().create_topic("doomed").unwrap().ledger_id;
    let kept = t.s().create_topic("kept").unwrap().ledger_id;
    append_range(t.s(), doomed, 0, 40_000, 4);
    append_range(t.s(), kept, 0, 10, 4);
    for ledger_id in [doomed, kept] {
        let mut c = Cursor::new("sub", 0);
        c.ack(5);
        let update = c.take_update().unwrap();
        t.s()
            .write(vec![WriteOp::Cursor { ledger_id, update }])
            .unwrap();
        t.s()
            .write(vec![WriteOp::Trim {
                ledger_id,
                before_entry: 1,
            }])
            .unwrap();
    }
    t.s().delete_topic("doomed").unwrap();
    let s = t.reopen();
    assert_eq!(s.topic("doomed").unwrap(), None);
    assert_eq!(s.log_bounds(doomed).unwrap(), None);
    assert!(s.load_cursors(doomed).unwrap().is_empty());
    assert_eq!(
        s.trimmed_before(doomed).unwrap(),
        u64::MAX,
        "reads as trimmed entirely"
    );
    assert_eq!(s.log_size_bytes(doomed).unwrap(), 0);
    assert!(s.topic("kept").unwrap().is_some());
    assert_eq!(
        s.log_bounds(kept).unwrap().map(|b| (b.first, b.last)),
        Some((1, 9))
    );
    assert_eq!(s.load_cursors(kept).unwrap().len(), 1);
}

#[test]
fn deleting_an_unknown_topic_is_not_found() {
    let t = TestStore::new();
    let err = t.s().delete_topic("nope").unwrap_err();
    assert!(
        matches!(err, StorageError::TopicNotFound { ref name } if name == "nope"),
        "{err}"
    );
}

#[test]
fn unstorable_names_are_refused_not_panics() {
    let t = TestStore::new();
    assert!(matches!(
        t.s().create_topic(""),
        Err(StorageError::InvalidName { .. })
    ));
    let long = "x".repeat(70_000);
    assert!(matches!(
        t.s().create_topic(&long),
        Err(StorageError::InvalidName { .. })
    ));
    assert!(t.s().topic(&long).is_err());
    assert!(t.s().load_cursor(1, &long).is_err());
    let delete_long = vec![WriteOp::DeleteCursor {
        ledger_id: 1,
        name: long,
    }];
    assert!(matches!(
        t.s().write(delete_long),
        Err(StorageError::InvalidName { .. })
    ));
}

#[test]
fn storage_is_shared_across_threads() {
    let t = TestStore::new();
    let handles: Vec<_> = (0..4)
        .map(|i| {
            let s = t.s().clone();
            std::thread::spawn(move || s.create_topic(&format!("t{}", i % 2)).unwrap().ledger_id)
        })
        .collect();
    let mut ids: Vec<u64> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(
        ids,
        [1, 2],
        "concurrent creates of one name share one ledger"
    );
}

#[test]
fn a_data_dir_is_opened_by_one_storage_at_a_time() {
    let mut t = TestStore::new();
    let second = geminga_storage::Storage::open(t.dir.path(), crate::common::config());
    assert!(second.is_err(), "the dir lock must refuse a second open");
    drop(second);
    t.reopen().create_topic("still-works").unwrap();
}
