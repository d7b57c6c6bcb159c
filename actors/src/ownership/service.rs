//! Who owns a bundle: the `OwnershipService` trait and the single-broker implementation.

use std::{
    collections::{BTreeMap, BTreeSet},
    sync::{Mutex, PoisonError},
};

use thiserror::Error;

use super::{BundleRange, ListenerAddress};
use crate::metadata::NamespaceName;

/// The addresses of one broker: the default set and the named listeners.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BrokerAddresses {
    /// Answered when the client names no listener.
    pub default: ListenerAddress,
    /// `advertisedListeners` by name.
    pub listeners: BTreeMap<String, ListenerAddress>,
}

impl BrokerAddresses {
    /// The addresses for a client's listener name; an empty or absent name means the default
    /// (C++ always sends the field, usually empty).
    ///
    /// # Errors
    /// [`OwnershipError::UnknownListener`] when the broker has no listener of that name.
    pub fn select(&self, listener: Option<&str>) -> Result<&ListenerAddress, OwnershipError> {
        match listener.filter(|name| !name.is_empty()) {
            None => Ok(&self.default),
            Some(name) => self
                .listeners
                .get(name)
                .ok_or_else(|| OwnershipError::UnknownListener {
                    name: name.to_owned(),
                }),
        }
    }
}

/// Why a bundle's owner could not be given.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum OwnershipError {
    /// The client asked for a listener the broker does not advertise. The text is Pulsar's,
    /// which clients may match on.
    #[error("the broker do not have {name} listener")]
    UnknownListener {
        /// The listener name asked for.
        name: String,
    },
}

/// Which broker serves each namespace bundle. Lookups answer from it; a cluster will
/// implement it over the shared metadata store (acquire with compare-and-set, release on
/// unload), while a single broker owns everything.
pub trait OwnershipService: Send + Sync {
    /// The broker serving `bundle` of `ns`, acquiring it for this broker if nobody owns it.
    fn owner(&self, ns: &NamespaceName, bundle: &BundleRange) -> BrokerAddresses;

    /// Whether this broker serves the bundle now.
    fn is_owned_here(&self, ns: &NamespaceName, bundle: &BundleRange) -> bool;

    /// Gives the bundle up (unload or split); its next lookup acquires it again.
    fn release(&self, ns: &NamespaceName, bundle: &BundleRange);

    /// The bundles this broker serves now, by namespace.
    fn owned(&self) -> Vec<(NamespaceName, BundleRange)>;
}

/// The single-broker ownership: every bundle is served here and acquired on first lookup.
#[derive(Debug)]
pub struct LocalOwnership {
    addresses: BrokerAddresses,
    /// Bundles looked up since start or their last release, for the admin API.
    acquired: Mutex<BTreeSet<(NamespaceName, BundleRange)>>,
}

impl LocalOwnership {
    /// This broker at `addresses`.
    pub fn new(addresses: BrokerAddresses) -> Self {
        Self {
            addresses,
            acquired: Mutex::new(BTreeSet::new()),
        }
    }

    fn acquired(&self) -> std::sync::MutexGuard<'_, BTreeSet<(NamespaceName, BundleRange)>> {
        // Single inserts and removes cannot leave the set inconsistent.
        self.acquired.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl OwnershipService for LocalOwnership {
    fn owner(&self, ns: &NamespaceName, bundle: &BundleRange) -> BrokerAddresses {
        self.acquired().insert((ns.clone(), *bundle));
        self.addresses.clone()
    }

    fn is_owned_here(&self, _ns: &NamespaceName, _bundle: &BundleRange) -> bool {
        true
    }

    fn release(&self, ns: &NamespaceName, bundle: &BundleRange) {
        self.acquired().remove(&(ns.clone(), *bundle));
    }

    fn owned(&self) -> Vec<(NamespaceName, BundleRange)> {
        self.acquired().iter().cloned().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addresses() -> BrokerAddresses {
        let url = |u: &str| ListenerAddress {
            broker_url: Some(u.to_owned()),
            ..ListenerAddress::default()
        };
        BrokerAddresses {
            default: url("pulsar://internal:6650"),
            listeners: BTreeMap::from([("external".to_owned(), url("pulsar://external:6650"))]),
        }
    }

    #[test]
    fn listener_name_selects_the_address_and_unknown_names_fail() {
        let a = addresses();
        assert_eq!(
            a.select(None).unwrap().broker_url.as_deref(),
            Some("pulsar://internal:6650")
        );
        assert_eq!(a.select(Some("")).unwrap(), &a.default);
        assert_eq!(
            a.select(Some("external")).unwrap().broker_url.as_deref(),
            Some("pulsar://external:6650")
        );
        let err = a.select(Some("test")).unwrap_err();
        assert_eq!(err.to_string(), "the broker do not have test listener");
    }

    #[test]
    fn local_ownership_tracks_looked_up_bundles_until_released() {
        let own = LocalOwnership::new(addresses());
        let ns = NamespaceName::parse("public/default").unwrap();
        let bundle = BundleRange::parse("0x00000000_0x40000000").unwrap();
        assert!(own.owned().is_empty());
        assert_eq!(own.owner(&ns, &bundle), addresses());
        assert!(own.is_owned_here(&ns, &bundle));
        assert_eq!(own.owned(), [(ns.clone(), bundle)]);
        own.release(&ns, &bundle);
        assert!(own.owned().is_empty());
    }
}
