//! Tenancy: tenants, namespaces, partitioned topics, lookup, bundles, discovery and the
//! `geminga admin` CLI, against a real broker with the `pulsar` crate, HTTP and raw frames.

mod admin;
mod cli;
mod discovery;
mod http;
mod lookup;
mod partitioned;
mod raw;
