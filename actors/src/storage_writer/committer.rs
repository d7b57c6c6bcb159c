//! The commit thread: writes and fsyncs group after group on a thread of its own.
//!
//! Requests that arrive while a group is being made durable wait in the shared
//! [`CommitQueue`]; when the group is done the thread takes them at once as the next group,
//! without a hand-off to another thread in between. Running each group on the blocking pool
//! instead cost two thread wake-ups between consecutive groups (the pool thread, then the
//! writer's arbiter to start the next one), and on 2 busy cores a wake-up often waited
//! 0.3-4 ms for a CPU while every newer request queued behind it.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{
    atomic::{AtomicBool, Ordering},
    Arc, Condvar, Mutex, MutexGuard, PoisonError,
};
use std::thread::JoinHandle;
use std::time::Instant;

use geminga_storage::{Storage, StorageError, WriteOp};
use tokio::sync::oneshot;
use tracing::error;

use super::{
    state::{CommitQueue, Group, Rejected},
    stats::CommitStats,
};
use crate::error::RequestError;

/// Where a request's outcome goes.
pub type Reply = oneshot::Sender<Result<(), RequestError>>;

/// Largest number of writes committed by one fsync.
const MAX_GROUP_OPS: usize = 16 * 1024;

/// The broker's one committer: a queue of requests and the thread that commits them. Shared
/// by every incarnation of the [`super::StorageWriter`] actor, so a group written by one is
/// finished before a restarted or replacement writer's first group starts.
pub struct Committer {
    shared: Arc<Shared>,
    storage: Storage,
    stats: Arc<CommitStats>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

struct Shared {
    state: Mutex<State>,
    wake: Condvar,
    /// The commit thread runs: checked by every request, so the thread-handle mutex is only
    /// taken to start it.
    running: AtomicBool,
}

struct State {
    queue: CommitQueue<Reply>,
    /// Set when the committer is dropped: the thread commits what is queued and ends.
    closed: bool,
    /// The thread waits for work. Only then does a request wake it: a notify is a futex
    /// syscall even with nobody waiting, and while a group is being written the thread takes
    /// the queue by itself when it is done.
    idle: bool,
}

impl Committer {
    /// A committer over `storage`, recording commit times into `stats`. Its thread starts
    /// with the first request.
    pub fn new(storage: Storage, stats: Arc<CommitStats>) -> Self {
        Self {
            shared: Arc::new(Shared {
                state: Mutex::new(State {
                    queue: CommitQueue::new(MAX_GROUP_OPS),
                    closed: false,
                    idle: false,
                }),
                wake: Condvar::new(),
                running: AtomicBool::new(false),
            }),
            storage,
            stats,
            thread: Mutex::new(None),
        }
    }

    /// Queues `ops` for the next group; a request that appends to a fenced ledger is
    /// answered with the ledger that refused it.
    pub fn submit(&self, ops: Vec<WriteOp>, reply: Reply) -> Result<(), Rejected<Reply>> {
        if let Err(e) = self.ensure_thread() {
            error!(error = %e, "cannot start the commit thread");
            let _ = reply.send(Err(RequestError::unavailable("the storage writer")));
            return Ok(());
        }
        let idle = {
            let mut state = self.shared.lock();
            state.queue.submit(ops, reply)?;
            state.idle
        };
        if idle {
            self.shared.wake.notify_one();
        }
        Ok(())
    }

    /// Accepts appends to `ledger_id` again (its topic has reloaded).
    pub fn unfence(&self, ledger_id: u64) {
        self.shared.lock().queue.unfence(ledger_id);
    }

    /// A writer restarted: drops the queued requests (their senders see an error) and
    /// fences the ledgers they and the group in flight appended to ([`CommitQueue::after_restart`]).
    pub fn restart(&self) {
        let mut state = self.shared.lock();
        state.queue = state.queue.after_restart();
    }

    /// A writer was replaced (it failed past restarting in place): as [`Committer::restart`],
    /// and every ledger stays fenced until its topic reloads, since the root cannot tell which
    /// writes the failed writer left unsettled.
    pub fn replace(&self) {
        let mut state = self.shared.lock();
        state.queue = state.queue.after_restart().fencing_all();
    }

    /// Starts the thread if it is not running (first use, or it ended, which only a bug
    /// outside a group's commit could cause).
    fn ensure_thread(&self) -> std::io::Result<()> {
        if self.shared.running.load(Ordering::Acquire) {
            return Ok(());
        }
        let mut thread = self.thread.lock().unwrap_or_else(PoisonError::into_inner);
        if self.shared.running.load(Ordering::Acquire) {
            // Another request started it meanwhile.
            return Ok(());
        }
        if let Some(ended) = thread.take() {
            // The flag is cleared as the thread's last act: it is gone or about to be.
            let _ = ended.join();
        }
        let shared = self.shared.clone();
        let storage = self.storage.clone();
        let stats = self.stats.clone();
        self.shared.running.store(true, Ordering::Release);
        let spawned = std::thread::Builder::new()
            .name("geminga-commit".into())
            .spawn(move || {
                // Cleared however the thread ends (an unwinding panic included), so the next
                // request starts a new one.
                let _running = Running(&shared.running);
                run(&shared, &storage, &stats);
            });
        match spawned {
            Ok(handle) => {
                *thread = Some(handle);
                Ok(())
            }
            Err(e) => {
                self.shared.running.store(false, Ordering::Release);
                Err(e)
            }
        }
    }
}

/// Clears the running flag when the commit thread ends.
struct Running<'a>(&'a AtomicBool);

impl Drop for Running<'_> {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Release);
    }
}

impl Drop for Committer {
    fn drop(&mut self) {
        self.shared.lock().closed = true;
        self.shared.wake.notify_one();
        let thread = self
            .thread
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(thread) = thread.take() {
            let _ = thread.join();
        }
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Waits for the next group; `None` once closed with nothing left to commit.
    fn next_group(&self) -> Option<Group<Reply>> {
        let mut state = self.lock();
        loop {
            if let Some(group) = state.queue.next_group() {
                return Some(group);
            }
            if state.closed {
                return None;
            }
            state.idle = true;
            state = self
                .wake
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
            state.idle = false;
        }
    }
}

fn run(shared: &Shared, storage: &Storage, stats: &CommitStats) {
    while let Some(Group {
        ops,
        replies,
        ledgers,
    }) = shared.next_group()
    {
        // A panic inside storage fails this group like an error does; the thread goes on.
        let result = match catch_unwind(AssertUnwindSafe(|| commit(storage, stats, ops))) {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => {
                error!(error = %e, ledgers = ?ledgers, "group commit failed");
                Err(RequestError::from(e))
            }
            Err(_) => {
                error!(ledgers = ?ledgers, "group commit panicked");
                Err(RequestError::unavailable("the storage writer"))
            }
        };
        let ok = result.is_ok();
        for reply in replies {
            let _ = reply.send(result.clone());
        }
        let rejected = shared.lock().queue.finish_group(&ledgers, ok);
        for r in rejected {
            let _ = r.reply.send(Err(fenced(r.ledger_id)));
        }
    }
}

/// Writes one group and makes it durable.
fn commit(storage: &Storage, stats: &CommitStats, ops: Vec<WriteOp>) -> Result<(), StorageError> {
    let count = ops.len() as u64;
    let started = Instant::now();
    // With payload segments the write itself ends with the log's fdatasync; without them
    // `sync` persists fjall's journal. Either way `sync` is the durability part alone.
    let log_sync = storage.write_timed(ops)?;
    let written = Instant::now();
    storage.sync()?;
    stats
        .write
        .record((written - started).saturating_sub(log_sync));
    stats.sync.record(log_sync + written.elapsed());
    stats.ops.fetch_add(count, Ordering::Relaxed);
    Ok(())
}

/// The refusal of an append to a fenced ledger.
pub fn fenced(ledger_id: u64) -> RequestError {
    RequestError::ServiceNotReady {
        reason: format!("ledger {ledger_id} is recovering"),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use bytes::Bytes;
    use geminga_storage::{Entry, EntryMeta};

    use super::*;

    fn append(ledger_id: u64, entry_id: u64) -> Vec<WriteOp> {
        let entry = Entry {
            entry_id,
            meta: EntryMeta::default(),
            data: Bytes::from_static(b"payload"),
        };
        vec![WriteOp::Append { ledger_id, entry }]
    }

    fn submit(c: &Committer, ops: Vec<WriteOp>) -> oneshot::Receiver<Result<(), RequestError>> {
        let (reply, outcome) = oneshot::channel();
        if let Err(rejected) = c.submit(ops, reply) {
            let _ = rejected.reply.send(Err(fenced(rejected.ledger_id)));
        }
        outcome
    }

    fn outcome(rx: oneshot::Receiver<Result<(), RequestError>>) -> Result<(), RequestError> {
        rx.blocking_recv()
            .expect("the committer answers every request")
    }

    #[test]
    fn requests_are_committed_in_order_and_answered() {
        let dir = tempfile::tempdir().unwrap();
        let storage = Storage::open(dir.path(), Default::default()).unwrap();
        let stats = Arc::new(CommitStats::default());
        let c = Committer::new(storage.clone(), stats.clone());
        let waiting: Vec<_> = (0..50).map(|i| submit(&c, append(1, i))).collect();
        for rx in waiting {
            outcome(rx).unwrap();
        }
        let ids: Vec<u64> = storage
            .read_entries(1, 0, 100, usize::MAX)
            .unwrap()
            .iter()
            .map(|e| e.entry_id)
            .collect();
        assert_eq!(ids, (0..50).collect::<Vec<_>>());
        assert_eq!(stats.ops.load(Ordering::Relaxed), 50);
    }

    #[test]
    fn a_failed_group_fences_its_ledger_and_the_thread_goes_on() {
        let dir = tempfile::tempdir().unwrap();
        let storage = Storage::open(dir.path(), Default::default()).unwrap();
        let c = Committer::new(storage.clone(), Arc::default());
        outcome(submit(&c, append(1, 0))).unwrap();
        storage.faults().fail_writes_for(Duration::from_secs(60));
        assert!(outcome(submit(&c, append(1, 1))).is_err());
        storage.faults().clear();
        let refused = outcome(submit(&c, append(1, 1)));
        assert!(
            matches!(refused, Err(RequestError::ServiceNotReady { .. })),
            "{refused:?}"
        );
        outcome(submit(&c, append(2, 0))).unwrap();
        c.unfence(1);
        outcome(submit(&c, append(1, 1))).unwrap();
        assert_eq!(storage.read_entries(1, 0, 10, usize::MAX).unwrap().len(), 2);
    }

    #[test]
    fn dropping_the_committer_commits_what_is_queued() {
        let dir = tempfile::tempdir().unwrap();
        let storage = Storage::open(dir.path(), Default::default()).unwrap();
        let c = Committer::new(storage.clone(), Arc::default());
        let waiting: Vec<_> = (0..20).map(|i| submit(&c, append(3, i))).collect();
        drop(c);
        for rx in waiting {
            outcome(rx).unwrap();
        }
        assert_eq!(
            storage.read_entries(3, 0, 50, usize::MAX).unwrap().len(),
            20
        );
    }
}
