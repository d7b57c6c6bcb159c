//! Payload segments: the data of entries, written to disk once.
//!
//! fjall writes every value twice: into its journal, then into a blob or table file when the
//! memtable is flushed. For entries of at least `StorageConfig::payload_segment_min_bytes`
//! bytes (all of them, by default) the data goes to an append-only segment file instead,
//! and the entry's fjall value holds a [`PayloadRef`]
//! (segment, offset, length) after its header, so the payload costs one disk write and the
//! journal and flushes move ~60 bytes per entry. `Storage::write` fdatasyncs the segments it
//! wrote to before it commits the fjall batch: a reference that reaches the journal always
//! points at durable bytes. Bytes whose batch never committed (a crash, a failed write) are
//! referenced by nothing and go with their segment.
//!
//! A segment is deleted once every ledger that wrote to it has been trimmed past its last
//! entry there ([`Liveness`]). Which ledgers wrote to which segment is kept in the `system`
//! keyspace (`seg/` ++ segment ++ ledger -> highest entry id), in the same batch as the
//! appends, and rebuilt from there on open.

mod liveness;

use std::collections::{BTreeMap, HashMap};
use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::Duration;

use bytes::Bytes;
use fjall::Keyspace;

use crate::codec::Reader;
use crate::entry::PayloadRef;
use crate::error::StorageError;
pub(crate) use liveness::Liveness;

/// Bytes a segment shrinks by per synced step when it is deleted.
const DELETE_STEP_BYTES: u64 = 2 * 1024 * 1024;
/// Pause between those steps, so the broker's own syncs get the disk in between.
const DELETE_STEP_PAUSE: Duration = Duration::from_millis(5);
/// `system` keyspace prefix of the segment manifest.
pub(super) const SEGMENT_PREFIX: &[u8] = b"seg/";
const SEGMENT_SUFFIX: &str = ".seg";
/// Name of the segments' directory inside the data dir.
const DIR: &str = "payloads";

/// (segment, ledger) -> highest entry id written there by one batch.
pub(super) type SegmentSpans = BTreeMap<(u64, u64), u64>;

/// The payload segments of one data dir.
#[derive(Debug)]
pub(super) struct Payloads {
    dir: PathBuf,
    /// Size at which the active segment is closed and a new one started; 0: no new payloads
    /// go to segments (existing ones are still read).
    segment_bytes: u64,
    /// Entries with at least this much data go to a segment; smaller ones stay inline.
    min_bytes: usize,
    fsync: bool,
    state: Mutex<State>,
    /// Read handles, opened on first use.
    readers: RwLock<HashMap<u64, Arc<File>>>,
}

#[derive(Debug)]
struct State {
    active: Option<Active>,
    next_id: u64,
    /// Segments written to since the last sync: (id, handle).
    unsynced: Vec<(u64, Arc<File>)>,
    live: Liveness,
    /// Segments closed since the last committed batch: whether one is free can only be told
    /// once that batch's spans are recorded (it may have written to it before closing it).
    closed: Vec<u64>,
}

#[derive(Debug)]
struct Active {
    id: u64,
    file: Arc<File>,
    len: u64,
}

impl Payloads {
    /// Opens the segments under `data_dir` and rebuilds which ledgers need them from the
    /// manifest in `system`. Call [`Payloads::trimmed`] for every ledger in
    /// [`Payloads::ledgers`] afterwards, then delete [`Payloads::unheld_files`].
    pub(super) fn open(
        data_dir: &Path,
        segment_bytes: u64,
        min_bytes: usize,
        fsync: bool,
        system: &Keyspace,
    ) -> Result<Self, StorageError> {
        let dir = data_dir.join(DIR);
        std::fs::create_dir_all(&dir)?;
        let mut live = Liveness::default();
        for guard in system.prefix(SEGMENT_PREFIX) {
            let (key, value) = guard.into_inner()?;
            let (segment, ledger) = decode_manifest_key(&key)?;
            let max_entry = Reader::new(&value, "segment manifest").u64()?;
            live.record(segment, ledger, max_entry);
        }
        let on_disk = segment_ids(&dir)?;
        let newest = on_disk.iter().copied().chain(live.newest()).max();
        Ok(Self {
            dir,
            segment_bytes,
            min_bytes,
            fsync,
            state: Mutex::new(State {
                active: None,
                next_id: newest.map_or(0, |n| n + 1),
                unsynced: Vec::new(),
                live,
                closed: Vec::new(),
            }),
            readers: RwLock::new(HashMap::new()),
        })
    }

    /// Whether an entry of `len` data bytes goes to a segment.
    pub(super) fn takes(&self, len: usize) -> bool {
        self.segment_bytes > 0 && len >= self.min_bytes
    }

    /// Appends `data` to the active segment (starting a new one when it is full) and answers
    /// where it lies. Not durable until [`Payloads::sync`].
    pub(super) fn append(&self, data: &[u8]) -> Result<PayloadRef, StorageError> {
        let len = u32::try_from(data.len())
            .map_err(|_| StorageError::Io(std::io::Error::other("payload larger than 4 GiB")))?;
        let mut state = self.lock();
        let full = state
            .active
            .as_ref()
            .is_none_or(|a| a.len > 0 && a.len + u64::from(len) > self.segment_bytes);
        if full {
            self.roll(&mut state)?;
        }
        let State {
            active, unsynced, ..
        } = &mut *state;
        let Some(active) = active.as_mut() else {
            return Err(StorageError::Io(std::io::Error::other("no active segment")));
        };
        active.file.write_all_at(data, active.len)?;
        let payload = PayloadRef {
            segment: active.id,
            offset: active.len,
            len,
        };
        active.len += u64::from(len);
        if unsynced.last().is_none_or(|(id, _)| *id != active.id) {
            unsynced.push((active.id, active.file.clone()));
        }
        Ok(payload)
    }

    /// Closes the active segment (if any) and creates the next one, durably named.
    fn roll(&self, state: &mut State) -> Result<(), StorageError> {
        let id = state.next_id;
        let path = self.path(id);
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&path)?;
        if self.fsync {
            // The name must be durable before any reference to the file is.
            File::open(&self.dir)?.sync_all()?;
        }
        state.next_id = id + 1;
        let previous = state.active.replace(Active {
            id,
            file: Arc::new(file),
            len: 0,
        });
        state.closed.extend(previous.map(|p| p.id));
        Ok(())
    }

    /// Makes every append so far durable (fdatasync of each segment written to), when fsync
    /// is configured.
    pub(super) fn sync(&self) -> Result<(), StorageError> {
        let unsynced = std::mem::take(&mut self.lock().unsynced);
        if !self.fsync {
            return Ok(());
        }
        for (i, (_, file)) in unsynced.iter().enumerate() {
            if let Err(e) = file.sync_data() {
                // Keep the rest for the next sync; this batch fails and references nothing.
                let mut state = self.lock();
                let mut rest = unsynced.get(i..).unwrap_or_default().to_vec();
                rest.append(&mut state.unsynced);
                state.unsynced = rest;
                return Err(e.into());
            }
        }
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
        Ok(segment_ids(&self.dir)?
            .into_iter()
            .filter(|id| !state.live.is_held(*id) && Some(*id) != active)
            .collect())
    }

    /// The payload `r` points at, or `None` when its segment is gone (deleted after a trim).
    pub(super) fn read(&self, r: PayloadRef) -> Result<Option<Bytes>, StorageError> {
        let Some(file) = self.reader(r.segment)? else {
            return Ok(None);
        };
        let mut buf = vec![0; r.len as usize];
        match file.read_exact_at(&mut buf, r.offset) {
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
        if let Some(file) = readers.get(&segment) {
            return Ok(Some(file.clone()));
        }
        drop(readers);
        let file = match File::open(self.path(segment)) {
            Ok(file) => Arc::new(file),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        let mut readers = self.readers.write().unwrap_or_else(PoisonError::into_inner);
        Ok(Some(readers.entry(segment).or_insert(file).clone()))
    }

    /// Deletes a free segment's file and forgets its read handle. The file is shrunk a step
    /// at a time before it is unlinked: on a file system mounted with `discard`, unlinking
    /// 256 MiB frees and discards it all in one journal commit, and every fdatasync in the
    /// process waits behind that (a 39 ms stall measured here). Each step's commit stalls
    /// the others in proportion to its size: at 10k msg/s, deleting a segment in 16 MiB steps
    /// (10 ms apart) slowed 20-23 of the broker's fdatasyncs past 3 ms (up to 12 ms), in 2 MiB
    /// steps (5 ms apart) 1-4 (up to 8 ms); a segment then takes ~0.85 s to delete.
    /// A reader still holding the file reads short, which counts as a missing segment.
    pub(super) fn delete(&self, segment: u64) -> Result<(), StorageError> {
        self.readers
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&segment);
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
        self.dir.join(format!("{segment:020}{SEGMENT_SUFFIX}"))
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

/// Ids of the segment files in `dir`.
fn segment_ids(dir: &Path) -> Result<Vec<u64>, StorageError> {
    let mut ids = Vec::new();
    for item in std::fs::read_dir(dir)? {
        let name = item?.file_name();
        if let Some(id) = name
            .to_str()
            .and_then(|n| n.strip_suffix(SEGMENT_SUFFIX))
            .and_then(|n| n.parse().ok())
        {
            ids.push(id);
        }
    }
    Ok(ids)
}

#[cfg(test)]
mod tests;
