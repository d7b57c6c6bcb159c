//! Starting and stopping a whole broker: storage, the actor system, the Pulsar listener and the
//! admin HTTP server.

use std::{collections::BTreeMap, net::SocketAddr, sync::mpsc, thread::JoinHandle, time::Duration};

use actix::System;
use geminga_actors::{
    metadata::ClusterData, ownership::parse_listeners, storage_writer::persist, ActorConfig,
    ActorSystem, Advertised, BrokerContext,
};
use geminga_storage::{Storage, StorageConfig};
use tokio::net::TcpListener;
use tracing::{info, warn};

use crate::{admin, config::BrokerConfig, error::BrokerError};

/// A broker running on its own thread (tests, benches). Dropping it shuts it down.
pub struct BrokerHandle {
    /// `pulsar://host:port` clients connect to.
    pub service_url: String,
    /// `http://host:port` of the admin API and metrics.
    pub admin_url: String,
    /// `pulsar+ssl://host:port` when `brokerServicePortTls` is set.
    pub service_url_tls: Option<String>,
    /// `https://host:port` when `webServicePortTls` is set.
    pub admin_url_tls: Option<String>,
    system: Option<System>,
    context: Option<BrokerContext>,
    thread: Option<JoinHandle<()>>,
}

impl BrokerHandle {
    /// The running broker's shared services (registry, storage, policies, fault injection,
    /// the actor tree, stats), for tests and embedders; `None` once stopped.
    pub fn context(&self) -> Option<&BrokerContext> {
        self.context.as_ref()
    }

    /// Stops the broker and waits for its thread: pending writes are flushed, clients closed.
    pub fn shutdown(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        if let (Some(system), Some(context)) = (self.system.take(), self.context.take()) {
            // Flush and stop from inside the broker's own System.
            system.arbiter().spawn(shutdown(context));
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for BrokerHandle {
    fn drop(&mut self) {
        self.stop();
    }
}

/// What a booted broker holds on to.
struct Running {
    service_url: String,
    admin_url: String,
    service_url_tls: Option<String>,
    admin_url_tls: Option<String>,
    context: BrokerContext,
}

/// Starts a broker in-process on its own thread with its own actix System; returns once both
/// listeners are bound (ports 0 are resolved to the real ones).
///
/// # Errors
/// Storage that cannot be opened or an address that cannot be bound.
pub fn start_in_thread(config: BrokerConfig) -> Result<BrokerHandle, BrokerError> {
    let (ready_tx, ready_rx) = mpsc::channel();
    let thread = std::thread::Builder::new()
        .name("geminga-broker".into())
        .spawn(move || {
            let system = System::new();
            let booted = system.block_on(boot(config));
            let ok = booted.is_ok();
            let _ = ready_tx.send(booted.map(|running| (running, System::current())));
            if ok {
                let _ = system.run();
            }
        })?;
    match ready_rx.recv() {
        Ok(Ok((running, system))) => Ok(BrokerHandle {
            service_url: running.service_url,
            admin_url: running.admin_url,
            service_url_tls: running.service_url_tls,
            admin_url_tls: running.admin_url_tls,
            system: Some(system),
            context: Some(running.context),
            thread: Some(thread),
        }),
        Ok(Err(e)) => {
            let _ = thread.join();
            Err(e)
        }
        Err(_) => Err(BrokerError::Startup {
            reason: "the broker thread ended during start-up".into(),
        }),
    }
}

/// Runs a broker on the current thread until SIGTERM or ctrl-c, then shuts down cleanly.
/// Prints `GEMINGA_READY service_url=... admin_url=...` on stdout once serving.
///
/// # Errors
/// Storage that cannot be opened or an address that cannot be bound.
pub fn run_standalone(config: BrokerConfig) -> Result<(), BrokerError> {
    let system = System::new();
    let running = system.block_on(boot(config))?;
    // Handlers are installed before READY is printed, so a SIGTERM sent as soon as the line is
    // seen already shuts down cleanly instead of killing the process.
    let signals = system.block_on(async { ShutdownSignals::install() })?;
    #[allow(
        clippy::print_stdout,
        reason = "the READY line is the binary's contract with scripts"
    )]
    {
        let mut tls = String::new();
        if let Some(url) = &running.service_url_tls {
            tls.push_str(&format!(" service_url_tls={url}"));
        }
        if let Some(url) = &running.admin_url_tls {
            tls.push_str(&format!(" admin_url_tls={url}"));
        }
        println!(
            "GEMINGA_READY service_url={} admin_url={}{tls}",
            running.service_url, running.admin_url
        );
    }
    let context = running.context;
    system.runtime().spawn(async move {
        signals.wait().await;
        info!("signal received; shutting down");
        shutdown(context).await;
    });
    system.run()?;
    info!("broker stopped");
    Ok(())
}

/// SIGTERM and SIGINT (ctrl-c), registered up front.
struct ShutdownSignals {
    #[cfg(unix)]
    term: tokio::signal::unix::Signal,
    #[cfg(unix)]
    interrupt: tokio::signal::unix::Signal,
}

impl ShutdownSignals {
    /// Registers the handlers; call inside the runtime.
    fn install() -> std::io::Result<Self> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            Ok(Self {
                term: signal(SignalKind::terminate())?,
                interrupt: signal(SignalKind::interrupt())?,
            })
        }
        #[cfg(not(unix))]
        {
            Ok(Self {})
        }
    }

    /// Resolves on the first of the signals.
    async fn wait(mut self) {
        #[cfg(unix)]
        {
            tokio::select! {
                _ = self.term.recv() => {}
                _ = self.interrupt.recv() => {}
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

/// Longest a shutdown waits for the memtables to reach disk.
const CHECKPOINT_LIMIT: Duration = Duration::from_secs(20);

/// Flushes pending writes and the memtables, then stops the System the call runs in (clients
/// see their sockets close; fjall persists once more when its last handle drops).
async fn shutdown(context: BrokerContext) {
    if let Some(connectors) = context.extension::<crate::connectors::Connectors>() {
        connectors.shutdown().await;
    }
    // The connector service holds the context: detach it so the storage is released.
    context.clear_extensions();
    // An empty group commit completes after every write queued before it.
    let flush = persist(context.committer(), Vec::new());
    match tokio::time::timeout(Duration::from_secs(10), flush).await {
        Ok(Ok(())) => info!("pending writes flushed"),
        other => warn!(?other, "flushing pending writes failed"),
    }
    // Memtables to disk, so the next start has no journal to replay.
    let storage = context.storage().clone();
    let checkpoint = actix_rt::task::spawn_blocking(move || storage.checkpoint());
    match tokio::time::timeout(CHECKPOINT_LIMIT, checkpoint).await {
        Ok(Ok(Ok(()))) => info!("memtables flushed"),
        other => warn!(
            ?other,
            "flushing memtables at shutdown failed; the next start replays the journal"
        ),
    }
    System::current().stop();
}

async fn boot(config: BrokerConfig) -> Result<Running, BrokerError> {
    let security = crate::security::setup(&config)?;
    let storage = open_storage(&config).await?;
    let listener = bind(&config.bind).await?;
    let tls_listener = match config.security.broker_service_port_tls {
        Some(port) => Some(bind(&with_port(&config.bind, port)).await?),
        None => None,
    };
    let admin_listener = admin::bind(&config)?;
    let admin_tls_listener = match config.security.web_service_port_tls {
        Some(port) => Some(admin::bind_addr(&with_port(&config.admin_bind, port))?),
        None => None,
    };
    let bound = listener.local_addr()?;
    let host = advertised_host(&config, bound);
    let admin_url = format!("http://{host}:{}", admin_listener.local_addr()?.port());
    let service_url_tls = match &tls_listener {
        Some(l) => Some(format!("pulsar+ssl://{host}:{}", l.local_addr()?.port())),
        None => None,
    };
    let admin_url_tls = match &admin_tls_listener {
        Some(l) => Some(format!("https://{host}:{}", l.local_addr()?.port())),
        None => None,
    };
    let mut advertised = advertised(&config, &host, bound.port(), &admin_url)?;
    if advertised.listeners.is_empty() {
        advertised.service_url_tls.clone_from(&service_url_tls);
    }
    // The READY line and handles name the bound listener, which is reachable from here even
    // when the advertised listeners are for other networks.
    let service_url = format!("pulsar://{host}:{}", bound.port());
    let system = ActorSystem::start(
        actor_config(&config),
        storage,
        advertised,
        config.worker_threads,
    );
    let context = system.context.clone();
    context.set_security(security.security.clone());
    let cluster_url = context.advertised().service_url.clone();
    let urls = ClusterUrls {
        service_url: cluster_url,
        admin_url: admin_url.clone(),
        service_url_tls: service_url_tls.clone(),
        admin_url_tls: admin_url_tls.clone(),
    };
    bootstrap_metadata(&context, &config, &urls).await?;
    actix_rt::spawn(geminga_actors::connection::serve(listener, context.clone()));
    if let (Some(l), Some(tls)) = (tls_listener, security.tls.clone()) {
        actix_rt::spawn(geminga_actors::connection::serve_tls(
            l,
            context.clone(),
            tls,
        ));
    }
    crate::connectors::start(
        &system,
        &service_url,
        crate::connectors::RuntimeSettings {
            client_auth: config.security.broker_client_auth().cloned(),
            ..crate::connectors::RuntimeSettings::default()
        },
    );
    let admin_tls = admin_tls_listener.zip(security.tls.clone());
    admin::serve_all(admin_listener, admin_tls, &config, context.clone())?;
    // The worker arbiters live until the System stops; the handles are not needed.
    drop(system);
    info!(%service_url, %admin_url, ?service_url_tls, ?admin_url_tls,
        data_dir = %config.data_dir.display(), "broker ready");
    Ok(Running {
        service_url,
        admin_url,
        service_url_tls,
        admin_url_tls,
        context,
    })
}

async fn bind(addr: &str) -> Result<TcpListener, BrokerError> {
    TcpListener::bind(addr)
        .await
        .map_err(|source| BrokerError::Bind {
            addr: addr.to_owned(),
            source,
        })
}

/// `host:port` with the port replaced (the TLS listeners bind the plain ones' host).
fn with_port(bind: &str, port: u16) -> String {
    match bind.rsplit_once(':') {
        Some((host, _)) => format!("{host}:{port}"),
        None => format!("{bind}:{port}"),
    }
}

/// The cluster's addresses, as `bootstrap_metadata` records them.
struct ClusterUrls {
    service_url: String,
    admin_url: String,
    service_url_tls: Option<String>,
    admin_url_tls: Option<String>,
}

/// What lookups answer: the bound addresses, or with `advertisedListeners` the internal
/// listener's (`internalListenerName`, else the first by name) plus every named listener.
fn advertised(
    config: &BrokerConfig,
    host: &str,
    port: u16,
    admin_url: &str,
) -> Result<Advertised, BrokerError> {
    let listeners = match &config.advertised_listeners {
        Some(text) => parse_listeners(text).map_err(|e| BrokerError::Startup {
            reason: format!("advertisedListeners: {e}"),
        })?,
        None => BTreeMap::new(),
    };
    let internal = match &config.internal_listener_name {
        Some(name) => listeners.get(name),
        None => listeners.values().next(),
    };
    let (service_url, service_url_tls) = match internal {
        Some(l) => (
            l.broker_url
                .clone()
                .or_else(|| l.broker_url_tls.clone())
                .unwrap_or_default(),
            l.broker_url_tls.clone(),
        ),
        None => (format!("pulsar://{host}:{port}"), None),
    };
    Ok(Advertised {
        service_url,
        service_url_tls,
        http_url: Some(admin_url.to_owned()),
        listeners,
    })
}

/// Creates the cluster, tenant `public` and namespace `public/default` on first start.
async fn bootstrap_metadata(
    context: &BrokerContext,
    config: &BrokerConfig,
    urls: &ClusterUrls,
) -> Result<(), BrokerError> {
    let metadata = context.metadata().clone();
    let cluster = config.cluster_name.clone();
    let data = ClusterData {
        service_url: Some(urls.admin_url.clone()),
        broker_service_url: Some(urls.service_url.clone()),
        service_url_tls: urls.admin_url_tls.clone(),
        broker_service_url_tls: urls.service_url_tls.clone(),
        ..ClusterData::default()
    };
    let done = actix_rt::task::spawn_blocking(move || metadata.bootstrap(&cluster, &data)).await;
    done.map_err(|e| BrokerError::Startup {
        reason: e.to_string(),
    })?
    .map_err(|e| BrokerError::Startup {
        reason: format!("creating the default tenant and namespace: {e}"),
    })
}

async fn open_storage(config: &BrokerConfig) -> Result<Storage, BrokerError> {
    let dir = config.data_dir.clone();
    let storage_config = StorageConfig {
        fsync: config.fsync,
        cache_size_bytes: config.cache_size_mb * 1024 * 1024,
        payload_segment_min_bytes: config.payload_segment_min_bytes,
        ..StorageConfig::default()
    };
    let opened = actix_rt::task::spawn_blocking(move || Storage::open(dir, storage_config)).await;
    opened
        .map_err(|e| BrokerError::Startup {
            reason: e.to_string(),
        })?
        .map_err(BrokerError::from)
}

/// The host put into lookup answers: the configured advertised address, else the bound IP
/// (a wildcard bind advertises `localhost`).
fn advertised_host(config: &BrokerConfig, bound: SocketAddr) -> String {
    match &config.advertised_address {
        Some(host) if !host.is_empty() => host.clone(),
        _ if bound.ip().is_unspecified() => "localhost".to_owned(),
        _ => bound.ip().to_string(),
    }
}

fn actor_config(config: &BrokerConfig) -> ActorConfig {
    let mut actors = ActorConfig {
        cluster_name: config.cluster_name.clone(),
        max_message_size: config.max_message_size,
        keep_alive_interval: Duration::from_secs(config.keep_alive_interval_secs.max(1)),
        max_unacked_per_consumer: config.max_unacked_messages_per_consumer,
        max_unacked_per_subscription: config.max_unacked_messages_per_subscription,
        dispatcher_max_read_batch_size: config.dispatcher_max_read_batch_size,
        allow_auto_topic_creation: config.allow_auto_topic_creation,
        auto_topic_creation_partitioned: config.allow_auto_topic_creation_type == "partitioned",
        default_num_partitions: config.default_num_partitions,
        default_bundles: config.default_number_of_namespace_bundles,
        max_pending_publish_per_connection: config.max_pending_publish_requests_per_connection,
        max_producers_per_topic: config.max_producers_per_topic,
        max_consumers_per_subscription: config.max_consumers_per_subscription,
        storage_policies: config.storage_policies.to_actor_config(),
        delayed_delivery_enabled: config.delayed_delivery_enabled,
        delayed_delivery_tick: Duration::from_millis(config.delayed_delivery_tick_ms),
        dead_letter_max_redeliver_count: config.dead_letter_max_redeliver_count,
        redelivery_backoff_min: Duration::from_millis(config.redelivery_backoff_min_ms),
        redelivery_backoff_max: Duration::from_millis(config.redelivery_backoff_max_ms),
        ..ActorConfig::default()
    };
    config.policy.apply_to(&mut actors);
    actors
}
