//! `write` semantics: atomic batches, later ops overriding earlier ones in a batch.

use geminga_storage::{LogBounds, StorageError, WriteOp};

use crate::common::{append, entry, TestStore};

#[test]
fn a_batch_with_an_invalid_op_applies_nothing() {
    let t = TestStore::new();
    let ops = vec![
        append(1, 0, 8),
        WriteOp::DeleteCursor {
            ledger_id: 1,
            name: "x".repeat(70_000),
        },
    ];
    assert!(t.s().write(ops).is_err());
    assert_eq!(t.s().log_bounds(1).unwrap(), None);
    t.s().write(Vec::new()).unwrap();
}

#[test]
fn trim_in_the_same_batch_drops_earlier_appends_but_not_later_ones() {
    let t = TestStore::new();
    t.s()
        .write((0..5).map(|id| append(1, id, 4)).collect())
        .unwrap();
    let trim = |before_entry| WriteOp::Trim {
        ledger_id: 1,
        before_entry,
    };
    let ops = vec![append(1, 5, 4), append(1, 6, 4), trim(6), append(1, 7, 4)];
    t.s().write(ops).unwrap();
    let read = t.s().read_entries(1, 0, 100, usize::MAX).unwrap();
    let ids: Vec<u64> = read.iter().map(|e| e.entry_id).collect();
    assert_eq!(ids, [6, 7]);
    assert_eq!(
        t.s().log_bounds(1).unwrap(),
        Some(LogBounds { first: 6, last: 7 })
    );
    assert_eq!(t.s().log_size_bytes(1).unwrap(), 8);
}

#[test]
fn appends_below_the_trim_point_are_refused_and_the_batch_not_applied() {
    let t = TestStore::new();
    t.s()
        .write((0..5).map(|id| append(1, id, 4)).collect())
        .unwrap();
    t.s()
        .write(vec![WriteOp::Trim {
            ledger_id: 1,
            before_entry: 3,
        }])
        .unwrap();
    let err = t
        .s()
        .write(vec![append(1, 5, 4), append(1, 2, 4)])
        .unwrap_err();
    assert!(
        matches!(
            err,
            StorageError::AppendBelowTrim {
                entry_id: 2,
                trimmed_before: 3,
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(
        t.s().read_entry(1, 5).unwrap(),
        None,
        "atomic: nothing applied"
    );
    let same_batch = vec![
        WriteOp::Trim {
            ledger_id: 1,
            before_entry: 4,
        },
        append(1, 3, 4),
    ];
    assert!(t.s().write(same_batch).is_err());
    assert_eq!(t.s().trimmed_before(1).unwrap(), 3);
}

#[test]
fn appends_to_a_deleted_topic_are_dropped() {
    let t = TestStore::new();
    let ledger_id = t.s().create_topic("gone").unwrap().ledger_id;
    t.s().delete_topic("gone").unwrap();
    t.s()
        .write(vec![append(ledger_id, 0, 4), append(7, 0, 4)])
        .unwrap();
    assert_eq!(t.s().log_bounds(ledger_id).unwrap(), None);
    assert!(
        t.s().read_entry(7, 0).unwrap().is_some(),
        "other ledgers in the batch are kept"
    );
}

#[test]
fn appends_of_many_ledgers_commit_together() {
    let t = TestStore::new();
    let ops = (0..3)
        .flat_map(|l| (0..3).map(move |id| append(l, id, 16)))
        .collect();
    t.s().write(ops).unwrap();
    for l in 0..3 {
        assert_eq!(t.s().read_entry(l, 2).unwrap(), Some(entry(2, 16)));
    }
}

#[test]
fn storage_error_classification() {
    let fault = StorageError::InjectedFault { op: "sync" };
    assert!(!fault.is_fatal());
    let corrupt = StorageError::Corrupt {
        what: "x",
        detail: "y".into(),
    };
    assert!(corrupt.is_fatal());
    assert!(corrupt.to_string().contains("corrupt x"));
}

#[test]
fn producer_sequences_persist_with_their_appends_and_go_with_the_topic() {
    let mut t = TestStore::new();
    let ledger_id = t
        .s()
        .create_topic("persistent://t/n/dedup")
        .unwrap()
        .ledger_id;
    let seq = |producer: &str, sequence_id| WriteOp::Sequence {
        ledger_id,
        producer: producer.into(),
        sequence_id,
    };
    t.s()
        .write(vec![append(ledger_id, 0, 4), seq("a", 3), seq("b", 9)])
        .unwrap();
    // A later op for the same producer wins, within a batch and across batches.
    t.s()
        .write(vec![append(ledger_id, 1, 4), seq("a", 4), seq("a", 5)])
        .unwrap();
    t.s().sync().unwrap();
    let loaded = t.reopen().load_sequences(ledger_id).unwrap();
    assert_eq!(loaded.get("a"), Some(&5));
    assert_eq!(loaded.get("b"), Some(&9));
    assert!(t.s().load_sequences(ledger_id + 1).unwrap().is_empty());
    // A failed batch records nothing.
    let bad = vec![
        seq("c", 1),
        WriteOp::DeleteCursor {
            ledger_id,
            name: "x".repeat(70_000),
        },
    ];
    assert!(t.s().write(bad).is_err());
    assert!(!t.s().load_sequences(ledger_id).unwrap().contains_key("c"));
    t.s()
        .write(vec![
            seq("c", 1),
            WriteOp::ClearSequences { ledger_id },
            seq("d", 2),
        ])
        .unwrap();
    let loaded = t.s().load_sequences(ledger_id).unwrap();
    assert_eq!(
        loaded.into_iter().collect::<Vec<_>>(),
        vec![("d".to_owned(), 2)]
    );
    t.s().delete_topic("persistent://t/n/dedup").unwrap();
    assert!(t.s().load_sequences(ledger_id).unwrap().is_empty());
    assert!(
        t.s().write(vec![seq("", 1)]).is_err(),
        "empty producer name"
    );
}
