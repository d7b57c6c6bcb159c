//! Rate limiters for dispatch and publish rate policies: token buckets in messages and bytes
//! that refill continuously at the limit's rate and hold at most one period's worth.
//!
//! A limiter is shared (an `Arc`) by everything one policy covers: a topic's dispatchers
//! share the topic-level dispatch limiter, and every connection publishing to a topic shares
//! its publish limiter. Work is charged after it happens, so the buckets may go negative; the
//! caller then waits [`RateLimiter::wait_time`] before doing more. Nothing is ever dropped:
//! throttled consumers and producers only go slower.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use crate::metadata::RateLimit;

/// One bucket per limited dimension.
#[derive(Debug)]
struct Buckets {
    limit: Option<RateLimit>,
    messages: f64,
    bytes: f64,
    refilled: Instant,
    /// Average bytes per message charged so far (0 before the first charge), to turn byte
    /// tokens into a message count for sizing reads.
    average_message: f64,
}

impl Buckets {
    fn full(limit: Option<RateLimit>) -> Self {
        let (messages, bytes) = limit.map_or((0.0, 0.0), |l| {
            (
                l.messages.unwrap_or_default() as f64,
                l.bytes.unwrap_or_default() as f64,
            )
        });
        Self {
            limit,
            messages,
            bytes,
            refilled: Instant::now(),
            average_message: 0.0,
        }
    }

    fn refill(&mut self, now: Instant) {
        let Some(limit) = self.limit else { return };
        let elapsed = now.saturating_duration_since(self.refilled).as_secs_f64();
        self.refilled = now;
        let period = f64::from(limit.period_secs);
        if let Some(cap) = limit.messages.map(|m| m as f64) {
            self.messages = (self.messages + cap * elapsed / period).min(cap);
        }
        if let Some(cap) = limit.bytes.map(|b| b as f64) {
            self.bytes = (self.bytes + cap * elapsed / period).min(cap);
        }
    }
}

/// A shared token bucket; without a limit it never throttles.
#[derive(Debug)]
pub struct RateLimiter {
    buckets: Mutex<Buckets>,
}

impl RateLimiter {
    /// A limiter for `limit` (`None`: unlimited), starting with full buckets.
    pub fn new(limit: Option<RateLimit>) -> Arc<Self> {
        Arc::new(Self {
            buckets: Mutex::new(Buckets::full(limit)),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Buckets> {
        self.buckets.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Changes the limit (buckets restart full); unchanged limits keep their state.
    pub fn set_limit(&self, limit: Option<RateLimit>) {
        let mut buckets = self.lock();
        if buckets.limit != limit {
            *buckets = Buckets::full(limit);
        }
    }

    /// The current limit.
    pub fn limit(&self) -> Option<RateLimit> {
        self.lock().limit
    }

    /// Messages that may go now (`None`: no limit); 0 when a bucket is empty. Byte tokens
    /// count as messages of the average size seen so far (one message before any was seen).
    pub fn available_messages(&self) -> Option<u64> {
        let mut buckets = self.lock();
        let limit = buckets.limit?;
        buckets.refill(Instant::now());
        let by_messages = limit
            .messages
            .map(|_| buckets.messages.max(0.0).floor() as u64);
        let by_bytes = limit.bytes.map(|_| {
            if buckets.bytes < 1.0 {
                0
            } else if buckets.average_message <= 0.0 {
                1
            } else {
                ((buckets.bytes / buckets.average_message).floor() as u64).max(1)
            }
        });
        match (by_messages, by_bytes) {
            (Some(m), Some(b)) => Some(m.min(b)),
            (m, b) => m.or(b),
        }
    }

    /// Charges `messages` and `bytes` that went.
    pub fn consume(&self, messages: u64, bytes: u64) {
        let mut buckets = self.lock();
        if buckets.limit.is_none() {
            return;
        }
        buckets.refill(Instant::now());
        buckets.messages -= messages as f64;
        buckets.bytes -= bytes as f64;
        if messages > 0 {
            let size = bytes as f64 / messages as f64;
            buckets.average_message = if buckets.average_message <= 0.0 {
                size
            } else {
                0.8 * buckets.average_message + 0.2 * size
            };
        }
    }

    /// How long until both buckets hold at least one token again (`None`: now).
    pub fn wait_time(&self) -> Option<Duration> {
        let mut buckets = self.lock();
        let limit = buckets.limit?;
        buckets.refill(Instant::now());
        let period = f64::from(limit.period_secs);
        let wait = |tokens: f64, cap: Option<u64>| -> f64 {
            match cap {
                Some(cap) if tokens < 1.0 && cap > 0 => (1.0 - tokens) * period / cap as f64,
                _ => 0.0,
            }
        };
        let secs = wait(buckets.messages, limit.messages).max(wait(buckets.bytes, limit.bytes));
        (secs > 0.0).then(|| Duration::from_secs_f64(secs.min(3600.0)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limit(messages: i64, bytes: i64, period: i32) -> Option<RateLimit> {
        RateLimit::new(messages, bytes, period)
    }

    #[test]
    fn an_unlimited_limiter_never_waits() {
        let r = RateLimiter::new(None);
        r.consume(1_000_000, 1 << 40);
        assert_eq!(r.available_messages(), None);
        assert_eq!(r.wait_time(), None);
    }

    #[test]
    fn a_spent_bucket_waits_for_its_refill() {
        let r = RateLimiter::new(limit(10, -1, 1));
        assert_eq!(r.available_messages(), Some(10));
        r.consume(15, 0);
        assert_eq!(r.available_messages(), Some(0));
        let wait = r.wait_time().unwrap();
        // 6 tokens short at 10 per second: about 0.6 s.
        assert!(
            wait > Duration::from_millis(500) && wait <= Duration::from_millis(600),
            "{wait:?}"
        );
    }

    #[test]
    fn the_byte_bucket_throttles_too_and_periods_stretch_the_refill() {
        let r = RateLimiter::new(limit(-1, 100, 2));
        assert_eq!(
            r.available_messages(),
            Some(1),
            "one message before sizes are known"
        );
        r.consume(1, 150);
        assert_eq!(r.available_messages(), Some(0));
        // 51 bytes short at 100 per 2 s: about 1 s.
        let wait = r.wait_time().unwrap();
        assert!(
            wait > Duration::from_millis(900) && wait <= Duration::from_millis(1020),
            "{wait:?}"
        );
        r.set_limit(None);
        assert_eq!(r.wait_time(), None);
        assert_eq!(r.available_messages(), None);
        // With sizes known, byte tokens size the reads.
        let r = RateLimiter::new(limit(-1, 1000, 1));
        r.consume(2, 200);
        assert_eq!(r.available_messages(), Some(8));
    }
}
