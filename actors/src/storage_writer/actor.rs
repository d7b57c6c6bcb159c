//! The StorageWriter actor: the supervised front of the [`Committer`].

use std::sync::Arc;

use actix::{Actor, Context, Handler, Supervised};
use geminga_storage::Storage;
use tracing::warn;

use super::{
    committer::{fenced, Committer},
    messages::{Persist, Unfence},
    stats::CommitStats,
};
use crate::supervision::Lifecycle;

/// The broker's single writer to storage. Every durable write (log appends, cursor updates)
/// goes through it, so one fsync covers every request that arrived while the previous one ran.
/// The groups themselves run on the committer's thread; this actor is where requests enter
/// and where a restart or replacement fences what may have been lost.
pub struct StorageWriter {
    committer: Arc<Committer>,
    _lifecycle: Lifecycle,
}

impl StorageWriter {
    /// A writer over `storage` with a committer of its own.
    pub fn new(storage: Storage, lifecycle: Lifecycle) -> Self {
        let committer = Arc::new(Committer::new(storage, Arc::new(CommitStats::default())));
        Self::with_committer(committer, lifecycle, false)
    }

    /// A writer sharing `committer` with its predecessors. A `replacement` writer (its
    /// predecessor's mailbox was lost) fences every ledger until its topic has reloaded and
    /// unfences it.
    pub fn with_committer(
        committer: Arc<Committer>,
        lifecycle: Lifecycle,
        replacement: bool,
    ) -> Self {
        if replacement {
            committer.replace();
        }
        Self {
            committer,
            _lifecycle: lifecycle,
        }
    }
}

impl Actor for StorageWriter {
    type Context = Context<Self>;
}

impl Supervised for StorageWriter {
    /// Requests queued in the committer are dropped (their senders see a retryable error);
    /// nothing acknowledged is lost because nothing queued was acknowledged. Their ledgers stay
    /// fenced until their topics reload, and the group in flight finishes before the next one
    /// starts (one commit thread), so no log gets a hole. Messages still in the mailbox are kept.
    fn restarting(&mut self, _ctx: &mut Context<Self>) {
        warn!("storage writer restarting; queued writes fail and will be retried by clients");
        self.committer.restart();
    }
}

impl Handler<Persist> for StorageWriter {
    type Result = ();

    fn handle(&mut self, msg: Persist, _ctx: &mut Context<Self>) {
        if let Err(rejected) = self.committer.submit(msg.ops, msg.reply) {
            let _ = rejected.reply.send(Err(fenced(rejected.ledger_id)));
        }
    }
}

impl Handler<Unfence> for StorageWriter {
    type Result = ();

    fn handle(&mut self, msg: Unfence, _ctx: &mut Context<Self>) {
        self.committer.unfence(msg.ledger_id);
    }
}
