//! Shared handles every actor of the broker may need.

use std::sync::{
    atomic::{AtomicU64, AtomicUsize, Ordering},
    Arc, OnceLock, PoisonError, RwLock,
};

use actix::{Addr, ArbiterHandle};
use geminga_storage::Storage;

use crate::{
    config::ActorConfig,
    metadata::{MetadataService, StorageMetadata},
    ownership::{BrokerAddresses, ListenerAddress, LocalOwnership, OwnershipService},
    registry::{TopicRegistry, TopicTable},
    security::Security,
    stats::BrokerStats,
    storage_writer::Committer,
    subscription::{SubscriptionPolicies, SubscriptionPolicy},
    supervision::{ActorKind, ActorTracker, FaultInjector, RestartBudget, SupervisorSpec},
};

/// The addresses clients are told to connect to in lookup answers.
#[derive(Clone, Debug)]
pub struct Advertised {
    /// `pulsar://host:port`.
    pub service_url: String,
    /// `pulsar+ssl://host:port`, when TLS is served.
    pub service_url_tls: Option<String>,
    /// `http://host:port` of the admin API, for HTTP lookups.
    pub http_url: Option<String>,
    /// `advertisedListeners` by name; when set, `service_url` is the internal listener's.
    pub listeners: std::collections::BTreeMap<String, ListenerAddress>,
}

impl Advertised {
    /// The addresses lookups answer with.
    pub fn addresses(&self) -> BrokerAddresses {
        BrokerAddresses {
            default: ListenerAddress {
                broker_url: Some(self.service_url.clone()),
                broker_url_tls: self.service_url_tls.clone(),
                http_url: self.http_url.clone(),
                http_url_tls: None,
            },
            listeners: self.listeners.clone(),
        }
    }
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
    /// The commit queue every durable write enters; shared by every storage writer incarnation.
    committer: Arc<Committer>,
    /// Swapped by the root supervisor when the registry is replaced.
    registry: RwLock<Option<Addr<TopicRegistry>>>,
    /// The loaded topics; outlives any one registry instance.
    topics: TopicTable,
    stats: Arc<BrokerStats>,
    faults: FaultInjector,
    metadata: MetadataService,
    ownership: Arc<dyn OwnershipService>,
    subscription_policies: Arc<SubscriptionPolicies>,
    /// Services layered on top of the actors (the connector runtime), by type.
    extensions: RwLock<Vec<Arc<dyn std::any::Any + Send + Sync>>>,
    /// Authentication, authorization and limits; set once at start-up (open when unset).
    security: OnceLock<Arc<Security>>,
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
        committer: Arc<Committer>,
    ) -> Self {
        let stats = BrokerStats::new(config.cluster_name.clone());
        let faults = FaultInjector::new(tracker.clone(), storage.clone());
        let metadata = MetadataService::new(
            Arc::new(StorageMetadata(storage.clone())),
            config.default_bundles,
        );
        let ownership = Arc::new(LocalOwnership::new(advertised.addresses()));
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
            committer,
            registry: RwLock::new(None),
            topics: TopicTable::default(),
            stats,
            faults,
            metadata,
            ownership,
            extensions: RwLock::new(Vec::new()),
            security: OnceLock::new(),
        };
        Self {
            inner: Arc::new(inner),
        }
    }

    /// Attaches the topic registry, or its replacement.
    pub fn set_registry(&self, registry: Addr<TopicRegistry>) {
        *self
            .inner
            .registry
            .write()
            .unwrap_or_else(PoisonError::into_inner) = Some(registry);
    }

    /// The topic registry; `None` only during start-up, before it is attached.
    pub fn registry(&self) -> Option<Addr<TopicRegistry>> {
        self.inner
            .registry
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Installs the broker's security settings; only the first call has an effect (call it
    /// before the listeners accept clients). Returns whether it was installed.
    pub fn set_security(&self, security: Arc<Security>) -> bool {
        self.inner.security.set(security).is_ok()
    }

    /// Authentication, authorization and limits ([`Security::open`] unless set).
    pub fn security(&self) -> Arc<Security> {
        self.inner
            .security
            .get()
            .cloned()
            .unwrap_or_else(Security::open)
    }

    /// The loaded topics (name -> topic actor), shared by every registry instance.
    pub fn topics(&self) -> &TopicTable {
        &self.inner.topics
    }

    /// Counters and rates of topics and subscriptions, for metrics and stats.
    pub fn stats(&self) -> &Arc<BrokerStats> {
        &self.inner.stats
    }

    /// Fault injection (tests and the admin path when enabled).
    pub fn faults(&self) -> &FaultInjector {
        &self.inner.faults
    }

    /// Tunables.
    pub fn config(&self) -> &ActorConfig {
        &self.inner.config
    }

    /// Durable state (blocking calls: run them on the blocking pool).
    pub fn storage(&self) -> &Storage {
        &self.inner.storage
    }

    /// The group-commit queue: pass it to [`crate::storage_writer::persist`].
    pub fn committer(&self) -> &Arc<Committer> {
        &self.inner.committer
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

    /// Tenants, namespaces, partitioned topics and policies (blocking calls: run them on the
    /// blocking pool).
    pub fn metadata(&self) -> &MetadataService {
        &self.inner.metadata
    }

    /// Which broker serves which bundle.
    pub fn ownership(&self) -> &Arc<dyn OwnershipService> {
        &self.inner.ownership
    }

    /// Attaches a service built on top of the actors (replacing one of the same type), so
    /// the layers that only hold the context (admin API, metrics) can reach it.
    pub fn set_extension<T: std::any::Any + Send + Sync>(&self, service: Arc<T>) {
        let mut extensions = self
            .inner
            .extensions
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        extensions.retain(|e| !e.is::<T>());
        extensions.push(service);
    }

    /// Detaches every attached service; at shutdown, so services holding the context do not
    /// keep it (and the storage it owns) alive.
    pub fn clear_extensions(&self) {
        self.inner
            .extensions
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
    }

    /// The attached service of type `T`, if any.
    pub fn extension<T: std::any::Any + Send + Sync>(&self) -> Option<Arc<T>> {
        self.inner
            .extensions
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .find_map(|e| e.clone().downcast::<T>().ok())
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
