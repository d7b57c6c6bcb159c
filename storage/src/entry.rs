//! Log entries and the fixed, versioned header stored in front of their data.

use bytes::Bytes;

use crate::codec::Reader;
use crate::error::StorageError;

/// One stored log entry: a single `CommandSend` payload (possibly a batch of messages).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// Position within its ledger; ids start at 0 and grow by 1.
    pub entry_id: u64,
    /// Fields the broker needs without parsing `data`.
    pub meta: EntryMeta,
    /// `[metadataSize][MessageMetadata][body]` exactly as received; opaque to storage.
    /// Read back zero-copy from fjall's buffers.
    pub data: Bytes,
}

/// Per-entry facts extracted once at publish time and stored beside the data, so dispatch,
/// seek-by-time and delayed delivery never re-parse `MessageMetadata`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EntryMeta {
    /// Messages in the entry (1, or the batch size).
    pub num_messages: u32,
    /// Producer publish time; [`crate::Storage::find_by_publish_time`] searches on it.
    pub publish_time_ms: u64,
    /// Delayed-delivery time, if any.
    pub deliver_at_ms: Option<u64>,
    /// CRC32C of `data`, reused on dispatch instead of recomputing.
    pub checksum: u32,
    /// Sticky-key hash for `Key_Shared` (computed by the caller).
    pub key_hash: Option<u32>,
}

/// Current header layout version; bump and keep a decoder for the old one when it changes.
const HEADER_VERSION: u8 = 1;
/// version u8, flags u8, num_messages u32, publish_time u64, deliver_at u64, checksum u32,
/// key_hash u32, offset u64.
pub(crate) const HEADER_LEN: usize = 38;
const FLAG_DELIVER_AT: u8 = 1;
const FLAG_KEY_HASH: u8 = 2;
const WHAT: &str = "entry header";

/// Builds the stored value: header ++ data.
///
/// `offset` is the number of data bytes appended to the ledger before this entry; the
/// difference of two offsets gives the log's size without a scan.
pub(crate) fn encode_value(meta: &EntryMeta, offset: u64, data: &[u8]) -> Vec<u8> {
    let mut flags = 0;
    if meta.deliver_at_ms.is_some() {
        flags |= FLAG_DELIVER_AT;
    }
    if meta.key_hash.is_some() {
        flags |= FLAG_KEY_HASH;
    }
    let mut out = Vec::with_capacity(HEADER_LEN + data.len());
    out.push(HEADER_VERSION);
    out.push(flags);
    out.extend_from_slice(&meta.num_messages.to_be_bytes());
    out.extend_from_slice(&meta.publish_time_ms.to_be_bytes());
    out.extend_from_slice(&meta.deliver_at_ms.unwrap_or(0).to_be_bytes());
    out.extend_from_slice(&meta.checksum.to_be_bytes());
    out.extend_from_slice(&meta.key_hash.unwrap_or(0).to_be_bytes());
    out.extend_from_slice(&offset.to_be_bytes());
    out.extend_from_slice(data);
    out
}

/// The decoded header of a stored value.
#[derive(Debug)]
pub(crate) struct Header {
    pub(crate) meta: EntryMeta,
    pub(crate) offset: u64,
}

/// Decodes the header at the front of a stored value.
pub(crate) fn decode_header(value: &[u8]) -> Result<Header, StorageError> {
    let mut r = Reader::new(value, WHAT);
    let version = r.u8()?;
    if version != HEADER_VERSION {
        return Err(StorageError::corrupt(
            WHAT,
            format!("unknown version {version}"),
        ));
    }
    let flags = r.u8()?;
    let num_messages = r.u32()?;
    let publish_time_ms = r.u64()?;
    let deliver_at = r.u64()?;
    let checksum = r.u32()?;
    let key_hash = r.u32()?;
    let offset = r.u64()?;
    let meta = EntryMeta {
        num_messages,
        publish_time_ms,
        deliver_at_ms: (flags & FLAG_DELIVER_AT != 0).then_some(deliver_at),
        checksum,
        key_hash: (flags & FLAG_KEY_HASH != 0).then_some(key_hash),
    };
    Ok(Header { meta, offset })
}

/// Decodes a stored value into an [`Entry`] whose data shares the value's buffer.
pub(crate) fn decode_entry(entry_id: u64, value: Bytes) -> Result<(Entry, u64), StorageError> {
    let header = decode_header(&value)?;
    let data = value.slice(HEADER_LEN..);
    Ok((
        Entry {
            entry_id,
            meta: header.meta,
            data,
        },
        header.offset,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_round_trips_all_optional_fields() {
        let metas = [
            EntryMeta::default(),
            EntryMeta {
                num_messages: 10,
                publish_time_ms: 1_700_000_000_000,
                deliver_at_ms: Some(0),
                checksum: 0xdead_beef,
                key_hash: Some(0),
            },
        ];
        for meta in metas {
            let value = encode_value(&meta, 42, b"payload");
            assert_eq!(value.len(), HEADER_LEN + 7);
            let (entry, offset) = decode_entry(5, Bytes::from(value)).unwrap();
            assert_eq!(entry.meta, meta);
            assert_eq!(offset, 42);
            assert_eq!(entry.entry_id, 5);
            assert_eq!(&entry.data[..], b"payload");
        }
    }

    #[test]
    fn truncated_or_unknown_headers_are_corrupt() {
        let value = encode_value(&EntryMeta::default(), 0, b"");
        assert!(decode_header(&value[..HEADER_LEN - 1]).is_err());
        let mut future = value.clone();
        future[0] = 99;
        assert!(matches!(
            decode_header(&future),
            Err(StorageError::Corrupt { .. })
        ));
    }
}
