//! White-box tests: what `open` and the readers do underneath (no scans, crash recovery).

use bytes::Bytes;
use tempfile::TempDir;

use super::topics::system_key;
use super::*;
use crate::entry::{Entry, EntryMeta};

/// Storage with every payload inside fjall: these tests are about fjall's tables and blobs
/// (payload segments have their own tests).
fn open(dir: &TempDir, kv_separation: bool) -> Storage {
    let config = StorageConfig {
        fsync: false,
        kv_separation,
        payload_segment_bytes: 0,
        ..StorageConfig::default()
    };
    Storage::open(dir.path(), config).unwrap()
}

/// Incompressible data, so on-disk sizes reflect the payload.
fn noise(seed: u64, len: usize) -> Bytes {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let data = (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect::<Vec<u8>>();
    Bytes::from(data)
}

fn fill(s: &Storage, ledger_id: u64, count: u64, len: usize) {
    fill_from(s, ledger_id, 0, count, len);
}

fn fill_from(s: &Storage, ledger_id: u64, from: u64, to: u64, len: usize) {
    let ops: Vec<WriteOp> = (from..to)
        .map(|entry_id| WriteOp::Append {
            ledger_id,
            entry: Entry {
                entry_id,
                meta: EntryMeta::default(),
                data: noise(entry_id, len),
            },
        })
        .collect();
    for chunk in ops.chunks(1_000) {
        s.write(chunk.to_vec()).unwrap();
    }
    s.sync().unwrap();
}

#[test]
fn bounds_after_reopen_read_a_few_blocks_not_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let s = open(&dir, false);
    fill(&s, 1, 20_000, 1_024);
    // Move the log from the memtable into on-disk tables so reads go through the block cache.
    s.inner.entries.rotate_memtable_and_wait().unwrap();
    drop(s);
    let s = open(&dir, false);
    let before = s.inner.db.cache_size();
    assert_eq!(
        s.log_bounds(1).unwrap(),
        Some(LogBounds {
            first: 0,
            last: 19_999
        })
    );
    assert!(s.read_entry(1, 19_999).unwrap().is_some());
    let bounds_cost = s.inner.db.cache_size() - before;
    assert!(
        bounds_cost < 256 * 1024,
        "bounds loaded {bounds_cost} bytes of blocks"
    );
    // The same measure does see a scan, so the check above has teeth.
    assert_eq!(
        s.read_entries(1, 0, usize::MAX, usize::MAX).unwrap().len(),
        20_000
    );
    let scan_cost = s.inner.db.cache_size() - before;
    assert!(
        scan_cost > 10 * 1024 * 1024,
        "a scan loaded only {scan_cost} bytes"
    );
}

#[test]
fn an_interrupted_purge_is_finished_by_open() {
    let dir = tempfile::tempdir().unwrap();
    let s = open(&dir, true);
    fill(&s, 5, 100, 10_000);
    fill(&s, 6, 3, 10);
    // Simulate a crash right after delete_topic's first step: marker stored, log not purged.
    let mut batch = s.inner.db.batch();
    batch.insert(&s.inner.system, system_key(b"purge/", 5), Vec::new());
    batch.commit().unwrap();
    s.sync().unwrap();
    drop(s);
    let s = open(&dir, true);
    assert_eq!(s.log_bounds(5).unwrap(), None);
    assert_eq!(
        s.log_bounds(6).unwrap(),
        Some(LogBounds { first: 0, last: 2 })
    );
    assert_eq!(
        s.inner.system.prefix(b"purge/").count(),
        0,
        "marker removed"
    );
}

#[test]
fn kv_separation_is_fixed_when_the_keyspace_is_created() {
    let dir = tempfile::tempdir().unwrap();
    let s = open(&dir, true);
    assert!(s.inner.entries.is_kv_separated());
    fill(&s, 1, 10, 64 * 1024);
    drop(s);
    let s = open(&dir, false);
    assert!(
        s.inner.entries.is_kv_separated(),
        "an existing dir keeps its layout"
    );
    assert_eq!(s.read_entries(1, 0, 100, usize::MAX).unwrap().len(), 10);
}

#[test]
fn trimming_frees_whole_tables_in_the_background() {
    for kv_separation in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        // One memtable holds the whole fill, so the trimmed entries end in tables of their
        // own; with smaller memtables a background L0->L1 merge may join them with the kept
        // tail first, and then only compaction frees them.
        let config = StorageConfig {
            fsync: false,
            kv_separation,
            entries_memtable_bytes: 64 * 1024 * 1024,
            payload_segment_bytes: 0,
            ..StorageConfig::default()
        };
        let s = Storage::open(dir.path(), config).unwrap();
        fill(&s, 1, 2_000, 16 * 1024);
        s.inner.entries.rotate_memtable_and_wait().unwrap();
        fill_from(&s, 1, 2_000, 2_010, 16 * 1024);
        s.inner.entries.rotate_memtable_and_wait().unwrap();
        let full = s.inner.entries.disk_space();
        assert!(full > 30 * 1024 * 1024, "{full}");
        s.write(vec![WriteOp::Trim {
            ledger_id: 1,
            before_entry: 2_000,
        }])
        .unwrap();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while s.inner.entries.disk_space() > full / 4 && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        let left = s.inner.entries.disk_space();
        assert!(
            left < full / 4,
            "kv_separation={kv_separation}: {left} of {full} bytes left"
        );
        assert_eq!(
            s.log_bounds(1).unwrap(),
            Some(LogBounds {
                first: 2_000,
                last: 2_009
            })
        );
        assert_eq!(s.read_entries(1, 0, 100, usize::MAX).unwrap().len(), 10);
    }
}

#[test]
fn entries_below_the_trim_watermark_stay_hidden_if_they_reappear() {
    let dir = tempfile::tempdir().unwrap();
    let s = open(&dir, false);
    fill(&s, 1, 10, 8);
    s.write(vec![WriteOp::Trim {
        ledger_id: 1,
        before_entry: 5,
    }])
    .unwrap();
    // What a dropped tombstone table over an older value table would look like.
    let stale = crate::entry::encode_value(&EntryMeta::default(), 0, b"old");
    s.inner
        .entries
        .insert(crate::keys::entry_key(1, 2), stale)
        .unwrap();
    assert_eq!(s.read_entry(1, 2).unwrap(), None);
    assert_eq!(
        s.log_bounds(1).unwrap(),
        Some(LogBounds { first: 5, last: 9 })
    );
    assert_eq!(s.read_entries(1, 0, 1, usize::MAX).unwrap()[0].entry_id, 5);
    drop(s);
    let s = open(&dir, false);
    assert_eq!(s.trimmed_before(1).unwrap(), 5, "the watermark is durable");
    assert_eq!(s.read_entry(1, 2).unwrap(), None);
}

#[test]
fn a_checkpoint_puts_the_memtables_on_disk() {
    let dir = tempfile::tempdir().unwrap();
    let s = open(&dir, true);
    fill(&s, 1, 2_000, 512);
    assert_eq!(s.inner.entries.table_count(), 0, "all in the memtable");
    s.checkpoint().unwrap();
    assert!(s.inner.entries.table_count() > 0, "flushed to a table");
    drop(s);
    let s = open(&dir, true);
    assert_eq!(
        s.read_entries(1, 0, 5_000, usize::MAX).unwrap().len(),
        2_000
    );
}

#[test]
fn trimmed_tables_are_dropped_only_when_one_lies_wholly_in_the_range() {
    let dir = tempfile::tempdir().unwrap();
    let s = open(&dir, false);
    fill_from(&s, 1, 10, 20, 64);
    s.inner.entries.rotate_memtable_and_wait().unwrap();
    let range = |to: u64| crate::keys::entry_key(1, 0)..crate::keys::entry_key(1, to);
    let within = |to: u64| reclaim::any_table_within(&s.inner.entries, &range(to));
    assert!(!within(10), "the table starts at entry 10");
    assert!(!within(19), "entry 19 is still needed");
    assert!(within(20));
    assert!(within(u64::MAX));
}
