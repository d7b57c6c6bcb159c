//! Topic and subscription stats in the JSON shapes of Pulsar's admin API, and the meters
//! behind their rates.

use std::{
    collections::{BTreeMap, VecDeque},
    time::{Duration, Instant},
};

use serde::Serialize;

use crate::dispatcher::DispatcherStats;

/// Rates are averaged over at most this long.
const RATE_WINDOW: Duration = Duration::from_secs(10);
/// Samples are kept at most this often.
const SAMPLE_EVERY: Duration = Duration::from_secs(1);

/// A monotonic counter with a rate over the last few seconds, sampled lazily (no timer).
#[derive(Clone, Debug, Default)]
pub struct Meter {
    total: u64,
    /// `(when, total then)`, oldest first, spanning at most [`RATE_WINDOW`].
    samples: VecDeque<(Instant, u64)>,
}

impl Meter {
    /// Counts `n` more at `now`.
    pub fn add(&mut self, n: u64, now: Instant) {
        self.sample(now);
        self.total = self.total.saturating_add(n);
    }

    /// Everything counted.
    pub fn total(&self) -> u64 {
        self.total
    }

    /// Per second over the window ending at `now`; 0 once nothing was counted for a window.
    pub fn rate(&mut self, now: Instant) -> f64 {
        self.sample(now);
        let Some(&(since, base)) = self.samples.front() else {
            return 0.0;
        };
        let seconds = now.saturating_duration_since(since).as_secs_f64();
        if seconds <= 0.0 {
            return 0.0;
        }
        #[allow(clippy::cast_precision_loss, reason = "a rate does not need 53+ bits")]
        let counted = self.total.saturating_sub(base) as f64;
        counted / seconds
    }

    fn sample(&mut self, now: Instant) {
        while self
            .samples
            .front()
            .is_some_and(|(at, _)| now.saturating_duration_since(*at) > RATE_WINDOW)
        {
            self.samples.pop_front();
        }
        let due = self
            .samples
            .back()
            .is_none_or(|(at, _)| now.saturating_duration_since(*at) >= SAMPLE_EVERY);
        if due {
            self.samples.push_back((now, self.total));
        }
    }
}

/// `ledger:entry` as Pulsar prints positions, `-1` for "none".
pub fn position(ledger_id: u64, entry_id: Option<u64>) -> String {
    match entry_id {
        Some(entry) => format!("{ledger_id}:{entry}"),
        None => format!("{ledger_id}:-1"),
    }
}

/// Milliseconds since the Unix epoch as ISO-8601 UTC (`2024-05-01T12:00:00.123Z`), the form
/// Pulsar's admin API uses for timestamps.
pub fn format_time(epoch_ms: u64) -> String {
    let days = epoch_ms / 86_400_000;
    let in_day = epoch_ms % 86_400_000;
    let (year, month, day) = civil_from_days(i64::try_from(days).unwrap_or(i64::MAX));
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        in_day / 3_600_000,
        in_day / 60_000 % 60,
        in_day / 1000 % 60,
        in_day % 1000
    )
}

/// Howard Hinnant's days-to-civil algorithm (proleptic Gregorian calendar).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days.saturating_add(719_468);
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (
        year,
        u32::try_from(month).unwrap_or(1),
        u32::try_from(day).unwrap_or(1),
    )
}

/// A topic's stats (Pulsar's `TopicStats`; non-persistent topics add `msgDropRate`).
#[derive(Clone, Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TopicStatsReport {
    /// Messages published per second.
    pub msg_rate_in: f64,
    /// Bytes published per second.
    pub msg_throughput_in: f64,
    /// Messages delivered per second, over all subscriptions.
    pub msg_rate_out: f64,
    /// Bytes delivered per second, over all subscriptions.
    pub msg_throughput_out: f64,
    /// Bytes published since the topic was loaded.
    pub bytes_in_counter: u64,
    /// Messages published since the topic was loaded.
    pub msg_in_counter: u64,
    /// Bytes delivered since the topic was loaded.
    pub bytes_out_counter: u64,
    /// Messages delivered since the topic was loaded.
    pub msg_out_counter: u64,
    /// Average published message size in bytes.
    pub average_msg_size: f64,
    /// Whether chunked messages were published (Geminga stores chunks as plain entries).
    pub msg_chunk_published: bool,
    /// Bytes stored in the topic's log.
    pub storage_size: u64,
    /// Bytes not yet acknowledged by the slowest subscription (estimated).
    pub backlog_size: u64,
    /// Bytes offloaded to tiered storage (always 0).
    pub offloaded_storage_size: u64,
    /// Attached producers.
    pub publishers: Vec<PublisherStatsReport>,
    /// Producers waiting for exclusive access (always 0).
    pub waiting_publishers: u64,
    /// Per subscription.
    pub subscriptions: BTreeMap<String, SubscriptionStatsReport>,
    /// Geo-replication (always empty).
    pub replication: BTreeMap<String, serde_json::Value>,
    /// Message deduplication status.
    pub deduplication_status: String,
    /// Ack holes summed over subscriptions.
    pub non_contiguous_deleted_messages_ranges: u64,
    /// Size of the ack holes when serialized (not tracked: 0).
    pub non_contiguous_deleted_messages_ranges_serialized_size: u64,
    /// Messages dropped per second (non-persistent topics only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub msg_drop_rate: Option<f64>,
}

/// One producer (Pulsar's `PublisherStats`).
#[derive(Clone, Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PublisherStatsReport {
    /// `Shared`: Geminga has no exclusive producers.
    pub access_mode: String,
    /// Messages per second.
    pub msg_rate_in: f64,
    /// Bytes per second.
    pub msg_throughput_in: f64,
    /// Average message size in bytes.
    pub average_msg_size: f64,
    /// Chunked messages per second (not tracked: 0).
    pub chunked_message_rate: f64,
    /// The broker's id of the producer.
    pub producer_id: u64,
    /// Whether it supports partial producers (no).
    pub supports_partial_producer: bool,
    /// Producer name.
    pub producer_name: String,
    /// When it attached.
    pub connected_since: String,
    /// Producer metadata (not tracked: empty).
    pub metadata: BTreeMap<String, String>,
    /// Messages dropped per second (non-persistent topics only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub msg_drop_rate: Option<f64>,
}

/// One subscription (Pulsar's `SubscriptionStats`).
#[derive(Clone, Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SubscriptionStatsReport {
    /// Messages delivered per second.
    pub msg_rate_out: f64,
    /// Bytes delivered per second.
    pub msg_throughput_out: f64,
    /// Bytes delivered since the subscription was loaded.
    pub bytes_out_counter: u64,
    /// Messages delivered since the subscription was loaded.
    pub msg_out_counter: u64,
    /// Redeliveries per second.
    pub msg_rate_redeliver: f64,
    /// Acks per second (not tracked: 0).
    pub message_ack_rate: f64,
    /// Chunked messages per second (not tracked: 0).
    pub chunked_message_rate: f64,
    /// Entries not yet acknowledged.
    pub msg_backlog: u64,
    /// Bytes not yet acknowledged (estimated).
    pub backlog_size: u64,
    /// Backlog without delayed messages.
    pub msg_backlog_no_delayed: u64,
    /// Whether dispatch is paused by the subscription's unacked limit (not reported: false).
    pub blocked_subscription_on_unacked_msgs: bool,
    /// Messages held back for delayed delivery (not implemented: 0).
    pub msg_delayed: u64,
    /// Entries handed out and not acknowledged.
    pub unacked_messages: u64,
    /// `Exclusive`, `Shared`, `Failover` or `Key_Shared`.
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub sub_type: Option<String>,
    /// The consumer receiving everything (Exclusive, Failover).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub active_consumer_name: Option<String>,
    /// Messages expired per second.
    pub msg_rate_expired: f64,
    /// Messages expired since the subscription was loaded.
    pub total_msg_expired: u64,
    /// When messages last expired (epoch ms, 0: never).
    pub last_expire_timestamp: u64,
    /// When entries were last handed out (epoch ms, 0: never).
    pub last_consumed_timestamp: u64,
    /// When an ack last arrived (epoch ms, 0: never).
    pub last_acked_timestamp: u64,
    /// Attached consumers.
    pub consumers: Vec<ConsumerStatsReport>,
    /// Whether the cursor is persisted.
    pub is_durable: bool,
    /// Geo-replicated subscription (no).
    pub is_replicated: bool,
    /// Key_Shared out-of-order delivery (not reported: false).
    pub allow_out_of_order_delivery: bool,
    /// Ack holes of the cursor.
    pub non_contiguous_deleted_messages_ranges: u64,
    /// Size of the ack holes when serialized (not tracked: 0).
    pub non_contiguous_deleted_messages_ranges_serialized_size: u64,
    /// Subscription properties.
    pub subscription_properties: BTreeMap<String, String>,
    /// Messages dropped per second (non-persistent topics only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub msg_drop_rate: Option<f64>,
    /// Key_Shared mode (`AUTO_SPLIT` or `STICKY`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_shared_mode: Option<String>,
    /// Geminga's dispatcher view: who holds what, which keys wait and for whom.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dispatcher: Option<DispatcherStats>,
}

/// One consumer (Pulsar's `ConsumerStats`, the fields the subscription knows).
#[derive(Clone, Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ConsumerStatsReport {
    /// Consumer name.
    pub consumer_name: String,
    /// When it attached.
    pub connected_since: String,
    /// Consumer metadata (not tracked: empty).
    pub metadata: BTreeMap<String, String>,
    /// Messages it can still take (its FLOW credit).
    pub available_permits: i64,
    /// Messages delivered to it and not acked.
    pub unacked_messages: u64,
    /// Dispatch to it is paused by an unacked-message limit.
    pub blocked_consumer_on_unacked_msgs: bool,
    /// Its priority level (lower is served first).
    pub priority_level: i32,
    /// Key_Shared: the hash ranges it receives, as Pulsar writes them (`[start, end]`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_hash_ranges: Option<Vec<String>>,
}

/// A topic's storage view (Pulsar's `PersistentTopicInternalStats`).
#[derive(Clone, Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct InternalStatsReport {
    /// Entries appended since the topic was loaded.
    pub entries_added_counter: u64,
    /// Entries stored.
    pub number_of_entries: u64,
    /// Bytes stored.
    pub total_size: u64,
    /// Entries in the current (only) ledger.
    pub current_ledger_entries: u64,
    /// Bytes in the current (only) ledger.
    pub current_ledger_size: u64,
    /// When the ledger was created.
    pub last_ledger_created_timestamp: String,
    /// Cursors waiting for new entries (not tracked: 0).
    pub waiting_cursors_count: u64,
    /// Appends not yet durable.
    pub pending_add_entries_count: u64,
    /// The last durable entry, `ledger:entry`.
    pub last_confirmed_entry: String,
    /// `LedgerOpened`, or `Terminated`.
    pub state: String,
    /// The topic's ledgers (one).
    pub ledgers: Vec<LedgerReport>,
    /// Per subscription.
    pub cursors: BTreeMap<String, CursorReport>,
    /// Schema ledgers (none).
    pub schema_ledgers: Vec<LedgerReport>,
    /// The compacted ledger (none: ids are -1).
    pub compacted_ledger: CompactedLedgerReport,
}

/// One ledger of a topic.
#[derive(Clone, Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LedgerReport {
    /// Ledger id.
    pub ledger_id: u64,
    /// Entries stored.
    pub entries: u64,
    /// Bytes stored.
    pub size: u64,
    /// Offloaded to tiered storage (no).
    pub offloaded: bool,
    /// Under-replicated (no).
    pub under_replicated: bool,
}

/// The absent compacted ledger.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CompactedLedgerReport {
    /// -1: none.
    pub ledger_id: i64,
    /// -1: none.
    pub entries: i64,
    /// -1: none.
    pub size: i64,
    /// No.
    pub offloaded: bool,
    /// No.
    pub under_replicated: bool,
}

impl Default for CompactedLedgerReport {
    fn default() -> Self {
        Self {
            ledger_id: -1,
            entries: -1,
            size: -1,
            offloaded: false,
            under_replicated: false,
        }
    }
}

/// One subscription's cursor (Pulsar's `CursorStats`).
#[derive(Clone, Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CursorReport {
    /// Everything up to here is acknowledged, `ledger:entry`.
    pub mark_delete_position: String,
    /// The next entry to read for dispatch, `ledger:entry`.
    pub read_position: String,
    /// Whether a read waits for new entries (not tracked: false).
    pub waiting_read_op: bool,
    /// Reads in flight.
    pub pending_read_ops: u64,
    /// Entries handed out since the subscription was loaded.
    pub messages_consumed_counter: u64,
    /// -1: cursors are not kept in ledgers.
    pub cursor_ledger: i64,
    /// -1: cursors are not kept in ledgers.
    pub cursor_ledger_last_entry: i64,
    /// Acknowledged ranges above the mark-delete position, `[(l:a..l:b],...]`.
    pub individually_deleted_messages: String,
    /// When the cursor was loaded.
    pub last_ledger_switch_timestamp: String,
    /// `Open`.
    pub state: String,
    /// Whether consumers are attached.
    pub active: bool,
    /// Entries from the first unacknowledged one to the end of the topic.
    pub number_of_entries_since_first_not_acked_message: u64,
    /// Number of ack holes.
    pub total_non_contiguous_deleted_messages_range: u64,
    /// Whether the subscription waits for a read.
    pub subscription_have_pending_read: bool,
    /// Whether the subscription waits for a re-read.
    pub subscription_have_pending_replay_read: bool,
    /// Cursor properties.
    pub properties: BTreeMap<String, String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_average_over_the_window_and_decay_to_zero() {
        let start = Instant::now();
        let mut meter = Meter::default();
        meter.add(10, start);
        meter.add(10, start + Duration::from_millis(500));
        let rate = meter.rate(start + Duration::from_secs(2));
        assert!(
            (rate - 10.0).abs() < 1e-9,
            "20 messages over 2 s, got {rate}"
        );
        assert_eq!(meter.total(), 20);
        assert_eq!(meter.rate(start + Duration::from_secs(30)), 0.0);
    }

    #[test]
    fn times_print_as_iso_8601_utc() {
        assert_eq!(format_time(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(format_time(1_700_000_000_123), "2023-11-14T22:13:20.123Z");
        assert_eq!(format_time(951_782_400_000), "2000-02-29T00:00:00.000Z");
        assert_eq!(position(3, None), "3:-1");
        assert_eq!(position(3, Some(9)), "3:9");
    }
}
