//! The panic-catching supervisor future and the lifecycle handle given to supervised actors.

use std::{
    any::Any,
    future::Future,
    panic::{catch_unwind, AssertUnwindSafe},
    pin::Pin,
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc, OnceLock,
    },
    task::{Context as TaskContext, Poll},
    time::Instant,
};

use actix::{
    dev::{channel::AddressReceiver, ContextFut},
    Actor, ActorContext, Addr, ArbiterHandle, AsyncContext, Context, Handler, Supervised, WeakAddr,
};
use futures_util::Stream;
use tracing::{error, info, warn};

use super::{
    cell::{ActorCell, ActorState},
    faults::ActorFault,
    forward::Forward,
    ActorKind, ActorTracker, RestartBudget,
};

/// Mailbox capacity of supervised actors: `send` waits (back-pressure) once this many messages
/// are queued. Large enough that a busy topic does not stall its producers on every burst.
pub const MAILBOX_CAPACITY: usize = 256;

/// Messages moved from the public mailbox per round, and rounds per poll, before the
/// supervisor yields to the other actors of its arbiter.
const FORWARD_BATCH: usize = 64;
const ROUNDS_PER_POLL: usize = 8;

/// Why a supervised actor stopped for good.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ExitReason {
    /// The actor retired itself (unload, unsubscribe, close): a normal end.
    Retired,
    /// Nobody holds its address any more.
    Unreferenced,
    /// It failed more often than its [`RestartBudget`] allows; the parent must decide.
    BudgetExhausted,
    /// It failed (stop or panic) and is not restarted in place; its parent lets its client
    /// re-attach.
    Failed,
    /// Its mailbox was dropped (fault injection): queued messages were discarded and its
    /// address is dead, so the parent must replace it.
    MailboxDropped,
}

impl ExitReason {
    /// Whether the actor ended abnormally, so whoever depends on it must react.
    pub fn is_failure(self) -> bool {
        !matches!(self, ExitReason::Retired | ExitReason::Unreferenced)
    }
}

/// Everything a supervisor needs to know about one child.
pub struct SupervisorSpec {
    /// Kind of the child, for metrics and the actor tree.
    pub kind: ActorKind,
    /// Operator-facing name of the child.
    pub name: String,
    /// Id of the parent in the actor tree.
    pub parent: Option<u64>,
    /// How often the child may be restarted.
    pub budget: RestartBudget,
    /// Whether to restart at all. Actors bound to one client (connections, producers,
    /// consumers) are not restarted in place: their client re-attaches instead, which is how a
    /// Pulsar client recovers from a broker-side close.
    pub restart: bool,
    /// The broker's actor tree.
    pub tracker: Arc<ActorTracker>,
    /// Called once when the child stops for good, so the parent can forget or replace it.
    pub on_exit: Option<Box<dyn FnOnce(ExitReason) + Send>>,
}

/// A supervised actor's handle on its own supervision: its id, its public address and the way
/// to stop for good.
#[derive(Clone, Debug)]
pub struct Lifecycle {
    inner: Arc<LifecycleInner>,
}

#[derive(Debug)]
struct LifecycleInner {
    cell: Arc<ActorCell>,
    retired: AtomicBool,
    /// The actor's public (metered) address, as a `WeakAddr<A>`.
    address: OnceLock<Box<dyn Any + Send + Sync>>,
}

impl Lifecycle {
    /// This actor's id in the actor tree (the parent id for its own children).
    pub fn id(&self) -> u64 {
        self.inner.cell.id()
    }

    /// Marks the actor as finished: its next stop is final instead of a restart.
    pub fn retire(&self) {
        self.inner.retired.store(true, Ordering::Release);
    }

    /// Whether [`Lifecycle::retire`] was called.
    pub fn is_retired(&self) -> bool {
        self.inner.retired.load(Ordering::Acquire)
    }

    /// The actor's kind.
    pub fn kind(&self) -> ActorKind {
        self.inner.cell.kind()
    }

    /// The address others should be given: the public, metered mailbox that
    /// [`supervise`] returned. `ctx.address()` names the actor's private queue instead; a
    /// message sent there skips the public mailbox and can overtake messages queued in it,
    /// so hand out this one. `None` once nobody else holds the address.
    pub fn address<A: Actor>(&self) -> Option<Addr<A>> {
        self.inner
            .address
            .get()?
            .downcast_ref::<WeakAddr<A>>()?
            .upgrade()
    }
}

/// Starts `A` on `arbiter` under a supervisor that restarts it after a stop or a caught panic,
/// applies injected faults and meters its mailbox.
///
/// The returned address stays valid across restarts. `Supervised::restarting` must reset the
/// actor to a clean state and `started` must reload whatever it needs from storage. Inside the
/// actor, use [`Lifecycle::address`] rather than `ctx.address()` to hand out its address.
pub fn supervise<A, F>(arbiter: &ArbiterHandle, spec: SupervisorSpec, make: F) -> Addr<A>
where
    A: Actor<Context = Context<A>> + Supervised + Handler<Forward<A>>,
    F: FnOnce(&mut Context<A>, Lifecycle) -> A + Send + 'static,
{
    let cell = spec
        .tracker
        .register(spec.kind, spec.name.clone(), spec.parent);
    let (tx, public) = actix::dev::channel::channel(MAILBOX_CAPACITY);
    let addr = Addr::new(tx);
    let lifecycle = Lifecycle {
        inner: Arc::new(LifecycleInner {
            cell: cell.clone(),
            retired: AtomicBool::new(false),
            address: OnceLock::new(),
        }),
    };
    let _ = lifecycle.inner.address.set(Box::new(addr.downgrade()));
    arbiter.spawn_fn(move || {
        let (inbox_tx, inbox_rx) = actix::dev::channel::channel(MAILBOX_CAPACITY);
        let mut ctx = Context::with_receiver(inbox_rx);
        let actor = make(&mut ctx, lifecycle.clone());
        let fut = Box::pin(ctx.into_future(actor));
        actix::spawn(Guard {
            fut: Some(fut),
            public,
            inbox: Some(Addr::new(inbox_tx)),
            cell,
            lifecycle,
            spec,
            origin: Instant::now(),
            stall: None,
            unreferenced: false,
        });
    });
    addr
}

/// An actor's context future, pinned.
type ActorFuture<A> = Pin<Box<ContextFut<A, Context<A>>>>;

/// The future that drives one supervised actor.
struct Guard<A>
where
    A: Actor<Context = Context<A>> + Supervised + Handler<Forward<A>>,
{
    /// `None` once the actor is gone.
    fut: Option<ActorFuture<A>>,
    /// The mailbox behind the address given out; messages move from here to `inbox`.
    public: AddressReceiver<A>,
    /// The actor's own queue. Dropped once the public mailbox has no sender left, so the
    /// actor then stops as an unreferenced actix actor would.
    inbox: Option<Addr<A>>,
    cell: Arc<ActorCell>,
    lifecycle: Lifecycle,
    spec: SupervisorSpec,
    /// Origin of the clock used by the restart budget.
    origin: Instant,
    /// An injected stall in progress.
    stall: Option<Pin<Box<tokio::time::Sleep>>>,
    unreferenced: bool,
}

impl<A> Guard<A>
where
    A: Actor<Context = Context<A>> + Supervised + Handler<Forward<A>>,
{
    fn exit(&mut self, reason: ExitReason) {
        match reason {
            ExitReason::BudgetExhausted => error!(
                kind = self.spec.kind.as_str(),
                name = %self.spec.name,
                "restart budget exhausted; escalating to the parent"
            ),
            _ => {
                info!(kind = self.spec.kind.as_str(), name = %self.spec.name, ?reason, "actor stopped")
            }
        }
        // Whatever is still queued is discarded: the actor will not see it.
        self.cell.start_discarding();
        if let Some(fut) = self.fut.take() {
            // Dropping a live context polls it once more to stop it; a broken actor may panic
            // again there, which must not escape the supervisor.
            let _ = catch_unwind(AssertUnwindSafe(move || drop(fut)));
        }
        self.inbox = None;
        self.spec.tracker.unregister(self.lifecycle.id());
        if let Some(on_exit) = self.spec.on_exit.take() {
            on_exit(reason);
        }
    }

    /// Moves queued messages from the public mailbox to the actor's queue while it has room.
    /// Returns true when more may be waiting.
    fn forward(&mut self, cx: &mut TaskContext<'_>) -> bool {
        if self.unreferenced && self.public.connected() {
            // Referenced again (the actor handed out its address while winding down).
            if let Some(fut) = self.fut.as_mut() {
                self.inbox = Some(fut.as_mut().get_mut().ctx().address());
                self.unreferenced = false;
            }
        }
        let Some(inbox) = &self.inbox else {
            return false;
        };
        for _ in 0..FORWARD_BATCH {
            if self.cell.mailbox_depth() >= MAILBOX_CAPACITY as u64 {
                return true;
            }
            match Pin::new(&mut self.public).poll_next(cx) {
                Poll::Ready(Some(envelope)) => {
                    self.cell.on_enqueued();
                    inbox.do_send(Forward::new(envelope, self.cell.clone()));
                }
                Poll::Ready(None) => {
                    self.unreferenced = true;
                    self.inbox = None;
                    return false;
                }
                // Nothing queued and nobody left to send: let the actor stop once idle, as an
                // unreferenced actix actor does.
                Poll::Pending if !self.public.connected() => {
                    self.unreferenced = true;
                    self.inbox = None;
                    return false;
                }
                Poll::Pending => return false,
            }
        }
        true
    }

    /// Applies a fault taken from the cell. Returns false when the actor is gone.
    fn apply(&mut self, fault: ActorFault) -> Option<bool> {
        warn!(kind = self.spec.kind.as_str(), name = %self.spec.name, ?fault, "applying an injected fault");
        match fault {
            ActorFault::Panic => return Some(true),
            ActorFault::Stop => {
                if let Some(fut) = self.fut.as_mut() {
                    fut.as_mut().get_mut().ctx().stop();
                }
            }
            ActorFault::Stall { duration } => {
                self.cell
                    .set_stalled_until(Instant::now().checked_add(duration));
                self.stall = Some(Box::pin(tokio::time::sleep(duration)));
            }
            ActorFault::DropMailbox => {
                // Its parent replaces it: counted as a restart of this kind.
                self.spec.tracker.record_kind_restart(self.spec.kind, false);
                self.exit(ExitReason::MailboxDropped);
                return None;
            }
        }
        Some(false)
    }

    /// Whether an injected stall holds the actor now (registering the wake-up at its end).
    fn stalled(&mut self, cx: &mut TaskContext<'_>) -> bool {
        let Some(sleep) = self.stall.as_mut() else {
            return false;
        };
        let cleared = self.cell.stalled_until().is_none();
        if cleared || sleep.as_mut().poll(cx).is_ready() {
            self.stall = None;
            self.cell.set_stalled_until(None);
            return false;
        }
        true
    }

    /// After the actor stopped or panicked: restarts it in place, or exits. Returns whether it
    /// was restarted.
    fn after_stop(&mut self, panicked: bool) -> bool {
        let kind = self.spec.kind;
        if self.lifecycle.is_retired() {
            self.exit(ExitReason::Retired);
            return false;
        }
        if self.unreferenced {
            self.exit(ExitReason::Unreferenced);
            return false;
        }
        if !self.spec.restart {
            // Client-bound actors always retire before a normal stop, so this is a failure.
            self.spec.tracker.record_kind_restart(kind, panicked);
            self.exit(ExitReason::Failed);
            return false;
        }
        if !self.spec.budget.try_restart(self.origin.elapsed()) {
            self.exit(ExitReason::BudgetExhausted);
            return false;
        }
        self.cell.set_state(ActorState::Restarting);
        let restarted = self
            .fut
            .as_mut()
            .is_some_and(|fut| fut.as_mut().get_mut().restart());
        if !restarted {
            self.exit(ExitReason::Unreferenced);
            return false;
        }
        warn!(kind = kind.as_str(), name = %self.spec.name, panicked, "actor restarted");
        self.cell.on_restart(panicked);
        self.cell.set_state(ActorState::Running);
        true
    }
}

impl<A> Future for Guard<A>
where
    A: Actor<Context = Context<A>> + Supervised + Handler<Forward<A>>,
{
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<()> {
        let this = &mut *self;
        for _ in 0..ROUNDS_PER_POLL {
            let mut inject_panic = false;
            if let Some(fault) = this.cell.poll_fault(cx.waker()) {
                match this.apply(fault) {
                    None => return Poll::Ready(()),
                    Some(panic) => inject_panic = panic,
                }
            }
            if !inject_panic && this.stalled(cx) {
                this.forward(cx);
                return Poll::Pending;
            }
            let more = this.forward(cx);
            let Some(fut) = this.fut.as_mut() else {
                return Poll::Ready(());
            };
            let polled = catch_unwind(AssertUnwindSafe(|| {
                if inject_panic {
                    panic!("injected fault: panic");
                }
                fut.as_mut().poll(cx)
            }));
            let panicked = match polled {
                // More is waiting and the actor made room: move it along now.
                Ok(Poll::Pending)
                    if more && this.cell.mailbox_depth() < MAILBOX_CAPACITY as u64 =>
                {
                    continue
                }
                Ok(Poll::Pending) => return Poll::Pending,
                Ok(Poll::Ready(())) => false,
                Err(payload) => {
                    error!(
                        kind = this.spec.kind.as_str(),
                        name = %this.spec.name,
                        panic = panic_message(payload.as_ref()),
                        "panic caught at the actor boundary"
                    );
                    true
                }
            };
            if !this.after_stop(panicked) {
                return Poll::Ready(());
            }
        }
        // Busy: let the arbiter's other actors run, then carry on.
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

/// The text of a panic payload, when it has one.
pub(crate) fn panic_message(payload: &(dyn std::any::Any + Send)) -> &str {
    if let Some(s) = payload.downcast_ref::<&str>() {
        s
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.as_str()
    } else {
        "<non-string panic payload>"
    }
}
