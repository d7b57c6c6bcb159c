//! `wal`: the active payload segment doubles as the write-ahead log of [`Storage::write`].
//!
//! With payload segments on, one `write` is one *group* in the active segment: a header, the
//! payloads, then a record of every fjall change the write makes. The header (written last)
//! carries a sequence number and a CRC-32C over payloads and record. One fdatasync of the
//! segment makes the group durable; only then is the fjall batch applied, with the group's
//! end position (`wal/pos`) in it, and fjall's journal is not synced at all on this path.
//! The journal therefore never holds a change whose payloads or record are not durable.
//!
//! On open, [`replay`] starts at the recovered `wal/pos` and applies every following group
//! whose header has the next sequence number and a matching CRC, at the end of the same
//! segment or at the start of the next one (a segment is only ever started between groups),
//! and stops at the first that does not: an unfinished group was never acknowledged.
//! `Storage::open` then points `wal/pos` at the segment the next group will start and syncs
//! the journal, so the chain never has to cross a segment it did not write. A segment is
//! only deleted or recycled after the journal is synced, so `wal/pos` never points into it.
//!
//! [`Storage::write`]: super::Storage::write

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::Path;

use fjall::{Database, Keyspace, OwnedWriteBatch};

use super::payloads::segment_path;
use crate::codec::Reader;
use crate::error::StorageError;
use crate::keys::entry_key;

/// `system` key of the position after the last applied group.
pub(super) const POS_KEY: &[u8] = b"wal/pos";
/// Bytes of a group header.
pub(super) const HEADER_LEN: u64 = 28;
const MAGIC: u32 = 0x4757_414c;

/// Where the log stands: the last applied group's sequence number and the position right
/// after it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct LogPos {
    /// Sequence number of the last group (0: none yet).
    pub(super) seq: u64,
    /// Segment the next group starts in (unless that one is full).
    pub(super) segment: u64,
    /// Offset in `segment` where the next group starts.
    pub(super) offset: u64,
}

impl LogPos {
    pub(super) fn encode(self) -> Vec<u8> {
        let mut out = Vec::with_capacity(24);
        for n in [self.seq, self.segment, self.offset] {
            out.extend_from_slice(&n.to_be_bytes());
        }
        out
    }

    fn decode(value: &[u8]) -> Result<Self, StorageError> {
        let mut r = Reader::new(value, "log position");
        let pos = Self {
            seq: r.u64()?,
            segment: r.u64()?,
            offset: r.u64()?,
        };
        r.finish()?;
        Ok(pos)
    }
}

/// The keyspaces a group changes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Space {
    Entries = 0,
    Cursors = 1,
    System = 2,
    Delayed = 3,
}

impl Space {
    fn from_tag(tag: u8) -> Result<Self, StorageError> {
        Ok(match tag {
            0 => Self::Entries,
            1 => Self::Cursors,
            2 => Self::System,
            3 => Self::Delayed,
            _ => {
                return Err(StorageError::corrupt(
                    "log record",
                    format!("keyspace {tag}"),
                ))
            }
        })
    }
}

/// One fjall change of a group.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Op {
    /// Insert or overwrite a key.
    Put(Space, Vec<u8>, Vec<u8>),
    /// Remove a key.
    Delete(Space, Vec<u8>),
    /// Remove entries `from..to` of a ledger (a trim): one op in the record, a tombstone per
    /// entry in fjall.
    DeleteEntries { ledger_id: u64, from: u64, to: u64 },
}

/// The keyspaces ops are applied to.
#[derive(Clone)]
pub(super) struct Spaces {
    pub(super) entries: Keyspace,
    pub(super) cursors: Keyspace,
    pub(super) system: Keyspace,
    pub(super) delayed: Keyspace,
}

impl Spaces {
    fn get(&self, space: Space) -> &Keyspace {
        match space {
            Space::Entries => &self.entries,
            Space::Cursors => &self.cursors,
            Space::System => &self.system,
            Space::Delayed => &self.delayed,
        }
    }

    /// Adds `ops` to `batch`, in order.
    pub(super) fn apply(&self, batch: &mut OwnedWriteBatch, ops: Vec<Op>) {
        for op in ops {
            match op {
                Op::Put(space, key, value) => batch.insert(self.get(space), key, value),
                Op::Delete(space, key) => batch.remove(self.get(space), key),
                Op::DeleteEntries {
                    ledger_id,
                    from,
                    to,
                } => {
                    for entry_id in from..to {
                        batch.remove(&self.entries, entry_key(ledger_id, entry_id));
                    }
                }
            }
        }
    }
}

/// The record of a group's ops.
pub(super) fn encode_ops(ops: &[Op]) -> Vec<u8> {
    let mut out = Vec::new();
    for op in ops {
        match op {
            Op::Put(space, key, value) => {
                out.push(0);
                out.push(*space as u8);
                put_bytes(&mut out, key);
                put_bytes(&mut out, value);
            }
            Op::Delete(space, key) => {
                out.push(1);
                out.push(*space as u8);
                put_bytes(&mut out, key);
            }
            Op::DeleteEntries {
                ledger_id,
                from,
                to,
            } => {
                out.push(2);
                for n in [ledger_id, from, to] {
                    out.extend_from_slice(&n.to_be_bytes());
                }
            }
        }
    }
    out
}

fn put_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    // Keys and values are far below 4 GiB: entries are refused above that when staged.
    out.extend_from_slice(&(bytes.len() as u32).to_be_bytes());
    out.extend_from_slice(bytes);
}

fn decode_ops(record: &[u8]) -> Result<Vec<Op>, StorageError> {
    let mut r = Reader::new(record, "log record");
    let mut ops = Vec::new();
    while !r.is_empty() {
        let op = match r.u8()? {
            0 => {
                let space = Space::from_tag(r.u8()?)?;
                let key = take_bytes(&mut r)?;
                Op::Put(space, key, take_bytes(&mut r)?)
            }
            1 => {
                let space = Space::from_tag(r.u8()?)?;
                Op::Delete(space, take_bytes(&mut r)?)
            }
            2 => Op::DeleteEntries {
                ledger_id: r.u64()?,
                from: r.u64()?,
                to: r.u64()?,
            },
            kind => return Err(StorageError::corrupt("log record", format!("op {kind}"))),
        };
        ops.push(op);
    }
    Ok(ops)
}

fn take_bytes(r: &mut Reader<'_>) -> Result<Vec<u8>, StorageError> {
    let len = r.u32()? as usize;
    Ok(r.bytes(len)?.to_vec())
}

/// A group header: written after the payloads and record it describes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Header {
    pub(super) seq: u64,
    pub(super) payload_len: u64,
    pub(super) record_len: u32,
    pub(super) crc: u32,
}

impl Header {
    /// The header of a group, its CRC computed from the payloads' CRC and the record.
    pub(super) fn new(seq: u64, payload_len: u64, payload_crc: u32, record: &[u8]) -> Self {
        let record_len = record.len() as u32;
        Self {
            seq,
            payload_len,
            record_len,
            crc: group_crc(payload_crc, record, seq, payload_len, record_len),
        }
    }

    pub(super) fn encode(self) -> [u8; HEADER_LEN as usize] {
        let mut out = [0; HEADER_LEN as usize];
        out[..4].copy_from_slice(&MAGIC.to_be_bytes());
        out[4..12].copy_from_slice(&self.seq.to_be_bytes());
        out[12..20].copy_from_slice(&self.payload_len.to_be_bytes());
        out[20..24].copy_from_slice(&self.record_len.to_be_bytes());
        out[24..].copy_from_slice(&self.crc.to_be_bytes());
        out
    }

    /// `None` for anything that is not a header (zeros, old data, a torn write).
    fn decode(bytes: &[u8]) -> Option<Self> {
        let mut r = Reader::new(bytes, "log header");
        if r.u32().ok()? != MAGIC {
            return None;
        }
        Some(Self {
            seq: r.u64().ok()?,
            payload_len: r.u64().ok()?,
            record_len: r.u32().ok()?,
            crc: r.u32().ok()?,
        })
    }

    fn total_len(self) -> u64 {
        HEADER_LEN + self.payload_len + u64::from(self.record_len)
    }
}

/// CRC-32C over a group: payloads (given as their running CRC), record, then the header
/// fields, so a header left over from a recycled segment's past never matches.
fn group_crc(payload_crc: u32, record: &[u8], seq: u64, payload_len: u64, record_len: u32) -> u32 {
    let crc = crc32c::crc32c_append(payload_crc, record);
    let mut fields = [0; 20];
    fields[..8].copy_from_slice(&seq.to_be_bytes());
    fields[8..16].copy_from_slice(&payload_len.to_be_bytes());
    fields[16..].copy_from_slice(&record_len.to_be_bytes());
    crc32c::crc32c_append(crc, &fields)
}

/// The stored log position, if the log was ever used.
pub(super) fn stored_pos(system: &Keyspace) -> Result<Option<LogPos>, StorageError> {
    match system.get(POS_KEY)? {
        Some(value) => Ok(Some(LogPos::decode(&value)?)),
        None => Ok(None),
    }
}

/// Applies every intact group after the stored position (see the module docs) and answers
/// the position after the last one: sequence number 0 if the log was never used.
pub(super) fn replay(
    db: &Database,
    spaces: &Spaces,
    payload_dir: &Path,
) -> Result<LogPos, StorageError> {
    let Some(mut pos) = stored_pos(&spaces.system)? else {
        return Ok(LogPos {
            seq: 0,
            segment: 0,
            offset: 0,
        });
    };
    let mut replayed = 0u64;
    loop {
        let want = pos.seq + 1;
        let (segment, offset, ops, len) =
            match read_group(payload_dir, pos.segment, pos.offset, want)? {
                Some((ops, len)) => (pos.segment, pos.offset, ops, len),
                None => match read_group(payload_dir, pos.segment + 1, 0, want)? {
                    Some((ops, len)) => (pos.segment + 1, 0, ops, len),
                    None => break,
                },
            };
        pos = LogPos {
            seq: want,
            segment,
            offset: offset + len,
        };
        let mut batch = db.batch();
        spaces.apply(&mut batch, ops);
        batch.insert(&spaces.system, POS_KEY, pos.encode());
        batch.commit()?;
        replayed += 1;
    }
    if replayed > 0 {
        tracing::info!(groups = replayed, seq = pos.seq, "write-ahead log replayed");
    }
    Ok(pos)
}

/// The ops of the group with sequence number `want` at `offset` of `segment`, and its
/// length; `None` if there is no such intact group there.
fn read_group(
    payload_dir: &Path,
    segment: u64,
    offset: u64,
    want: u64,
) -> Result<Option<(Vec<Op>, u64)>, StorageError> {
    let file = match File::open(segment_path(payload_dir, segment)) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    let file_len = file.metadata()?.len();
    let mut head = [0; HEADER_LEN as usize];
    if offset.saturating_add(HEADER_LEN) > file_len {
        return Ok(None);
    }
    file.read_exact_at(&mut head, offset)?;
    let Some(header) = Header::decode(&head) else {
        return Ok(None);
    };
    if header.seq != want || offset.saturating_add(header.total_len()) > file_len {
        return Ok(None);
    }
    // Within the file's length, checked above.
    let mut body = vec![0; (header.total_len() - HEADER_LEN) as usize];
    file.read_exact_at(&mut body, offset + HEADER_LEN)?;
    let (payloads, record) = body.split_at(header.payload_len as usize);
    let payload_crc = crc32c::crc32c(payloads);
    let crc = group_crc(
        payload_crc,
        record,
        header.seq,
        header.payload_len,
        header.record_len,
    );
    if crc != header.crc {
        return Ok(None);
    }
    // An intact record that does not decode is a bug, not a torn write: say so.
    Ok(Some((decode_ops(record)?, header.total_len())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ops_round_trip_through_a_record() {
        let ops = vec![
            Op::Put(Space::Entries, b"k1".to_vec(), vec![1, 2, 3]),
            Op::Delete(Space::Cursors, b"k2".to_vec()),
            Op::Put(Space::Delayed, b"k3".to_vec(), Vec::new()),
            Op::DeleteEntries {
                ledger_id: 7,
                from: 10,
                to: 20,
            },
            Op::Delete(Space::System, Vec::new()),
        ];
        assert_eq!(decode_ops(&encode_ops(&ops)).unwrap(), ops);
    }

    #[test]
    fn a_header_only_matches_its_own_group() {
        let header = Header::new(5, 3, crc32c::crc32c(b"abc"), b"record");
        assert_eq!(Header::decode(&header.encode()), Some(header));
        assert_eq!(Header::decode(&[0; HEADER_LEN as usize]), None);
        let other = Header::new(6, 3, crc32c::crc32c(b"abc"), b"record");
        assert_ne!(header.crc, other.crc, "the sequence number is in the CRC");
        let torn = Header::new(5, 3, crc32c::crc32c(b"abd"), b"record");
        assert_ne!(header.crc, torn.crc);
    }
}
