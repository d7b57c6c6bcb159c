//! Encoding of a cursor's stored parts, and rebuilding a cursor from them.

use std::cmp::Ordering;
use std::collections::BTreeMap;

use bytes::Bytes;
use roaring::RoaringBitmap;

use super::redelivery::decode_redelivery_chunk;
use super::{split, Cursor, Dirty, CHUNK_SIZE};
use crate::codec::{put_string, Reader};
use crate::error::StorageError;

/// Version 1 had no incarnation (read as 0); version 2 adds it after the floor.
const HEADER_VERSION: u8 = 2;

/// The decoded header: floor, incarnation, properties.
pub(crate) type Header = (u64, u64, BTreeMap<String, String>);

/// Header value: version u8, floor u64, incarnation u64, property count u64, then (key, value)
/// strings.
pub(super) fn encode_header(
    floor: u64,
    incarnation: u64,
    properties: &BTreeMap<String, String>,
) -> Vec<u8> {
    let mut out = Vec::with_capacity(25 + properties.len() * 32);
    out.push(HEADER_VERSION);
    out.extend_from_slice(&floor.to_be_bytes());
    out.extend_from_slice(&incarnation.to_be_bytes());
    out.extend_from_slice(&(properties.len() as u64).to_be_bytes());
    for (k, v) in properties {
        put_string(&mut out, k);
        put_string(&mut out, v);
    }
    out
}

/// Decodes a stored cursor header (either version).
pub(crate) fn decode_header(value: &[u8]) -> Result<Header, StorageError> {
    const WHAT: &str = "cursor header";
    let mut r = Reader::new(value, WHAT);
    let version = r.u8()?;
    if version != 1 && version != HEADER_VERSION {
        return Err(StorageError::corrupt(
            WHAT,
            format!("unknown version {version}"),
        ));
    }
    let floor = r.u64()?;
    let incarnation = if version == 1 { 0 } else { r.u64()? };
    let count = r.u64()?;
    let mut properties = BTreeMap::new();
    for _ in 0..count {
        let k = r.string()?;
        properties.insert(k, r.string()?);
    }
    r.finish()?;
    Ok((floor, incarnation, properties))
}

/// A chunk is stored in roaring's portable serialization format.
pub(super) fn encode_chunk(bm: &RoaringBitmap) -> Vec<u8> {
    let mut out = Vec::with_capacity(bm.serialized_size());
    // Writing into a Vec cannot fail; were it to, the short value would be reported as a
    // corrupt chunk on load rather than silently dropping acks.
    if let Err(e) = bm.serialize_into(&mut out) {
        tracing::error!(error = %e, "serializing a cursor chunk into memory failed");
    }
    out
}

fn decode_chunk(value: &[u8]) -> Result<RoaringBitmap, StorageError> {
    const WHAT: &str = "cursor chunk";
    let bm = RoaringBitmap::deserialize_from(value)
        .map_err(|e| StorageError::corrupt(WHAT, e.to_string()))?;
    match bm.max() {
        Some(max) if max >= CHUNK_SIZE => Err(StorageError::corrupt(
            WHAT,
            format!("bit {max} outside the chunk"),
        )),
        _ => Ok(bm),
    }
}

/// A batch set is its `i64` words, big-endian.
pub(super) fn encode_batch(set: &[i64]) -> Vec<u8> {
    set.iter().flat_map(|w| w.to_be_bytes()).collect()
}

fn decode_batch(value: &[u8]) -> Result<Vec<i64>, StorageError> {
    const WHAT: &str = "cursor batch ack set";
    if value.len() % 8 != 0 {
        return Err(StorageError::corrupt(
            WHAT,
            format!("length {} not a multiple of 8", value.len()),
        ));
    }
    let mut r = Reader::new(value, WHAT);
    (0..value.len() / 8).map(|_| r.i64()).collect()
}

/// The stored parts of one cursor, as read from the `cursors` keyspace.
#[derive(Debug, Default)]
pub(crate) struct StoredCursor {
    pub(crate) name: String,
    pub(crate) header: Option<Bytes>,
    pub(crate) chunks: Vec<(u64, Bytes)>,
    pub(crate) batches: Vec<(u64, Bytes)>,
    pub(crate) deferred: Vec<(u64, Bytes)>,
    pub(crate) redeliveries: Vec<(u64, Bytes)>,
}

impl Cursor {
    /// Rebuilds a cursor from its stored parts. Parts below the floor (left by an older
    /// layout or a bug) are dropped and scheduled for deletion rather than trusted.
    pub(crate) fn restore(stored: StoredCursor) -> Result<Cursor, StorageError> {
        let header = stored.header.ok_or_else(|| {
            StorageError::corrupt(
                "cursor",
                format!("{:?} has parts but no header", stored.name),
            )
        })?;
        let (floor, incarnation, properties) = decode_header(&header)?;
        let mut cursor = Cursor {
            name: stored.name,
            floor,
            chunks: BTreeMap::new(),
            batches: BTreeMap::new(),
            properties,
            incarnation,
            deferred: BTreeMap::new(),
            deferred_count: 0,
            redeliveries: BTreeMap::new(),
            dirty: Dirty::default(),
        };
        let (floor_chunk, floor_bit) = split(floor);
        for (idx, value) in stored.chunks {
            let mut bm = decode_chunk(&value)?;
            // Acks below the floor are implied by it and must not linger as stored bits.
            let stripped = match idx.cmp(&floor_chunk) {
                Ordering::Less => bm.len(),
                Ordering::Equal => bm.remove_range(..floor_bit),
                Ordering::Greater => 0,
            };
            if stripped > 0 || bm.is_empty() {
                cursor.dirty.chunks.insert(idx);
            }
            if idx >= floor_chunk && !bm.is_empty() {
                cursor.chunks.insert(idx, bm);
            }
        }
        for (id, value) in stored.batches {
            let set = decode_batch(&value)?;
            if cursor.is_acked(id) || set.iter().all(|&w| w == 0) {
                cursor.dirty.batches.insert(id);
            } else {
                cursor.batches.insert(id, set);
            }
        }
        for (idx, value) in stored.deferred {
            let bm = decode_chunk(&value)?;
            if bm.is_empty() {
                cursor.dirty.deferred.insert(idx);
            } else {
                cursor.deferred.insert(idx, bm);
            }
        }
        cursor.recount_deferred();
        for (idx, value) in stored.redeliveries {
            cursor
                .redeliveries
                .extend(decode_redelivery_chunk(idx, &value)?);
        }
        // Bits and counts below the floor (or of acked entries) are cleaned up here, so the
        // next update deletes what is stale instead of trusting it.
        cursor.drop_deferred_below(floor);
        cursor.drop_redeliveries_below(floor);
        cursor.advance_floor();
        Ok(cursor)
    }
}
