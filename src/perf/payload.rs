//! Message payloads for `perf produce`: by default distinct, incompressible-to-LZ4 bytes per
//! message, so neither a client batch nor the store's compression can shrink what the disk
//! really has to take.

use bytes::Bytes;

/// Bytes of random text the payloads are cut from. Large against a 128 KiB batch, so the
/// messages of one batch share no long runs for LZ4 to find.
const POOL_BYTES: usize = 8 * 1024 * 1024;

/// Hands out one payload per message.
#[derive(Clone, Debug)]
pub struct Payloads {
    pool: Bytes,
    size: usize,
    /// Generator state that picks each payload's place in the pool.
    state: u64,
}

impl Payloads {
    /// Payloads of `size` bytes. `compressible`: every payload is the same run of `x`s (the
    /// old behaviour, which flatters every compressing layer); otherwise each payload is a
    /// window of random uppercase letters at a random place in a shared pool, like
    /// `pulsar-perf`'s random letters but different for every message. Windows are slices of
    /// one buffer, so no copy is made per message.
    #[must_use]
    pub fn new(size: usize, compressible: bool, seed: u64) -> Self {
        let pool = if compressible {
            Bytes::from(vec![b'x'; size])
        } else {
            let mut state = seed | 1;
            let letters = (0..POOL_BYTES.max(size))
                .map(|_| b'A' + (next(&mut state) % 26) as u8)
                .collect::<Vec<u8>>();
            Bytes::from(letters)
        };
        Payloads {
            pool,
            size,
            state: seed | 1,
        }
    }

    /// The next message's payload.
    pub fn next_payload(&mut self) -> Bytes {
        let room = self.pool.len().saturating_sub(self.size);
        let start = if room == 0 {
            0
        } else {
            usize::try_from(next(&mut self.state) % (room as u64 + 1)).unwrap_or(0)
        };
        let end = start.saturating_add(self.size).min(self.pool.len());
        self.pool.slice(start..end)
    }
}

/// xorshift64*: fast and good enough to defeat compression; not for anything secret.
fn next(state: &mut u64) -> u64 {
    *state ^= *state >> 12;
    *state ^= *state << 25;
    *state ^= *state >> 27;
    state.wrapping_mul(0x2545_F491_4F6C_DD1D)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_payloads_have_the_size_and_differ() {
        let mut p = Payloads::new(1024, false, 7);
        let (a, b) = (p.next_payload(), p.next_payload());
        assert_eq!((a.len(), b.len()), (1024, 1024));
        assert_ne!(a, b);
        assert!(a.iter().all(u8::is_ascii_uppercase));
    }

    #[test]
    fn compressible_payloads_are_all_x() {
        let mut p = Payloads::new(100, true, 7);
        assert_eq!(p.next_payload(), Bytes::from(vec![b'x'; 100]));
        assert_eq!(p.next_payload().len(), 100);
    }

    #[test]
    fn a_payload_larger_than_the_pool_is_whole() {
        let mut p = Payloads::new(POOL_BYTES + 10, false, 3);
        assert_eq!(p.next_payload().len(), POOL_BYTES + 10);
    }
}
