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
//! - [`security`]: authentication providers, authorization rules, TLS and client limits.
//! - [`supervision`]: the panic-catching supervisor, fault injection and the live actor tree.
//! - [`stats`]: counters and rates of topics and subscriptions, shared with metrics and stats.
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
pub mod security;
pub mod stats;
pub mod storage_writer;
pub mod subscription;
pub mod supervision;
pub mod topic;

use actix::{Arbiter, ArbiterHandle};
use geminga_storage::Storage;

pub use config::{ActorConfig, StoragePolicyConfig};
pub use context::{Advertised, BrokerContext};
pub use error::RequestError;

use crate::supervision::{root::Root, ActorTracker};

/// The running actor system: the shared context plus the worker arbiters it owns.
pub struct ActorSystem {
    /// Shared services (registry, writer, storage, tracker).
    pub context: BrokerContext,
    workers: Vec<Arbiter>,
    root: Root,
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
        let root = Root::new(storage.clone(), tracker.clone());
        let committer = root.start_writer();
        let context = BrokerContext::new(config, storage, tracker, handles, advertised, committer);
        root.start_registry(&context);
        Self {
            context,
            workers,
            root,
        }
    }

    /// The root supervisor, to start further singletons under it.
    pub fn root(&self) -> &Root {
        &self.root
    }

    /// Stops the worker arbiters (the System stops the rest).
    pub fn stop(self) {
        for worker in self.workers {
            worker.stop();
        }
    }
}
