//! `CursorUpdate`: the changes of a cursor since its last `take_update`, ready to write.

use std::mem::size_of;

use roaring::RoaringBitmap;

use super::codec::{encode_batch, encode_chunk, encode_header};
use super::{Cursor, Dirty};

/// The encoded changes of one cursor, written by `WriteOp::Cursor`.
///
/// Self-contained (owns its bytes) so it can be sent to the writer thread and retried.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CursorUpdate {
    pub(crate) name: String,
    /// Delete every stored key of this cursor before writing the rest.
    pub(crate) full: bool,
    /// The new header (floor and properties), if it changed.
    pub(crate) header: Option<Vec<u8>>,
    /// Chunk index -> new bitmap, or `None` to delete the chunk.
    pub(crate) chunks: Vec<(u64, Option<Vec<u8>>)>,
    /// Batch entry id -> new unacked set, or `None` to delete it.
    pub(crate) batches: Vec<(u64, Option<Vec<u8>>)>,
    /// The incarnation naming the cursor's delayed-index keys (see [`Cursor::incarnation`]).
    pub(crate) incarnation: u64,
    /// Deferred-bitmap chunk index -> new bitmap, or `None` to delete the chunk.
    pub(crate) deferred: Vec<(u64, Option<Vec<u8>>)>,
    /// Redelivery-count chunk index -> new counts, or `None` to delete the chunk.
    pub(crate) redeliveries: Vec<(u64, Option<Vec<u8>>)>,
    /// Delayed-index keys to add or remove under `incarnation`.
    pub(crate) delayed: Vec<DelayedOp>,
    /// Incarnations whose delayed-index keys storage purges in the background.
    pub(crate) orphaned: Vec<u64>,
}

/// One change to a cursor's delayed-delivery index.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DelayedOp {
    /// When the entry is due (epoch ms).
    pub deliver_at_ms: u64,
    /// The entry.
    pub entry_id: u64,
    /// `true` adds the key, `false` removes it.
    pub add: bool,
}

impl CursorUpdate {
    /// The subscription name.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whether this update replaces everything stored for the cursor.
    #[must_use]
    pub fn is_full(&self) -> bool {
        self.full
    }

    /// Whether this update rewrites the header (floor or properties changed).
    #[must_use]
    pub fn header_written(&self) -> bool {
        self.header.is_some()
    }

    /// Ack chunks (re)written by this update.
    #[must_use]
    pub fn chunks_written(&self) -> usize {
        self.chunks.iter().filter(|(_, v)| v.is_some()).count()
    }

    /// Ack chunks deleted by this update (they fell below the floor or emptied).
    #[must_use]
    pub fn chunks_deleted(&self) -> usize {
        self.chunks.iter().filter(|(_, v)| v.is_none()).count()
    }

    /// Delayed-index keys this update adds or removes.
    #[must_use]
    pub fn delayed_ops(&self) -> &[DelayedOp] {
        &self.delayed
    }

    /// Value bytes this update writes (header, chunks, batch sets, deferred bitmaps and
    /// redelivery counts; keys excluded).
    #[must_use]
    pub fn bytes_written(&self) -> usize {
        let parts = self
            .chunks
            .iter()
            .chain(&self.batches)
            .chain(&self.deferred)
            .chain(&self.redeliveries);
        self.header.as_ref().map_or(0, Vec::len)
            + parts
                .filter_map(|(_, v)| v.as_ref())
                .map(Vec::len)
                .sum::<usize>()
    }
}

/// Key bytes per stored part beyond the name: ledger id, name length, tag, index.
const KEY_OVERHEAD: usize = 8 + 2 + 1 + 8;
/// Rough per-node cost of a `BTreeMap` entry beyond its key and value.
const MAP_ENTRY_OVERHEAD: usize = 16;

impl Cursor {
    /// Hands out the changes since the last take (`None` if there are none) and starts
    /// tracking anew. If persisting the update fails, reload the cursor from storage: the
    /// delayed-index keys it carried cannot be rebuilt from memory (the times live only on
    /// disk), so [`Cursor::force_full_update`] alone would leave deferred entries without keys.
    pub fn take_update(&mut self) -> Option<CursorUpdate> {
        let dirty = std::mem::take(&mut self.dirty);
        if dirty.is_clean() {
            return None;
        }
        let chunk = |idx: u64| (idx, self.chunks.get(&idx).map(encode_chunk));
        let batch = |id: u64| (id, self.batches.get(&id).map(|set| encode_batch(set)));
        let deferred = |idx: u64| (idx, self.deferred.get(&idx).map(encode_chunk));
        let counts = |idx: u64| (idx, self.encode_redelivery_chunk(idx));
        let update = if dirty.full {
            CursorUpdate {
                chunks: self.chunks.keys().map(|&idx| chunk(idx)).collect(),
                batches: self.batches.keys().map(|&id| batch(id)).collect(),
                deferred: self.deferred.keys().map(|&idx| deferred(idx)).collect(),
                redeliveries: self.redelivery_chunks().map(counts).collect(),
                ..self.base_update(&dirty)
            }
        } else {
            CursorUpdate {
                chunks: dirty.chunks.iter().map(|&idx| chunk(idx)).collect(),
                batches: dirty.batches.iter().map(|&id| batch(id)).collect(),
                deferred: dirty.deferred.iter().map(|&idx| deferred(idx)).collect(),
                redeliveries: dirty.redeliveries.iter().map(|&idx| counts(idx)).collect(),
                ..self.base_update(&dirty)
            }
        };
        Some(update)
    }

    /// The parts of an update that do not depend on full versus incremental.
    fn base_update(&self, dirty: &Dirty) -> CursorUpdate {
        let header = (dirty.full || dirty.header)
            .then(|| encode_header(self.floor, self.incarnation, &self.properties));
        let delayed = dirty
            .delayed
            .iter()
            .map(|(&(deliver_at_ms, entry_id), &add)| DelayedOp {
                deliver_at_ms,
                entry_id,
                add,
            })
            .collect();
        CursorUpdate {
            name: self.name.clone(),
            full: dirty.full,
            header,
            chunks: Vec::new(),
            batches: Vec::new(),
            incarnation: self.incarnation,
            deferred: Vec::new(),
            redeliveries: Vec::new(),
            delayed,
            orphaned: dirty.orphaned.clone(),
        }
    }

    /// The redelivery chunks that hold at least one count.
    fn redelivery_chunks(&self) -> impl Iterator<Item = u64> + '_ {
        let mut last = None;
        self.redeliveries.keys().filter_map(move |&id| {
            let chunk = id >> super::redelivery::REDELIVERY_CHUNK_BITS;
            (last.replace(chunk) != Some(chunk)).then_some(chunk)
        })
    }

    /// Approximate bytes this cursor occupies in storage (values plus keys, before fjall's
    /// own compression and overhead).
    #[must_use]
    pub fn persisted_size_estimate(&self) -> usize {
        let key = KEY_OVERHEAD + self.name.len();
        let header = encode_header(self.floor, self.incarnation, &self.properties).len() + key;
        let chunks: usize = self
            .chunks
            .values()
            .chain(self.deferred.values())
            .map(|bm| bm.serialized_size() + key)
            .sum();
        let counts = self.redeliveries.len() * 6 + self.redelivery_chunks().count() * key;
        let batches: usize = self.batches.values().map(|set| set.len() * 8 + key).sum();
        header + chunks + batches + counts
    }

    /// Approximate heap and inline bytes held by this cursor.
    #[must_use]
    pub fn memory_size_estimate(&self) -> usize {
        let chunk_entry = size_of::<u64>() + size_of::<RoaringBitmap>() + MAP_ENTRY_OVERHEAD;
        // A roaring container's in-memory size is close to its serialized size.
        let chunks: usize = self
            .chunks
            .values()
            .chain(self.deferred.values())
            .map(|bm| bm.serialized_size() + chunk_entry)
            .sum();
        let counts = self.redeliveries.len() * (8 + 4 + MAP_ENTRY_OVERHEAD);
        let batch_entry = size_of::<u64>() + size_of::<Vec<i64>>() + MAP_ENTRY_OVERHEAD;
        let batches: usize = self
            .batches
            .values()
            .map(|set| set.len() * 8 + batch_entry)
            .sum();
        let props: usize = self
            .properties
            .iter()
            .map(|(k, v)| k.len() + v.len() + 2 * size_of::<String>() + MAP_ENTRY_OVERHEAD)
            .sum();
        let dirty = (self.dirty.chunks.len()
            + self.dirty.batches.len()
            + self.dirty.deferred.len()
            + self.dirty.redeliveries.len())
            * (8 + MAP_ENTRY_OVERHEAD)
            + self.dirty.delayed.len() * (17 + MAP_ENTRY_OVERHEAD);
        size_of::<Self>() + self.name.len() + chunks + batches + props + counts + dirty
    }
}
