//! Log reads: reopen, bounds, ranges with limits, publish-time search, size, trim.

use geminga_storage::{Entry, LogBounds, WriteOp};

use crate::common::{append_range, entry, TestStore};

#[test]
fn appended_entries_survive_drop_and_reopen_byte_for_byte() {
    let mut t = TestStore::new();
    let ledger = t.s().create_topic("t").unwrap().ledger_id;
    let mut big = entry(2, 200 * 1024);
    big.meta.deliver_at_ms = Some(99);
    let ops = vec![
        WriteOp::Append {
            ledger_id: ledger,
            entry: entry(0, 10),
        },
        WriteOp::Append {
            ledger_id: ledger,
            entry: entry(1, 0),
        },
        WriteOp::Append {
            ledger_id: ledger,
            entry: big.clone(),
        },
    ];
    t.s().write(ops).unwrap();
    t.s().sync().unwrap();
    let s = t.reopen();
    let read = s.read_entries(ledger, 0, 10, usize::MAX).unwrap();
    let expected: Vec<Entry> = vec![entry(0, 10), entry(1, 0), big];
    assert_eq!(read, expected);
    assert_eq!(
        s.read_entry(ledger, 2).unwrap().unwrap().meta.deliver_at_ms,
        Some(99)
    );
    assert_eq!(s.read_entry(ledger, 3).unwrap(), None);
}

#[test]
fn writes_are_visible_before_sync() {
    let t = TestStore::new();
    t.s().write(vec![crate::common::append(4, 0, 3)]).unwrap();
    assert_eq!(t.s().read_entry(4, 0).unwrap(), Some(entry(0, 3)));
}

#[test]
fn bounds_come_back_after_reopen_and_ignore_other_ledgers() {
    let mut t = TestStore::new();
    assert_eq!(t.s().log_bounds(1).unwrap(), None);
    append_range(t.s(), 1, 0, 50, 16);
    append_range(t.s(), 2, 0, 5, 16);
    append_range(t.s(), 0, 0, 3, 16);
    let s = t.reopen();
    assert_eq!(
        s.log_bounds(1).unwrap(),
        Some(LogBounds { first: 0, last: 49 })
    );
    assert_eq!(
        s.log_bounds(2).unwrap(),
        Some(LogBounds { first: 0, last: 4 })
    );
    assert_eq!(s.log_bounds(3).unwrap(), None);
}

#[test]
fn range_reads_honour_max_entries_and_max_bytes() {
    let t = TestStore::new();
    append_range(t.s(), 1, 0, 20, 100);
    let ids = |v: Vec<Entry>| v.into_iter().map(|e| e.entry_id).collect::<Vec<_>>();
    assert_eq!(
        ids(t.s().read_entries(1, 5, 3, usize::MAX).unwrap()),
        vec![5, 6, 7]
    );
    // Stops once the total reaches max_bytes: 250 bytes -> 3 entries of 100 (300 >= 250).
    assert_eq!(
        ids(t.s().read_entries(1, 0, 100, 250).unwrap()),
        vec![0, 1, 2]
    );
    assert_eq!(ids(t.s().read_entries(1, 0, 100, 200).unwrap()), vec![0, 1]);
    // Always at least one entry, even if it alone exceeds max_bytes.
    assert_eq!(ids(t.s().read_entries(1, 19, 100, 1).unwrap()), vec![19]);
    assert!(t.s().read_entries(1, 20, 100, 1).unwrap().is_empty());
    assert!(t.s().read_entries(1, 0, 0, usize::MAX).unwrap().is_empty());
    assert_eq!(
        ids(t.s().read_entries(1, 18, 100, usize::MAX).unwrap()),
        vec![18, 19]
    );
}

#[test]
fn find_by_publish_time_returns_the_first_entry_at_or_after() {
    let t = TestStore::new();
    // Publish times 1000 + id*10 for ids 0..100, with runs of equal times in between.
    let ops = (0..100u64)
        .map(|id| {
            let mut e = entry(id, 8);
            e.meta.publish_time_ms = 1_000 + (id / 2) * 10;
            WriteOp::Append {
                ledger_id: 9,
                entry: e,
            }
        })
        .collect();
    t.s().write(ops).unwrap();
    let find = |ms| t.s().find_by_publish_time(9, ms).unwrap();
    assert_eq!(find(0), Some(0));
    assert_eq!(find(1_000), Some(0));
    assert_eq!(find(1_001), Some(2));
    assert_eq!(find(1_010), Some(2));
    assert_eq!(find(1_255), Some(52));
    assert_eq!(find(1_490), Some(98));
    assert_eq!(find(1_491), None);
    assert_eq!(t.s().find_by_publish_time(10, 0).unwrap(), None);
    // After a trim the search starts at the first stored entry.
    t.s()
        .write(vec![WriteOp::Trim {
            ledger_id: 9,
            before_entry: 40,
        }])
        .unwrap();
    assert_eq!(find(0), Some(40));
}

#[test]
fn log_size_tracks_appends_and_trims_across_reopen() {
    let mut t = TestStore::new();
    assert_eq!(t.s().log_size_bytes(1).unwrap(), 0);
    append_range(t.s(), 1, 0, 10, 100);
    assert_eq!(t.s().log_size_bytes(1).unwrap(), 1_000);
    let s = t.reopen();
    append_range(s, 1, 10, 15, 300);
    assert_eq!(s.log_size_bytes(1).unwrap(), 2_500);
    s.write(vec![WriteOp::Trim {
        ledger_id: 1,
        before_entry: 5,
    }])
    .unwrap();
    assert_eq!(s.log_size_bytes(1).unwrap(), 2_000);
}

#[test]
fn trim_deletes_below_and_is_recorded() {
    let mut t = TestStore::new();
    append_range(t.s(), 1, 0, 30, 10);
    assert_eq!(t.s().trimmed_before(1).unwrap(), 0);
    t.s()
        .write(vec![WriteOp::Trim {
            ledger_id: 1,
            before_entry: 10,
        }])
        .unwrap();
    assert_eq!(t.s().read_entry(1, 9).unwrap(), None);
    assert!(t.s().read_entry(1, 10).unwrap().is_some());
    assert_eq!(
        t.s().log_bounds(1).unwrap(),
        Some(LogBounds {
            first: 10,
            last: 29
        })
    );
    // A lower trim does nothing and does not lower the watermark.
    t.s()
        .write(vec![WriteOp::Trim {
            ledger_id: 1,
            before_entry: 3,
        }])
        .unwrap();
    t.s().sync().unwrap();
    let s = t.reopen();
    assert_eq!(s.trimmed_before(1).unwrap(), 10);
    assert_eq!(
        s.log_bounds(1).unwrap(),
        Some(LogBounds {
            first: 10,
            last: 29
        })
    );
    // Trimming past the end empties the log but remembers how far it went.
    s.write(vec![WriteOp::Trim {
        ledger_id: 1,
        before_entry: 1_000_000,
    }])
    .unwrap();
    assert_eq!(s.log_bounds(1).unwrap(), None);
    assert_eq!(s.trimmed_before(1).unwrap(), 1_000_000);
    assert!(s.read_entries(1, 0, 100, usize::MAX).unwrap().is_empty());
}
