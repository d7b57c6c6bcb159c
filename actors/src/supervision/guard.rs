//! The panic-catching supervisor future and the lifecycle handle given to supervised actors.

use std::{
    future::Future,
    panic::{catch_unwind, AssertUnwindSafe},
    pin::Pin,
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc,
    },
    task::{Context as TaskContext, Poll},
    time::Instant,
};

use actix::{dev::ContextFut, Actor, Addr, ArbiterHandle, Context, Supervised};
use tracing::{error, info, warn};

use super::{ActorKind, ActorTracker, RestartBudget};

/// Mailbox capacity of supervised actors: `send` waits (back-pressure) once this many messages
/// are queued. Large enough that a busy topic does not stall its producers on every burst.
pub const MAILBOX_CAPACITY: usize = 256;

/// Why a supervised actor stopped for good.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
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

/// A supervised actor's handle on its own supervision: its id and the way to stop for good.
#[derive(Clone, Debug)]
pub struct Lifecycle {
    inner: Arc<LifecycleInner>,
}

#[derive(Debug)]
struct LifecycleInner {
    id: u64,
    kind: ActorKind,
    retired: AtomicBool,
}

impl Lifecycle {
    /// This actor's id in the actor tree (the parent id for its own children).
    pub fn id(&self) -> u64 {
        self.inner.id
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
        self.inner.kind
    }
}

/// Starts `A` on `arbiter` under a supervisor that restarts it after a stop or a caught panic.
///
/// The returned address stays valid across restarts. `Supervised::restarting` must reset the
/// actor to a clean state and `started` must reload whatever it needs from storage.
pub fn supervise<A, F>(arbiter: &ArbiterHandle, spec: SupervisorSpec, make: F) -> Addr<A>
where
    A: Actor<Context = Context<A>> + Supervised,
    F: FnOnce(&mut Context<A>, Lifecycle) -> A + Send + 'static,
{
    let id = spec
        .tracker
        .register(spec.kind, spec.name.clone(), spec.parent);
    let lifecycle = Lifecycle {
        inner: Arc::new(LifecycleInner {
            id,
            kind: spec.kind,
            retired: AtomicBool::new(false),
        }),
    };
    let (tx, rx) = actix::dev::channel::channel(MAILBOX_CAPACITY);
    arbiter.spawn_fn(move || {
        let mut ctx = Context::with_receiver(rx);
        let actor = make(&mut ctx, lifecycle.clone());
        let fut = Box::pin(ctx.into_future(actor));
        actix::spawn(Guard {
            fut,
            lifecycle,
            spec,
            origin: Instant::now(),
        });
    });
    Addr::new(tx)
}

/// The future that drives one supervised actor.
struct Guard<A>
where
    A: Actor<Context = Context<A>> + Supervised,
{
    fut: Pin<Box<ContextFut<A, Context<A>>>>,
    lifecycle: Lifecycle,
    spec: SupervisorSpec,
    /// Origin of the clock used by the restart budget.
    origin: Instant,
}

impl<A> Guard<A>
where
    A: Actor<Context = Context<A>> + Supervised,
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
        self.spec.tracker.unregister(self.lifecycle.id());
        if let Some(on_exit) = self.spec.on_exit.take() {
            on_exit(reason);
        }
    }
}

impl<A> Future for Guard<A>
where
    A: Actor<Context = Context<A>> + Supervised,
{
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<()> {
        let this = &mut *self;
        loop {
            let polled = catch_unwind(AssertUnwindSafe(|| this.fut.as_mut().poll(cx)));
            let panicked = match polled {
                Ok(Poll::Pending) => return Poll::Pending,
                Ok(Poll::Ready(())) => false,
                Err(payload) => {
                    error!(
                        kind = this.spec.kind.as_str(),
                        name = %this.spec.name,
                        panic = panic_message(payload.as_ref()),
                        "panic caught at the actor boundary; restarting"
                    );
                    true
                }
            };
            // A plain stop of an actor that is not restarted in place is its normal end.
            if this.lifecycle.is_retired() || (!panicked && !this.spec.restart) {
                this.exit(ExitReason::Retired);
                return Poll::Ready(());
            }
            if !this.spec.restart {
                this.spec
                    .tracker
                    .record_kind_restart(this.spec.kind, panicked);
                this.exit(ExitReason::Failed);
                return Poll::Ready(());
            }
            if !this.spec.budget.try_restart(this.origin.elapsed()) {
                this.exit(ExitReason::BudgetExhausted);
                return Poll::Ready(());
            }
            if !this.fut.as_mut().get_mut().restart() {
                this.exit(ExitReason::Unreferenced);
                return Poll::Ready(());
            }
            warn!(kind = this.spec.kind.as_str(), name = %this.spec.name, panicked, "actor restarted");
            this.spec
                .tracker
                .record_restart(this.lifecycle.id(), panicked);
        }
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
