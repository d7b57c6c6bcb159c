//! Shared handles every actor of the broker may need.

use std::sync::{
    atomic::{AtomicU64, AtomicUsize, Ordering},
    Arc, OnceLock,
};

use actix::{Addr, ArbiterHandle};
use geminga_storage::Storage;

use crate::{
    config::ActorConfig,
    registry::TopicRegistry,
    storage_writer::StorageWriter,
    subscription::{SubscriptionPolicies, SubscriptionPolicy},
    supervision::{ActorKind, ActorTracker, RestartBudget, SupervisorSpec},
};

/// The addresses clients are told to connect to in lookup answers.
#[derive(Clone, Debug)]
pub struct Advertised {
    /// `pulsar://host:port`.
    pub service_url: String,
    /// `pulsar+ssl://host:port`, when TLS is served.
    pub service_url_tls: Option<String>,
}

/// Cheap-to-clone bundle of the broker's shared services.
#[derive(Clone)]
pub struct BrokerContext {
    inner: Arc<Inner>,
}

struct Inner {
    config: ActorConfig,
    storage: Storage,
    tracker: Arc<ActorTracker>,
    workers: Vec<ArbiterHandle>,
    next_worker: AtomicUsize,
    next_id: AtomicU64,
    advertised: Advertised,
    writer: Addr<StorageWriter>,
    registry: OnceLock<Addr<TopicRegistry>>,
    subscription_policies: Arc<SubscriptionPolicies>,
}

impl BrokerContext {
    /// Bundles the services. The registry is attached afterwards with [`Self::set_registry`]
    /// because it needs the context itself.
    pub fn new(
        config: ActorConfig,
        storage: Storage,
        tracker: Arc<ActorTracker>,
        workers: Vec<ArbiterHandle>,
        advertised: Advertised,
        writer: Addr<StorageWriter>,
    ) -> Self {
        let subscription_policies = Arc::new(SubscriptionPolicies::new(
            SubscriptionPolicy::from_config(&config),
        ));
        let inner = Inner {
            subscription_policies,
            config,
            storage,
            tracker,
            workers,
            next_worker: AtomicUsize::new(0),
            next_id: AtomicU64::new(1),
            advertised,
            writer,
            registry: OnceLock::new(),
        };
        Self {
            inner: Arc::new(inner),
        }
    }

    /// Attaches the topic registry (once).
    pub fn set_registry(&self, registry: Addr<TopicRegistry>) {
        let _ = self.inner.registry.set(registry);
    }

    /// The topic registry.
    ///
    /// # Panics
    /// Never after start-up: the broker attaches the registry before accepting connections.
    pub fn registry(&self) -> Option<&Addr<TopicRegistry>> {
        self.inner.registry.get()
    }

    /// Tunables.
    pub fn config(&self) -> &ActorConfig {
        &self.inner.config
    }

    /// Durable state (blocking calls: run them on the blocking pool).
    pub fn storage(&self) -> &Storage {
        &self.inner.storage
    }

    /// The group-commit writer.
    pub fn writer(&self) -> &Addr<StorageWriter> {
        &self.inner.writer
    }

    /// The live actor tree.
    pub fn tracker(&self) -> &Arc<ActorTracker> {
        &self.inner.tracker
    }

    /// Delayed-delivery and dead-letter policies: broker defaults plus namespace and topic
    /// overrides (set them here; subscriptions pick changes up within one tick).
    pub fn subscription_policies(&self) -> &Arc<SubscriptionPolicies> {
        &self.inner.subscription_policies
    }

    /// Lookup answers.
    pub fn advertised(&self) -> &Advertised {
        &self.inner.advertised
    }

    /// A process-unique id (connections, consumers, producers).
    pub fn next_id(&self) -> u64 {
        self.inner.next_id.fetch_add(1, Ordering::Relaxed)
    }

    /// The worker arbiter a topic lives on: the same one for the same name, so a topic's
    /// subscriptions and dispatchers share its thread.
    pub fn worker_for(&self, key: &str) -> Option<&ArbiterHandle> {
        let workers = &self.inner.workers;
        if workers.is_empty() {
            return None;
        }
        let hash = twox_hash::XxHash64::oneshot(0, key.as_bytes());
        let index = usize::try_from(hash % workers.len() as u64).unwrap_or(0);
        workers.get(index)
    }

    /// The next worker arbiter in turn, for connections.
    pub fn next_worker(&self) -> Option<&ArbiterHandle> {
        let workers = &self.inner.workers;
        if workers.is_empty() {
            return None;
        }
        let n = self.inner.next_worker.fetch_add(1, Ordering::Relaxed);
        workers.get(n % workers.len())
    }

    /// A supervision spec for a child of `parent` with the default restart budget.
    pub fn spec(&self, kind: ActorKind, name: String, parent: Option<u64>) -> SupervisorSpec {
        SupervisorSpec {
            kind,
            name,
            parent,
            budget: RestartBudget::default(),
            restart: true,
            tracker: self.inner.tracker.clone(),
            on_exit: None,
        }
    }
}
