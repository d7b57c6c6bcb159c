//! Geminga's actor system: the broker's moving parts as supervised actix actors.
//!
//! # Layout
//! - [`connection`]: one actor per client TCP session; decodes commands, routes them.
//! - [`producer`] / [`consumer`]: one actor per client handle.
//! - [`metadata`]: tenants, namespaces, partitioned topics and policies in the metadata store.
//! - [`ownership`]: namespace bundles, which broker owns them, and topic lookup.
//! - [`registry`]: finds, loads and creates [`topic`] actors by name.
//! - [`topic`]: owns a topic's log end, its producers and its [`subscription`]s.
//! - [`subscription`]: owns a cursor (acks, seeks) and reads the log for its [`dispatcher`].
//! - [`dispatcher`]: picks the consumer for each entry within flow permits.
//! - [`nonpersistent`]: the memory-only mode of `non-persistent://` topics.
//! - [`schema`]: the schema registry's rules (versions, compatibility strategies, Avro).
//! - [`storage_writer`]: the single writer to storage, group-committing many requests per fsync.
//! - [`supervision`]: the panic-catching supervisor and the live actor tree.
//!
//! It does not parse bytes (that is `geminga-protocol`) nor touch fjall directly (that is
//! `geminga-storage`, called only from the blocking pool, never on an arbiter thread).

pub mod config;
pub mod connection;
pub mod consumer;
pub mod context;
pub mod dispatcher;
pub mod error;
pub mod metadata;
pub mod nonpersistent;
pub mod ownership;
pub mod producer;
pub mod registry;
pub mod schema;
pub mod storage_writer;
pub mod subscription;
pub mod supervision;
pub mod topic;

use actix::{Arbiter, ArbiterHandle};
use geminga_storage::Storage;

pub use config::ActorConfig;
pub use context::{Advertised, BrokerContext};
pub use error::RequestError;

use crate::{
    registry::TopicRegistry,
    storage_writer::StorageWriter,
    supervision::{supervise, ActorKind, ActorTracker},
};

/// The running actor system: the shared context plus the worker arbiters it owns.
pub struct ActorSystem {
    /// Shared services (registry, writer, storage, tracker).
    pub context: BrokerContext,
    workers: Vec<Arbiter>,
}

impl ActorSystem {
    /// Starts the storage writer and the topic registry on the current arbiter and
    /// `worker_threads` worker arbiters for topics and connections. Call inside an actix System.
    pub fn start(
        config: ActorConfig,
        storage: Storage,
        advertised: Advertised,
        worker_threads: usize,
    ) -> Self {
        let tracker = ActorTracker::new();
        let workers: Vec<Arbiter> = (0..worker_threads.max(1)).map(|_| Arbiter::new()).collect();
        let handles: Vec<ArbiterHandle> = workers.iter().map(Arbiter::handle).collect();
        let home = Arbiter::current();
        let mut spec = supervision::SupervisorSpec {
            kind: ActorKind::StorageWriter,
            name: "storage-writer".into(),
            parent: None,
            budget: supervision::RestartBudget::default(),
            restart: true,
            tracker: tracker.clone(),
            on_exit: None,
        };
        let writer_storage = storage.clone();
        let writer = supervise(&home, spec, move |_ctx, lifecycle| {
            StorageWriter::new(writer_storage, lifecycle)
        });
        let context = BrokerContext::new(config, storage, tracker, handles, advertised, writer);
        spec = context.spec(ActorKind::Registry, "topic-registry".into(), None);
        let registry_context = context.clone();
        let registry = supervise(&home, spec, move |_ctx, lifecycle| {
            TopicRegistry::new(registry_context, lifecycle)
        });
        context.set_registry(registry);
        Self { context, workers }
    }

    /// Stops the worker arbiters (the System stops the rest).
    pub fn stop(self) {
        for worker in self.workers {
            worker.stop();
        }
    }
}
