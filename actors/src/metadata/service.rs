//! `MetadataService`: typed, blocking access to clusters, tenants, namespaces and topic
//! metadata. Call it from the blocking pool, never on an arbiter.

use std::{collections::BTreeSet, sync::Arc};

use geminga_storage::{MetadataStore, StorageError};
use serde::{de::DeserializeOwned, Serialize};

use super::{
    names::{check_name, cluster_key, tenant_key, NamespaceName, CLUSTERS, POLICIES},
    ClusterData, MetadataError, Policies, TenantInfo,
};
use crate::ownership::{NamespaceBundles, DEFAULT_BUNDLES};

/// Compare-and-set attempts before a concurrent writer wins with [`MetadataError::Conflict`].
pub(super) const CAS_ATTEMPTS: usize = 8;

/// Typed metadata over a [`MetadataStore`]. Cheap to clone. Every call blocks.
#[derive(Clone)]
pub struct MetadataService {
    store: Arc<dyn MetadataStore>,
    /// Bundles of a namespace created without saying how many.
    default_bundles: u32,
}

impl std::fmt::Debug for MetadataService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MetadataService")
            .field("default_bundles", &self.default_bundles)
            .finish_non_exhaustive()
    }
}

impl MetadataService {
    /// A service over `store`; namespaces get `default_bundles` bundles unless told otherwise.
    pub fn new(store: Arc<dyn MetadataStore>, default_bundles: u32) -> Self {
        Self {
            store,
            default_bundles: if default_bundles == 0 {
                DEFAULT_BUNDLES
            } else {
                default_bundles
            },
        }
    }

    /// Creates what a fresh broker needs and leaves existing data alone: the cluster, tenant
    /// `public` (allowed in the cluster) and namespace `public/default`.
    ///
    /// # Errors
    /// Store failures.
    pub fn bootstrap(&self, cluster: &str, data: &ClusterData) -> Result<(), MetadataError> {
        self.ensure(&cluster_key(cluster), data)?;
        let tenant = TenantInfo {
            allowed_clusters: BTreeSet::from([cluster.to_owned()]),
            ..TenantInfo::default()
        };
        self.ensure(&tenant_key("public"), &tenant)?;
        let default = NamespaceName::new("public", "default")?;
        if self.get_json::<Policies>(&default.key())?.is_none() {
            match self.create_namespace(&default, Policies::default()) {
                Ok(()) | Err(MetadataError::AlreadyExists { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    fn ensure<T: Serialize>(&self, key: &str, value: &T) -> Result<(), MetadataError> {
        match self.put_json(key, value, Some(0)) {
            Ok(_) | Err(MetadataError::Conflict { .. }) => Ok(()),
            Err(e) => Err(e),
        }
    }

    // --- clusters ---

    /// Names of the known clusters.
    ///
    /// # Errors
    /// Store failures.
    pub fn clusters(&self) -> Result<Vec<String>, MetadataError> {
        self.children(CLUSTERS)
    }

    /// A cluster's addresses.
    ///
    /// # Errors
    /// [`MetadataError::NotFound`] for an unknown cluster, store failures.
    pub fn cluster(&self, name: &str) -> Result<ClusterData, MetadataError> {
        self.get_json(&cluster_key(name))?
            .map(|(data, _)| data)
            .ok_or_else(|| MetadataError::not_found(format!("cluster {name}")))
    }

    // --- tenants ---

    /// Names of every tenant, sorted.
    ///
    /// # Errors
    /// Store failures.
    pub fn tenants(&self) -> Result<Vec<String>, MetadataError> {
        self.children(POLICIES)
    }

    /// A tenant's info.
    ///
    /// # Errors
    /// [`MetadataError::NotFound`] for an unknown tenant, store failures.
    pub fn tenant(&self, tenant: &str) -> Result<TenantInfo, MetadataError> {
        self.get_json(&tenant_key(tenant))?
            .map(|(info, _)| info)
            .ok_or_else(|| MetadataError::not_found(format!("tenant {tenant}")))
    }

    /// Creates a tenant.
    ///
    /// # Errors
    /// [`MetadataError::Invalid`] for a bad name, [`MetadataError::Precondition`] when an
    /// allowed cluster does not exist, [`MetadataError::AlreadyExists`], store failures.
    pub fn create_tenant(&self, tenant: &str, info: &TenantInfo) -> Result<(), MetadataError> {
        check_name("tenant", tenant)?;
        self.check_clusters(&info.allowed_clusters)?;
        match self.put_json(&tenant_key(tenant), info, Some(0)) {
            Err(MetadataError::Conflict { .. }) => Err(MetadataError::AlreadyExists {
                what: format!("tenant {tenant}"),
            }),
            other => other.map(|_| ()),
        }
    }

    /// Replaces a tenant's info.
    ///
    /// # Errors
    /// [`MetadataError::NotFound`], [`MetadataError::Precondition`] for unknown clusters,
    /// store failures.
    pub fn update_tenant(&self, tenant: &str, info: &TenantInfo) -> Result<(), MetadataError> {
        self.check_clusters(&info.allowed_clusters)?;
        self.update_json::<TenantInfo>(&tenant_key(tenant), &format!("tenant {tenant}"), |old| {
            *old = info.clone();
            Ok(())
        })
    }

    /// Deletes a tenant that has no namespaces.
    ///
    /// # Errors
    /// [`MetadataError::NotFound`], [`MetadataError::NotEmpty`] while it has namespaces,
    /// store failures.
    pub fn delete_tenant(&self, tenant: &str) -> Result<(), MetadataError> {
        let (_, version) = self
            .get_json::<TenantInfo>(&tenant_key(tenant))?
            .ok_or_else(|| MetadataError::not_found(format!("tenant {tenant}")))?;
        let namespaces = self.namespaces(tenant)?;
        if !namespaces.is_empty() {
            return Err(MetadataError::NotEmpty {
                what: format!("tenant {tenant}"),
                reason: format!("it still has namespaces {}", namespaces.join(", ")),
            });
        }
        self.store
            .delete(&tenant_key(tenant), Some(version))
            .map_err(|e| conflict_or(e, &tenant_key(tenant)))
    }

    fn check_clusters(&self, clusters: &BTreeSet<String>) -> Result<(), MetadataError> {
        let known = self.clusters()?;
        match clusters.iter().find(|c| !known.contains(c)) {
            Some(missing) => Err(MetadataError::precondition(format!(
                "cluster {missing} does not exist"
            ))),
            None => Ok(()),
        }
    }

    // --- plumbing shared by the other files of this module ---

    pub(super) fn default_bundles(&self) -> Result<NamespaceBundles, MetadataError> {
        NamespaceBundles::equal(self.default_bundles)
    }

    /// The names one level below `prefix` (a tenant's keys are below `POLICIES` too, so
    /// namespaces, which have one more segment, are left out).
    pub(super) fn children(&self, prefix: &str) -> Result<Vec<String>, MetadataError> {
        let mut names: Vec<String> = self
            .store
            .list(prefix)?
            .into_iter()
            .filter_map(|(key, _)| {
                let rest = key.strip_prefix(prefix)?;
                (!rest.is_empty() && !rest.contains('/')).then(|| rest.to_owned())
            })
            .collect();
        names.sort();
        names.dedup();
        Ok(names)
    }

    /// Every `(key, value)` below `prefix`, decoded.
    pub(super) fn list_json<T: DeserializeOwned>(
        &self,
        prefix: &str,
    ) -> Result<Vec<(String, T)>, MetadataError> {
        self.store
            .list(prefix)?
            .into_iter()
            .map(|(key, v)| {
                let value = decode(&key, &v.value)?;
                Ok((key, value))
            })
            .collect()
    }

    pub(super) fn get_json<T: DeserializeOwned>(
        &self,
        key: &str,
    ) -> Result<Option<(T, u64)>, MetadataError> {
        match self.store.get(key)? {
            Some(v) => Ok(Some((decode(key, &v.value)?, v.version))),
            None => Ok(None),
        }
    }

    pub(super) fn put_json<T: Serialize>(
        &self,
        key: &str,
        value: &T,
        expected: Option<u64>,
    ) -> Result<u64, MetadataError> {
        let bytes = serde_json::to_vec(value).map_err(|e| MetadataError::Corrupt {
            key: key.to_owned(),
            reason: e.to_string(),
        })?;
        self.store
            .put(key, &bytes, expected)
            .map_err(|e| conflict_or(e, key))
    }

    pub(super) fn delete_key(&self, key: &str, expected: Option<u64>) -> Result<(), MetadataError> {
        self.store
            .delete(key, expected)
            .map_err(|e| conflict_or(e, key))
    }

    /// Read-modify-write with compare-and-set, retried when a concurrent writer got there
    /// first. `what` names the record in a NotFound error.
    pub(super) fn update_json<T: Serialize + DeserializeOwned>(
        &self,
        key: &str,
        what: &str,
        mut change: impl FnMut(&mut T) -> Result<(), MetadataError>,
    ) -> Result<(), MetadataError> {
        for _ in 0..CAS_ATTEMPTS {
            let (mut value, version) = self
                .get_json::<T>(key)?
                .ok_or_else(|| MetadataError::not_found(what))?;
            change(&mut value)?;
            match self.put_json(key, &value, Some(version)) {
                Err(MetadataError::Conflict { .. }) => continue,
                other => return other.map(|_| ()),
            }
        }
        Err(MetadataError::Conflict {
            key: key.to_owned(),
        })
    }
}

fn decode<T: DeserializeOwned>(key: &str, bytes: &[u8]) -> Result<T, MetadataError> {
    serde_json::from_slice(bytes).map_err(|e| MetadataError::Corrupt {
        key: key.to_owned(),
        reason: e.to_string(),
    })
}

/// A failed compare-and-set is a conflict; everything else stays a store failure.
fn conflict_or(e: StorageError, key: &str) -> MetadataError {
    match e {
        StorageError::BadVersion { .. } => MetadataError::Conflict {
            key: key.to_owned(),
        },
        other => MetadataError::from(other),
    }
}
