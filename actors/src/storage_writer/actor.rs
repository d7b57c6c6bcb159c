//! The StorageWriter actor: runs each group's write and fsync on the blocking pool.

use std::sync::{atomic::Ordering, Arc, Mutex, PoisonError};
use std::time::Instant;

use actix::{fut::wrap_future, Actor, ActorFutureExt, AsyncContext, Context, Handler, Supervised};
use geminga_storage::Storage;
use tokio::sync::oneshot;
use tracing::{error, warn};

use super::{
    messages::{Persist, Unfence},
    state::{CommitQueue, Group},
    stats::CommitStats,
};
use crate::{error::RequestError, supervision::Lifecycle};

type Reply = oneshot::Sender<Result<(), RequestError>>;

/// Largest number of writes committed by one fsync.
const MAX_GROUP_OPS: usize = 16 * 1024;

/// The broker's single writer to storage. Every durable write (log appends, cursor updates)
/// goes through it, so one fsync covers every request that arrived while the previous one ran.
pub struct StorageWriter {
    storage: Storage,
    queue: CommitQueue<Reply>,
    /// Held by the blocking task while it writes and syncs a group. Shared with restarted and
    /// replacement writers: a group of a previous incarnation may still be running on the
    /// blocking pool, and the next group must not overtake it.
    write_lock: Arc<Mutex<()>>,
    stats: Arc<CommitStats>,
    _lifecycle: Lifecycle,
}

impl StorageWriter {
    /// A writer over `storage`.
    pub fn new(storage: Storage, lifecycle: Lifecycle) -> Self {
        Self::with_lock(storage, lifecycle, Arc::default(), false, Arc::default())
    }

    /// A writer sharing `write_lock` with its predecessors. A `replacement` writer (its
    /// predecessor's queued requests were lost) fences every ledger until its topic has
    /// reloaded and unfences it. Commit times are recorded into `stats`.
    pub fn with_lock(
        storage: Storage,
        lifecycle: Lifecycle,
        write_lock: Arc<Mutex<()>>,
        replacement: bool,
        stats: Arc<CommitStats>,
    ) -> Self {
        let queue = if replacement {
            CommitQueue::all_fenced(MAX_GROUP_OPS)
        } else {
            CommitQueue::new(MAX_GROUP_OPS)
        };
        Self {
            storage,
            queue,
            write_lock,
            stats,
            _lifecycle: lifecycle,
        }
    }

    /// Starts the next group if none is running.
    fn pump(&mut self, ctx: &mut Context<Self>) {
        let Some(Group {
            ops,
            replies,
            ledgers,
        }) = self.queue.next_group()
        else {
            return;
        };
        let storage = self.storage.clone();
        let lock = self.write_lock.clone();
        let stats = self.stats.clone();
        let work = actix_rt::task::spawn_blocking(move || {
            let _serialised = lock.lock().unwrap_or_else(PoisonError::into_inner);
            let count = ops.len() as u64;
            let started = Instant::now();
            storage.write(ops)?;
            let written = Instant::now();
            stats.write.record(written - started);
            storage.sync()?;
            stats.sync.record(written.elapsed());
            stats.ops.fetch_add(count, Ordering::Relaxed);
            Ok::<_, geminga_storage::StorageError>(())
        });
        let fut = wrap_future::<_, Self>(work).map(move |joined, act, ctx| {
            let result = match joined {
                Ok(Ok(())) => Ok(()),
                Ok(Err(e)) => {
                    error!(error = %e, ledgers = ?ledgers, "group commit failed");
                    Err(RequestError::from(e))
                }
                Err(join) => {
                    error!(error = %join, "group commit task failed");
                    Err(RequestError::unavailable("the storage writer"))
                }
            };
            for rejected in act.queue.finish_group(&ledgers, result.is_ok()) {
                let _ = rejected.reply.send(Err(fenced(rejected.ledger_id)));
            }
            for reply in replies {
                let _ = reply.send(result.clone());
            }
            act.pump(ctx);
        });
        ctx.spawn(fut);
    }
}

fn fenced(ledger_id: u64) -> RequestError {
    RequestError::ServiceNotReady {
        reason: format!("ledger {ledger_id} is recovering"),
    }
}

impl Actor for StorageWriter {
    type Context = Context<Self>;
}

impl Supervised for StorageWriter {
    /// Requests queued in memory are dropped (their senders see a retryable error); nothing
    /// acknowledged is lost because nothing queued was acknowledged. Their ledgers stay fenced
    /// until their topics reload, and the group in flight finishes before the next one starts
    /// (`write_lock`), so no log gets a hole. Messages still in the mailbox are kept.
    fn restarting(&mut self, _ctx: &mut Context<Self>) {
        warn!("storage writer restarting; queued writes fail and will be retried by clients");
        self.queue = self.queue.after_restart();
    }
}

impl Handler<Persist> for StorageWriter {
    type Result = ();

    fn handle(&mut self, msg: Persist, ctx: &mut Context<Self>) {
        if let Err(rejected) = self.queue.submit(msg.ops, msg.reply) {
            let _ = rejected.reply.send(Err(fenced(rejected.ledger_id)));
        }
        self.pump(ctx);
    }
}

impl Handler<Unfence> for StorageWriter {
    type Result = ();

    fn handle(&mut self, msg: Unfence, _ctx: &mut Context<Self>) {
        self.queue.unfence(msg.ledger_id);
    }
}
