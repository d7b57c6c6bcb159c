//! Throughput counters and latency histograms, and the `Report` computed from them.

use std::fmt;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

/// Highest latency the histograms track: one hour, in microseconds. Larger values are clamped.
const MAX_LATENCY_US: u64 = 3_600_000_000;
/// Bytes per MB in the MB/s figures (binary megabytes, as `pulsar-perf` prints them).
const BYTES_PER_MB: f64 = 1024.0 * 1024.0;

/// Latency percentiles in milliseconds.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Latency {
    /// Mean.
    pub mean_ms: f64,
    /// Median.
    pub p50_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
    /// 99.9th percentile.
    pub p999_ms: f64,
    /// Largest value seen.
    pub max_ms: f64,
}

/// What a perf run (or one interval of it) achieved.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Report {
    /// Messages published (receipted) or consumed.
    pub messages: u64,
    /// Payload bytes of those messages.
    pub bytes: u64,
    /// Sends that failed, or received messages that could not be decoded.
    pub errors: u64,
    /// Wall time covered.
    pub elapsed: Duration,
    /// `messages / elapsed`.
    pub msg_per_sec: f64,
    /// `bytes / elapsed` in MiB/s.
    pub mb_per_sec: f64,
    /// Publish latency (produce) or end-to-end latency (consume).
    pub latency: Latency,
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let l = &self.latency;
        write!(
            f,
            "{:.1} msg/s --- {:.2} MB/s --- latency ms: mean {:.3} p50 {:.3} p99 {:.3} \
             p99.9 {:.3} max {:.3} --- {} msgs, {} errors in {:.1} s",
            self.msg_per_sec,
            self.mb_per_sec,
            l.mean_ms,
            l.p50_ms,
            l.p99_ms,
            l.p999_ms,
            l.max_ms,
            self.messages,
            self.errors,
            self.elapsed.as_secs_f64(),
        )
    }
}

/// Counts and latencies of one period.
#[derive(Clone, Debug)]
pub(crate) struct Window {
    messages: u64,
    bytes: u64,
    errors: u64,
    histogram: Histogram<u64>,
}

impl Window {
    #[expect(
        clippy::expect_used,
        reason = "constant bounds that hdrhistogram accepts"
    )]
    fn new() -> Self {
        Window {
            messages: 0,
            bytes: 0,
            errors: 0,
            histogram: Histogram::new_with_bounds(1, MAX_LATENCY_US, 3)
                .expect("1..=1h with 3 significant digits is a valid histogram"),
        }
    }

    fn record(&mut self, messages: u64, bytes: u64, latency: Duration) {
        self.messages = self.messages.saturating_add(messages);
        self.bytes = self.bytes.saturating_add(bytes);
        let micros = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
        self.histogram
            .saturating_record_n(micros.clamp(1, MAX_LATENCY_US), messages.max(1));
    }

    fn merge(&mut self, other: &Window) {
        self.messages = self.messages.saturating_add(other.messages);
        self.bytes = self.bytes.saturating_add(other.bytes);
        self.errors = self.errors.saturating_add(other.errors);
        // Both histograms share bounds, so adding cannot fail; a failure would only lose
        // latency samples, never counts.
        let _ = self.histogram.add(&other.histogram);
    }

    /// The report for this window over `elapsed`.
    pub(crate) fn report(&self, elapsed: Duration) -> Report {
        let secs = elapsed.as_secs_f64();
        let per_sec = |n: f64| if secs > 0.0 { n / secs } else { 0.0 };
        #[allow(
            clippy::cast_precision_loss,
            reason = "rates are approximate by nature"
        )]
        let (messages, bytes) = (self.messages as f64, self.bytes as f64);
        let ms = |us: u64| {
            #[allow(
                clippy::cast_precision_loss,
                reason = "latencies stay far below 2^52 µs"
            )]
            let us = us as f64;
            us / 1000.0
        };
        let h = &self.histogram;
        let latency = if h.is_empty() {
            Latency::default()
        } else {
            Latency {
                mean_ms: h.mean() / 1000.0,
                p50_ms: ms(h.value_at_quantile(0.5)),
                p99_ms: ms(h.value_at_quantile(0.99)),
                p999_ms: ms(h.value_at_quantile(0.999)),
                max_ms: ms(h.max()),
            }
        };
        Report {
            messages: self.messages,
            bytes: self.bytes,
            errors: self.errors,
            elapsed,
            msg_per_sec: per_sec(messages),
            mb_per_sec: per_sec(bytes) / BYTES_PER_MB,
            latency,
        }
    }
}

/// Shared statistics of a run: the current interval, and the total merged so far.
///
/// The send and receive paths take only the `interval` lock, for one histogram record. A
/// roll swaps in a window allocated beforehand and does the rest (percentiles, merging into
/// the total, freeing the old window: ~0.1 ms here) after letting go of it, so a progress
/// line never holds a record up.
pub(crate) struct Stats {
    interval: Mutex<Interval>,
    total: Mutex<Window>,
    start: Instant,
}

/// The window being recorded and when it began.
struct Interval {
    window: Window,
    start: Instant,
}

impl Stats {
    pub(crate) fn new() -> Self {
        let now = Instant::now();
        Stats {
            interval: Mutex::new(Interval {
                window: Window::new(),
                start: now,
            }),
            total: Mutex::new(Window::new()),
            start: now,
        }
    }

    fn interval(&self) -> std::sync::MutexGuard<'_, Interval> {
        self.interval.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn total_window(&self) -> std::sync::MutexGuard<'_, Window> {
        self.total.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Records `messages` messages of `bytes` total payload that all saw `latency`.
    pub(crate) fn record(&self, messages: u64, bytes: u64, latency: Duration) {
        self.interval().window.record(messages, bytes, latency);
    }

    /// Counts a failed send or an undecodable message.
    pub(crate) fn record_error(&self) {
        let mut interval = self.interval();
        interval.window.errors = interval.window.errors.saturating_add(1);
    }

    /// Ends the current interval: returns its report and folds it into the total.
    pub(crate) fn roll_interval(&self) -> Report {
        let fresh = Window::new();
        let now = Instant::now();
        let (ended, start) = {
            let mut interval = self.interval();
            let start = std::mem::replace(&mut interval.start, now);
            (std::mem::replace(&mut interval.window, fresh), start)
        };
        let report = ended.report(now.duration_since(start));
        self.total_window().merge(&ended);
        report
    }

    /// The report over the whole run so far.
    pub(crate) fn total(&self) -> Report {
        self.roll_interval();
        self.total_window().report(self.start.elapsed())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_math() {
        let mut window = Window::new();
        for ms in 1..=1000u64 {
            window.record(1, 100, Duration::from_millis(ms));
        }
        window.errors = 2;
        let report = window.report(Duration::from_secs(2));
        assert_eq!(
            (report.messages, report.bytes, report.errors),
            (1000, 100_000, 2)
        );
        assert!((report.msg_per_sec - 500.0).abs() < 1e-9);
        assert!((report.mb_per_sec - 50_000.0 / BYTES_PER_MB).abs() < 1e-9);
        let l = report.latency;
        // hdrhistogram with 3 significant digits is within 0.1%.
        let close = |got: f64, want: f64| (got - want).abs() <= want * 0.002;
        assert!(close(l.p50_ms, 500.0), "{l:?}");
        assert!(close(l.p99_ms, 990.0), "{l:?}");
        assert!(close(l.p999_ms, 999.0), "{l:?}");
        assert!(close(l.max_ms, 1000.0), "{l:?}");
        assert!(close(l.mean_ms, 500.5), "{l:?}");
    }

    #[test]
    fn record_counts_a_batch_with_one_latency() {
        let mut window = Window::new();
        window.record(10, 1000, Duration::from_millis(3));
        let report = window.report(Duration::from_secs(1));
        assert_eq!(report.messages, 10);
        assert_eq!(report.latency.p50_ms, report.latency.max_ms);
    }

    #[test]
    fn empty_window_reports_zeros() {
        let report = Window::new().report(Duration::ZERO);
        assert_eq!(report.messages, 0);
        assert_eq!(report.msg_per_sec, 0.0);
        assert_eq!(report.latency, Latency::default());
    }

    #[test]
    fn huge_latency_is_clamped_not_lost() {
        let mut window = Window::new();
        window.record(1, 1, Duration::from_secs(10 * 3600));
        window.record(1, 1, Duration::ZERO);
        let report = window.report(Duration::from_secs(1));
        assert_eq!(report.messages, 2);
        assert!(report.latency.max_ms >= 3_600_000.0 * 0.999);
    }

    #[test]
    fn intervals_fold_into_the_total() {
        let stats = Stats::new();
        stats.record(5, 50, Duration::from_millis(1));
        stats.record_error();
        let first = stats.roll_interval();
        assert_eq!((first.messages, first.errors), (5, 1));
        stats.record(3, 30, Duration::from_millis(2));
        let total = stats.total();
        assert_eq!((total.messages, total.bytes, total.errors), (8, 80, 1));
        let empty = stats.roll_interval();
        assert_eq!(empty.messages, 0, "total() closed the interval");
    }

    #[test]
    fn records_racing_a_roll_land_in_one_interval_or_the_next() {
        let stats = std::sync::Arc::new(Stats::new());
        let recorder = {
            let stats = stats.clone();
            std::thread::spawn(move || {
                for _ in 0..20_000 {
                    stats.record(1, 10, Duration::from_micros(300));
                }
            })
        };
        let mut rolled = 0;
        while !recorder.is_finished() {
            rolled += stats.roll_interval().messages;
        }
        let _ = recorder.join();
        rolled += stats.roll_interval().messages;
        assert_eq!(rolled, 20_000);
        let total = stats.total();
        assert_eq!((total.messages, total.bytes), (20_000, 200_000));
    }

    #[test]
    fn display_names_the_figures() {
        let text = Window::new().report(Duration::from_secs(1)).to_string();
        assert!(text.contains("msg/s") && text.contains("MB/s") && text.contains("p99.9"));
    }
}
