//! Payload compression in the on-wire formats of Pulsar's clients, for the broker features that
//! must look inside a compressed batch (compaction, deduplication, dead letters).
//!
//! Formats, as the Java and C++ clients write them (`CompressionCodec*`):
//! - LZ4: one raw LZ4 *block*, no frame and no size prefix (`uncompressed_size` says the size);
//! - ZLIB: a zlib-wrapped deflate stream (`java.util.zip.Deflater`, C++ `deflateInit`);
//! - ZSTD: one standard zstd frame;
//! - SNAPPY: raw snappy (no framing). pulsar-rs writes *framed* snappy instead, which the other
//!   clients cannot read; it is accepted here too so such batches can still be opened.
//!
//! Decompression is bounded: the caller passes a limit (the broker's max message size) and the
//! claimed `uncompressed_size` must be within it and must match what the data decompresses to, so a
//! small entry can never make the broker allocate more than the limit.

use std::io::{Read, Write as _};

use bytes::Bytes;

use crate::proto::{CompressionType, MessageMetadata};

/// What went wrong compressing or decompressing a payload.
///
/// Every decompression error means the entry cannot be opened: treat it as opaque (keep or
/// forward it as stored), never as fatal.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CompressionError {
    /// The metadata's `compression` holds a value `PulsarApi.proto` does not define. Keep the
    /// entry as stored.
    #[error("unknown compression codec {0}")]
    UnknownCodec(i32),

    /// The claimed uncompressed size is above the caller's limit; refused before allocating (a
    /// decompression bomb, or a batch larger than the broker wants to open). Keep the entry as
    /// stored.
    #[error("{} payload claims {size} bytes uncompressed, above the limit of {limit} bytes", .codec.as_str_name())]
    TooLarge {
        /// The payload's codec.
        codec: CompressionType,
        /// The claimed uncompressed size in bytes.
        size: usize,
        /// The limit in force, in bytes.
        limit: usize,
    },

    /// The data decompressed to a size other than the metadata's `uncompressed_size` (clients
    /// reject such a message with `UncompressedSizeCorruption`). Treat the entry as corrupt.
    #[error("{} payload decompresses to {actual} bytes, its metadata says {expected}", .codec.as_str_name())]
    SizeMismatch {
        /// The payload's codec.
        codec: CompressionType,
        /// `uncompressed_size` from the metadata.
        expected: usize,
        /// What the data decompressed to (or claims to, for snappy), at most `expected + 1`.
        actual: usize,
    },

    /// The codec rejected the data. Treat the entry as corrupt.
    #[error("{} payload does not decompress: {source}", .codec.as_str_name())]
    Corrupt {
        /// The payload's codec.
        codec: CompressionType,
        /// The codec's own error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },

    /// The codec failed to compress (an input too large for it). Send the data uncompressed.
    #[error("{} compression failed: {source}", .codec.as_str_name())]
    Compress {
        /// The codec asked for.
        codec: CompressionType,
        /// The codec's own error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

/// The first chunk of framed snappy (the stream identifier), which raw snappy never starts with
/// in practice: its first byte would announce a varint length continuing for ever.
const SNAPPY_STREAM_IDENTIFIER: &[u8] = b"\xff\x06\x00\x00sNaPpY";

/// The zstd level Pulsar's clients use (zstd's default).
const ZSTD_LEVEL: i32 = 3;

/// The codec a metadata names. Unlike `MessageMetadata::compression()`, which turns an unknown
/// value into NONE, an unknown value is an error: reading such a body as uncompressed would be
/// wrong.
///
/// # Errors
/// [`CompressionError::UnknownCodec`] for a value outside `CompressionType`.
pub fn codec_of(metadata: &MessageMetadata) -> Result<CompressionType, CompressionError> {
    match metadata.compression {
        None => Ok(CompressionType::None),
        Some(value) => {
            CompressionType::try_from(value).map_err(|_| CompressionError::UnknownCodec(value))
        }
    }
}

/// A message or batch body as the metadata describes it, uncompressed: the body itself (no
/// copy) when it is not compressed, else its decompressed bytes.
///
/// # Errors
/// As [`codec_of`] and [`decompress`].
pub fn decompress_body(
    metadata: &MessageMetadata,
    body: &Bytes,
    limit: usize,
) -> Result<Bytes, CompressionError> {
    match codec_of(metadata)? {
        CompressionType::None => Ok(body.clone()),
        codec => {
            let size = usize::try_from(metadata.uncompressed_size()).unwrap_or(usize::MAX);
            decompress(codec, body, size, limit)
        }
    }
}

/// Decompresses `data` written by `codec` into exactly `uncompressed_size` bytes. NONE returns a
/// copy of `data`.
///
/// # Errors
/// [`CompressionError::TooLarge`] when `uncompressed_size > limit` (nothing is allocated);
/// [`CompressionError::SizeMismatch`] when the data decompresses to another size;
/// [`CompressionError::Corrupt`] when the codec rejects the data.
pub fn decompress(
    codec: CompressionType,
    data: &[u8],
    uncompressed_size: usize,
    limit: usize,
) -> Result<Bytes, CompressionError> {
    if codec == CompressionType::None {
        return Ok(Bytes::copy_from_slice(data));
    }
    if uncompressed_size > limit {
        return Err(CompressionError::TooLarge {
            codec,
            size: uncompressed_size,
            limit,
        });
    }
    let corrupt = |source: Box<dyn std::error::Error + Send + Sync>| CompressionError::Corrupt {
        codec,
        source,
    };
    let out = match codec {
        CompressionType::None => data.to_vec(),
        CompressionType::Lz4 => {
            let mut out = vec![0; uncompressed_size];
            let written = lz4_flex::block::decompress_into(data, &mut out)
                .map_err(|e| corrupt(Box::new(e)))?;
            out.truncate(written);
            out
        }
        CompressionType::Zlib => {
            read_at_most(flate2::bufread::ZlibDecoder::new(data), uncompressed_size)
                .map_err(|e| corrupt(Box::new(e)))?
        }
        CompressionType::Zstd => {
            zstd::bulk::decompress(data, uncompressed_size).map_err(|e| corrupt(Box::new(e)))?
        }
        CompressionType::Snappy => snappy_decompress(data, uncompressed_size)?,
    };
    if out.len() != uncompressed_size {
        return Err(CompressionError::SizeMismatch {
            codec,
            expected: uncompressed_size,
            actual: out.len(),
        });
    }
    Ok(Bytes::from(out))
}

/// Compresses `data` with `codec` in the format Pulsar's Java and C++ clients read (raw LZ4
/// block, zlib, zstd frame, raw snappy). NONE returns a copy.
///
/// # Errors
/// [`CompressionError::Compress`] when the codec fails (inputs above its size limit).
pub fn compress(codec: CompressionType, data: &[u8]) -> Result<Bytes, CompressionError> {
    let failed = |source: Box<dyn std::error::Error + Send + Sync>| CompressionError::Compress {
        codec,
        source,
    };
    let out = match codec {
        CompressionType::None => data.to_vec(),
        CompressionType::Lz4 => lz4_flex::block::compress(data),
        CompressionType::Zlib => {
            let mut encoder =
                flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
            encoder
                .write_all(data)
                .and_then(|()| encoder.finish())
                .map_err(|e| failed(Box::new(e)))?
        }
        CompressionType::Zstd => {
            zstd::bulk::compress(data, ZSTD_LEVEL).map_err(|e| failed(Box::new(e)))?
        }
        CompressionType::Snappy => snap::raw::Encoder::new()
            .compress_vec(data)
            .map_err(|e| failed(Box::new(e)))?,
    };
    Ok(Bytes::from(out))
}

/// Raw snappy, or framed snappy as pulsar-rs writes it. The raw header's claimed length is
/// checked before anything is allocated.
fn snappy_decompress(data: &[u8], uncompressed_size: usize) -> Result<Vec<u8>, CompressionError> {
    let codec = CompressionType::Snappy;
    let corrupt = |source: Box<dyn std::error::Error + Send + Sync>| CompressionError::Corrupt {
        codec,
        source,
    };
    if data.starts_with(SNAPPY_STREAM_IDENTIFIER) {
        return read_at_most(snap::read::FrameDecoder::new(data), uncompressed_size)
            .map_err(|e| corrupt(Box::new(e)));
    }
    let claimed = snap::raw::decompress_len(data).map_err(|e| corrupt(Box::new(e)))?;
    if claimed != uncompressed_size {
        return Err(CompressionError::SizeMismatch {
            codec,
            expected: uncompressed_size,
            actual: claimed,
        });
    }
    snap::raw::Decoder::new()
        .decompress_vec(data)
        .map_err(|e| corrupt(Box::new(e)))
}

/// Reads a stream to its end but never more than `size + 1` bytes: one byte past the expected
/// size is enough to report a mismatch.
fn read_at_most(reader: impl Read, size: usize) -> std::io::Result<Vec<u8>> {
    let mut out = Vec::with_capacity(size);
    let cap = u64::try_from(size).unwrap_or(u64::MAX).saturating_add(1);
    reader.take(cap).read_to_end(&mut out)?;
    Ok(out)
}

#[cfg(test)]
mod tests;
