//! The StorageWriter actor: the supervised front of the [`Committer`].

use std::sync::Arc;

use actix::{Actor, Context, Supervised};
use geminga_storage::Storage;
use tracing::warn;

use super::{committer::Committer, stats::CommitStats};
use crate::supervision::Lifecycle;

/// The supervised owner of the broker's single writer to storage, the [`Committer`]. Every
/// durable write (log appends, cursor updates) goes through the committer's queue
/// ([`super::persist`]), so one fsync covers every request that arrived while the previous one
/// ran. Requests enter that queue on their callers' threads, not through this actor's mailbox;
/// the actor is where a failure of the writer is contained: its restart drops what is queued
/// and fences the ledgers concerned, and a replacement fences every ledger.
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
    /// predecessor died past restarting in place, or lost its mailbox) fences every ledger
    /// until its topic has reloaded and unfences it: the root cannot tell which writes the
    /// failed writer left unsettled.
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
    /// starts (one commit thread), so no log gets a hole.
    fn restarting(&mut self, _ctx: &mut Context<Self>) {
        warn!("storage writer restarting; queued writes fail and will be retried by clients");
        self.committer.restart();
    }
}
