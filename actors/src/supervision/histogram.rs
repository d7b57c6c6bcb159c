//! A lock-free latency histogram with fixed buckets, cheap enough to record every message.

use std::{
    sync::atomic::{AtomicU64, Ordering},
    time::Duration,
};

/// Upper bounds of the buckets, in nanoseconds: 1 µs to 1 s in 1-2.5-5 steps, then +Inf.
const BOUNDS_NS: [u64; 19] = [
    1_000,
    2_500,
    5_000,
    10_000,
    25_000,
    50_000,
    100_000,
    250_000,
    500_000,
    1_000_000,
    2_500_000,
    5_000_000,
    10_000_000,
    25_000_000,
    50_000_000,
    100_000_000,
    250_000_000,
    500_000_000,
    1_000_000_000,
];

/// Counts of observations per bucket plus their sum, updated with relaxed atomics.
///
/// Recording is a bounded linear scan and three atomic adds, so every handler can record its
/// latency; readers ([`LatencyHistogram::snapshot`]) see a slightly torn but monotonic view,
/// which is what a Prometheus scrape expects.
#[derive(Debug, Default)]
pub struct LatencyHistogram {
    /// Non-cumulative count per bucket; the last slot is +Inf.
    buckets: [AtomicU64; BOUNDS_NS.len() + 1],
    sum_ns: AtomicU64,
    count: AtomicU64,
}

/// A read-out of a [`LatencyHistogram`] in Prometheus' shape.
#[derive(Clone, Debug, PartialEq)]
pub struct HistogramSnapshot {
    /// `(upper bound in seconds, cumulative count)`, ending with `+Inf`.
    pub buckets: Vec<(f64, u64)>,
    /// Sum of all observations, in seconds.
    pub sum_seconds: f64,
    /// Number of observations.
    pub count: u64,
}

impl LatencyHistogram {
    /// Records one observation.
    pub fn record(&self, elapsed: Duration) {
        let ns = u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX);
        let index = BOUNDS_NS
            .iter()
            .position(|bound| ns <= *bound)
            .unwrap_or(BOUNDS_NS.len());
        if let Some(bucket) = self.buckets.get(index) {
            bucket.fetch_add(1, Ordering::Relaxed);
        }
        self.sum_ns.fetch_add(ns, Ordering::Relaxed);
        self.count.fetch_add(1, Ordering::Relaxed);
    }

    /// The cumulative buckets, sum and count.
    pub fn snapshot(&self) -> HistogramSnapshot {
        let mut cumulative = 0;
        let mut buckets = Vec::with_capacity(self.buckets.len());
        for (i, bucket) in self.buckets.iter().enumerate() {
            cumulative += bucket.load(Ordering::Relaxed);
            let bound = BOUNDS_NS
                .get(i)
                .map_or(f64::INFINITY, |ns| *ns as f64 / 1e9);
            buckets.push((bound, cumulative));
        }
        HistogramSnapshot {
            buckets,
            sum_seconds: self.sum_ns.load(Ordering::Relaxed) as f64 / 1e9,
            count: self.count.load(Ordering::Relaxed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn observations_land_in_cumulative_buckets() {
        let h = LatencyHistogram::default();
        h.record(Duration::from_nanos(500));
        h.record(Duration::from_micros(3));
        h.record(Duration::from_secs(5));
        let s = h.snapshot();
        assert_eq!(s.count, 3);
        assert_eq!(s.buckets[0], (1e-6, 1));
        assert_eq!(s.buckets[2], (5e-6, 2));
        let last = *s.buckets.last().unwrap();
        assert!(last.0.is_infinite());
        assert_eq!(last.1, 3);
        assert_eq!(s.buckets[s.buckets.len() - 2].1, 2, "5 s is above 1 s");
        assert!((s.sum_seconds - 5.0000035).abs() < 1e-9);
    }
}
