//! What a subscription does for its topic's log upkeep: reporting its ack floor, backlog
//! eviction, committing compactions (the `__compaction` cursor) and reading the compacted log
//! for read-compacted consumers.

use std::collections::HashMap;
use std::time::Instant;

use actix::{
    fut::wrap_future, ActorContext, ActorFutureExt, AsyncContext, Context, Handler, Message,
};
use geminga_storage::{Entry, Storage, StorageError};
use tracing::warn;

use super::{actor::Subscription, admin::now_ms, state::AckOutcome};
use crate::{
    dispatcher::ReadEntry,
    error::RequestError,
    topic::{
        compaction::{retained_mask, CompactedView, HORIZON_PROPERTY, LEDGER_PROPERTY},
        FloorMoved,
    },
};

/// Largest number of bytes read from a compacted log in one go.
const MAX_READ_BYTES: usize = 4 * 1024 * 1024;

/// Moves the cursor up to `before_entry` (backlog quota `consumer_backlog_eviction`): every
/// entry below it counts as acknowledged. Answers how many entries were evicted.
#[derive(Debug, Message)]
#[rtype(result = "Result<u64, RequestError>")]
pub struct EvictBacklog {
    /// First entry kept.
    pub before_entry: u64,
}

/// The topic's compacted log changed (or was found at load).
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct SetCompactedView {
    /// The compacted log, if the topic is compacted.
    pub view: Option<CompactedView>,
}

/// Records a finished compaction in this (`__compaction`) cursor: its properties name the
/// compacted ledger and horizon, and its floor moves past the horizon. Answered once durable.
#[derive(Debug, Message)]
#[rtype(result = "Result<(), RequestError>")]
pub struct CommitCompaction {
    /// The new compacted log.
    pub view: CompactedView,
}

impl Subscription {
    /// Tells the topic where the ack floor is, when it moved since the last report. Durable
    /// cursors call this once the floor is persisted.
    pub(super) fn report_floor(&mut self) {
        let Some(floor) = self.state.as_ref().map(|s| s.cursor().ack_floor()) else {
            return;
        };
        if self.admin.reported_floor != Some(floor) {
            self.admin.reported_floor = Some(floor);
            self.topic.do_send(FloorMoved {
                name: self.name.clone(),
                floor,
            });
        }
    }

    /// The compacted log to read `from` from, for read-compacted consumers below the horizon.
    pub(super) fn compacted_source(&self, from: u64) -> Option<CompactedView> {
        self.admin
            .compacted_view
            .filter(|view| self.admin.read_compacted && from <= view.horizon)
    }

    /// Reads the compacted log from `from` (one read at a time, like the topic's log).
    pub(super) fn read_compacted(
        &mut self,
        from: u64,
        max: usize,
        view: CompactedView,
        ctx: &mut Context<Self>,
    ) {
        self.reading = true;
        let storage = self.broker.storage().clone();
        let read = actix_rt::task::spawn_blocking(move || {
            let mut entries = storage.read_entries(view.ledger_id, from, max, MAX_READ_BYTES)?;
            entries.retain(|e| e.entry_id <= view.horizon);
            Ok::<_, StorageError>(with_masks(entries))
        });
        let fut = wrap_future::<_, Self>(read).map(move |joined, act, ctx| {
            act.reading = false;
            if act.admin.compacted_view != Some(view) {
                // A newer compaction replaced this log while reading: read again from it.
                return act.read_next(ctx);
            }
            match super::actor::flatten(joined) {
                Ok((entries, masks)) => {
                    act.hand_over_compacted(from, entries, &masks, view);
                    act.read_next(ctx);
                }
                Err(e) => {
                    warn!(parent: &act.span, error = %e, "reading the compacted log failed");
                    ctx.stop();
                }
            }
        });
        ctx.spawn(fut);
    }

    fn hand_over_compacted(
        &mut self,
        from: u64,
        entries: Vec<Entry>,
        masks: &HashMap<u64, Vec<i64>>,
        view: CompactedView,
    ) {
        let Some(state) = self.state.as_mut() else {
            return;
        };
        let epoch = state.epoch();
        let skip_to = view.horizon.saturating_add(1);
        let mut out = state.on_read_until(from, entries, skip_to, super::epoch_ms());
        apply_masks(&mut out, masks);
        let unacked = state.dispatched_unacked();
        self.dispatch_read(epoch, unacked, out);
    }
}

/// The last message the compacted log `view` holds: its entry id and batch index (-1 for an
/// entry of one message); `None` when compaction kept nothing.
pub(super) fn compacted_last(
    storage: &Storage,
    view: CompactedView,
) -> Result<Option<(u64, i32)>, StorageError> {
    let Some(bounds) = storage.log_bounds(view.ledger_id)? else {
        return Ok(None);
    };
    let Some(entry) = storage.read_entry(view.ledger_id, bounds.last)? else {
        return Ok(None);
    };
    let count = entry.meta.num_messages;
    let batch_index = if count > 1 {
        match retained_mask(&entry.data) {
            Some(mask) => last_set_bit(&mask).unwrap_or(-1),
            None => i32::try_from(count - 1).unwrap_or(-1),
        }
    } else {
        -1
    };
    Ok(Some((entry.entry_id, batch_index)))
}

/// The highest set bit of a Java `BitSet` long array.
fn last_set_bit(words: &[i64]) -> Option<i32> {
    let (index, word) = words.iter().enumerate().rev().find(|(_, w)| **w != 0)?;
    let top = 63 - i32::try_from(word.leading_zeros()).ok()?;
    i32::try_from(index).ok()?.checked_mul(64)?.checked_add(top)
}

/// The entries and, for compacted batches, which of their messages remain.
pub(super) fn with_masks(entries: Vec<Entry>) -> (Vec<Entry>, HashMap<u64, Vec<i64>>) {
    let masks = entries
        .iter()
        .filter(|e| e.meta.num_messages > 1)
        .filter_map(|e| retained_mask(&e.data).map(|mask| (e.entry_id, mask)))
        .collect();
    (entries, masks)
}

/// Narrows each entry's ack set to the messages compaction kept, so clients skip the ones
/// compacted out of a batch.
pub(super) fn apply_masks(entries: &mut [ReadEntry], masks: &HashMap<u64, Vec<i64>>) {
    for read in entries {
        let Some(mask) = masks.get(&read.entry.entry_id) else {
            continue;
        };
        read.ack_set = Some(match read.ack_set.take() {
            // A word missing from the cursor's set is all acknowledged.
            Some(unacked) => unacked.iter().zip(mask).map(|(a, b)| a & b).collect(),
            None => mask.clone(),
        });
    }
}

impl Handler<EvictBacklog> for Subscription {
    type Result = actix::ResponseFuture<Result<u64, RequestError>>;

    fn handle(&mut self, msg: EvictBacklog, ctx: &mut Context<Self>) -> Self::Result {
        let Some(state) = self.state.as_mut() else {
            return Box::pin(async { Err(RequestError::unavailable("the subscription")) });
        };
        let floor = state.cursor().ack_floor();
        let Some(last) = msg
            .before_entry
            .min(state.durable_next())
            .checked_sub(1)
            .filter(|last| *last >= floor)
        else {
            return Box::pin(async { Ok(0) });
        };
        let evicted = state.cursor().unacked_in(floor, last);
        state.cursor_mut().ack_cumulative(last);
        if evicted > 0 {
            self.admin.expired.add(evicted, Instant::now());
            self.admin.last_expire_ms = now_ms();
        }
        let outcome = AckOutcome {
            acked: Vec::new(),
            up_to: Some(last),
        };
        let rx = self.commit_admin_acks(outcome, ctx);
        Box::pin(async move {
            rx.await
                .unwrap_or_else(|_| Err(RequestError::unavailable("the subscription")))
                .map(|()| evicted)
        })
    }
}

impl Handler<SetCompactedView> for Subscription {
    type Result = ();

    fn handle(&mut self, msg: SetCompactedView, _ctx: &mut Context<Self>) {
        self.admin.compacted_view = msg.view;
    }
}

impl Handler<CommitCompaction> for Subscription {
    type Result = actix::ResponseFuture<Result<(), RequestError>>;

    fn handle(&mut self, msg: CommitCompaction, ctx: &mut Context<Self>) -> Self::Result {
        let Some(state) = self.state.as_mut() else {
            return Box::pin(async { Err(RequestError::unavailable("the subscription")) });
        };
        let view = msg.view;
        let cursor = state.cursor_mut();
        cursor.set_property(LEDGER_PROPERTY, view.ledger_id.to_string());
        cursor.set_property(HORIZON_PROPERTY, view.horizon.to_string());
        cursor.ack_cumulative(view.horizon);
        let outcome = AckOutcome {
            acked: Vec::new(),
            up_to: Some(view.horizon),
        };
        let rx = self.commit_admin_acks(outcome, ctx);
        Box::pin(async move {
            rx.await
                .unwrap_or_else(|_| Err(RequestError::unavailable("the subscription")))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::last_set_bit;

    #[test]
    fn last_set_bit_reads_java_bitset_words() {
        assert_eq!(last_set_bit(&[]), None);
        assert_eq!(last_set_bit(&[0, 0]), None);
        assert_eq!(last_set_bit(&[0b101]), Some(2));
        assert_eq!(last_set_bit(&[1, 0]), Some(0));
        assert_eq!(last_set_bit(&[0, 1 << 3]), Some(67));
        assert_eq!(last_set_bit(&[-1]), Some(63));
    }
}
