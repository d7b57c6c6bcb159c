//! `write`: staging a list of `WriteOp`s into one atomic fjall batch.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::PoisonError;
use std::time::Duration;

use super::payloads::{manifest_key, SegmentSpans};
use super::purge::marker_key;
use super::sequences::{ledger_sequences_prefix, sequence_key};
use super::topics::{system_key, TRIM_PREFIX};
use super::wal::{encode_ops, Op, Space, POS_KEY};
use super::Storage;
use crate::cursor::{decode_cursor_header, CursorUpdate};
use crate::entry::{encode_external, encode_value, Entry, HEADER_LEN};
use crate::error::StorageError;
use crate::keys::{
    cursor_key, cursor_prefix, delayed_key, delayed_prefix, entry_key, CursorPart, ENTRY_KEY_LEN,
};

/// One change to durable state. A `Vec<WriteOp>` given to [`Storage::write`] is applied
/// atomically; when two ops touch the same key, the later one wins.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum WriteOp {
    /// Stores an entry at `(ledger_id, entry.entry_id)`. An entry below the ledger's trim
    /// watermark ([`Storage::trimmed_before`]) fails the write with
    /// [`StorageError::AppendBelowTrim`] (it could never be read); one for a deleted topic's
    /// ledger is silently dropped.
    Append {
        /// The topic's ledger.
        ledger_id: u64,
        /// The entry; its id must be the next one of the log.
        entry: Entry,
    },
    /// Persists a cursor's changes (from [`crate::Cursor::take_update`]), its delayed-index
    /// keys included, in the same atomic batch.
    Cursor {
        /// The topic's ledger.
        ledger_id: u64,
        /// The changes.
        update: CursorUpdate,
    },
    /// Removes a subscription's cursor entirely; its delayed-index keys are purged in the
    /// background.
    DeleteCursor {
        /// The topic's ledger.
        ledger_id: u64,
        /// The subscription name.
        name: String,
    },
    /// Deletes every entry with id `< before_entry` (retention). Costs one tombstone per
    /// deleted entry, all in this batch, so trim in steps as cursors advance rather than
    /// millions of entries at once.
    Trim {
        /// The topic's ledger.
        ledger_id: u64,
        /// First id to keep.
        before_entry: u64,
    },
    /// Records the highest sequence id stored for a producer name (message deduplication);
    /// put it in the same write as the appends it covers. Read back with
    /// [`Storage::load_sequences`]; removed with the topic.
    Sequence {
        /// The topic's ledger.
        ledger_id: u64,
        /// The producer name.
        producer: String,
        /// Its highest sequence id stored.
        sequence_id: i64,
    },
    /// Forgets every producer's sequence id of a ledger (deduplication turned off).
    ClearSequences {
        /// The topic's ledger.
        ledger_id: u64,
    },
}

/// Everything one `write` will commit, with later ops already overriding earlier ones.
#[derive(Default)]
struct Staged {
    /// Entry key -> encoded value.
    appends: BTreeMap<[u8; ENTRY_KEY_LEN], Vec<u8>>,
    /// Ledger -> stored ids `from..to` to tombstone.
    trims: BTreeMap<u64, (u64, u64)>,
    /// Ledger -> new trim watermark.
    watermarks: BTreeMap<u64, u64>,
    /// Cursor key -> new value, or `None` to delete.
    cursors: BTreeMap<Vec<u8>, Option<Vec<u8>>>,
    /// Delayed-index key -> add (`true`) or remove.
    delayed: BTreeMap<Vec<u8>, bool>,
    /// Delayed-key prefixes orphaned by this batch: a durable purge marker each.
    orphaned: BTreeSet<Vec<u8>>,
    /// Ledger -> next data offset after this batch.
    offsets: HashMap<u64, u64>,
    /// System key -> new value, or `None` to delete (producer sequence records).
    system: BTreeMap<Vec<u8>, Option<Vec<u8>>>,
    /// Payload segments written to by this batch, per ledger, with the highest entry id.
    segments: SegmentSpans,
}

impl Storage {
    /// Applies `ops` atomically (all or nothing) and makes them visible to reads at once.
    /// With payload segments on (the default) the write is one group of the write-ahead log
    /// and durable on return (one fdatasync, when fsync is configured); with them off it is
    /// durable at the next [`Storage::sync`] (group commit: many writes, one sync).
    ///
    /// # Errors
    /// An injected fault, an entry too large, an oversized subscription name, or a storage
    /// failure; nothing is applied in any of these cases.
    pub fn write(&self, ops: Vec<WriteOp>) -> Result<(), StorageError> {
        self.write_timed(ops).map(|_| ())
    }

    /// [`Storage::write`], answering how long the write-ahead log's fdatasync took (zero
    /// when nothing was synced: fsync off, payload segments off, or no ops), so the group
    /// committer can report where a durable write's time goes.
    ///
    /// # Errors
    /// As [`Storage::write`].
    pub fn write_timed(&self, ops: Vec<WriteOp>) -> Result<Duration, StorageError> {
        self.inner.faults.check_write()?;
        if ops.is_empty() {
            return Ok(Duration::ZERO);
        }
        // Held until commit so entry offsets are handed out in commit order.
        let mut offsets = self
            .inner
            .offsets
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let logs = self.inner.payloads.logs();
        if logs {
            self.inner.payloads.begin_group()?;
        }
        let mut staged = Staged::default();
        if let Err(e) = self.stage_all(&mut staged, &offsets, ops) {
            if logs {
                self.inner.payloads.abort_group();
            }
            return Err(e);
        }
        let new_offsets = std::mem::take(&mut staged.offsets);
        let segments = staged.segments.clone();
        let watermarks: Vec<(u64, u64)> = staged.watermarks.iter().map(|(&l, &w)| (l, w)).collect();
        let orphaned = staged.orphaned.clone();
        let synced = self.commit(staged)?;
        for segment in self.inner.payloads.committed(&segments) {
            self.inner.reclaimer.retire_segment(segment);
        }
        offsets.extend(new_offsets);
        for prefix in orphaned {
            self.inner.purger.request(prefix);
        }
        for (ledger_id, before) in watermarks {
            self.set_trim_floor(ledger_id, before);
            self.inner.reclaimer.request(ledger_id, before);
        }
        Ok(synced)
    }

    /// Stages every op, in order, into `staged`.
    fn stage_all(
        &self,
        staged: &mut Staged,
        offsets: &HashMap<u64, u64>,
        ops: Vec<WriteOp>,
    ) -> Result<(), StorageError> {
        for op in ops {
            match op {
                WriteOp::Append { ledger_id, entry } => {
                    self.stage_append(staged, offsets, ledger_id, &entry)?;
                }
                WriteOp::Cursor { ledger_id, update } => {
                    self.stage_cursor(staged, ledger_id, update)?;
                }
                WriteOp::DeleteCursor { ledger_id, name } => {
                    let prefix = cursor_prefix(ledger_id, &name)?;
                    self.stage_cursor_delete(staged, &prefix, None)?;
                }
                WriteOp::Trim {
                    ledger_id,
                    before_entry,
                } => {
                    self.stage_trim(staged, ledger_id, before_entry)?;
                }
                WriteOp::Sequence {
                    ledger_id,
                    producer,
                    sequence_id,
                } => {
                    let key = sequence_key(ledger_id, &producer)?;
                    staged
                        .system
                        .insert(key, Some(sequence_id.to_be_bytes().to_vec()));
                }
                WriteOp::ClearSequences { ledger_id } => {
                    self.stage_clear_sequences(staged, ledger_id)?;
                }
            }
        }
        Ok(())
    }

    fn stage_append(
        &self,
        staged: &mut Staged,
        offsets: &HashMap<u64, u64>,
        ledger_id: u64,
        entry: &Entry,
    ) -> Result<(), StorageError> {
        let len = entry.data.len();
        if len.saturating_add(HEADER_LEN) > u32::MAX as usize {
            let entry_id = entry.entry_id;
            return Err(StorageError::EntryTooLarge {
                ledger_id,
                entry_id,
                len,
            });
        }
        let trimmed_before = self.staged_trim_floor(staged, ledger_id)?;
        if entry.entry_id < trimmed_before {
            let entry_id = entry.entry_id;
            if trimmed_before == u64::MAX {
                // The topic was deleted while this append was in flight: nothing to keep.
                tracing::debug!(ledger_id, entry_id, "append to a deleted ledger dropped");
                return Ok(());
            }
            return Err(StorageError::AppendBelowTrim {
                ledger_id,
                entry_id,
                trimmed_before,
            });
        }
        let offset = match staged
            .offsets
            .get(&ledger_id)
            .or_else(|| offsets.get(&ledger_id))
        {
            Some(&offset) => offset,
            None => self.next_offset(ledger_id)?,
        };
        staged
            .offsets
            .insert(ledger_id, offset.saturating_add(len as u64));
        let value = if self.inner.payloads.takes(len) {
            let payload = self.inner.payloads.append(&entry.data)?;
            let max = staged
                .segments
                .entry((payload.segment, ledger_id))
                .or_default();
            *max = (*max).max(entry.entry_id);
            encode_external(&entry.meta, offset, payload)
        } else {
            encode_value(&entry.meta, offset, &entry.data)
        };
        staged
            .appends
            .insert(entry_key(ledger_id, entry.entry_id), value);
        Ok(())
    }

    fn stage_cursor(
        &self,
        staged: &mut Staged,
        ledger_id: u64,
        update: CursorUpdate,
    ) -> Result<(), StorageError> {
        let prefix = cursor_prefix(ledger_id, &update.name)?;
        if update.full {
            self.stage_cursor_delete(staged, &prefix, Some(update.incarnation))?;
        }
        if let Some(header) = update.header {
            staged
                .cursors
                .insert(cursor_key(&prefix, CursorPart::Header), Some(header));
        }
        for (idx, value) in update.chunks {
            staged
                .cursors
                .insert(cursor_key(&prefix, CursorPart::Chunk(idx)), value);
        }
        for (id, value) in update.batches {
            staged
                .cursors
                .insert(cursor_key(&prefix, CursorPart::Batch(id)), value);
        }
        for (idx, value) in update.deferred {
            staged
                .cursors
                .insert(cursor_key(&prefix, CursorPart::Deferred(idx)), value);
        }
        for (idx, value) in update.redeliveries {
            staged
                .cursors
                .insert(cursor_key(&prefix, CursorPart::Redeliveries(idx)), value);
        }
        for incarnation in update.orphaned {
            staged.orphaned.insert(delayed_prefix(&prefix, incarnation));
        }
        let current = delayed_prefix(&prefix, update.incarnation);
        for op in update.delayed {
            let key = delayed_key(&current, op.deliver_at_ms, op.entry_id);
            staged.delayed.insert(key, op.add);
        }
        Ok(())
    }

    /// Deletes every key under a cursor's prefix: staged ones and stored ones. The stored
    /// cursor's delayed keys are orphaned unless they belong to `keep_incarnation` (a full
    /// rewrite of the same cursor keeps its index).
    fn stage_cursor_delete(
        &self,
        staged: &mut Staged,
        prefix: &[u8],
        keep_incarnation: Option<u64>,
    ) -> Result<(), StorageError> {
        let staged_under = staged.cursors.range_mut(prefix.to_vec()..);
        for (_, value) in staged_under.take_while(|(k, _)| k.starts_with(prefix)) {
            *value = None;
        }
        let header_key = cursor_key(prefix, CursorPart::Header);
        if let Some(header) = self.inner.cursors.get(&header_key)? {
            let (_, stored_incarnation, _) = decode_cursor_header(&header)?;
            if keep_incarnation != Some(stored_incarnation) {
                staged
                    .orphaned
                    .insert(delayed_prefix(prefix, stored_incarnation));
            }
        }
        for guard in self.inner.cursors.prefix(prefix) {
            staged.cursors.insert(guard.key()?.to_vec(), None);
        }
        Ok(())
    }

    fn stage_trim(
        &self,
        staged: &mut Staged,
        ledger_id: u64,
        before: u64,
    ) -> Result<(), StorageError> {
        // Appends staged earlier in this batch below `before` are trimmed by simply not
        // writing them; later ones below it are refused by `stage_append`.
        let doomed: Vec<_> = staged
            .appends
            .range(entry_key(ledger_id, 0)..entry_key(ledger_id, before))
            .map(|(k, _)| *k)
            .collect();
        for key in doomed {
            staged.appends.remove(&key);
        }
        if let Some(bounds) = self.log_bounds(ledger_id)? {
            let to = before.min(bounds.last.saturating_add(1));
            if bounds.first < to {
                let range = staged.trims.entry(ledger_id).or_insert((bounds.first, to));
                range.1 = range.1.max(to);
            }
        }
        if before > self.staged_trim_floor(staged, ledger_id)? {
            staged.watermarks.insert(ledger_id, before);
        }
        Ok(())
    }

    /// Deletes every sequence record of a ledger: staged ones and stored ones.
    fn stage_clear_sequences(
        &self,
        staged: &mut Staged,
        ledger_id: u64,
    ) -> Result<(), StorageError> {
        let prefix = ledger_sequences_prefix(ledger_id);
        let staged_under = staged.system.range_mut(prefix.clone()..);
        for (_, value) in staged_under.take_while(|(k, _)| k.starts_with(&prefix)) {
            *value = None;
        }
        for guard in self.inner.system.prefix(&prefix) {
            staged.system.insert(guard.key()?.to_vec(), None);
        }
        Ok(())
    }

    /// The trim watermark as it will be once this batch commits.
    fn staged_trim_floor(&self, staged: &Staged, ledger_id: u64) -> Result<u64, StorageError> {
        match staged.watermarks.get(&ledger_id) {
            Some(&w) => Ok(w),
            None => self.trim_floor(ledger_id),
        }
    }

    /// Commits a staged batch: through the log when segments are on (durable on return),
    /// straight to fjall otherwise (durable at the next [`Storage::sync`]); answers the time
    /// the log's fdatasync took.
    fn commit(&self, staged: Staged) -> Result<Duration, StorageError> {
        let inner = &self.inner;
        let mut ops = staged.into_ops();
        let mut synced = Duration::ZERO;
        if inner.payloads.logs() {
            let record = encode_ops(&ops);
            // Durable before fjall hears of it: the journal never runs ahead of the log.
            let (pos, took) = inner.payloads.finish_group(&record)?;
            synced = took;
            ops.push(Op::Put(Space::System, POS_KEY.to_vec(), pos.encode()));
        }
        let mut batch = inner.db.batch();
        inner.spaces.apply(&mut batch, ops);
        batch.commit()?;
        Ok(synced)
    }
}

impl Staged {
    /// The fjall changes of the batch.
    fn into_ops(self) -> Vec<Op> {
        let mut ops = Vec::new();
        for (&(segment, ledger_id), &max_entry) in &self.segments {
            let key = manifest_key(segment, ledger_id);
            ops.push(Op::Put(
                Space::System,
                key,
                max_entry.to_be_bytes().to_vec(),
            ));
        }
        for (ledger_id, (from, to)) in self.trims {
            // No staged append lies in this range: appends below a trim point are dropped.
            ops.push(Op::DeleteEntries {
                ledger_id,
                from,
                to,
            });
        }
        for (ledger_id, watermark) in self.watermarks {
            let key = system_key(TRIM_PREFIX, ledger_id);
            ops.push(Op::Put(
                Space::System,
                key,
                watermark.to_be_bytes().to_vec(),
            ));
        }
        for (key, value) in self.appends {
            ops.push(Op::Put(Space::Entries, key.to_vec(), value));
        }
        let keyed = [(Space::Cursors, self.cursors), (Space::System, self.system)];
        for (space, changes) in keyed {
            for (key, value) in changes {
                ops.push(match value {
                    Some(value) => Op::Put(space, key, value),
                    None => Op::Delete(space, key),
                });
            }
        }
        for (key, add) in self.delayed {
            ops.push(if add {
                Op::Put(Space::Delayed, key, Vec::new())
            } else {
                Op::Delete(Space::Delayed, key)
            });
        }
        for prefix in &self.orphaned {
            ops.push(Op::Put(Space::System, marker_key(prefix), Vec::new()));
        }
        ops
    }
}
