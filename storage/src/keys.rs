//! Key layouts of the `entries`, `cursors` and `delayed` keyspaces.
//!
//! Every integer is big-endian so byte order equals numeric order, which turns "entries of a
//! ledger from id N" into a key-range scan and "last entry" into one reverse seek.

use std::ops::RangeInclusive;

use crate::codec::Reader;
use crate::error::StorageError;

/// Length of an entry key: ledger id ++ entry id.
pub(crate) const ENTRY_KEY_LEN: usize = 16;

/// Longest subscription name we store; keeps every cursor key under fjall's 64 KiB key limit.
pub(crate) const MAX_CURSOR_NAME_LEN: usize = 60 * 1024;

/// Longest topic name or metadata key (fjall keys are at most 65 535 bytes).
pub(crate) const MAX_KEY_LEN: usize = 60 * 1024;

/// The key of entry `entry_id` in ledger `ledger_id`.
pub(crate) fn entry_key(ledger_id: u64, entry_id: u64) -> [u8; ENTRY_KEY_LEN] {
    let mut key = [0u8; ENTRY_KEY_LEN];
    let (l, e) = key.split_at_mut(8);
    l.copy_from_slice(&ledger_id.to_be_bytes());
    e.copy_from_slice(&entry_id.to_be_bytes());
    key
}

/// Entry keys of `ledger_id` with ids in `from..=to`.
pub(crate) fn entry_range(ledger_id: u64, from: u64, to: u64) -> RangeInclusive<[u8; 16]> {
    entry_key(ledger_id, from)..=entry_key(ledger_id, to)
}

/// Splits an entry key into (ledger id, entry id).
pub(crate) fn decode_entry_key(key: &[u8]) -> Result<(u64, u64), StorageError> {
    let mut r = Reader::new(key, "entry key");
    let parsed = (r.u64()?, r.u64()?);
    r.finish()?;
    Ok(parsed)
}

/// Checks a topic name or metadata key against fjall's key rules (non-empty, < 64 KiB).
pub(crate) fn check_key(key: &str, what: &'static str) -> Result<(), StorageError> {
    if key.is_empty() {
        return Err(StorageError::InvalidName {
            what,
            reason: "empty",
        });
    }
    if key.len() > MAX_KEY_LEN {
        return Err(StorageError::InvalidName {
            what,
            reason: "longer than 60 KiB",
        });
    }
    Ok(())
}

/// What a cursor key points at. One cursor is a header plus any number of ack chunks and
/// partial batch ack sets, each under its own key so that they are rewritten independently.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum CursorPart {
    /// Floor and properties.
    Header,
    /// Acked ids in `[idx << 16, (idx + 1) << 16)` as a roaring bitmap.
    Chunk(u64),
    /// The still-unacked batch indexes of one entry.
    Batch(u64),
    /// Deferred (delayed) ids in `[idx << 16, (idx + 1) << 16)` as a roaring bitmap.
    Deferred(u64),
    /// Redelivery counts of ids in `[idx << 10, (idx + 1) << 10)`.
    Redeliveries(u64),
}

const TAG_HEADER: u8 = 0;
const TAG_CHUNK: u8 = 1;
const TAG_BATCH: u8 = 2;
const TAG_DEFERRED: u8 = 3;
const TAG_REDELIVERIES: u8 = 4;

/// Prefix of all keys of all cursors of a ledger.
pub(crate) fn ledger_cursors_prefix(ledger_id: u64) -> [u8; 8] {
    ledger_id.to_be_bytes()
}

/// Prefix of all keys of one cursor: ledger id ++ name length (u16) ++ name.
///
/// The length prefix means no cursor's prefix is a prefix of another cursor's keys.
pub(crate) fn cursor_prefix(ledger_id: u64, name: &str) -> Result<Vec<u8>, StorageError> {
    let len = u16::try_from(name.len())
        .ok()
        .filter(|_| name.len() <= MAX_CURSOR_NAME_LEN)
        .ok_or(StorageError::InvalidName {
            what: "subscription name",
            reason: "longer than 60 KiB",
        })?;
    let mut key = Vec::with_capacity(8 + 2 + name.len() + 9);
    key.extend_from_slice(&ledger_id.to_be_bytes());
    key.extend_from_slice(&len.to_be_bytes());
    key.extend_from_slice(name.as_bytes());
    Ok(key)
}

/// The full key of one part of a cursor, given its [`cursor_prefix`].
pub(crate) fn cursor_key(prefix: &[u8], part: CursorPart) -> Vec<u8> {
    let mut key = Vec::with_capacity(prefix.len() + 9);
    key.extend_from_slice(prefix);
    match part {
        CursorPart::Header => key.push(TAG_HEADER),
        CursorPart::Chunk(idx) => {
            key.push(TAG_CHUNK);
            key.extend_from_slice(&idx.to_be_bytes());
        }
        CursorPart::Batch(entry_id) => {
            key.push(TAG_BATCH);
            key.extend_from_slice(&entry_id.to_be_bytes());
        }
        CursorPart::Deferred(idx) => {
            key.push(TAG_DEFERRED);
            key.extend_from_slice(&idx.to_be_bytes());
        }
        CursorPart::Redeliveries(idx) => {
            key.push(TAG_REDELIVERIES);
            key.extend_from_slice(&idx.to_be_bytes());
        }
    }
    key
}

/// Length of the tail of a delayed-index key: deliver-at time ++ entry id.
const DELAYED_TAIL_LEN: usize = 16;

/// Prefix of one cursor incarnation's delayed-index keys: its [`cursor_prefix`] ++ incarnation.
/// Keys under it sort by delivery time, then entry id, so "due by T" is one range scan.
pub(crate) fn delayed_prefix(cursor_prefix: &[u8], incarnation: u64) -> Vec<u8> {
    let mut key = Vec::with_capacity(cursor_prefix.len() + 8 + DELAYED_TAIL_LEN);
    key.extend_from_slice(cursor_prefix);
    key.extend_from_slice(&incarnation.to_be_bytes());
    key
}

/// The delayed-index key of entry `entry_id`, due at `deliver_at_ms`.
pub(crate) fn delayed_key(delayed_prefix: &[u8], deliver_at_ms: u64, entry_id: u64) -> Vec<u8> {
    let mut key = Vec::with_capacity(delayed_prefix.len() + DELAYED_TAIL_LEN);
    key.extend_from_slice(delayed_prefix);
    key.extend_from_slice(&deliver_at_ms.to_be_bytes());
    key.extend_from_slice(&entry_id.to_be_bytes());
    key
}

/// `(deliver_at_ms, entry_id)` of a delayed-index key (read from its last 16 bytes).
pub(crate) fn decode_delayed_key(key: &[u8]) -> Result<(u64, u64), StorageError> {
    let tail = key
        .len()
        .checked_sub(DELAYED_TAIL_LEN)
        .and_then(|start| key.get(start..))
        .ok_or_else(|| StorageError::corrupt("delayed key", "shorter than 16 bytes"))?;
    let mut r = Reader::new(tail, "delayed key");
    Ok((r.u64()?, r.u64()?))
}

/// A decoded cursor key.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct CursorKey {
    pub(crate) ledger_id: u64,
    pub(crate) name: String,
    pub(crate) part: CursorPart,
}

/// Parses a key of the `cursors` keyspace.
pub(crate) fn decode_cursor_key(key: &[u8]) -> Result<CursorKey, StorageError> {
    const WHAT: &str = "cursor key";
    let mut r = Reader::new(key, WHAT);
    let ledger_id = r.u64()?;
    let len = usize::from(r.u16()?);
    let name = std::str::from_utf8(r.bytes(len)?)
        .map_err(|e| StorageError::corrupt(WHAT, format!("name is not UTF-8: {e}")))?
        .to_owned();
    let part = match r.u8()? {
        TAG_HEADER => CursorPart::Header,
        TAG_CHUNK => CursorPart::Chunk(r.u64()?),
        TAG_BATCH => CursorPart::Batch(r.u64()?),
        TAG_DEFERRED => CursorPart::Deferred(r.u64()?),
        TAG_REDELIVERIES => CursorPart::Redeliveries(r.u64()?),
        tag => return Err(StorageError::corrupt(WHAT, format!("unknown tag {tag}"))),
    };
    r.finish()?;
    Ok(CursorKey {
        ledger_id,
        name,
        part,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_keys_sort_numerically() {
        assert!(entry_key(1, 255) < entry_key(1, 256));
        assert!(entry_key(1, u64::MAX) < entry_key(2, 0));
        assert_eq!(decode_entry_key(&entry_key(7, 9)).unwrap(), (7, 9));
        assert!(decode_entry_key(&[0; 15]).is_err());
    }

    #[test]
    fn cursor_keys_round_trip() {
        let prefix = cursor_prefix(3, "sub").unwrap();
        for part in [
            CursorPart::Header,
            CursorPart::Chunk(5),
            CursorPart::Batch(u64::MAX),
            CursorPart::Deferred(3),
            CursorPart::Redeliveries(9),
        ] {
            let key = cursor_key(&prefix, part);
            assert!(key.starts_with(&prefix));
            let decoded = decode_cursor_key(&key).unwrap();
            assert_eq!(
                decoded,
                CursorKey {
                    ledger_id: 3,
                    name: "sub".into(),
                    part
                }
            );
        }
    }

    #[test]
    fn delayed_keys_sort_by_time_then_entry_and_decode() {
        let prefix = delayed_prefix(&cursor_prefix(1, "s").unwrap(), 7);
        let early = delayed_key(&prefix, 1_000, 99);
        let late = delayed_key(&prefix, 1_001, 1);
        assert!(early < late);
        assert!(delayed_key(&prefix, 1_000, 5) < early);
        assert!(late.starts_with(&prefix));
        assert_eq!(decode_delayed_key(&late).unwrap(), (1_001, 1));
        assert!(decode_delayed_key(&[0; 15]).is_err());
    }

    #[test]
    fn one_cursor_prefix_never_covers_another_cursor() {
        let short = cursor_prefix(1, "a").unwrap();
        let long = cursor_key(&cursor_prefix(1, "ab").unwrap(), CursorPart::Header);
        assert!(!long.starts_with(&short));
    }

    #[test]
    fn bad_names_and_keys_are_refused() {
        assert!(cursor_prefix(1, &"x".repeat(MAX_CURSOR_NAME_LEN + 1)).is_err());
        assert!(check_key("", "topic name").is_err());
        assert!(check_key(&"x".repeat(MAX_KEY_LEN + 1), "topic name").is_err());
        assert!(decode_cursor_key(
            &cursor_key(&cursor_prefix(1, "a").unwrap(), CursorPart::Header)[..11]
        )
        .is_err());
    }
}
