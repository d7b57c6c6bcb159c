//! Pulsar's mapping of a sticky key's Murmur3-32 hash onto the Key_Shared hash range.
//!
//! Pulsar (`Murmur3_32Hash.makeHash`) clears the sign bit of the x86 Murmur3-32 (seed 0) and
//! takes it modulo the selector's range (`StickyKeyConsumerSelectorUtils.makeStickyKeyHash`).
//! The range is 65 536 slots; slot 0 means "no hash" in Pulsar 4 and is never produced.

use std::sync::OnceLock;

/// Size of the Key_Shared hash range: STICKY consumers declare ranges inside `0..65536`.
pub const HASH_RANGE_SIZE: u32 = 65_536;

/// Highest slot.
pub const MAX_SLOT: u32 = HASH_RANGE_SIZE - 1;

/// The key Pulsar gives messages without one (`NONE_KEY`); used for batches without an outer key.
const NONE_KEY: &[u8] = b"NONE_KEY";

/// Murmur3 x86 32-bit with seed 0, as Pulsar computes it before clearing the sign bit.
pub fn murmur3_32(bytes: &[u8]) -> u32 {
    // Reading from an in-memory cursor cannot fail.
    murmur3::murmur3_32(&mut std::io::Cursor::new(bytes), 0).unwrap_or_default()
}

/// The raw hash of Pulsar's `NONE_KEY`.
pub fn none_key_hash() -> u32 {
    static HASH: OnceLock<u32> = OnceLock::new();
    *HASH.get_or_init(|| murmur3_32(NONE_KEY))
}

/// Pulsar's `makeHash`: the raw hash with the sign bit cleared.
fn positive(raw: u32) -> u32 {
    raw & 0x7fff_ffff
}

/// Slot of a raw hash for STICKY (declared ranges over `0..=65535`): the positive hash modulo
/// 65 536, with 0 moved to 1 as Pulsar reserves 0 (`STICKY_KEY_HASH_NOT_SET`).
pub fn sticky_slot(raw: u32) -> u32 {
    match positive(raw) % HASH_RANGE_SIZE {
        0 => 1,
        slot => slot,
    }
}

/// Slot of a raw hash for AUTO_SPLIT by consistent hashing: Pulsar's ring covers `1..=65535`,
/// so the positive hash is taken modulo 65 535 and shifted by one.
pub fn ring_slot(raw: u32) -> u32 {
    positive(raw) % (HASH_RANGE_SIZE - 1) + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Murmur3 x86-32 transcribed from the reference algorithm, to cross-check the crate.
    fn reference(bytes: &[u8]) -> u32 {
        let (c1, c2) = (0xcc9e_2d51_u32, 0x1b87_3593_u32);
        let mix = |k: u32| k.wrapping_mul(c1).rotate_left(15).wrapping_mul(c2);
        let mut h: u32 = 0;
        let chunks = bytes.chunks_exact(4);
        let tail = chunks.remainder();
        for chunk in chunks {
            let k = u32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
            h = (h ^ mix(k))
                .rotate_left(13)
                .wrapping_mul(5)
                .wrapping_add(0xe654_6b64);
        }
        let mut k = 0u32;
        for (i, b) in tail.iter().enumerate() {
            k ^= u32::from(*b) << (i * 8);
        }
        h ^= mix(k);
        h ^= bytes.len() as u32;
        h ^= h >> 16;
        h = h.wrapping_mul(0x85eb_ca6b);
        h ^= h >> 13;
        h = h.wrapping_mul(0xc2b2_ae35);
        h ^ (h >> 16)
    }

    #[test]
    fn the_crate_matches_the_reference_murmur3() {
        for key in [
            "",
            "a",
            "ab",
            "abc",
            "abcd",
            "hello",
            "key-1234567",
            "NONE_KEY",
        ] {
            assert_eq!(
                murmur3_32(key.as_bytes()),
                reference(key.as_bytes()),
                "{key}"
            );
        }
        assert_eq!(murmur3_32(b"hello"), 0x248b_fa47, "published test vector");
    }

    #[test]
    fn slots_stay_inside_the_range_and_skip_zero() {
        for raw in [0, 1, 65_535, 65_536, 0x7fff_ffff, 0x8000_0000, u32::MAX] {
            let sticky = sticky_slot(raw);
            let ring = ring_slot(raw);
            assert!((1..=MAX_SLOT).contains(&sticky), "{raw} -> {sticky}");
            assert!((1..=MAX_SLOT).contains(&ring), "{raw} -> {ring}");
        }
        // The sign bit is ignored, as Java's `& Integer.MAX_VALUE` does.
        assert_eq!(sticky_slot(0x8000_0005), 5);
        assert_eq!(sticky_slot(65_536 * 3), 1);
        assert_eq!(ring_slot(65_535), 1);
        assert_eq!(ring_slot(65_534), 65_535);
    }
}
