//! Geminga: a message broker that speaks Apache Pulsar's binary protocol.
//!
//! # Layout
//! - [`broker`]: start and stop a whole broker (storage, actors, listeners); used by the binary
//!   and by tests, which start brokers in-process on port 0.
//! - [`config`]: the broker configuration, read from Pulsar-style `key=value` files and flags.
//! - [`cli`]: the command line (`geminga standalone`, `geminga perf ...`).
//! - [`admin`]: the admin HTTP server (Pulsar's REST paths, health, the actor tree, metrics,
//!   fault injection, the status page).
//! - [`metrics`]: Prometheus metrics read from the actors' shared counters.
//! - [`client`]: a small native Pulsar client used by `geminga perf`.
//! - [`security`]: builds authentication, authorization, limits and TLS from the config.
//! - [`perf`]: the `pulsar-perf`-like load generator.
//! - [`connectors`]: Pulsar IO sources and sinks run inside the broker.
//!
//! The wire protocol lives in `geminga-protocol`, durable state in `geminga-storage` and the
//! actor system in `geminga-actors`.

pub mod admin;
pub mod broker;
pub mod cli;
pub mod client;
pub mod config;
pub mod connectors;
pub mod error;
pub mod metrics;
pub mod perf;
pub mod security;

pub use broker::{start_in_thread, BrokerHandle};
pub use error::BrokerError;
