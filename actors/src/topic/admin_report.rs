//! The topic's stats and internal stats reports, gathered from its subscriptions.

use std::{collections::BTreeMap, time::Instant};

use actix::{fut::wrap_future, ActorFutureExt, Context, Handler, ResponseActFuture};
use futures_util::future::join_all;

use super::{
    actor::Topic,
    admin::{not_persistent, GetInternalStats, GetTopicStats},
    admin_stats::{
        format_time, position, InternalStatsReport, LedgerReport, PublisherStatsReport,
        TopicStatsReport,
    },
    TopicState,
};
use crate::{
    error::RequestError,
    subscription::{GetSubscriptionStats, SubscriptionSnapshot},
};

impl Topic {
    pub(super) fn snapshots(
        &self,
    ) -> impl std::future::Future<Output = Vec<(String, SubscriptionSnapshot)>> {
        let queries: Vec<_> = self
            .subscriptions
            .iter()
            .map(|(name, slot)| {
                let (name, request) = (name.clone(), slot.addr.send(GetSubscriptionStats));
                async move { (name, request.await) }
            })
            .collect();
        async move {
            join_all(queries)
                .await
                .into_iter()
                .filter_map(|(name, answer)| match answer {
                    Ok(Ok(snapshot)) => Some((name, snapshot)),
                    _ => None,
                })
                .collect()
        }
    }

    /// Bytes stored in the log, on the blocking pool (0 for non-persistent topics).
    fn storage_size(&self) -> impl std::future::Future<Output = u64> {
        let storage = self.broker.storage().clone();
        let (ledger_id, stored) = (self.record.ledger_id, !self.non_persistent);
        async move {
            if !stored {
                return 0;
            }
            actix_rt::task::spawn_blocking(move || storage.log_size_bytes(ledger_id))
                .await
                .ok()
                .and_then(Result::ok)
                .unwrap_or(0)
        }
    }

    fn stored_entries(&self) -> u64 {
        let durable_next = self.state.as_ref().map_or(0, TopicState::durable_next);
        durable_next.saturating_sub(self.first_entry)
    }

    fn stats_report(
        &mut self,
        storage_size: u64,
        snapshots: Vec<(String, SubscriptionSnapshot)>,
    ) -> TopicStatsReport {
        let now = Instant::now();
        let entries = self.stored_entries().max(1);
        let per_entry = storage_size / entries;
        let drop_rate = self.non_persistent.then_some(0.0);
        let mut report = TopicStatsReport {
            deduplication_status: "Disabled".to_owned(),
            storage_size,
            msg_drop_rate: drop_rate,
            ..TopicStatsReport::default()
        };
        for (name, snapshot) in snapshots {
            let mut sub = snapshot.stats;
            sub.backlog_size = sub.msg_backlog.saturating_mul(per_entry);
            report.msg_rate_out += sub.msg_rate_out;
            report.msg_throughput_out += sub.msg_throughput_out;
            report.msg_out_counter += sub.msg_out_counter;
            report.bytes_out_counter += sub.bytes_out_counter;
            report.backlog_size = report.backlog_size.max(sub.backlog_size);
            report.non_contiguous_deleted_messages_ranges +=
                sub.non_contiguous_deleted_messages_ranges;
            if let (Some(total), Some(rate)) = (report.msg_drop_rate.as_mut(), sub.msg_drop_rate) {
                *total += rate;
            }
            report.subscriptions.insert(name, sub);
        }
        let admin = &mut self.admin;
        report.msg_rate_in = admin.msgs_in.rate(now);
        report.msg_throughput_in = admin.bytes_in.rate(now);
        report.msg_in_counter = admin.msgs_in.total();
        report.bytes_in_counter = admin.bytes_in.total();
        report.average_msg_size = average(admin.bytes_in.total(), admin.msgs_in.total());
        let non_persistent = self.non_persistent;
        let mut publishers: Vec<(u64, PublisherStatsReport)> = admin
            .producers
            .iter_mut()
            .map(|(handle, p)| {
                let publisher = PublisherStatsReport {
                    access_mode: "Shared".to_owned(),
                    msg_rate_in: p.msgs.rate(now),
                    msg_throughput_in: p.bytes.rate(now),
                    average_msg_size: average(p.bytes.total(), p.msgs.total()),
                    producer_id: *handle,
                    producer_name: p.name.clone(),
                    connected_since: format_time(p.since_ms),
                    msg_drop_rate: non_persistent.then_some(0.0),
                    ..PublisherStatsReport::default()
                };
                (p.since_ms, publisher)
            })
            .collect();
        publishers.sort_by_key(|(since, p)| (*since, p.producer_id));
        report.publishers = publishers.into_iter().map(|(_, p)| p).collect();
        report
    }

    fn internal_report(
        &self,
        storage_size: u64,
        snapshots: Vec<(String, SubscriptionSnapshot)>,
    ) -> InternalStatsReport {
        let ledger_id = self.record.ledger_id;
        let entries = self.stored_entries();
        let last = self.state.as_ref().and_then(TopicState::last_durable);
        let ledger = LedgerReport {
            ledger_id,
            entries,
            size: storage_size,
            ..LedgerReport::default()
        };
        InternalStatsReport {
            entries_added_counter: self.admin.entries_added,
            number_of_entries: entries,
            total_size: storage_size,
            current_ledger_entries: entries,
            current_ledger_size: storage_size,
            last_ledger_created_timestamp: format_time(self.record.created_at_ms),
            pending_add_entries_count: u64::from(
                self.state.as_ref().is_some_and(TopicState::has_in_flight),
            ),
            last_confirmed_entry: position(ledger_id, last),
            state: if self.admin.terminated {
                "Terminated"
            } else {
                "LedgerOpened"
            }
            .to_owned(),
            ledgers: vec![ledger],
            cursors: snapshots
                .into_iter()
                .map(|(name, snapshot)| (name, snapshot.cursor))
                .collect::<BTreeMap<_, _>>(),
            ..InternalStatsReport::default()
        }
    }
}

fn average(bytes: u64, messages: u64) -> f64 {
    if messages == 0 {
        return 0.0;
    }
    #[allow(
        clippy::cast_precision_loss,
        reason = "an average size does not need 53+ bits"
    )]
    let average = bytes as f64 / messages as f64;
    average
}

impl Handler<GetTopicStats> for Topic {
    type Result = ResponseActFuture<Self, Result<TopicStatsReport, RequestError>>;

    fn handle(&mut self, _msg: GetTopicStats, _ctx: &mut Context<Self>) -> Self::Result {
        let (size, snapshots) = (self.storage_size(), self.snapshots());
        let gathered = async move { (size.await, snapshots.await) };
        Box::pin(
            wrap_future::<_, Self>(gathered)
                .map(|(size, snapshots), act, _ctx| Ok(act.stats_report(size, snapshots))),
        )
    }
}

impl Handler<GetInternalStats> for Topic {
    type Result = ResponseActFuture<Self, Result<InternalStatsReport, RequestError>>;

    fn handle(&mut self, _msg: GetInternalStats, _ctx: &mut Context<Self>) -> Self::Result {
        if self.non_persistent {
            return Box::pin(actix::fut::ready(Err(not_persistent("internal stats"))));
        }
        let (size, snapshots) = (self.storage_size(), self.snapshots());
        let gathered = async move { (size.await, snapshots.await) };
        Box::pin(
            wrap_future::<_, Self>(gathered)
                .map(|(size, snapshots), act, _ctx| Ok(act.internal_report(size, snapshots))),
        )
    }
}
