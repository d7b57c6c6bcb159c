//! Ownership: which broker serves which topics.
//!
//! A namespace is split into bundles, ranges of the 32-bit hash of topic names
//! ([`NamespaceBundles`]); a broker owns whole bundles ([`OwnershipService`]) and lookups
//! answer with the owner's address for the client's listener ([`lookup_topic`]). A single
//! broker owns every bundle ([`LocalOwnership`]); multi-broker ownership implements the same
//! trait.

mod bundles;
mod listeners;
mod lookup;
mod service;

pub use bundles::{
    topic_hash, BundleRange, NamespaceBundles, DEFAULT_BUNDLES, FULL_LOWER, FULL_UPPER, MAX_BUNDLES,
};
pub use listeners::{parse_listeners, ListenerAddress, ListenerError};
pub use lookup::{
    bundle_of_topic, client_partitions, lookup_topic, topic_error, LookupAnswer, LookupError,
};
pub use service::{BrokerAddresses, LocalOwnership, OwnershipError, OwnershipService};
