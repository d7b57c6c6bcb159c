//! A send time in microseconds carried as a message property, so end-to-end latency can be
//! measured finer than `publish_time`'s milliseconds (which alone can misstate a 4.2 ms
//! latency as 5 ms: both ends are rounded down to the millisecond).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The property holding the producer's wall-clock send time, in epoch microseconds.
pub const SENT_MICROS_PROPERTY: &str = "geminga-perf-sent-us";

/// Wall-clock epoch microseconds now; 0 if the clock is before 1970.
pub(crate) fn epoch_micros() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| {
            u64::try_from(since.as_micros()).unwrap_or(u64::MAX)
        })
}

/// The property a stamped message carries, for a send at `micros`.
pub(crate) fn stamp(micros: u64) -> (String, String) {
    (SENT_MICROS_PROPERTY.to_owned(), micros.to_string())
}

/// The latency from the stamp among `properties` to `now_micros`; `None` when the message
/// carries no readable stamp.
pub(crate) fn latency<'a>(
    mut properties: impl Iterator<Item = (&'a str, &'a str)>,
    now_micros: u64,
) -> Option<Duration> {
    let (_, value) = properties.find(|(key, _)| *key == SENT_MICROS_PROPERTY)?;
    let sent = value.parse::<u64>().ok()?;
    Some(Duration::from_micros(now_micros.saturating_sub(sent)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stamp_reads_back_as_the_time_since_it() {
        let (key, value) = stamp(1_000_250);
        let properties = [("other", "x"), (key.as_str(), value.as_str())];
        assert_eq!(
            latency(properties.into_iter(), 1_004_460),
            Some(Duration::from_micros(4_210))
        );
    }

    #[test]
    fn missing_or_garbled_stamps_give_none() {
        assert_eq!(latency([("other", "1")].into_iter(), 5), None);
        assert_eq!(
            latency([(SENT_MICROS_PROPERTY, "soon")].into_iter(), 5),
            None
        );
    }

    #[test]
    fn a_stamp_from_the_future_reads_as_zero() {
        assert_eq!(
            latency([(SENT_MICROS_PROPERTY, "900")].into_iter(), 800),
            Some(Duration::ZERO)
        );
    }
}
