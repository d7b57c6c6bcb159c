//! A counter whose per-second rate is computed by the periodic sampler.

use std::sync::atomic::{AtomicU64, Ordering};

/// A monotonic counter plus the rate the sampler last computed from it.
///
/// Writers only `add` (one relaxed atomic add on the hot path); the sampler alone calls
/// [`RateCounter::sample`], so the previous value needs no lock.
#[derive(Debug, Default)]
pub struct RateCounter {
    total: AtomicU64,
    /// The total at the previous sample.
    previous: AtomicU64,
    /// The last computed rate, as `f64` bits.
    rate: AtomicU64,
}

impl RateCounter {
    /// Counts `n` more.
    pub fn add(&self, n: u64) {
        self.total.fetch_add(n, Ordering::Relaxed);
    }

    /// Everything counted so far.
    pub fn total(&self) -> u64 {
        self.total.load(Ordering::Relaxed)
    }

    /// Per second, over the last sampling interval.
    pub fn rate(&self) -> f64 {
        f64::from_bits(self.rate.load(Ordering::Relaxed))
    }

    /// Computes the rate over `seconds` since the previous sample.
    pub fn sample(&self, seconds: f64) {
        let total = self.total();
        let previous = self.previous.swap(total, Ordering::Relaxed);
        let rate = if seconds > 0.0 {
            total.saturating_sub(previous) as f64 / seconds
        } else {
            0.0
        };
        self.rate.store(rate.to_bits(), Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_is_the_increase_over_the_interval() {
        let c = RateCounter::default();
        c.add(10);
        c.sample(2.0);
        assert_eq!(c.rate(), 5.0);
        c.sample(1.0);
        assert_eq!(c.rate(), 0.0, "nothing counted since the last sample");
        c.add(3);
        c.sample(0.5);
        assert_eq!(c.rate(), 6.0);
        assert_eq!(c.total(), 13);
    }
}
