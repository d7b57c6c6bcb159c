//! Payload segments: the data of entries, written to disk once, and the write-ahead log.
//!
//! fjall writes every value twice: into its journal, then into a blob or table file when the
//! memtable is flushed. For entries of at least `StorageConfig::payload_segment_min_bytes`
//! bytes (all of them, by default) the data goes to an append-only segment file instead,
//! and the entry's fjall value holds a [`PayloadRef`]
//! (segment, offset, length) after its header, so the payload costs one disk write and the
//! journal and flushes move ~60 bytes per entry. Each `Storage::write` is one group in the
//! active segment (see `super::wal`): its payloads, a record of its fjall changes and a
//! header, made durable by one fdatasync before the fjall batch is applied. Bytes of a group
//! that never finished are referenced by nothing and go with their segment.
//!
//! A segment is retired once every ledger that wrote to it has been trimmed past its last
//! entry there ([`Liveness`]). Which ledgers wrote to which segment is kept in the `system`
//! keyspace (`seg/` ++ segment ++ ledger -> highest entry id), in the same batch as the
//! appends, and rebuilt from there on open. A retired segment is kept as a spare (up to
//! [`SPARE_SEGMENTS`]) and renamed into the next new segment: overwriting blocks a file
//! already has spares each fdatasync the block allocation, and the deletion (see
//! [`Payloads::delete`]). A fresh segment gets the same from the [`runway`]: zeros
//! written ahead of the writer.

mod gather;
mod liveness;
pub(super) mod runway;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fs::{File, OpenOptions};
use std::io::IoSlice;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::{Duration, Instant};

use bytes::Bytes;
use fjall::Keyspace;

use super::wal::{Header, LogPos, HEADER_LEN};
use crate::codec::Reader;
use crate::entry::PayloadRef;
use crate::error::StorageError;
pub(crate) use liveness::Liveness;

/// Bytes a segment shrinks by per synced step when it is deleted.
const DELETE_STEP_BYTES: u64 = 2 * 1024 * 1024;
/// Pause between those steps, so the broker's own syncs get the disk in between.
const DELETE_STEP_PAUSE: Duration = Duration::from_millis(5);
/// Retired segments kept for reuse; more are deleted. Two cover a steady stream whose
/// segments are freed about as fast as new ones are started.
pub(super) const SPARE_SEGMENTS: usize = 2;
/// `system` keyspace prefix of the segment manifest.
pub(super) const SEGMENT_PREFIX: &[u8] = b"seg/";
const SEGMENT_SUFFIX: &str = ".seg";
const SPARE_SUFFIX: &str = ".spare";
/// Name of the segments' directory inside the data dir.
const DIR: &str = "payloads";

/// (segment, ledger) -> highest entry id written there by one batch.
pub(super) type SegmentSpans = BTreeMap<(u64, u64), u64>;

/// The payload segments of one data dir.
#[derive(Debug)]
pub(super) struct Payloads {
    dir: PathBuf,
    /// Size from which the next group starts a new segment; 0: no new payloads go to
    /// segments (existing ones are still read) and there is no write-ahead log.
    segment_bytes: u64,
    /// Entries with at least this much data go to a segment; smaller ones stay inline.
    min_bytes: usize,
    fsync: bool,
    state: Mutex<State>,
    readers: RwLock<Readers>,
}

#[derive(Debug)]
struct State {
    active: Option<Active>,
    next_id: u64,
    /// The group being written, if any.
    group: Option<OpenGroup>,
    /// Sequence number of the last group written.
    seq: u64,
    /// Set by a failed fdatasync: no more groups in this process.
    poisoned: Option<String>,
    /// Retired segment files kept for reuse, by their old id.
    spares: Vec<u64>,
    live: Liveness,
    /// Segments closed since the last committed batch: whether one is free can only be told
    /// once that batch's spans are recorded.
    closed: Vec<u64>,
}

#[derive(Debug)]
struct Active {
    id: u64,
    file: Arc<File>,
    len: u64,
    /// Below this every block of the file has been written (a spare's whole length, or
    /// the [`runway`]'s zeros): groups there overwrite.
    zeroed: u64,
}

#[derive(Debug)]
struct OpenGroup {
    /// Where its header goes.
    header_at: u64,
    /// CRC-32C of its payloads so far.
    crc: u32,
    /// Its payloads, in order, written together with the header and record when the group
    /// ends (one `pwritev` instead of a `pwrite` per payload).
    payloads: Vec<Bytes>,
}

/// Read handles, opened on first use, and the segments retired since open: a handle taken
/// before a retirement must not read the file's next life.
#[derive(Debug, Default)]
struct Readers {
    open: HashMap<u64, Arc<File>>,
    retired: HashSet<u64>,
}

impl Payloads {
    /// Opens the segments under `data_dir` and rebuilds which ledgers need them from the
    /// manifest in `system`. Call [`Payloads::trimmed`] for every ledger in
    /// [`Payloads::ledgers`] afterwards, then retire [`Payloads::unheld_files`].
    pub(super) fn open(
        data_dir: &Path,
        segment_bytes: u64,
        min_bytes: usize,
        fsync: bool,
        system: &Keyspace,
    ) -> Result<Self, StorageError> {
        let dir = payload_dir(data_dir);
        std::fs::create_dir_all(&dir)?;
        let mut live = Liveness::default();
        for guard in system.prefix(SEGMENT_PREFIX) {
            let (key, value) = guard.into_inner()?;
            let (segment, ledger) = decode_manifest_key(&key)?;
            let max_entry = Reader::new(&value, "segment manifest").u64()?;
            live.record(segment, ledger, max_entry);
        }
        let on_disk = file_ids(&dir, SEGMENT_SUFFIX)?;
        let spares = file_ids(&dir, SPARE_SUFFIX)?;
        let newest = on_disk.iter().copied().chain(live.newest()).max();
        Ok(Self {
            dir,
            segment_bytes,
            min_bytes,
            fsync,
            state: Mutex::new(State {
                active: None,
                next_id: newest.map_or(0, |n| n + 1),
                group: None,
                seq: 0,
                poisoned: None,
                spares,
                live,
                closed: Vec::new(),
            }),
            readers: RwLock::new(Readers::default()),
        })
    }

    /// Whether writes go through the log (segments are on).
    pub(super) fn logs(&self) -> bool {
        self.segment_bytes > 0
    }

    /// Continues the log after `last` (from replay): answers where the next group will start,
    /// to be stored durably before any group is written.
    pub(super) fn resume_log(&self, last: LogPos) -> LogPos {
        let mut state = self.lock();
        state.seq = last.seq;
        LogPos {
            seq: last.seq,
            segment: state.next_id,
            offset: 0,
        }
    }

    /// Whether an entry of `len` data bytes goes to a segment.
    pub(super) fn takes(&self, len: usize) -> bool {
        self.logs() && len >= self.min_bytes
    }

    /// Starts a group, in a new segment when the active one is full. Groups never span
    /// segments, so one fdatasync covers a group and replay finds the next one either right
    /// after it or at the start of the next segment.
    pub(super) fn begin_group(&self) -> Result<(), StorageError> {
        let mut state = self.lock();
        if let Some(detail) = &state.poisoned {
            return Err(StorageError::LogPoisoned {
                detail: detail.clone(),
            });
        }
        let full = state
            .active
            .as_ref()
            .is_none_or(|a| a.len >= self.segment_bytes);
        if full {
            self.roll(&mut state)?;
        }
        let State { active, group, .. } = &mut *state;
        let Some(active) = active.as_mut() else {
            return Err(StorageError::Io(std::io::Error::other("no active segment")));
        };
        *group = Some(OpenGroup {
            header_at: active.len,
            crc: 0,
            payloads: Vec::new(),
        });
        active.len += HEADER_LEN;
        Ok(())
    }

    /// Adds `data` to the open group and answers where it will lie; it is written when the
    /// group ends.
    pub(super) fn append(&self, data: &Bytes) -> Result<PayloadRef, StorageError> {
        let len = u32::try_from(data.len())
            .map_err(|_| StorageError::Io(std::io::Error::other("payload larger than 4 GiB")))?;
        let mut state = self.lock();
        let State { active, group, .. } = &mut *state;
        let (Some(active), Some(group)) = (active.as_mut(), group.as_mut()) else {
            return Err(StorageError::Io(std::io::Error::other("no open group")));
        };
        group.crc = crc32c::crc32c_append(group.crc, data);
        group.payloads.push(data.clone());
        let payload = PayloadRef {
            segment: active.id,
            offset: active.len,
            len,
        };
        active.len += u64::from(len);
        Ok(payload)
    }

    /// Ends the open group with `record` (its fjall changes) and makes it durable (when
    /// fsync is configured); answers the log position after it and the time its fdatasync
    /// took (zero without fsync).
    ///
    /// # Errors
    /// A failed write drops the group (the next one starts where it did); a failed
    /// fdatasync poisons the log.
    pub(super) fn finish_group(&self, record: &[u8]) -> Result<(LogPos, Duration), StorageError> {
        let mut state = self.lock();
        let State {
            active, group, seq, ..
        } = &mut *state;
        let (Some(active), Some(open)) = (active.as_mut(), group.take()) else {
            return Err(StorageError::Io(std::io::Error::other("no open group")));
        };
        let payload_len = active.len - open.header_at - HEADER_LEN;
        let header = Header::new(*seq + 1, payload_len, open.crc, record).encode();
        // Header, payloads and record lie back to back from `header_at`.
        let mut slices = Vec::with_capacity(open.payloads.len() + 2);
        slices.push(IoSlice::new(&header));
        slices.extend(open.payloads.iter().map(|p| IoSlice::new(p)));
        slices.push(IoSlice::new(record));
        if let Err(e) = gather::write_all_at(&active.file, &mut slices, open.header_at) {
            active.len = open.header_at;
            return Err(e.into());
        }
        active.len += record.len() as u64;
        *seq += 1;
        let pos = LogPos {
            seq: *seq,
            segment: active.id,
            offset: active.len,
        };
        let file = active.file.clone();
        drop(state);
        if !self.fsync {
            return Ok((pos, Duration::ZERO));
        }
        let syncing = Instant::now();
        self.sync_log(&file, || format!("segment {}", pos.segment))?;
        Ok((pos, syncing.elapsed()))
    }

    /// fdatasyncs a file of the log; a failure poisons the log for the process (the kernel
    /// may have dropped the dirty pages and reports the error once), naming `what` failed.
    fn sync_log(&self, file: &File, what: impl FnOnce() -> String) -> Result<(), StorageError> {
        file.sync_data().map_err(|e| {
            let detail = format!("{}: {e}", what());
            tracing::error!(%detail, "fdatasync of the write-ahead log failed");
            self.lock().poisoned = Some(detail.clone());
            StorageError::LogPoisoned { detail }
        })
    }

    /// One step of the [`runway`]: writes the zeros `pacer` asks for ahead of the write
    /// position, from `zeros`, and syncs them. Answers whether it wrote anything.
    ///
    /// # Errors
    /// A failed write; a failed sync also poisons the log, since it may have taken the
    /// error a group's own fdatasync of the same file would have seen.
    fn extend_runway(&self, pacer: &mut runway::Pacer, zeros: &[u8]) -> Result<bool, StorageError> {
        let mut state = self.lock();
        if state.poisoned.is_some() {
            return Ok(false);
        }
        let Some(active) = state.active.as_mut() else {
            return Ok(false);
        };
        let view = runway::View {
            segment: active.id,
            len: active.len,
            zeroed: active.zeroed,
            limit: self.segment_bytes,
        };
        let Some(range) = pacer.next(view, Instant::now()) else {
            return Ok(false);
        };
        let want = usize::try_from(range.end - range.start).unwrap_or(usize::MAX);
        let chunk = zeros.get(..want).unwrap_or(zeros);
        // Under the lock: the writer only writes at or past `len`, which the range starts
        // after, and not while this runs.
        active.file.write_all_at(chunk, range.start)?;
        active.zeroed = range.start + chunk.len() as u64;
        let (file, segment) = (active.file.clone(), active.id);
        drop(state);
        self.sync_log(&file, || format!("segment {segment} (zeroing ahead)"))?;
        Ok(true)
    }

    /// Drops the open group (staging failed): the next group starts where it did.
    pub(super) fn abort_group(&self) {
        let mut state = self.lock();
        let State { active, group, .. } = &mut *state;
        if let (Some(active), Some(open)) = (active.as_mut(), group.take()) {
            active.len = open.header_at;
        }
    }

    /// Closes the active segment (if any) and starts the next one, from a spare if there is
    /// one, durably named.
    fn roll(&self, state: &mut State) -> Result<(), StorageError> {
        let id = state.next_id;
        let path = self.path(id);
        if let Some(spare) = state.spares.pop() {
            if let Err(e) = std::fs::rename(self.spare_path(spare), &path) {
                tracing::warn!(spare, error = %e, "reusing a spare segment failed");
            }
        }
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)?;
        // A spare was written through to its length, and synced before it was retired.
        let zeroed = file.metadata()?.len();
        if self.fsync {
            // The name must be durable before any reference to the file is.
            File::open(&self.dir)?.sync_all()?;
        }
        state.next_id = id + 1;
        let previous = state.active.replace(Active {
            id,
            file: Arc::new(file),
            len: 0,
            zeroed,
        });
        state.closed.extend(previous.map(|p| p.id));
        Ok(())
    }

    /// Records the spans of a committed batch; answers the segments it closed that no ledger
    /// needs (every ledger in them was trimmed past them while they were being written).
    pub(super) fn committed(&self, spans: &SegmentSpans) -> Vec<u64> {
        let mut state = self.lock();
        for (&(segment, ledger), &max_entry) in spans {
            state.live.record(segment, ledger, max_entry);
        }
        let State { closed, live, .. } = &mut *state;
        closed.drain(..).filter(|s| !live.is_held(*s)).collect()
    }

    /// `ledger` no longer needs entries below `before`: answers the closed segments nobody
    /// needs any more (the active one is looked at again when it is closed).
    pub(super) fn trimmed(&self, ledger: u64, before: u64) -> Vec<u64> {
        let mut state = self.lock();
        let active = state.active.as_ref().map(|a| a.id);
        let freed = state.live.trimmed(ledger, before);
        freed.into_iter().filter(|s| Some(*s) != active).collect()
    }

    /// Ledgers with entries in some segment (after open: each needs its trim floor applied).
    pub(super) fn ledgers(&self) -> Vec<u64> {
        self.lock().live.ledgers()
    }

    /// Segment files no ledger needs (orphans of a crash, or freed before a restart).
    pub(super) fn unheld_files(&self) -> Result<Vec<u64>, StorageError> {
        let state = self.lock();
        let active = state.active.as_ref().map(|a| a.id);
        Ok(file_ids(&self.dir, SEGMENT_SUFFIX)?
            .into_iter()
            .filter(|id| !state.live.is_held(*id) && Some(*id) != active)
            .collect())
    }

    /// The payload `r` points at, or `None` when its segment is gone (retired after a trim).
    pub(super) fn read(&self, r: PayloadRef) -> Result<Option<Bytes>, StorageError> {
        let Some(file) = self.reader(r.segment)? else {
            return Ok(None);
        };
        let mut buf = vec![0; r.len as usize];
        match file.read_exact_at(&mut buf, r.offset) {
            // Retired while this handle was held: what was read may be its next life.
            Ok(()) if self.is_retired(r.segment) => Ok(None),
            Ok(()) => Ok(Some(Bytes::from(buf))),
            // Shrunk by `delete` while this handle was held: gone, as a deleted file.
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => Ok(None),
            Err(e) => Err(StorageError::corrupt(
                "payload segment",
                format!("{r:?}: {e}"),
            )),
        }
    }

    fn reader(&self, segment: u64) -> Result<Option<Arc<File>>, StorageError> {
        let readers = self.readers.read().unwrap_or_else(PoisonError::into_inner);
        if let Some(file) = readers.open.get(&segment) {
            return Ok(Some(file.clone()));
        }
        drop(readers);
        let file = match File::open(self.path(segment)) {
            Ok(file) => Arc::new(file),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        let mut readers = self.readers.write().unwrap_or_else(PoisonError::into_inner);
        if readers.retired.contains(&segment) {
            return Ok(None);
        }
        Ok(Some(readers.open.entry(segment).or_insert(file).clone()))
    }

    /// Drops the segment's read handle; reads through handles taken earlier answer `None`.
    fn forget(&self, segment: u64) {
        let mut readers = self.readers.write().unwrap_or_else(PoisonError::into_inner);
        readers.open.remove(&segment);
        readers.retired.insert(segment);
    }

    fn is_retired(&self, segment: u64) -> bool {
        let readers = self.readers.read().unwrap_or_else(PoisonError::into_inner);
        readers.retired.contains(&segment)
    }

    /// Retires a segment nobody needs: keeps its file as a spare for the next new segment,
    /// or deletes it when there are spares enough. Call it only once the fjall journal is
    /// durable past every group in it (replay never goes back that far).
    pub(super) fn retire(&self, segment: u64) -> Result<(), StorageError> {
        let mut state = self.lock();
        if self.logs() && state.spares.len() < SPARE_SEGMENTS {
            self.forget(segment);
            match std::fs::rename(self.path(segment), self.spare_path(segment)) {
                Ok(()) => {
                    state.spares.push(segment);
                    return Ok(());
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
                Err(e) => return Err(e.into()),
            }
        }
        drop(state);
        self.delete(segment)
    }

    /// Deletes a free segment's file. The file is shrunk a step
    /// at a time before it is unlinked: on a file system mounted with `discard`, unlinking
    /// 256 MiB frees and discards it all in one journal commit, and every fdatasync in the
    /// process waits behind that (a 39 ms stall measured here). Each step's commit stalls
    /// the others in proportion to its size: at 10k msg/s, deleting a segment in 16 MiB steps
    /// (10 ms apart) slowed 20-23 of the broker's fdatasyncs past 3 ms (up to 12 ms), in 2 MiB
    /// steps (5 ms apart) 1-4 (up to 8 ms); a segment then takes ~0.85 s to delete.
    /// A reader still holding the file reads short, which counts as a missing segment.
    pub(super) fn delete(&self, segment: u64) -> Result<(), StorageError> {
        self.forget(segment);
        let path = self.path(segment);
        let file = match OpenOptions::new().write(true).open(&path) {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(e.into()),
        };
        let mut len = file.metadata()?.len();
        while len > 0 {
            len = len.saturating_sub(DELETE_STEP_BYTES);
            file.set_len(len)?;
            // Commits this step's freed blocks on its own.
            file.sync_all()?;
            if len > 0 {
                std::thread::sleep(DELETE_STEP_PAUSE);
            }
        }
        match std::fs::remove_file(path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e.into()),
            _ => Ok(()),
        }
    }

    /// Bytes of the segment files on disk (0 if the directory cannot be read).
    pub(super) fn disk_bytes(&self) -> u64 {
        let Ok(items) = std::fs::read_dir(&self.dir) else {
            return 0;
        };
        items
            .filter_map(|item| item.ok()?.metadata().ok())
            .map(|meta| meta.len())
            .sum()
    }

    fn path(&self, segment: u64) -> PathBuf {
        segment_path(&self.dir, segment)
    }

    fn spare_path(&self, segment: u64) -> PathBuf {
        self.dir.join(format!("{segment:020}{SPARE_SUFFIX}"))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// `seg/` ++ segment ++ ledger.
pub(super) fn manifest_key(segment: u64, ledger: u64) -> Vec<u8> {
    let mut key = manifest_prefix(segment);
    key.extend_from_slice(&ledger.to_be_bytes());
    key
}

/// `seg/` ++ segment: every manifest key of one segment.
pub(super) fn manifest_prefix(segment: u64) -> Vec<u8> {
    let mut key = SEGMENT_PREFIX.to_vec();
    key.extend_from_slice(&segment.to_be_bytes());
    key
}

fn decode_manifest_key(key: &[u8]) -> Result<(u64, u64), StorageError> {
    let mut r = Reader::new(
        key.get(SEGMENT_PREFIX.len()..).unwrap_or_default(),
        "segment manifest key",
    );
    let ids = (r.u64()?, r.u64()?);
    r.finish()?;
    Ok(ids)
}

/// The directory of a data dir's segments.
pub(super) fn payload_dir(data_dir: &Path) -> PathBuf {
    data_dir.join(DIR)
}

/// The file of a segment in `payload_dir`.
pub(super) fn segment_path(payload_dir: &Path, segment: u64) -> PathBuf {
    payload_dir.join(format!("{segment:020}{SEGMENT_SUFFIX}"))
}

/// Ids of the files in `dir` named `<id><suffix>`.
pub(super) fn file_ids(dir: &Path, suffix: &str) -> Result<Vec<u64>, StorageError> {
    let mut ids = Vec::new();
    for item in std::fs::read_dir(dir)? {
        let name = item?.file_name();
        if let Some(id) = name
            .to_str()
            .and_then(|n| n.strip_suffix(suffix))
            .and_then(|n| n.parse().ok())
        {
            ids.push(id);
        }
    }
    Ok(ids)
}

#[cfg(test)]
mod tests;
