//! One supervised actor's shared record: identity, counters, mailbox depth and fault slot.

use std::{
    sync::{
        atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering},
        Arc, Mutex, PoisonError,
    },
    time::{Duration, Instant},
};

use futures_util::task::AtomicWaker;
use serde::Serialize;

use super::{faults::ActorFault, histogram::LatencyHistogram, tracker::ActorKind};

/// Where an actor is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ActorState {
    /// Handling messages.
    Running,
    /// Being restarted by its supervisor after a stop or a panic.
    Restarting,
    /// Not handling messages because an injected stall is in progress.
    Stalled,
}

impl ActorState {
    fn from_u8(v: u8) -> ActorState {
        match v {
            1 => ActorState::Restarting,
            2 => ActorState::Stalled,
            _ => ActorState::Running,
        }
    }

    fn as_u8(self) -> u8 {
        match self {
            ActorState::Running => 0,
            ActorState::Restarting => 1,
            ActorState::Stalled => 2,
        }
    }
}

/// Counters kept per actor kind (the Prometheus families are labelled by kind).
#[derive(Debug, Default)]
pub struct KindCounters {
    /// Actors of this kind alive now.
    pub live: AtomicU64,
    /// Restarts performed by supervisors (after a stop or a panic), including client-bound
    /// actors that were replaced by their client re-attaching.
    pub restarts: AtomicU64,
    /// Panics caught at the actor boundary.
    pub panics: AtomicU64,
    /// Messages taken out of the mailboxes of actors of this kind.
    pub handled: AtomicU64,
    /// Time spent in each message handler (the synchronous part; futures a handler spawns
    /// are not included).
    pub latency: LatencyHistogram,
}

/// One actor as shown by `/admin/v2/broker/actors`.
#[derive(Clone, Debug, Serialize)]
pub struct ActorSnapshot {
    /// Unique id of this actor inside the broker process.
    pub id: u64,
    /// Its kind.
    pub kind: ActorKind,
    /// A name meaningful to operators (topic name, subscription, peer address...).
    pub name: String,
    /// The id of its supervisor, if any.
    pub parent: Option<u64>,
    /// Running, restarting or stalled.
    pub state: ActorState,
    /// How many times it was restarted in place.
    pub restarts: u64,
    /// How many panics were caught in it.
    pub panics: u64,
    /// Messages waiting in its mailbox (saturates at the mailbox capacity, past which the
    /// senders wait).
    pub mailbox_depth: u64,
    /// Messages it has handled.
    pub handled: u64,
}

/// The shared record of one supervised actor; the supervisor, the tracker, the message
/// forwarder and fault injection all hold it.
#[derive(Debug)]
pub struct ActorCell {
    pub(crate) id: u64,
    pub(crate) kind: ActorKind,
    pub(crate) name: String,
    pub(crate) parent: Option<u64>,
    state: AtomicU8,
    restarts: AtomicU64,
    panics: AtomicU64,
    /// Messages moved from the public mailbox into the actor's own queue.
    enqueued: AtomicU64,
    /// Messages the actor took out of its own queue.
    handled: AtomicU64,
    counters: Arc<KindCounters>,
    fault: Mutex<Option<ActorFault>>,
    /// Set with `fault`, so the supervisor checks the mutex only when something is there.
    fault_pending: AtomicBool,
    /// The supervisor's task, woken when a fault is injected into an idle actor.
    waker: AtomicWaker,
    stalled_until: Mutex<Option<Instant>>,
    /// Set when the mailbox is dropped: messages still queued are discarded unhandled.
    discarding: AtomicBool,
}

impl ActorCell {
    pub(crate) fn new(
        id: u64,
        kind: ActorKind,
        name: String,
        parent: Option<u64>,
        counters: Arc<KindCounters>,
    ) -> Self {
        Self {
            id,
            kind,
            name,
            parent,
            state: AtomicU8::new(ActorState::Running.as_u8()),
            restarts: AtomicU64::new(0),
            panics: AtomicU64::new(0),
            enqueued: AtomicU64::new(0),
            handled: AtomicU64::new(0),
            counters,
            fault: Mutex::new(None),
            fault_pending: AtomicBool::new(false),
            waker: AtomicWaker::new(),
            stalled_until: Mutex::new(None),
            discarding: AtomicBool::new(false),
        }
    }

    /// Whether queued messages are to be dropped instead of handled.
    pub(crate) fn discarding(&self) -> bool {
        self.discarding.load(Ordering::Relaxed)
    }

    pub(crate) fn start_discarding(&self) {
        self.discarding.store(true, Ordering::Relaxed);
    }

    /// The actor's id in the tree.
    pub fn id(&self) -> u64 {
        self.id
    }

    /// The actor's kind.
    pub fn kind(&self) -> ActorKind {
        self.kind
    }

    /// The actor's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Messages waiting to be handled.
    pub fn mailbox_depth(&self) -> u64 {
        let handled = self.handled.load(Ordering::Relaxed);
        self.enqueued
            .load(Ordering::Relaxed)
            .saturating_sub(handled)
    }

    /// The current read-out.
    pub fn snapshot(&self) -> ActorSnapshot {
        ActorSnapshot {
            id: self.id,
            kind: self.kind,
            name: self.name.clone(),
            parent: self.parent,
            state: self.state(),
            restarts: self.restarts.load(Ordering::Relaxed),
            panics: self.panics.load(Ordering::Relaxed),
            mailbox_depth: self.mailbox_depth(),
            handled: self.handled.load(Ordering::Relaxed),
        }
    }

    /// Running, restarting or stalled.
    pub fn state(&self) -> ActorState {
        ActorState::from_u8(self.state.load(Ordering::Relaxed))
    }

    pub(crate) fn set_state(&self, state: ActorState) {
        self.state.store(state.as_u8(), Ordering::Relaxed);
    }

    pub(crate) fn on_enqueued(&self) {
        self.enqueued.fetch_add(1, Ordering::Relaxed);
    }

    /// Counted before the handler runs, so a panicking handler does not leave the depth
    /// off by one for ever.
    pub(crate) fn on_dequeued(&self) {
        self.handled.fetch_add(1, Ordering::Relaxed);
        self.counters.handled.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn on_handled(&self, elapsed: Duration) {
        self.counters.latency.record(elapsed);
    }

    pub(crate) fn on_restart(&self, panicked: bool) {
        self.restarts.fetch_add(1, Ordering::Relaxed);
        self.counters.restarts.fetch_add(1, Ordering::Relaxed);
        if panicked {
            self.panics.fetch_add(1, Ordering::Relaxed);
            self.counters.panics.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Queues `fault` for the actor's supervisor and wakes it; a fault not yet applied is
    /// replaced.
    pub(crate) fn inject(&self, fault: ActorFault) {
        *self.fault.lock().unwrap_or_else(PoisonError::into_inner) = Some(fault);
        self.fault_pending.store(true, Ordering::Release);
        self.waker.wake();
    }

    /// Cancels a stall in progress (and any fault not yet applied).
    pub(crate) fn clear_faults(&self) {
        *self.fault.lock().unwrap_or_else(PoisonError::into_inner) = None;
        *self
            .stalled_until
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = None;
        self.fault_pending.store(true, Ordering::Release);
        self.waker.wake();
    }

    /// Called by the supervisor on every poll: registers its task and takes a pending fault.
    pub(crate) fn poll_fault(&self, waker: &std::task::Waker) -> Option<ActorFault> {
        self.waker.register(waker);
        if !self.fault_pending.swap(false, Ordering::AcqRel) {
            return None;
        }
        self.fault
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
    }

    /// Until when an injected stall lasts, if one is in progress.
    pub fn stalled_until(&self) -> Option<Instant> {
        *self
            .stalled_until
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn set_stalled_until(&self, until: Option<Instant>) {
        *self
            .stalled_until
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = until;
        let state = if until.is_some() {
            ActorState::Stalled
        } else {
            ActorState::Running
        };
        self.set_state(state);
    }
}
