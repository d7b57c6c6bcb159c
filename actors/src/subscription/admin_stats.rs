//! The subscription's stats and cursor report for the admin API.

use std::{collections::BTreeMap, time::Instant};

use actix::{Context, Handler, ResponseFuture};
use geminga_protocol::proto::command_subscribe::SubType;

use super::{
    actor::Subscription,
    admin::{GetSubscriptionStats, SubscriptionSnapshot},
    state::SubscriptionState,
};
use crate::{
    dispatcher::{sub_type_name, BlockedReason, DispatcherStats, GetDispatcherStats},
    error::RequestError,
    nonpersistent,
    topic::admin_stats::{
        format_time, position, ConsumerStatsReport, CursorReport, SubscriptionStatsReport,
    },
};

/// Ack ranges listed at most in `individuallyDeletedMessages`, and ids scanned for them.
const MAX_LISTED_RANGES: usize = 1000;
const MAX_SCANNED_IDS: u64 = 1 << 20;

impl Subscription {
    fn snapshot(&mut self) -> Result<SubscriptionSnapshot, RequestError> {
        let ledger_id = self.record.ledger_id;
        let non_persistent = nonpersistent::is_non_persistent(&self.record.name);
        let now = Instant::now();
        let state = self
            .state
            .as_ref()
            .ok_or_else(|| RequestError::unavailable("the subscription"))?;
        let cursor = state.cursor();
        let floor = cursor.ack_floor();
        let read_position = state.read_position();
        let (ranges, holes) = acked_ranges(state, ledger_id);
        let backlog = state.backlog_entries();
        let unacked = match read_position.checked_sub(1) {
            Some(last_read) if last_read >= floor => cursor.unacked_in(floor, last_read),
            _ => 0,
        };
        let sub_type = state.sub_type().or(self.admin.last_sub_type);
        let consumers: Vec<ConsumerStatsReport> = state
            .consumers()
            .iter()
            .map(|c| ConsumerStatsReport {
                consumer_name: c.name.clone(),
                connected_since: format_time(
                    self.admin.connected_since.get(&c.key).copied().unwrap_or(0),
                ),
                metadata: BTreeMap::new(),
                ..ConsumerStatsReport::default()
            })
            .collect();
        let active_consumer_name = match state.sub_type() {
            Some(SubType::Exclusive) => state.consumers().first().map(|c| c.name.clone()),
            Some(SubType::Failover) => state.consumers().iter().map(|c| c.name.clone()).min(),
            _ => None,
        };
        let admin = &mut self.admin;
        let stats = SubscriptionStatsReport {
            msg_rate_out: admin.msgs_out.rate(now),
            msg_throughput_out: admin.bytes_out.rate(now),
            bytes_out_counter: admin.bytes_out.total(),
            msg_out_counter: admin.msgs_out.total(),
            msg_rate_redeliver: admin.redelivered.rate(now),
            msg_backlog: backlog,
            msg_backlog_no_delayed: backlog.saturating_sub(state.delayed_messages()),
            msg_delayed: state.delayed_messages(),
            unacked_messages: unacked,
            sub_type: sub_type.map(|t| sub_type_name(t).to_owned()),
            active_consumer_name,
            msg_rate_expired: admin.expired.rate(now),
            total_msg_expired: admin.expired.total(),
            last_expire_timestamp: admin.last_expire_ms,
            last_consumed_timestamp: admin.last_consumed_ms,
            last_acked_timestamp: admin.last_acked_ms,
            consumers,
            is_durable: state.durable(),
            non_contiguous_deleted_messages_ranges: holes,
            subscription_properties: cursor.properties().clone(),
            msg_drop_rate: non_persistent.then(|| admin.dropped.rate(now)),
            ..SubscriptionStatsReport::default()
        };
        let cursor_report = CursorReport {
            mark_delete_position: position(ledger_id, cursor.mark_delete()),
            read_position: position(ledger_id, Some(read_position)),
            pending_read_ops: u64::from(self.reading),
            messages_consumed_counter: admin.msgs_out.total(),
            cursor_ledger: -1,
            cursor_ledger_last_entry: -1,
            individually_deleted_messages: ranges,
            last_ledger_switch_timestamp: format_time(admin.loaded_at_ms),
            state: "Open".to_owned(),
            active: !state.consumers().is_empty(),
            number_of_entries_since_first_not_acked_message: state
                .durable_next()
                .saturating_sub(floor),
            total_non_contiguous_deleted_messages_range: holes,
            subscription_have_pending_read: self.reading,
            properties: cursor.properties().clone(),
            ..CursorReport::default()
        };
        Ok(SubscriptionSnapshot {
            stats,
            cursor: cursor_report,
        })
    }
}

/// `individuallyDeletedMessages` (`[(l:a..l:b],...]`: entries a+1..=b acked) and the number
/// of ack holes, from a bounded scan above the ack floor.
fn acked_ranges(state: &SubscriptionState, ledger_id: u64) -> (String, u64) {
    let cursor = state.cursor();
    if cursor.individually_acked() == 0 {
        return ("[]".to_owned(), 0);
    }
    let floor = cursor.ack_floor();
    let end = state
        .durable_next()
        .min(floor.saturating_add(MAX_SCANNED_IDS));
    let mut ranges: Vec<(u64, u64)> = Vec::new();
    for id in floor..end {
        if !cursor.is_acked(id) {
            continue;
        }
        match ranges.last_mut() {
            Some((_, last)) if *last + 1 == id => *last = id,
            _ => ranges.push((id, id)),
        }
    }
    let listed: Vec<String> = ranges
        .iter()
        .take(MAX_LISTED_RANGES)
        .map(|(first, last)| {
            // Pulsar's ranges are open at the start: (a..b] holds a+1..=b.
            format!(
                "({ledger_id}:{}..{ledger_id}:{last}]",
                first.saturating_sub(1)
            )
        })
        .collect();
    (format!("[{}]", listed.join(",")), ranges.len() as u64)
}

/// Adds the dispatcher's view: per-consumer permits, unacked counts, blocking and hash ranges.
/// `keys` are the consumers' handle ids in the order of `snapshot.stats.consumers`.
fn with_dispatch(
    mut snapshot: SubscriptionSnapshot,
    keys: &[u64],
    dispatch: DispatcherStats,
) -> SubscriptionSnapshot {
    let stats = &mut snapshot.stats;
    for (consumer, key) in stats.consumers.iter_mut().zip(keys) {
        let Some(d) = dispatch.consumers.iter().find(|d| d.key == *key) else {
            continue;
        };
        consumer.available_permits = d.permits;
        consumer.unacked_messages = d.unacked_messages;
        consumer.blocked_consumer_on_unacked_msgs =
            d.blocked_reason == Some(BlockedReason::ConsumerUnackedLimit);
        consumer.priority_level = d.priority_level;
        if dispatch.key_shared_mode.is_some() {
            consumer.key_hash_ranges = Some(
                d.hash_ranges
                    .iter()
                    .map(|r| format!("[{}, {}]", r.start, r.end))
                    .collect(),
            );
        }
    }
    stats.blocked_subscription_on_unacked_msgs = dispatch.blocked_on_unacked_messages;
    stats.allow_out_of_order_delivery = dispatch.allow_out_of_order_delivery;
    stats.key_shared_mode = dispatch.key_shared_mode.clone();
    stats.dispatcher = Some(dispatch);
    snapshot
}

impl Handler<GetSubscriptionStats> for Subscription {
    type Result = ResponseFuture<Result<SubscriptionSnapshot, RequestError>>;

    fn handle(&mut self, _msg: GetSubscriptionStats, _ctx: &mut Context<Self>) -> Self::Result {
        let snapshot = self.snapshot();
        let keys: Vec<u64> = self
            .state
            .as_ref()
            .map(|s| s.consumers().iter().map(|c| c.key).collect())
            .unwrap_or_default();
        let dispatcher = self.dispatcher.clone();
        Box::pin(async move {
            let snapshot = snapshot?;
            // A dispatcher that is restarting answers nothing: report without its view.
            match dispatcher {
                Some(d) => match d.send(GetDispatcherStats).await {
                    Ok(dispatch) => Ok(with_dispatch(snapshot, &keys, dispatch)),
                    Err(_) => Ok(snapshot),
                },
                None => Ok(snapshot),
            }
        })
    }
}
