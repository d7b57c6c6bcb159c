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
    /// Read back zero-copy from fjall's buffers, or with one read from a payload segment.
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
/// The data lives in a payload segment; the value holds a [`PayloadRef`] after the header.
const FLAG_EXTERNAL: u8 = 4;
/// segment u64, offset u64, len u32.
const PAYLOAD_REF_LEN: usize = 20;
const WHAT: &str = "entry header";

/// Builds the stored value: header ++ data.
///
/// `offset` is the number of data bytes appended to the ledger before this entry; the
/// difference of two offsets gives the log's size without a scan.
pub(crate) fn encode_value(meta: &EntryMeta, offset: u64, data: &[u8]) -> Vec<u8> {
    let mut out = encode_header(meta, offset, 0, data.len());
    out.extend_from_slice(data);
    out
}

/// Builds the stored value of an entry whose data was written to a payload segment:
/// header ++ [`PayloadRef`].
pub(crate) fn encode_external(meta: &EntryMeta, offset: u64, payload: PayloadRef) -> Vec<u8> {
    let mut out = encode_header(meta, offset, FLAG_EXTERNAL, PAYLOAD_REF_LEN);
    out.extend_from_slice(&payload.segment.to_be_bytes());
    out.extend_from_slice(&payload.offset.to_be_bytes());
    out.extend_from_slice(&payload.len.to_be_bytes());
    out
}

fn encode_header(meta: &EntryMeta, offset: u64, mut flags: u8, tail: usize) -> Vec<u8> {
    if meta.deliver_at_ms.is_some() {
        flags |= FLAG_DELIVER_AT;
    }
    if meta.key_hash.is_some() {
        flags |= FLAG_KEY_HASH;
    }
    let mut out = Vec::with_capacity(HEADER_LEN + tail);
    out.push(HEADER_VERSION);
    out.push(flags);
    out.extend_from_slice(&meta.num_messages.to_be_bytes());
    out.extend_from_slice(&meta.publish_time_ms.to_be_bytes());
    out.extend_from_slice(&meta.deliver_at_ms.unwrap_or(0).to_be_bytes());
    out.extend_from_slice(&meta.checksum.to_be_bytes());
    out.extend_from_slice(&meta.key_hash.unwrap_or(0).to_be_bytes());
    out.extend_from_slice(&offset.to_be_bytes());
    out
}

/// Where a payload written to a segment lies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct PayloadRef {
    /// Segment id (its file name).
    pub(crate) segment: u64,
    /// Byte offset in the segment.
    pub(crate) offset: u64,
    /// Length in bytes.
    pub(crate) len: u32,
}

/// The data part of a stored value.
#[derive(Debug)]
pub(crate) enum StoredData {
    /// The data itself, sharing the value's buffer.
    Inline(Bytes),
    /// A reference into a payload segment.
    External(PayloadRef),
}

/// The decoded header of a stored value.
#[derive(Debug)]
pub(crate) struct Header {
    pub(crate) meta: EntryMeta,
    pub(crate) offset: u64,
    external: bool,
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
    Ok(Header {
        meta,
        offset,
        external: flags & FLAG_EXTERNAL != 0,
    })
}

/// Decodes a stored value into its header and data (inline, or where it lies).
pub(crate) fn decode_value(value: Bytes) -> Result<(Header, StoredData), StorageError> {
    let header = decode_header(&value)?;
    if !header.external {
        let data = value.slice(HEADER_LEN..);
        return Ok((header, StoredData::Inline(data)));
    }
    let payload = payload_ref(&value)?;
    Ok((header, StoredData::External(payload)))
}

/// Data bytes of the entry a stored value describes, wherever they lie.
pub(crate) fn data_len(value: &[u8]) -> Result<u64, StorageError> {
    if decode_header(value)?.external {
        Ok(u64::from(payload_ref(value)?.len))
    } else {
        Ok(value.len().saturating_sub(HEADER_LEN) as u64)
    }
}

/// The [`PayloadRef`] after the header of an external value.
fn payload_ref(value: &[u8]) -> Result<PayloadRef, StorageError> {
    let tail = value.get(HEADER_LEN..).unwrap_or_default();
    let mut r = Reader::new(tail, "payload reference");
    let payload = PayloadRef {
        segment: r.u64()?,
        offset: r.u64()?,
        len: r.u32()?,
    };
    r.finish()?;
    Ok(payload)
}

/// Decodes an inline stored value into an [`Entry`] whose data shares the value's buffer.
#[cfg(test)]
pub(crate) fn decode_entry(entry_id: u64, value: Bytes) -> Result<(Entry, u64), StorageError> {
    let (header, data) = decode_value(value)?;
    let StoredData::Inline(data) = data else {
        return Err(StorageError::corrupt(WHAT, "external data"));
    };
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
    fn external_values_keep_the_reference_and_the_data_length() {
        let meta = EntryMeta {
            num_messages: 3,
            key_hash: Some(7),
            ..EntryMeta::default()
        };
        let payload = PayloadRef {
            segment: 9,
            offset: 1 << 33,
            len: 70_000,
        };
        let value = encode_external(&meta, 11, payload);
        assert_eq!(data_len(&value).unwrap(), 70_000);
        let (header, data) = decode_value(Bytes::from(value.clone())).unwrap();
        assert_eq!((header.meta, header.offset), (meta, 11));
        assert!(matches!(data, StoredData::External(p) if p == payload));
        assert!(decode_value(Bytes::copy_from_slice(&value[..value.len() - 1])).is_err());
        assert_eq!(data_len(&encode_value(&meta, 0, b"abc")).unwrap(), 3);
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
