//! Namespaces: create, list, delete, policies and bundles.

use super::{
    names::{tenant_key, NamespaceName, PARTITIONED, POLICIES},
    AutoTopicCreationOverride, MetadataError, MetadataService, Policies, TenantInfo,
    TOPIC_TYPE_NON_PARTITIONED, TOPIC_TYPE_PARTITIONED,
};
use crate::ownership::{BundleRange, NamespaceBundles};

impl MetadataService {
    /// The namespaces of a tenant as `tenant/namespace`, sorted.
    ///
    /// # Errors
    /// [`MetadataError::NotFound`] for an unknown tenant, store failures.
    pub fn namespaces(&self, tenant: &str) -> Result<Vec<String>, MetadataError> {
        self.tenant(tenant)?;
        let prefix = format!("{POLICIES}{tenant}/");
        Ok(self
            .children(&prefix)?
            .into_iter()
            .map(|ns| format!("{tenant}/{ns}"))
            .collect())
    }

    /// Whether a namespace exists.
    ///
    /// # Errors
    /// Store failures.
    pub fn namespace_exists(&self, ns: &NamespaceName) -> Result<bool, MetadataError> {
        Ok(self.get_json::<Policies>(&ns.key())?.is_some())
    }

    /// A namespace's policies.
    ///
    /// # Errors
    /// [`MetadataError::NotFound`] for an unknown namespace, store failures.
    pub fn policies(&self, ns: &NamespaceName) -> Result<Policies, MetadataError> {
        self.get_json(&ns.key())?
            .map(|(policies, _)| policies)
            .ok_or_else(|| MetadataError::not_found(format!("namespace {ns}")))
    }

    /// Creates a namespace. Unset bundles get the broker's default count; unset replication
    /// clusters get the tenant's allowed clusters.
    ///
    /// # Errors
    /// [`MetadataError::NotFound`] for an unknown tenant, [`MetadataError::AlreadyExists`],
    /// [`MetadataError::Invalid`] for bad bundles, [`MetadataError::Precondition`] for a
    /// cluster the tenant may not use, store failures.
    pub fn create_namespace(
        &self,
        ns: &NamespaceName,
        mut policies: Policies,
    ) -> Result<(), MetadataError> {
        let tenant: TenantInfo = self
            .get_json(&tenant_key(ns.tenant()))?
            .map(|(info, _)| info)
            .ok_or_else(|| MetadataError::not_found(format!("tenant {}", ns.tenant())))?;
        let bundles = match &policies.bundles {
            Some(data) => NamespaceBundles::from_data(data)?,
            None => self.default_bundles()?,
        };
        policies.bundles = Some(bundles.to_data());
        if policies.replication_clusters.is_empty() {
            policies.replication_clusters = tenant.allowed_clusters.clone();
        } else if let Some(c) = policies
            .replication_clusters
            .iter()
            .find(|c| !tenant.allowed_clusters.contains(*c))
        {
            return Err(MetadataError::precondition(format!(
                "cluster {c} is not allowed for tenant {}",
                ns.tenant()
            )));
        }
        if let Some(o) = &policies.auto_topic_creation_override {
            check_auto_topic_creation(o)?;
        }
        policies.deleted = false;
        match self.put_json(&ns.key(), &policies, Some(0)) {
            Err(MetadataError::Conflict { .. }) => Err(MetadataError::AlreadyExists {
                what: format!("namespace {ns}"),
            }),
            other => other.map(|_| ()),
        }
    }

    /// Deletes a namespace that holds no partitioned topics. The caller checks first that
    /// no topic of the namespace exists in storage (the metadata store does not know them).
    ///
    /// # Errors
    /// [`MetadataError::NotFound`], [`MetadataError::NotEmpty`] while partitioned topics
    /// remain, store failures.
    pub fn delete_namespace(&self, ns: &NamespaceName) -> Result<(), MetadataError> {
        let (_, version) = self
            .get_json::<Policies>(&ns.key())?
            .ok_or_else(|| MetadataError::not_found(format!("namespace {ns}")))?;
        let prefix = format!("{PARTITIONED}{ns}/");
        let partitioned = self.list_json::<serde_json::Value>(&prefix)?;
        if let Some((key, _)) = partitioned.first() {
            return Err(MetadataError::NotEmpty {
                what: format!("namespace {ns}"),
                reason: format!(
                    "it still has partitioned topic {}",
                    key.strip_prefix(&prefix).unwrap_or(key)
                ),
            });
        }
        self.delete_key(&ns.key(), Some(version))
    }

    /// Changes a namespace's policies with compare-and-set.
    ///
    /// # Errors
    /// [`MetadataError::NotFound`], whatever `change` returns, store failures.
    pub fn update_policies(
        &self,
        ns: &NamespaceName,
        change: impl FnMut(&mut Policies) -> Result<(), MetadataError>,
    ) -> Result<(), MetadataError> {
        self.update_json(&ns.key(), &format!("namespace {ns}"), change)
    }

    /// Sets (or with `None` removes) the namespace's auto topic creation override.
    ///
    /// # Errors
    /// [`MetadataError::NotFound`], [`MetadataError::Invalid`] for a bad topic type or
    /// partition count, store failures.
    pub fn set_auto_topic_creation(
        &self,
        ns: &NamespaceName,
        value: Option<AutoTopicCreationOverride>,
    ) -> Result<(), MetadataError> {
        if let Some(o) = &value {
            check_auto_topic_creation(o)?;
        }
        self.update_policies(ns, |p| {
            p.auto_topic_creation_override.clone_from(&value);
            Ok(())
        })
    }

    /// A namespace's bundles.
    ///
    /// # Errors
    /// [`MetadataError::NotFound`], [`MetadataError::Corrupt`]-like invalid stored bundles,
    /// store failures.
    pub fn bundles(&self, ns: &NamespaceName) -> Result<NamespaceBundles, MetadataError> {
        match self.policies(ns)?.bundles {
            Some(data) => NamespaceBundles::from_data(&data),
            None => self.default_bundles(),
        }
    }

    /// Splits one bundle of a namespace in two and returns the halves.
    ///
    /// # Errors
    /// [`MetadataError::NotFound`] for an unknown namespace or bundle,
    /// [`MetadataError::Precondition`] when it cannot be split, store failures.
    pub fn split_bundle(
        &self,
        ns: &NamespaceName,
        range: &BundleRange,
    ) -> Result<(BundleRange, BundleRange), MetadataError> {
        let default = self.default_bundles()?;
        let mut halves = None;
        self.update_policies(ns, |p| {
            let mut bundles = match &p.bundles {
                Some(data) => NamespaceBundles::from_data(data)?,
                None => default.clone(),
            };
            halves = Some(bundles.split(range)?);
            p.bundles = Some(bundles.to_data());
            Ok(())
        })?;
        halves.ok_or_else(|| MetadataError::Conflict { key: ns.key() })
    }
}

fn check_auto_topic_creation(o: &AutoTopicCreationOverride) -> Result<(), MetadataError> {
    match o.topic_type.as_str() {
        TOPIC_TYPE_NON_PARTITIONED => Ok(()),
        TOPIC_TYPE_PARTITIONED => match o.default_num_partitions {
            Some(n) if n > 0 => Ok(()),
            _ => Err(MetadataError::invalid(
                "defaultNumPartitions must be at least 1 for partitioned auto-creation",
            )),
        },
        other => Err(MetadataError::invalid(format!(
            "invalid topicType {other:?}: expected partitioned or non-partitioned"
        ))),
    }
}
