//! When a topic's upkeep passes run: one at a time, soon after a change, but at most one per
//! [`FLOOR_PACE`] for cursor floors moving. A tailing consumer moves its floor with every ack
//! batch; a pass for each (every 20 ms) spent ~2% of the broker's CPU at 10k msg/s on
//! searching the log by publish time for the grace period, and trimmed a few hundred entries
//! at a time once the log was older than the grace period.

use std::time::{Duration, Instant};

/// Delay between a trigger and the pass, so a burst of changes costs one pass.
pub const UPKEEP_DELAY: Duration = Duration::from_millis(20);

/// Least time between the starts of two passes asked for by cursor floors moving.
pub const FLOOR_PACE: Duration = Duration::from_secs(1);

/// How urgently a trigger wants a pass.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Pace {
    /// After [`UPKEEP_DELAY`]: policies, publishes that may break a quota, a cursor gone,
    /// the periodic check, a trim that has more steps to go.
    Soon,
    /// After [`UPKEEP_DELAY`], and no sooner than [`FLOOR_PACE`] after the last pass started.
    Paced,
}

/// The pass schedule of one topic.
#[derive(Debug, Default)]
pub struct PassSchedule {
    /// When the scheduled pass starts, if one is.
    due: Option<Instant>,
    /// Identifies the latest timer: an earlier timer that was superseded does nothing.
    generation: u64,
    /// A pass is running (plan, then trim write).
    running: bool,
    /// Asked for while a pass ran: run again after it, this urgently.
    again: Option<Pace>,
    /// When the last pass started.
    last_start: Option<Instant>,
}

/// A timer to set: start the pass after `delay` if `generation` is still current.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timer {
    /// From now.
    pub delay: Duration,
    /// Pass it back to [`PassSchedule::start`].
    pub generation: u64,
}

impl PassSchedule {
    /// A pass is wanted at `pace`; answers the timer to set, or `None` when a pass already
    /// scheduled or running covers it.
    pub fn request(&mut self, pace: Pace, now: Instant) -> Option<Timer> {
        if self.running {
            self.again = Some(self.again.map_or(pace, |p| p.min(pace)));
            return None;
        }
        let delay = self.delay(pace, now);
        let at = now + delay;
        if self.due.is_some_and(|due| due <= at) {
            return None;
        }
        self.due = Some(at);
        self.generation = self.generation.wrapping_add(1);
        Some(Timer {
            delay,
            generation: self.generation,
        })
    }

    /// A timer fired: whether its pass starts now (it is the current timer and no pass runs).
    pub fn start(&mut self, generation: u64, now: Instant) -> bool {
        if self.running || self.due.is_none() || generation != self.generation {
            return false;
        }
        self.due = None;
        self.running = true;
        self.last_start = Some(now);
        true
    }

    /// The pass ended; answers how urgently to run again, if at all (`more_to_trim`: the trim
    /// was one step of a longer one).
    pub fn finish(&mut self, more_to_trim: bool) -> Option<Pace> {
        self.running = false;
        let again = self.again.take();
        if more_to_trim {
            return Some(Pace::Soon);
        }
        again
    }

    /// Forgets timers and passes (the topic restarts); later timers of this schedule are void.
    pub fn reset(&mut self) {
        *self = Self {
            generation: self.generation.wrapping_add(1),
            ..Self::default()
        };
    }

    fn delay(&self, pace: Pace, now: Instant) -> Duration {
        let paced = match (pace, self.last_start) {
            (Pace::Paced, Some(last)) => {
                FLOOR_PACE.saturating_sub(now.saturating_duration_since(last))
            }
            _ => Duration::ZERO,
        };
        paced.max(UPKEEP_DELAY)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn a_first_request_runs_soon_and_a_second_one_is_covered() {
        let t0 = Instant::now();
        let mut s = PassSchedule::default();
        let timer = s.request(Pace::Paced, t0).unwrap();
        assert_eq!(timer.delay, UPKEEP_DELAY);
        assert_eq!(s.request(Pace::Soon, t0 + ms(5)), None);
        assert!(s.start(timer.generation, t0 + ms(20)));
    }

    #[test]
    fn floor_moves_wait_for_the_pace_after_a_pass() {
        let t0 = Instant::now();
        let mut s = PassSchedule::default();
        let first = s.request(Pace::Paced, t0).unwrap();
        assert!(s.start(first.generation, t0 + ms(20)));
        assert_eq!(s.finish(false), None);
        let next = s.request(Pace::Paced, t0 + ms(100)).unwrap();
        assert_eq!(next.delay, FLOOR_PACE - ms(80));
        // A long-past pass does not delay a new one beyond the usual delay.
        let mut s = PassSchedule::default();
        let first = s.request(Pace::Paced, t0).unwrap();
        assert!(s.start(first.generation, t0));
        s.finish(false);
        let late = s.request(Pace::Paced, t0 + ms(5000)).unwrap();
        assert_eq!(late.delay, UPKEEP_DELAY);
    }

    #[test]
    fn an_urgent_request_supersedes_a_paced_timer() {
        let t0 = Instant::now();
        let mut s = PassSchedule::default();
        let first = s.request(Pace::Soon, t0).unwrap();
        assert!(s.start(first.generation, t0));
        s.finish(false);
        let paced = s.request(Pace::Paced, t0 + ms(50)).unwrap();
        assert!(paced.delay > ms(900));
        let soon = s.request(Pace::Soon, t0 + ms(60)).unwrap();
        assert_eq!(soon.delay, UPKEEP_DELAY);
        assert!(s.start(soon.generation, t0 + ms(80)));
        // The superseded timer fires later and does nothing.
        assert!(!s.start(paced.generation, t0 + ms(1000)));
    }

    #[test]
    fn requests_during_a_pass_run_it_again_at_their_pace() {
        let t0 = Instant::now();
        let mut s = PassSchedule::default();
        let first = s.request(Pace::Soon, t0).unwrap();
        assert!(s.start(first.generation, t0));
        assert_eq!(s.request(Pace::Paced, t0 + ms(1)), None);
        assert_eq!(s.finish(false), Some(Pace::Paced));
        let second = s.request(Pace::Soon, t0 + ms(2)).unwrap();
        assert!(s.start(second.generation, t0 + ms(22)));
        assert_eq!(s.request(Pace::Paced, t0 + ms(23)), None);
        assert_eq!(s.request(Pace::Soon, t0 + ms(24)), None);
        assert_eq!(s.finish(false), Some(Pace::Soon));
        // More to trim runs soon even with nothing asked.
        let third = s.request(Pace::Soon, t0 + ms(30)).unwrap();
        assert!(s.start(third.generation, t0 + ms(50)));
        assert_eq!(s.finish(true), Some(Pace::Soon));
    }

    #[test]
    fn a_reset_voids_earlier_timers() {
        let t0 = Instant::now();
        let mut s = PassSchedule::default();
        let timer = s.request(Pace::Soon, t0).unwrap();
        s.reset();
        assert!(!s.start(timer.generation, t0 + ms(20)));
        let fresh = s.request(Pace::Paced, t0 + ms(30)).unwrap();
        assert_eq!(fresh.delay, UPKEEP_DELAY);
        assert!(s.start(fresh.generation, t0 + ms(50)));
    }
}
