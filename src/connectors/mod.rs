//! Pulsar IO connectors run inside the broker: sources feed an external system's data into a
//! topic, sinks feed topics into an external system, under a processing guarantee
//! (at-most-once, at-least-once, effectively-once).
//!
//! # Layout
//! - [`api`]: the [`Source`] and [`Sink`] traits a connector implements.
//! - [`config`]: Pulsar's `SourceConfig`/`SinkConfig`, checked and turned into a
//!   [`ConnectorSpec`].
//! - [`catalog`]: the built-in connector types (`builtin`: file, postgres, http, log).
//! - [`store`]: configs and source positions in the metadata store.
//! - [`runtime`]: the [`ConnectorRuntime`] actor, a supervised child of the root, which starts,
//!   stops and replaces the [`ConnectorInstance`] actors (one per instance, restarted with
//!   backoff when their loop fails; their status shows the error).
//! - [`service`]: [`Connectors`], what the admin API and the CLI drive.
//! - [`metrics`]: `pulsar_source_*`/`pulsar_sink_*` on `/metrics`.
//!
//! Instances talk to topics as any client does: through the broker's own Pulsar listener with
//! the native client, so subscriptions, Shared/Key_Shared/Failover sharing, acks and
//! redelivery are the broker's ordinary ones.

pub mod api;
mod builtin;
pub mod catalog;
pub mod config;
mod instance;
pub mod metrics;
pub mod runtime;
pub mod service;
mod sink_run;
mod source_run;
pub mod status;
pub mod store;

use std::{sync::Arc, time::Duration};

use crate::config::BrokerClientAuth;
use geminga_actors::{metadata::StorageMetadata, supervision::ActorKind, ActorSystem};

pub use api::{ConnectorError, Sink, Source};
pub use config::{ConnectorId, ConnectorKind, ConnectorSpec, ProcessingGuarantee};
pub use instance::ConnectorInstance;
pub use runtime::{ConnectorRuntime, RuntimeEnv};
pub use service::Connectors;

/// Tunables of the connector runtime.
#[derive(Clone, Debug)]
pub struct RuntimeSettings {
    /// First restart delay of a failed instance; doubles per consecutive failure.
    pub backoff_min: Duration,
    /// Longest restart delay.
    pub backoff_max: Duration,
    /// How often a source commits its position under at-least-once and effectively-once.
    pub commit_interval: Duration,
    /// Messages a sink writes per batch at most.
    pub sink_batch: usize,
    /// How long a stopping instance may take to close cleanly.
    pub stop_timeout: Duration,
    /// How often a sink with a topics pattern looks for new topics.
    pub pattern_refresh: Duration,
    /// Credentials of the instances' client (`brokerClientAuthentication*`); `None` connects
    /// without, which a broker with authentication on refuses.
    pub client_auth: Option<BrokerClientAuth>,
}

impl Default for RuntimeSettings {
    fn default() -> Self {
        Self {
            backoff_min: Duration::from_millis(200),
            backoff_max: Duration::from_secs(30),
            commit_interval: Duration::from_millis(100),
            sink_batch: 100,
            stop_timeout: Duration::from_secs(10),
            pattern_refresh: Duration::from_secs(5),
            client_auth: None,
        }
    }
}

/// Starts the connector runtime under the root supervisor; its instances connect to the
/// broker at `service_url`. The handle is also attached to the context
/// (`BrokerContext::extension::<Connectors>()`) for the admin API and metrics.
pub fn start(system: &ActorSystem, service_url: &str, settings: RuntimeSettings) -> Connectors {
    let context = system.context.clone();
    let store = store::ConnectorStore::new(Arc::new(StorageMetadata(context.storage().clone())));
    let env = Arc::new(RuntimeEnv::new(
        context.clone(),
        service_url,
        store,
        settings,
    ));
    let (for_make, for_start) = (env.clone(), env.clone());
    system.root().start_singleton(
        ActorKind::ConnectorRuntime,
        "connector-runtime",
        move |_ctx, lifecycle| ConnectorRuntime::new(for_make.clone(), lifecycle),
        move |addr| for_start.set_runtime(addr),
    );
    let connectors = Connectors::new(env);
    context.set_extension(Arc::new(connectors.clone()));
    connectors
}

geminga_actors::forwarded!(ConnectorRuntime, ConnectorInstance);
