//! The write-ahead log across crashes: images of a data dir whose journal stopped at some
//! point while the segments went on, as a crash before the journal reached the disk leaves.

use std::os::unix::fs::FileExt;
use std::path::Path;

use bytes::Bytes;
use tempfile::TempDir;

use crate::entry::{Entry, EntryMeta};
use crate::{Storage, StorageConfig, WriteOp};

/// Segments of four 16 KiB payloads, fsync on.
fn config() -> StorageConfig {
    StorageConfig {
        fsync: true,
        payload_segment_bytes: 64 * 1024,
        ..StorageConfig::default()
    }
}

fn append(entry_id: u64) -> WriteOp {
    WriteOp::Append {
        ledger_id: 1,
        entry: Entry {
            entry_id,
            meta: EntryMeta::default(),
            data: data(entry_id),
        },
    }
}

fn data(entry_id: u64) -> Bytes {
    Bytes::from(vec![entry_id as u8; 16 * 1024])
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for item in std::fs::read_dir(from).unwrap() {
        let item = item.unwrap();
        let target = to.join(item.file_name());
        if item.file_type().unwrap().is_dir() {
            copy_dir(&item.path(), &target);
        } else {
            std::fs::copy(item.path(), target).unwrap();
        }
    }
}

/// The image of a crash right after `writes`, which only the segments hold: the journal
/// of `s` (open on `live`) is persisted first and copied with the rest, the segments are
/// copied after the writes.
fn crash_after(s: &Storage, live: &Path, writes: Vec<Vec<WriteOp>>) -> TempDir {
    let image = tempfile::tempdir().unwrap();
    s.persist().unwrap();
    copy_dir(live, image.path());
    for ops in writes {
        s.write(ops).unwrap();
    }
    std::fs::remove_dir_all(image.path().join("payloads")).unwrap();
    copy_dir(&live.join("payloads"), &image.path().join("payloads"));
    image
}

/// Entry 0 in the journal, then a crash right after `writes`.
fn crash_image(writes: Vec<Vec<WriteOp>>) -> TempDir {
    let live = tempfile::tempdir().unwrap();
    let s = Storage::open(live.path(), config()).unwrap();
    s.write(vec![append(0)]).unwrap();
    crash_after(&s, live.path(), writes)
}

fn ids(s: &Storage) -> Vec<u64> {
    let entries = s.read_entries(1, 0, 100, usize::MAX).unwrap();
    for entry in &entries {
        assert_eq!(entry.data, data(entry.entry_id));
    }
    entries.iter().map(|e| e.entry_id).collect()
}

#[test]
fn groups_the_journal_lost_are_replayed_from_the_segments() {
    let mut writes: Vec<_> = (1..10).map(|id| vec![append(id)]).collect();
    writes.push(vec![WriteOp::Sequence {
        ledger_id: 1,
        producer: "p".into(),
        sequence_id: 42,
    }]);
    writes.push(vec![WriteOp::Trim {
        ledger_id: 1,
        before_entry: 2,
    }]);
    let image = crash_image(writes);
    let s = Storage::open(image.path(), config()).unwrap();
    // Nine groups of 16 KiB crossed two segment boundaries.
    assert_eq!(ids(&s), (2..10).collect::<Vec<_>>());
    assert_eq!(s.load_sequences(1).unwrap().get("p"), Some(&42));
    s.write(vec![append(10)]).unwrap();
    drop(s);
    let s = Storage::open(image.path(), config()).unwrap();
    assert_eq!(ids(&s), (2..11).collect::<Vec<_>>());
}

#[test]
fn replay_stops_at_a_torn_group_and_the_log_goes_on_after_it() {
    let writes = (1..4).map(|id| vec![append(id)]).collect();
    let image = crash_image(writes);
    // Damage the last group (entry 3, whose payload bytes are 3s; zeros written ahead of
    // the log may follow it).
    let newest = newest_segment(image.path());
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&newest)
        .unwrap();
    let bytes = std::fs::read(&newest).unwrap();
    let last = bytes.iter().rposition(|b| *b == 3).unwrap() as u64;
    file.write_all_at(&[3 ^ 0xff], last).unwrap();
    let s = Storage::open(image.path(), config()).unwrap();
    assert_eq!(ids(&s), vec![0, 1, 2]);
    // The groups after the restart are found again, past the torn one.
    let image = crash_after(&s, image.path(), vec![vec![append(3)], vec![append(4)]]);
    let s = Storage::open(image.path(), config()).unwrap();
    assert_eq!(ids(&s), vec![0, 1, 2, 3, 4]);
}

fn newest_segment(dir: &Path) -> std::path::PathBuf {
    std::fs::read_dir(dir.join("payloads"))
        .unwrap()
        .map(|item| item.unwrap().path())
        .filter(|path| path.extension().is_some_and(|e| e == "seg"))
        .max()
        .unwrap()
}

#[test]
fn zeros_written_ahead_of_the_log_read_as_its_end() {
    let config = StorageConfig {
        payload_segment_bytes: 4 * 1024 * 1024,
        ..config()
    };
    let live = tempfile::tempdir().unwrap();
    let s = Storage::open(live.path(), config.clone()).unwrap();
    s.write(vec![append(0)]).unwrap();
    // The runway thread zeroes ahead of the write position once the segment is in use.
    let segment = newest_segment(live.path());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while std::fs::metadata(&segment).unwrap().len() < 256 * 1024 {
        assert!(
            std::time::Instant::now() < deadline,
            "no runway was written"
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let image = crash_after(&s, live.path(), vec![vec![append(1)], vec![append(2)]]);
    let bytes = std::fs::read(newest_segment(image.path())).unwrap();
    assert!(bytes.ends_with(&[0; 4096]), "zeros follow the last group");
    let s = Storage::open(image.path(), config.clone()).unwrap();
    assert_eq!(ids(&s), vec![0, 1, 2]);
    s.write(vec![append(3)]).unwrap();
    drop(s);
    let s = Storage::open(image.path(), config).unwrap();
    assert_eq!(ids(&s), vec![0, 1, 2, 3]);
}

/// A group's fdatasync is timed for the committer's metrics; without fsync nothing is synced.
#[test]
fn write_timed_reports_the_log_sync() {
    let dir = tempfile::tempdir().unwrap();
    let s = Storage::open(dir.path(), config()).unwrap();
    assert!(s.write_timed(vec![append(0)]).unwrap() > std::time::Duration::ZERO);
    assert_eq!(
        s.write_timed(Vec::new()).unwrap(),
        std::time::Duration::ZERO
    );
    drop(s);
    let dir = tempfile::tempdir().unwrap();
    let unsynced = StorageConfig {
        fsync: false,
        ..config()
    };
    let s = Storage::open(dir.path(), unsynced).unwrap();
    assert_eq!(
        s.write_timed(vec![append(0)]).unwrap(),
        std::time::Duration::ZERO
    );
}
