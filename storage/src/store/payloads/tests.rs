//! Payload segments through the `Storage` API: reads, restarts, and when files go.

use std::path::Path;
use std::time::{Duration, Instant};

use bytes::Bytes;
use tempfile::TempDir;

use crate::entry::{Entry, EntryMeta};
use crate::{Storage, StorageConfig, WriteOp};

/// Storage whose segments hold four 16 KiB payloads each.
fn open(dir: &TempDir) -> Storage {
    let config = StorageConfig {
        fsync: true,
        payload_segment_bytes: 64 * 1024,
        ..StorageConfig::default()
    };
    Storage::open(dir.path(), config).unwrap()
}

fn payload(ledger_id: u64, entry_id: u64, len: usize) -> Bytes {
    let tag = ledger_id.wrapping_mul(31).wrapping_add(entry_id) as u8;
    Bytes::from(vec![tag; len])
}

fn append(ledger_id: u64, entry_id: u64, len: usize) -> WriteOp {
    WriteOp::Append {
        ledger_id,
        entry: Entry {
            entry_id,
            meta: EntryMeta {
                num_messages: 1,
                ..EntryMeta::default()
            },
            data: payload(ledger_id, entry_id, len),
        },
    }
}

fn trim(ledger_id: u64, before_entry: u64) -> WriteOp {
    WriteOp::Trim {
        ledger_id,
        before_entry,
    }
}

fn segment_files(dir: &Path) -> usize {
    files_ending(dir, ".seg")
}

fn spare_files(dir: &Path) -> usize {
    files_ending(dir, ".spare")
}

/// Files in the payloads directory whose name ends with `suffix`.
fn files_ending(dir: &Path, suffix: &str) -> usize {
    std::fs::read_dir(dir.join("payloads"))
        .unwrap()
        .filter(|e| {
            let name = e.as_ref().unwrap().file_name();
            name.to_string_lossy().ends_with(suffix)
        })
        .count()
}

/// Waits for the reclaim thread to bring the file count down to `want`.
fn wait_for_files(dir: &Path, want: usize) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while segment_files(dir) != want && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(segment_files(dir), want);
}

/// A group of one 1000-byte payload, read back once (which caches the read handle).
fn one_payload_read_back(payloads: &super::Payloads) -> crate::entry::PayloadRef {
    payloads.begin_group().unwrap();
    let at = payloads.append(&Bytes::from(vec![7; 1000])).unwrap();
    payloads.finish_group(b"").unwrap();
    assert_eq!(payloads.read(at).unwrap().unwrap().len(), 1000);
    at
}

fn assert_reads_back(s: &Storage, ledger_id: u64, ids: std::ops::Range<u64>, len: usize) {
    let entries = s
        .read_entries(ledger_id, ids.start, 1000, usize::MAX)
        .unwrap();
    let got: Vec<u64> = entries.iter().map(|e| e.entry_id).collect();
    assert_eq!(got, ids.clone().collect::<Vec<_>>());
    for entry in &entries {
        assert_eq!(entry.data, payload(ledger_id, entry.entry_id, len));
        assert_eq!(entry.meta.num_messages, 1);
    }
}

#[test]
fn large_entries_live_in_segments_and_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let s = open(&dir);
    for id in 0..10 {
        s.write(vec![append(1, id, 16 * 1024)]).unwrap();
    }
    s.sync().unwrap();
    assert_eq!(segment_files(dir.path()), 3, "four payloads per segment");
    assert_reads_back(&s, 1, 0..10, 16 * 1024);
    assert_eq!(s.log_size_bytes(1).unwrap(), 10 * 16 * 1024);
    assert_eq!(
        s.read_entry(1, 7).unwrap().unwrap().data,
        payload(1, 7, 16 * 1024)
    );
    drop(s);
    let s = open(&dir);
    assert_reads_back(&s, 1, 0..10, 16 * 1024);
    assert_eq!(s.log_size_bytes(1).unwrap(), 10 * 16 * 1024);
    s.write(vec![append(1, 10, 16 * 1024)]).unwrap();
    assert_reads_back(&s, 1, 0..11, 16 * 1024);
    assert_eq!(
        segment_files(dir.path()),
        4,
        "a restart starts a new segment"
    );
}

#[test]
fn entries_below_the_minimum_stay_in_fjall() {
    let dir = tempfile::tempdir().unwrap();
    let config = StorageConfig {
        fsync: true,
        payload_segment_bytes: 64 * 1024,
        payload_segment_min_bytes: 4096,
        ..StorageConfig::default()
    };
    let s = Storage::open(dir.path(), config).unwrap();
    s.write((0..10).map(|id| append(1, id, 1024)).collect())
        .unwrap();
    // The group's log record is in a segment, but no entry points into one.
    assert!(s.inner.payloads.ledgers().is_empty());
    assert_reads_back(&s, 1, 0..10, 1024);
    s.write(vec![append(1, 10, 4096)]).unwrap();
    assert_eq!(s.inner.payloads.ledgers(), vec![1]);
    assert_reads_back(&s, 1, 10..11, 4096);
    drop(s);
    let s = open(&dir);
    let small = s.read_entries(1, 0, 10, usize::MAX).unwrap();
    assert_eq!(small.len(), 10);
    for entry in small {
        assert_eq!(entry.data, payload(1, entry.entry_id, 1024));
    }
    assert_reads_back(&s, 1, 10..11, 4096);
}

#[test]
fn small_entries_go_to_segments_by_default() {
    let dir = tempfile::tempdir().unwrap();
    let s = open(&dir);
    s.write((0..10).map(|id| append(1, id, 1024)).collect())
        .unwrap();
    assert_eq!(segment_files(dir.path()), 1);
    drop(s);
    let s = open(&dir);
    assert_reads_back(&s, 1, 0..10, 1024);
    // An empty payload takes a zero-length span.
    s.write(vec![append(1, 10, 0)]).unwrap();
    assert_reads_back(&s, 1, 10..11, 0);
}

#[test]
fn a_segment_goes_once_every_ledger_in_it_is_trimmed_past_it() {
    let dir = tempfile::tempdir().unwrap();
    let s = open(&dir);
    // Two ledgers share every segment: two payloads of each per segment.
    for id in 0..8 {
        s.write(vec![append(1, id, 16 * 1024), append(2, id, 16 * 1024)])
            .unwrap();
    }
    s.sync().unwrap();
    assert_eq!(segment_files(dir.path()), 4);
    // The trim's group starts segment 4: segment 3 is full.
    s.write(vec![trim(1, 8)]).unwrap();
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(segment_files(dir.path()), 5, "ledger 2 still needs them");
    s.write(vec![trim(2, 4)]).unwrap();
    wait_for_files(dir.path(), 3);
    assert_reads_back(&s, 2, 4..8, 16 * 1024);
    s.write(vec![trim(2, 8)]).unwrap();
    wait_for_files(dir.path(), 1);
    assert_eq!(
        segment_files(dir.path()),
        1,
        "the active segment stays open"
    );
    drop(s);
    let s = open(&dir);
    wait_for_files(dir.path(), 0);
    assert!(s.read_entries(2, 0, 10, usize::MAX).unwrap().is_empty());
}

#[test]
fn deleting_a_topic_frees_its_segments() {
    let dir = tempfile::tempdir().unwrap();
    let s = open(&dir);
    let topic = s.create_topic("persistent://t/n/gone").unwrap();
    for id in 0..8 {
        s.write(vec![append(topic.ledger_id, id, 16 * 1024)])
            .unwrap();
    }
    s.write(vec![append(topic.ledger_id, 8, 16 * 1024)])
        .unwrap();
    assert_eq!(segment_files(dir.path()), 3);
    s.delete_topic("persistent://t/n/gone").unwrap();
    wait_for_files(dir.path(), 1);
}

#[test]
fn segments_nobody_references_are_deleted_on_open() {
    let dir = tempfile::tempdir().unwrap();
    let s = open(&dir);
    s.write(vec![append(1, 0, 16 * 1024)]).unwrap();
    drop(s);
    // What a crash between writing a payload and committing its batch leaves behind.
    let orphan = dir.path().join("payloads").join(format!("{:020}.seg", 99));
    std::fs::write(&orphan, [0u8; 100]).unwrap();
    let s = open(&dir);
    wait_for_files(dir.path(), 1);
    assert!(!orphan.exists());
    assert_reads_back(&s, 1, 0..1, 16 * 1024);
}

#[test]
fn payload_segments_can_be_turned_off() {
    let dir = tempfile::tempdir().unwrap();
    let config = StorageConfig {
        fsync: false,
        payload_segment_bytes: 0,
        ..StorageConfig::default()
    };
    let s = Storage::open(dir.path(), config.clone()).unwrap();
    s.write(vec![append(1, 0, 16 * 1024)]).unwrap();
    assert_eq!(segment_files(dir.path()), 0);
    drop(s);
    let s = open(&dir);
    s.write(vec![append(1, 1, 16 * 1024)]).unwrap();
    assert_eq!(segment_files(dir.path()), 1);
    drop(s);
    let s = Storage::open(dir.path(), config).unwrap();
    assert_reads_back(&s, 1, 0..2, 16 * 1024);
}

#[test]
fn a_segment_closed_by_the_batch_that_wrote_to_it_is_kept() {
    let dir = tempfile::tempdir().unwrap();
    let s = open(&dir);
    // Segment 0 loses its only holder while it is still being written to.
    s.write(vec![append(1, 0, 16 * 1024), append(1, 1, 16 * 1024)])
        .unwrap();
    s.write(vec![trim(1, 2)]).unwrap();
    // One batch fills segment 0 and moves on to segment 1.
    s.write((0..4).map(|id| append(2, id, 16 * 1024)).collect())
        .unwrap();
    // Any later trim hands over the segments found free.
    s.write(vec![append(3, 0, 16 * 1024)]).unwrap();
    s.write(vec![trim(3, 1)]).unwrap();
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(segment_files(dir.path()), 2);
    assert_reads_back(&s, 2, 0..4, 16 * 1024);
}

#[test]
fn a_deleted_segment_is_shrunk_before_the_unlink_and_reads_as_missing() {
    let dir = tempfile::tempdir().unwrap();
    let s = open(&dir);
    s.write(vec![append(1, 0, 16 * 1024)]).unwrap();
    // The read opens and caches a handle, which `delete` must drop.
    assert_reads_back(&s, 1, 0..1, 16 * 1024);
    let path = std::fs::read_dir(dir.path().join("payloads"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let segment: u64 = path.file_stem().unwrap().to_str().unwrap().parse().unwrap();
    let held = std::fs::File::open(&path).unwrap();
    s.inner.payloads.delete(segment).unwrap();
    assert_eq!(segment_files(dir.path()), 0);
    assert_eq!(
        held.metadata().unwrap().len(),
        0,
        "shrunk before the unlink"
    );
    // Entry 0 is not trimmed, so its missing payload is an error, not a silent skip.
    let err = s.read_entries(1, 0, 10, usize::MAX).unwrap_err();
    assert!(err.to_string().contains("missing"), "{err}");
    s.write(vec![WriteOp::Trim {
        ledger_id: 1,
        before_entry: 1,
    }])
    .unwrap();
    assert!(s.read_entries(1, 0, 10, usize::MAX).unwrap().is_empty());
}

#[test]
fn a_payload_cut_off_by_a_shrinking_segment_reads_as_missing() {
    let dir = tempfile::tempdir().unwrap();
    let s = open(&dir);
    let payloads = &s.inner.payloads;
    let at = one_payload_read_back(payloads);
    // What a reader that took its handle before `delete` began sees mid-way.
    let file = std::fs::OpenOptions::new()
        .write(true)
        .open(payloads.path(at.segment))
        .unwrap();
    file.set_len(at.offset + 10).unwrap();
    assert_eq!(payloads.read(at).unwrap(), None);
}

#[test]
fn retired_segments_are_kept_as_spares_and_reused() {
    let dir = tempfile::tempdir().unwrap();
    let s = open(&dir);
    for id in 0..16 {
        s.write(vec![append(1, id, 16 * 1024)]).unwrap();
    }
    assert_eq!(segment_files(dir.path()), 4);
    s.write(vec![trim(1, 16)]).unwrap();
    wait_for_files(dir.path(), 1);
    assert_eq!(spare_files(dir.path()), 2, "two kept, the third deleted");
    // The trim's group started segment 4; 20.. go to the next two.
    for id in 16..28 {
        s.write(vec![append(1, id, 16 * 1024)]).unwrap();
    }
    assert_eq!(spare_files(dir.path()), 0, "both reused");
    assert_eq!(segment_files(dir.path()), 3);
    assert_reads_back(&s, 1, 16..28, 16 * 1024);
    assert_eq!(s.read_entry(1, 0).unwrap(), None);
    drop(s);
    let s = open(&dir);
    assert_reads_back(&s, 1, 16..28, 16 * 1024);
}

#[test]
fn a_handle_taken_before_a_retirement_reads_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let s = open(&dir);
    let payloads = &s.inner.payloads;
    let at = one_payload_read_back(payloads);
    payloads.retire(at.segment).unwrap();
    assert_eq!(spare_files(dir.path()), 1, "the file lives on as a spare");
    assert_eq!(payloads.read(at).unwrap(), None);
}
