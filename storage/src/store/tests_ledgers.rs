//! Offsets, sizes and owned ledgers.

use bytes::Bytes;

use super::*;
use crate::entry::{Entry, EntryMeta};

fn open(dir: &tempfile::TempDir) -> Storage {
    let config = StorageConfig {
        fsync: false,
        ..StorageConfig::default()
    };
    Storage::open(dir.path(), config).unwrap()
}

/// Appends entries `from..to` of `len` bytes, published at `1000 + id`.
fn fill(s: &Storage, ledger_id: u64, from: u64, to: u64, len: usize) {
    let ops = (from..to)
        .map(|entry_id| WriteOp::Append {
            ledger_id,
            entry: Entry {
                entry_id,
                meta: EntryMeta {
                    publish_time_ms: 1000 + entry_id,
                    ..EntryMeta::default()
                },
                data: Bytes::from(vec![b'x'; len]),
            },
        })
        .collect();
    s.write(ops).unwrap();
    s.sync().unwrap();
}

#[test]
fn sizes_from_an_entry_and_the_entry_past_an_offset() {
    let dir = tempfile::tempdir().unwrap();
    let s = open(&dir);
    assert_eq!(s.bytes_from(1, 0).unwrap(), 0);
    assert_eq!(s.find_by_offset(1, 0).unwrap(), None);
    fill(&s, 1, 0, 10, 100);
    assert_eq!(s.bytes_from(1, 0).unwrap(), 1000);
    assert_eq!(s.bytes_from(1, 7).unwrap(), 300);
    assert_eq!(s.bytes_from(1, 10).unwrap(), 0);
    assert_eq!(s.find_by_offset(1, 0).unwrap(), Some(0));
    assert_eq!(s.find_by_offset(1, 1).unwrap(), Some(1));
    assert_eq!(s.find_by_offset(1, 700).unwrap(), Some(7));
    assert_eq!(s.find_by_offset(1, 901).unwrap(), None);
    let at = s.entry_position(1, 4).unwrap().unwrap();
    assert_eq!(
        (at.entry_id, at.offset, at.len, at.publish_time_ms),
        (4, 400, 100, 1004)
    );
    s.write(vec![WriteOp::Trim {
        ledger_id: 1,
        before_entry: 5,
    }])
    .unwrap();
    assert_eq!(
        s.bytes_from(1, 0).unwrap(),
        500,
        "trimmed entries no longer count"
    );
    assert_eq!(s.entry_position(1, 0).unwrap().unwrap().entry_id, 5);
    assert_eq!(s.find_by_offset(1, 0).unwrap(), Some(5));
}

#[test]
fn owned_ledgers_are_listed_deleted_and_purged_with_their_topic() {
    let dir = tempfile::tempdir().unwrap();
    let s = open(&dir);
    let owner = s.create_topic("persistent://t/n/a").unwrap().ledger_id;
    let other = s.create_topic("persistent://t/n/b").unwrap().ledger_id;
    let first = s.create_owned_ledger(owner).unwrap();
    let second = s.create_owned_ledger(owner).unwrap();
    let theirs = s.create_owned_ledger(other).unwrap();
    assert!(
        first > other && second > first,
        "ids come from the one counter"
    );
    assert_eq!(s.owned_ledgers(owner).unwrap(), vec![first, second]);
    fill(&s, first, 0, 3, 10);
    fill(&s, second, 5, 8, 10);
    s.delete_ledger(owner, first).unwrap();
    assert_eq!(s.owned_ledgers(owner).unwrap(), vec![second]);
    assert_eq!(s.log_bounds(first).unwrap(), None);
    drop(s);
    let s = open(&dir);
    assert_eq!(s.owned_ledgers(owner).unwrap(), vec![second], "durable");
    assert_eq!(
        s.create_topic("persistent://t/n/c").unwrap().ledger_id,
        theirs + 1
    );
    s.delete_topic("persistent://t/n/a").unwrap();
    assert!(s.owned_ledgers(owner).unwrap().is_empty());
    assert_eq!(s.log_bounds(second).unwrap(), None, "purged with its owner");
    assert_eq!(s.owned_ledgers(other).unwrap(), vec![theirs]);
}
