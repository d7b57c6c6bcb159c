//! The root supervisor: starts the broker's singletons and replaces one that dies for good.
//!
//! The storage writer and the topic registry restart in place under their own budget
//! ([`RestartBudget::default`]). Past it, or when their mailbox is dropped, they escalate here:
//! the root starts a fresh instance. A replacement writer takes over the commit queue every
//! actor reaches through the [`BrokerContext`] and fences every ledger until its topic reloads
//! (the root cannot tell which writes the failed writer left unsettled); a replacement registry's
//! address is swapped into the context, which every actor reads at each use, and it inherits
//! the shared table of loaded topics. The root itself allows [`ROOT_REPLACEMENTS`] replacements per
//! [`ROOT_WINDOW`] per singleton; past that the broker cannot heal itself and stops with exit
//! code 1, so an operator (or systemd) restarts the process from storage.

use std::{
    sync::{Arc, Mutex, OnceLock, PoisonError},
    time::{Duration, Instant},
};

use actix::{Actor, Addr, Arbiter, ArbiterHandle, Context, Handler, Supervised, System};
use geminga_storage::Storage;
use tracing::error;

use super::{
    supervise, ActorKind, ActorTracker, ExitReason, Forward, Lifecycle, RestartBudget,
    SupervisorSpec,
};
use crate::{
    context::BrokerContext,
    registry::TopicRegistry,
    storage_writer::{Committer, StorageWriter},
};

/// Replacements of one singleton the root allows inside [`ROOT_WINDOW`].
pub const ROOT_REPLACEMENTS: usize = 3;
/// The root's budget window.
pub const ROOT_WINDOW: Duration = Duration::from_secs(60);

/// What the root keeps between replacements.
struct RootState {
    home: ArbiterHandle,
    tracker: Arc<ActorTracker>,
    /// Filled once the context exists (the first writer is started before it).
    context: OnceLock<BrokerContext>,
    /// The commit queue and thread every writer incarnation shares.
    committer: Arc<Committer>,
    /// The live writer. Nobody sends it messages (requests enter the committer directly), so
    /// this address is what keeps it running.
    writer: Mutex<Option<Addr<StorageWriter>>>,
    writer_budget: Mutex<RestartBudget>,
    registry_budget: Mutex<RestartBudget>,
    origin: Instant,
}

/// The broker's root supervisor.
#[derive(Clone)]
pub struct Root {
    state: Arc<RootState>,
}

impl Root {
    /// A root whose singletons run on the current arbiter.
    pub fn new(storage: Storage, tracker: Arc<ActorTracker>) -> Self {
        let budget = || Mutex::new(RestartBudget::new(ROOT_REPLACEMENTS, ROOT_WINDOW));
        let committer = Arc::new(Committer::new(storage.clone(), tracker.commits().clone()));
        Self {
            state: Arc::new(RootState {
                home: Arbiter::current(),
                tracker,
                context: OnceLock::new(),
                committer,
                writer: Mutex::new(None),
                writer_budget: budget(),
                registry_budget: budget(),
                origin: Instant::now(),
            }),
        }
    }

    /// Starts the first storage writer (before the context exists) and returns the commit
    /// queue it owns, which every incarnation of the writer shares.
    pub fn start_writer(&self) -> Arc<Committer> {
        self.spawn_writer(false);
        self.state.committer.clone()
    }

    /// Attaches the context and starts the registry.
    pub fn start_registry(&self, context: &BrokerContext) {
        let _ = self.state.context.set(context.clone());
        let registry = self.spawn_registry(context);
        context.set_registry(registry);
    }

    fn spec(
        &self,
        kind: ActorKind,
        name: &str,
        on_exit: impl FnOnce(ExitReason) + Send + 'static,
    ) -> SupervisorSpec {
        SupervisorSpec {
            kind,
            name: name.to_owned(),
            parent: None,
            budget: RestartBudget::default(),
            restart: true,
            tracker: self.state.tracker.clone(),
            on_exit: Some(Box::new(on_exit)),
        }
    }

    fn spawn_writer(&self, replacement: bool) {
        let root = self.clone();
        let spec = self.spec(ActorKind::StorageWriter, "storage-writer", move |reason| {
            if reason.is_failure() {
                root.replace_writer(reason);
            }
        });
        let committer = self.state.committer.clone();
        let writer = supervise(&self.state.home, spec, move |_ctx, lifecycle| {
            StorageWriter::with_committer(committer.clone(), lifecycle, replacement)
        });
        *self
            .state
            .writer
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(writer);
    }

    fn spawn_registry(&self, context: &BrokerContext) -> Addr<TopicRegistry> {
        let root = self.clone();
        let spec = self.spec(ActorKind::Registry, "topic-registry", move |reason| {
            if reason.is_failure() {
                root.replace_registry(reason);
            }
        });
        let context = context.clone();
        supervise(&self.state.home, spec, move |_ctx, lifecycle| {
            TopicRegistry::new(context, lifecycle)
        })
    }

    /// Whether the root may replace a singleton once more; stops the broker otherwise.
    fn within_budget(&self, budget: &Mutex<RestartBudget>, what: &str, reason: ExitReason) -> bool {
        let now = self.state.origin.elapsed();
        let allowed = budget
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .try_restart(now);
        if allowed {
            error!(
                ?reason,
                "{what} died; the root supervisor starts a replacement"
            );
        } else {
            error!(
                ?reason,
                "{what} keeps dying; stopping the broker (exit code 1)"
            );
            if let Some(system) = System::try_current() {
                system.stop_with_code(1);
            }
        }
        allowed
    }

    fn replace_writer(&self, reason: ExitReason) {
        if !self.within_budget(&self.state.writer_budget, "the storage writer", reason) {
            return;
        }
        self.spawn_writer(true);
    }

    fn replace_registry(&self, reason: ExitReason) {
        if !self.within_budget(&self.state.registry_budget, "the topic registry", reason) {
            return;
        }
        if let Some(context) = self.state.context.get() {
            let registry = self.spawn_registry(context);
            context.set_registry(registry);
        }
    }
}

/// Builds a fresh singleton actor.
type MakeActor<A> = Box<dyn Fn(&mut Context<A>, Lifecycle) -> A + Send + Sync>;

/// How to build one extra singleton the root supervises, and whom to tell its address.
struct Singleton<A: Actor<Context = Context<A>>> {
    kind: ActorKind,
    name: String,
    make: MakeActor<A>,
    on_start: Box<dyn Fn(Addr<A>) + Send + Sync>,
    budget: Mutex<RestartBudget>,
}

impl Root {
    /// Starts a singleton owned by a layer above the actors (the connector runtime) as a child
    /// of the root: it restarts in place under [`RestartBudget::default`]; past it, or when its
    /// mailbox is lost, the root starts a fresh one from `make` (at most [`ROOT_REPLACEMENTS`]
    /// per [`ROOT_WINDOW`], then the broker stops with exit code 1) and hands every new
    /// address to `on_start`.
    pub fn start_singleton<A>(
        &self,
        kind: ActorKind,
        name: &str,
        make: impl Fn(&mut Context<A>, Lifecycle) -> A + Send + Sync + 'static,
        on_start: impl Fn(Addr<A>) + Send + Sync + 'static,
    ) where
        A: Actor<Context = Context<A>> + Supervised + Handler<Forward<A>>,
    {
        let singleton = Arc::new(Singleton {
            kind,
            name: name.to_owned(),
            make: Box::new(make),
            on_start: Box::new(on_start),
            budget: Mutex::new(RestartBudget::new(ROOT_REPLACEMENTS, ROOT_WINDOW)),
        });
        self.spawn_singleton(singleton);
    }

    fn spawn_singleton<A>(&self, singleton: Arc<Singleton<A>>)
    where
        A: Actor<Context = Context<A>> + Supervised + Handler<Forward<A>>,
    {
        let (root, again) = (self.clone(), singleton.clone());
        let spec = self.spec(singleton.kind, &singleton.name, move |reason| {
            if reason.is_failure() && root.within_budget(&again.budget, again.kind.as_str(), reason)
            {
                root.spawn_singleton(again);
            }
        });
        let maker = singleton.clone();
        let addr = supervise(&self.state.home, spec, move |ctx, lifecycle| {
            (maker.make)(ctx, lifecycle)
        });
        (singleton.on_start)(addr);
    }
}
