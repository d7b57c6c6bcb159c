//! Round trips, formats, bombs and garbage for every codec.

use std::io::Write as _;

use bytes::Bytes;
use proptest::prelude::*;

use super::*;

const CODECS: [CompressionType; 4] = [
    CompressionType::Lz4,
    CompressionType::Zlib,
    CompressionType::Zstd,
    CompressionType::Snappy,
];

const LIMIT: usize = 1024 * 1024;

fn text() -> Vec<u8> {
    (0..2_000)
        .flat_map(|i| format!("key-{} value-{}\n", i % 17, i).into_bytes())
        .collect()
}

#[test]
fn every_codec_round_trips_and_actually_compresses() {
    let input = text();
    for codec in CODECS {
        let compressed = compress(codec, &input).unwrap();
        assert!(
            compressed.len() < input.len() / 2,
            "{codec:?} did not compress: {} of {}",
            compressed.len(),
            input.len()
        );
        let back = decompress(codec, &compressed, input.len(), LIMIT).unwrap();
        assert_eq!(back, Bytes::from(input.clone()), "{codec:?}");
    }
}

#[test]
fn empty_input_round_trips() {
    for codec in CODECS {
        let compressed = compress(codec, b"").unwrap();
        assert!(decompress(codec, &compressed, 0, LIMIT).unwrap().is_empty());
    }
}

#[test]
fn none_is_a_copy_both_ways() {
    assert_eq!(
        &compress(CompressionType::None, b"abc").unwrap()[..],
        b"abc"
    );
    assert_eq!(
        &decompress(CompressionType::None, b"abc", 99, 0).unwrap()[..],
        b"abc"
    );
}

#[test]
fn formats_are_the_ones_pulsar_clients_write() {
    let input = text();
    // ZLIB: a zlib header (CMF 0x78), readable by a plain zlib decoder.
    let zlib = compress(CompressionType::Zlib, &input).unwrap();
    assert_eq!(zlib[0], 0x78);
    // ZSTD: a standard frame (magic 0xFD2FB528, little endian).
    let zstd = compress(CompressionType::Zstd, &input).unwrap();
    assert_eq!(&zstd[..4], &[0x28, 0xb5, 0x2f, 0xfd]);
    // SNAPPY: raw, so it starts with the varint length and no stream identifier.
    let snappy = compress(CompressionType::Snappy, &input).unwrap();
    assert_eq!(snap::raw::decompress_len(&snappy).unwrap(), input.len());
    // LZ4: a raw block without a size prefix or frame magic (0x184D2204).
    let lz4 = compress(CompressionType::Lz4, &input).unwrap();
    assert_ne!(&lz4[..4], &[0x04, 0x22, 0x4d, 0x18]);
    assert_eq!(
        lz4_flex::block::decompress(&lz4, input.len()).unwrap(),
        input
    );
}

#[test]
fn framed_snappy_from_pulsar_rs_is_accepted() {
    let input = text();
    let mut writer = snap::write::FrameEncoder::new(Vec::new());
    writer.write_all(&input).unwrap();
    let framed = writer.into_inner().unwrap();
    let back = decompress(CompressionType::Snappy, &framed, input.len(), LIMIT).unwrap();
    assert_eq!(back, Bytes::from(input.clone()));
    assert!(matches!(
        decompress(CompressionType::Snappy, &framed, input.len() - 1, LIMIT),
        Err(CompressionError::SizeMismatch { .. })
    ));
}

#[test]
fn a_claimed_size_above_the_limit_is_refused_before_allocating() {
    for codec in CODECS {
        let compressed = compress(codec, b"small").unwrap();
        assert!(matches!(
            decompress(codec, &compressed, usize::MAX, LIMIT),
            Err(CompressionError::TooLarge {
                size: usize::MAX,
                limit: LIMIT,
                ..
            })
        ));
    }
}

#[test]
fn a_bomb_claiming_a_small_size_is_an_error() {
    // 8 MiB of zeros compress to a few KiB; the claimed size is small and within the limit.
    let zeros = vec![0u8; 8 * LIMIT];
    for codec in CODECS {
        let bomb = compress(codec, &zeros).unwrap();
        assert!(bomb.len() < LIMIT, "{codec:?}");
        let err = decompress(codec, &bomb, 100, LIMIT).unwrap_err();
        assert!(
            matches!(
                err,
                CompressionError::SizeMismatch { .. } | CompressionError::Corrupt { .. }
            ),
            "{codec:?}: {err}"
        );
        // And claiming its true size runs into the limit.
        assert!(matches!(
            decompress(codec, &bomb, zeros.len(), LIMIT),
            Err(CompressionError::TooLarge { .. })
        ));
    }
}

#[test]
fn a_claimed_size_larger_than_the_data_is_an_error() {
    let input = text();
    for codec in CODECS {
        let compressed = compress(codec, &input).unwrap();
        let err = decompress(codec, &compressed, input.len() + 10, LIMIT).unwrap_err();
        assert!(
            matches!(
                err,
                CompressionError::SizeMismatch { .. } | CompressionError::Corrupt { .. }
            ),
            "{codec:?}: {err}"
        );
    }
}

#[test]
fn truncated_data_is_an_error_at_every_cut() {
    let input = text();
    for codec in CODECS {
        let compressed = compress(codec, &input).unwrap();
        for cut in (0..compressed.len()).step_by(7) {
            let short = &compressed[..cut];
            assert!(
                decompress(codec, short, input.len(), LIMIT).is_err(),
                "{codec:?} cut at {cut} decompressed"
            );
        }
    }
}

#[test]
fn unknown_codecs_are_errors_not_none() {
    let metadata = MessageMetadata {
        compression: Some(9),
        uncompressed_size: Some(3),
        ..Default::default()
    };
    assert!(matches!(
        decompress_body(&metadata, &Bytes::from_static(b"abc"), LIMIT),
        Err(CompressionError::UnknownCodec(9))
    ));
}

#[test]
fn decompress_body_follows_the_metadata() {
    let input = text();
    let plain = MessageMetadata::default();
    let body = Bytes::from(input.clone());
    let same = decompress_body(&plain, &body, 0).unwrap();
    assert_eq!(
        same.as_ptr(),
        body.as_ptr(),
        "uncompressed bodies are not copied"
    );
    let zstd = MessageMetadata {
        compression: Some(CompressionType::Zstd as i32),
        uncompressed_size: Some(u32::try_from(input.len()).unwrap()),
        ..Default::default()
    };
    let compressed = compress(CompressionType::Zstd, &input).unwrap();
    assert_eq!(decompress_body(&zstd, &compressed, LIMIT).unwrap(), body);
}

fn codec() -> impl Strategy<Value = CompressionType> {
    prop::sample::select(CODECS.to_vec())
}

proptest! {
    /// Goal: no input makes a codec panic or allocate past the limit. Method: random bytes,
    /// codecs and claimed sizes; any outcome but a panic is fine, and a success has the size.
    #[test]
    fn garbage_never_panics(
        codec in codec(),
        data in prop::collection::vec(any::<u8>(), 0..512),
        size in 0usize..4096,
    ) {
        if let Ok(out) = decompress(codec, &data, size, 4096) {
            prop_assert_eq!(out.len(), size);
        }
    }

    /// Goal: any bytes round trip through every codec.
    #[test]
    fn arbitrary_bytes_round_trip(
        codec in codec(),
        data in prop::collection::vec(any::<u8>(), 0..2048),
    ) {
        let compressed = compress(codec, &data).unwrap();
        let back = decompress(codec, &compressed, data.len(), 4096).unwrap();
        prop_assert_eq!(&back[..], &data[..]);
    }
}
