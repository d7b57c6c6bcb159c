//! End-to-end suite: the `pulsar` crate (6.9) against Geminga, in-process or as a child process.
//!
//! One test binary so the client and broker crates are linked once. Every test starts its own
//! broker on port 0 with a temporary data directory, uses unique topic names, and bounds every
//! await with a timeout (see `common`).

// A failed expectation in a test helper is a test failure, so helpers may panic like tests do
// (clippy.toml only exempts `#[test]` functions themselves).
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::indexing_slicing)]

mod admin_fuzz;
mod admin_http;
mod admission;
mod cli_topics;
mod common;
mod connectors;
mod dead_letter;
mod delayed;
mod durability;
mod key_shared;
mod kill9;
mod metrics;
mod nonpersistent;
mod ordering;
mod raw_client;
mod reader;
mod redelivery;
mod retries;
mod round_trip;
mod security;
mod seek;
mod storage_policies;
mod subscription;
mod subscriptions;
mod supervisor_crash;
mod supervisor_harness;
mod supervisor_mailbox;
mod supervisor_storage;
mod tenancy;
mod topic_policies;
mod topics_admin;
