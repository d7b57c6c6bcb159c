//! Topic compaction: triggered by `PUT .../compaction` or by the compaction threshold, run on
//! the blocking pool, committed in the `__compaction` cursor (its properties name the
//! compacted ledger and the horizon; its floor holds the log not compacted yet), and handed
//! to subscriptions so read-compacted consumers read the compacted log up to the horizon.

mod compactor;
mod job;
#[cfg(test)]
mod tests;

use std::time::{Duration, Instant};

use actix::{fut::wrap_future, ActorFutureExt, AsyncContext, Context, Handler, Message};
use geminga_storage::{Cursor, StorageError};
use serde::Serialize;
use tracing::{info, warn};

pub use compactor::{retained_mask, CompactionCounts, Compactor};
pub use job::{CompactedView, CompactionJob, CompactionOutcome};

use super::{upkeep::COMPACTION_SUBSCRIPTION, Topic};
use crate::{
    error::RequestError,
    subscription::{now_ms, CommitCompaction, SetCompactedView},
};

/// `__compaction` cursor property naming the compacted ledger (Pulsar's name).
pub const LEDGER_PROPERTY: &str = "CompactedTopicLedger";
/// `__compaction` cursor property holding the last entry the compaction covered.
pub const HORIZON_PROPERTY: &str = "CompactionHorizon";
/// How long a replaced compacted ledger is kept for reads still in flight on it.
const RETIRE_AFTER: Duration = Duration::from_secs(10);

/// Where a compaction stands (Pulsar's `LongRunningProcessStatus`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum CompactionStatus {
    /// No compaction ran since the topic was loaded.
    #[default]
    NotRun,
    /// A compaction is running.
    Running,
    /// The last compaction succeeded.
    Success,
    /// The last compaction failed.
    Error(String),
}

/// The answer of `GET .../compaction`, Pulsar's `LongRunningProcessStatus` JSON plus what the
/// last run did.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CompactionStatusReport {
    /// `NOT_RUN`, `RUNNING`, `SUCCESS` or `ERROR`.
    pub status: &'static str,
    /// Why the last run failed (empty otherwise).
    pub last_error: String,
    /// The last entry the compacted log covers, if compacted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub horizon: Option<u64>,
    /// Messages the last run kept.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kept_messages: Option<u64>,
    /// Messages the last run removed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub removed_messages: Option<u64>,
    /// When the last run succeeded (ms since the Unix epoch).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_success_timestamp: Option<u64>,
}

/// A topic's compaction state.
#[derive(Debug, Default)]
pub struct CompactionState {
    view: Option<CompactedView>,
    status: CompactionStatus,
    last_counts: Option<CompactionCounts>,
    last_success_ms: Option<u64>,
    /// Replaced compacted ledgers, deleted once no read can still be using them.
    retired: Vec<(u64, Instant)>,
}

impl CompactionState {
    /// The compaction horizon, once compacted.
    pub fn horizon(&self) -> Option<u64> {
        self.view.map(|v| v.horizon)
    }

    /// The compacted log in effect.
    pub fn view(&self) -> Option<CompactedView> {
        self.view
    }

    /// Installs the view found in the `__compaction` cursor at load.
    pub(crate) fn restore(&mut self, view: Option<CompactedView>) {
        self.view = view;
    }

    fn report(&self) -> CompactionStatusReport {
        let (status, last_error) = match &self.status {
            CompactionStatus::NotRun => ("NOT_RUN", String::new()),
            CompactionStatus::Running => ("RUNNING", String::new()),
            CompactionStatus::Success => ("SUCCESS", String::new()),
            CompactionStatus::Error(e) => ("ERROR", e.clone()),
        };
        CompactionStatusReport {
            status,
            last_error,
            horizon: self.horizon(),
            kept_messages: self.last_counts.map(|c| c.kept),
            removed_messages: self.last_counts.map(|c| c.removed),
            last_success_timestamp: self.last_success_ms,
        }
    }
}

/// The compacted view recorded in a `__compaction` cursor's properties.
pub fn view_of(cursor: &Cursor) -> Option<CompactedView> {
    let property = |key: &str| cursor.properties().get(key)?.parse::<u64>().ok();
    Some(CompactedView {
        ledger_id: property(LEDGER_PROPERTY)?,
        horizon: property(HORIZON_PROPERTY)?,
    })
}

/// Starts a compaction (`PUT .../compaction`); answers at once, the status tells the rest.
#[derive(Debug, Message)]
#[rtype(result = "Result<(), RequestError>")]
pub struct TriggerCompaction;

/// Reports the compaction status (`GET .../compaction`).
#[derive(Debug, Message)]
#[rtype(result = "CompactionStatusReport")]
pub struct GetCompactionStatus;

impl Topic {
    /// Starts a compaction up to the last durable entry.
    pub(in crate::topic) fn start_compaction(
        &mut self,
        ctx: &mut Context<Self>,
    ) -> Result<(), RequestError> {
        if self.non_persistent {
            return Err(super::admin::not_persistent("compaction"));
        }
        if self.compaction.status == CompactionStatus::Running {
            return Err(RequestError::Conflict {
                reason: "Compaction already in progress".into(),
            });
        }
        let state = self
            .state
            .as_ref()
            .ok_or_else(|| RequestError::unavailable("the topic"))?;
        let previous = self.compaction.view;
        let Some(horizon) = state
            .last_durable()
            .filter(|h| Some(*h) != self.compaction.horizon())
        else {
            // Nothing new since the last compaction (or an empty topic).
            self.compaction.status = CompactionStatus::Success;
            return Ok(());
        };
        self.compaction.status = CompactionStatus::Running;
        let job = CompactionJob {
            ledger_id: self.record.ledger_id,
            previous,
            horizon,
            retain_null_key: self
                .broker
                .config()
                .storage_policies
                .compaction_retain_null_key,
            max_batch_bytes: self.broker.config().max_message_size,
        };
        info!(parent: &self.span, horizon, "compaction started");
        let storage = self.broker.storage().clone();
        let run = actix_rt::task::spawn_blocking(move || job::run(&storage, &job));
        ctx.spawn(wrap_future::<_, Self>(run).map(|joined, act, ctx| {
            match joined.unwrap_or_else(|e| Err(StorageError::from(std::io::Error::other(e)))) {
                Ok(outcome) => act.commit_compaction(outcome, ctx),
                Err(e) => act.compaction_failed(e.to_string(), None),
            }
        }));
        Ok(())
    }

    /// Records the new view in the `__compaction` cursor, then hands it out.
    fn commit_compaction(&mut self, outcome: CompactionOutcome, ctx: &mut Context<Self>) {
        let view = outcome.view;
        let addr = match self.subscriptions.get(COMPACTION_SUBSCRIPTION) {
            Some(slot) => slot.addr.clone(),
            None => {
                let cursor = Cursor::new(COMPACTION_SUBSCRIPTION, view.horizon.saturating_add(1));
                self.start_subscription(cursor, true, ctx)
            }
        };
        let commit = addr.send(CommitCompaction { view });
        ctx.spawn(wrap_future::<_, Self>(commit).map(move |sent, act, ctx| {
            match sent.unwrap_or_else(|e| Err(RequestError::from(e))) {
                Ok(()) => act.compaction_committed(outcome, ctx),
                Err(e) => act.compaction_failed(e.to_string(), Some(view.ledger_id)),
            }
        }));
    }

    fn compaction_committed(&mut self, outcome: CompactionOutcome, ctx: &mut Context<Self>) {
        let state = &mut self.compaction;
        if let Some(old) = state.view.replace(outcome.view) {
            state.retired.push((old.ledger_id, Instant::now()));
        }
        state.status = CompactionStatus::Success;
        state.last_counts = Some(outcome.counts);
        state.last_success_ms = Some(now_ms());
        info!(
            parent: &self.span,
            horizon = outcome.view.horizon,
            kept = outcome.counts.kept,
            removed = outcome.counts.removed,
            "compaction done"
        );
        for slot in self.subscriptions.values() {
            slot.addr.do_send(SetCompactedView {
                view: Some(outcome.view),
            });
        }
        self.request_upkeep(ctx);
    }

    fn compaction_failed(&mut self, error: String, written: Option<u64>) {
        warn!(parent: &self.span, %error, "compaction failed");
        self.compaction.status = CompactionStatus::Error(error);
        if let Some(ledger_id) = written {
            self.compaction.retired.push((ledger_id, Instant::now()));
        }
    }

    /// Deletes replaced compacted ledgers once no read can be using them any more.
    pub(in crate::topic) fn reap_compacted_ledgers(&mut self) {
        let (due, kept): (Vec<_>, Vec<_>) = std::mem::take(&mut self.compaction.retired)
            .into_iter()
            .partition(|(_, at)| at.elapsed() >= RETIRE_AFTER);
        self.compaction.retired = kept;
        if due.is_empty() {
            return;
        }
        let storage = self.broker.storage().clone();
        let owner = self.record.ledger_id;
        actix_rt::task::spawn_blocking(move || {
            for (ledger_id, _) in due {
                if let Err(e) = storage.delete_ledger(owner, ledger_id) {
                    warn!(ledger_id, error = %e, "deleting a replaced compacted ledger failed");
                }
            }
        });
    }
}

impl Handler<TriggerCompaction> for Topic {
    type Result = Result<(), RequestError>;

    fn handle(&mut self, _msg: TriggerCompaction, ctx: &mut Context<Self>) -> Self::Result {
        self.start_compaction(ctx)
    }
}

impl Handler<GetCompactionStatus> for Topic {
    type Result = actix::MessageResult<GetCompactionStatus>;

    fn handle(&mut self, _msg: GetCompactionStatus, _ctx: &mut Context<Self>) -> Self::Result {
        actix::MessageResult(self.compaction.report())
    }
}
