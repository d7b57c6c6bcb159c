//! Syncs fjall's journal a little at a time, off the write path.
//!
//! With the write-ahead log on, fjall's journal is not synced per write (replay covers it).
//! Left alone, its dirty pages reach the disk when a memtable is sealed, where fjall syncs
//! the whole journal inside the write that rotated it (measured: a 16-20 ms write every
//! ~11 s at 10k msg/s), and in the kernel's own writeback bursts (30 s after they were
//! written; the suspect for log fdatasyncs of 38-60 ms that no fjall event explained).
//! Syncing the active
//! journal file every [`PERIOD`] keeps each of those small: with the runway on, 60 s at
//! 10k msg/s unbatched went from publish p99 2.2 to 1.6 ms. The file is synced through a
//! handle of our own: fjall's `persist` would hold the journal's lock, which every write
//! takes, for the whole sync.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::payloads::file_ids;
use super::worker::Worker;
use crate::error::StorageError;

/// How often the journal is synced.
const PERIOD: Duration = Duration::from_millis(50);
/// fjall's journal files: `<id>.jnl` in the data dir.
const JOURNAL_SUFFIX: &str = ".jnl";

/// Owns the journal-sync thread; dropping it stops and joins the thread.
pub(super) struct JournalSync(#[expect(dead_code, reason = "held to be dropped")] Worker<()>);

impl JournalSync {
    /// Starts syncing the newest journal file under `data_dir` every [`PERIOD`].
    pub(super) fn start(data_dir: &Path) -> Result<Self, StorageError> {
        let dir = data_dir.to_path_buf();
        let worker = Worker::ticking("geminga-journal", PERIOD, move || {
            let mut open: Option<(u64, File)> = None;
            let mut warned = false;
            move || {
                if let Err(e) = sync_newest(&dir, &mut open) {
                    // Only smoothness is lost: fjall still syncs the journal when it must.
                    if !warned {
                        tracing::warn!(error = %e, "syncing fjall's journal in the background failed");
                        warned = true;
                    }
                    open = None;
                }
                PERIOD
            }
        })?;
        Ok(Self(worker))
    }
}

/// Syncs the newest journal file, reusing the handle while it stays the newest.
fn sync_newest(dir: &Path, open: &mut Option<(u64, File)>) -> Result<(), StorageError> {
    let Some((id, path)) = newest_journal(dir)? else {
        return Ok(());
    };
    let file = match open.take() {
        Some((held, file)) if held == id => file,
        _ => File::open(path)?,
    };
    Ok(open.insert((id, file)).1.sync_data()?)
}

/// The journal file with the highest id in `dir` (fjall names them `<id>.jnl`).
fn newest_journal(dir: &Path) -> Result<Option<(u64, PathBuf)>, StorageError> {
    let newest = file_ids(dir, JOURNAL_SUFFIX)?.into_iter().max();
    Ok(newest.map(|id| (id, dir.join(format!("{id}{JOURNAL_SUFFIX}")))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_newest_journal_is_the_highest_id() {
        let dir = tempfile::tempdir().unwrap();
        assert!(newest_journal(dir.path()).unwrap().is_none());
        for name in ["2.jnl", "10.jnl", "9.jnl", "11.tmp", "x.jnl"] {
            std::fs::write(dir.path().join(name), b"").unwrap();
        }
        let (id, path) = newest_journal(dir.path()).unwrap().unwrap();
        assert_eq!((id, path), (10, dir.path().join("10.jnl")));
        let mut open = None;
        sync_newest(dir.path(), &mut open).unwrap();
        assert_eq!(open.map(|(id, _)| id), Some(10));
    }
}
