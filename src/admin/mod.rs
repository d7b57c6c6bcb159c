//! The admin HTTP server: Pulsar-style REST paths, broker health, the actor tree and broker
//! stats (`broker`), Prometheus metrics (`metrics`), fault injection (`faults`) and the
//! built-in status page (`status`).

pub mod auth;
mod broker;
mod clusters;
mod connectors;
pub mod errors;
mod faults;
mod lookup;
mod metrics;
mod multipart;
mod namespace_policies;
mod namespace_storage;
mod namespaces;
mod partitioned;
mod schemas;
mod status;
mod tenants;
mod topics;

pub(crate) use topics::set_topic_policy;

use std::{net::SocketAddr, sync::Arc};

use actix_web::{web, App, HttpServer};
use geminga_actors::BrokerContext;

use crate::{config::BrokerConfig, error::BrokerError};

/// Binds the admin listener and starts serving on the current System; returns the bound address.
///
/// # Errors
/// The address cannot be bound.
pub fn start(config: &BrokerConfig, context: BrokerContext) -> Result<SocketAddr, BrokerError> {
    serve(bind(config)?, config, context)
}

/// Binds the admin listener without serving yet, so its port is known before the broker
/// advertises its addresses.
///
/// # Errors
/// The address cannot be bound.
pub fn bind(config: &BrokerConfig) -> Result<std::net::TcpListener, BrokerError> {
    std::net::TcpListener::bind(&config.admin_bind).map_err(|source| BrokerError::Bind {
        addr: config.admin_bind.clone(),
        source,
    })
}

/// Binds an admin listener on `addr` (the HTTPS one).
///
/// # Errors
/// The address cannot be bound.
pub fn bind_addr(addr: &str) -> Result<std::net::TcpListener, BrokerError> {
    std::net::TcpListener::bind(addr).map_err(|source| BrokerError::Bind {
        addr: addr.to_owned(),
        source,
    })
}

/// Serves the admin API on a bound listener on the current System; returns its address.
///
/// # Errors
/// The listener cannot be used.
pub fn serve(
    listener: std::net::TcpListener,
    config: &BrokerConfig,
    context: BrokerContext,
) -> Result<SocketAddr, BrokerError> {
    serve_all(listener, None, config, context)
}

/// Serves the admin API over HTTP and, when given, HTTPS (`webServicePortTls`), with the
/// broker's authentication and authorization in front of every route.
///
/// # Errors
/// A listener cannot be used.
pub fn serve_all(
    listener: std::net::TcpListener,
    tls: Option<(std::net::TcpListener, Arc<rustls::ServerConfig>)>,
    config: &BrokerConfig,
    context: BrokerContext,
) -> Result<SocketAddr, BrokerError> {
    let addr = listener.local_addr()?;
    let cluster = config.cluster_name.clone();
    let registry = web::Data::new(crate::metrics::registry(&context));
    crate::metrics::spawn_sampler(context.stats().clone());
    let faults_enabled = web::Data::new(faults::FaultsEnabled(config.fault_injection_enabled));
    let security = web::Data::new(auth::AdminSecurity {
        security: context.security(),
        protect_metrics: config.security.authenticate_metrics_endpoint
            && config.security.authentication_enabled,
    });
    let server = HttpServer::new(move || {
        App::new()
            .wrap(actix_web::middleware::from_fn(auth::guard))
            .app_data(security.clone())
            .app_data(web::Data::new(context.clone()))
            .app_data(web::Data::new(ClusterName(cluster.clone())))
            .app_data(registry.clone())
            .app_data(faults_enabled.clone())
            .configure(broker::routes)
            .configure(metrics::routes)
            .configure(faults::routes)
            .configure(status::routes)
            .configure(clusters::routes)
            .configure(tenants::routes)
            .configure(namespace_storage::routes)
            .configure(namespaces::routes)
            .configure(namespace_policies::routes)
            .configure(schemas::routes)
            .configure(lookup::routes)
            .configure(partitioned::routes)
            .configure(topics::routes)
            .configure(connectors::routes)
    })
    .workers(1)
    .disable_signals()
    .on_connect(auth::on_connect)
    .listen(listener)?;
    let server = match tls {
        Some((listener, config)) => {
            server.listen_rustls_0_23(listener, rustls::ServerConfig::clone(&config))?
        }
        None => server,
    };
    let server = server.run();
    actix_rt::spawn(server);
    Ok(addr)
}

/// The cluster this broker belongs to, for paths that name it.
#[derive(Clone, Debug)]
pub struct ClusterName(pub String);
