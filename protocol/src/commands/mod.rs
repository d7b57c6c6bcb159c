//! Constructors for the commands the broker sends, each returning a ready [`BaseCommand`].
//!
//! They encode the interop rules of the digest once (always set `response`, `partitions`,
//! `protocol_version`; broker-initiated closes use `request_id = u64::MAX`), so handlers cannot
//! forget them. [`client`] holds the client-side counterparts, for tests and tools.
//!
//! [`BaseCommand`]: crate::proto::BaseCommand

pub mod client;
mod connection;
mod consumer;
mod lookup;
mod producer;

pub use connection::*;
pub use consumer::*;
pub use lookup::*;
pub use producer::*;

/// `request_id` of commands the broker starts (CLOSE_PRODUCER, CLOSE_CONSUMER, the ERROR before
/// closing an unauthenticated connection): Java's `-1`.
pub const BROKER_INITIATED_REQUEST_ID: u64 = u64::MAX;
