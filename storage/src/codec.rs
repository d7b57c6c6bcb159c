//! Bounds-checked big-endian decoding for the small binary records this crate stores.

use crate::error::StorageError;

/// Reads fixed-width fields from a stored value, turning every short read into
/// [`StorageError::Corrupt`] instead of a panic (the bytes come from disk).
pub(crate) struct Reader<'a> {
    buf: &'a [u8],
    what: &'static str,
}

impl<'a> Reader<'a> {
    /// A reader over `buf`; `what` names the record in corruption errors.
    pub(crate) fn new(buf: &'a [u8], what: &'static str) -> Self {
        Self { buf, what }
    }

    fn take<const N: usize>(&mut self) -> Result<[u8; N], StorageError> {
        let (head, rest) = self
            .buf
            .split_first_chunk::<N>()
            .ok_or_else(|| self.short(N))?;
        self.buf = rest;
        Ok(*head)
    }

    fn short(&self, wanted: usize) -> StorageError {
        StorageError::corrupt(
            self.what,
            format!(
                "truncated: wanted {wanted} more bytes, {} left",
                self.buf.len()
            ),
        )
    }

    pub(crate) fn u8(&mut self) -> Result<u8, StorageError> {
        Ok(u8::from_be_bytes(self.take()?))
    }

    pub(crate) fn u16(&mut self) -> Result<u16, StorageError> {
        Ok(u16::from_be_bytes(self.take()?))
    }

    pub(crate) fn u32(&mut self) -> Result<u32, StorageError> {
        Ok(u32::from_be_bytes(self.take()?))
    }

    pub(crate) fn u64(&mut self) -> Result<u64, StorageError> {
        Ok(u64::from_be_bytes(self.take()?))
    }

    pub(crate) fn i64(&mut self) -> Result<i64, StorageError> {
        Ok(i64::from_be_bytes(self.take()?))
    }

    /// The next `len` bytes.
    pub(crate) fn bytes(&mut self, len: usize) -> Result<&'a [u8], StorageError> {
        if self.buf.len() < len {
            return Err(self.short(len));
        }
        let (head, rest) = self.buf.split_at(len);
        self.buf = rest;
        Ok(head)
    }

    /// A `u64`-length-prefixed UTF-8 string.
    pub(crate) fn string(&mut self) -> Result<String, StorageError> {
        let len = usize::try_from(self.u64()?)
            .map_err(|_| StorageError::corrupt(self.what, "string length overflows usize"))?;
        let raw = self.bytes(len)?;
        String::from_utf8(raw.to_vec())
            .map_err(|e| StorageError::corrupt(self.what, format!("invalid UTF-8: {e}")))
    }

    /// Whether every byte was consumed.
    pub(crate) fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// Fails unless every byte was consumed, so trailing garbage is noticed.
    pub(crate) fn finish(&self) -> Result<(), StorageError> {
        if self.buf.is_empty() {
            Ok(())
        } else {
            Err(StorageError::corrupt(
                self.what,
                format!("{} trailing bytes", self.buf.len()),
            ))
        }
    }
}

/// Appends a `u64`-length-prefixed string (a `u64` so that no length can fail to encode).
pub(crate) fn put_string(out: &mut Vec<u8>, value: &str) {
    out.extend_from_slice(&(value.len() as u64).to_be_bytes());
    out.extend_from_slice(value.as_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_reads_are_corruption_not_panics() {
        let mut r = Reader::new(&[1, 2, 3], "test");
        assert_eq!(r.u16().unwrap(), 0x0102);
        assert!(matches!(
            r.u32(),
            Err(StorageError::Corrupt { what: "test", .. })
        ));
        assert!(r.bytes(2).is_err());
        assert_eq!(r.u8().unwrap(), 3);
        r.finish().unwrap();
    }

    #[test]
    fn strings_round_trip_and_reject_bad_lengths() {
        let mut out = Vec::new();
        put_string(&mut out, "héllo");
        let mut r = Reader::new(&out, "s");
        assert_eq!(r.string().unwrap(), "héllo");
        r.finish().unwrap();
        let mut bad = Reader::new(&[0, 0, 0, 0, 0, 0, 0, 9, b'a'], "s");
        assert!(bad.string().is_err());
        let mut trailing = Reader::new(&[0, 0, 0, 0, 0, 0, 0, 0, 7], "s");
        assert_eq!(trailing.string().unwrap(), "");
        assert!(trailing.finish().is_err());
    }
}
