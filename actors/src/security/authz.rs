//! Authorization: superusers, tenant admins, and namespace/topic permissions read from the
//! namespace's `auth_policies` (granted and revoked through the permissions admin API).

use std::collections::BTreeSet;

use geminga_protocol::topic_name::TopicName;

pub use crate::metadata::{AuthAction, AuthPolicies};
use crate::metadata::{MetadataError, MetadataService, NamespaceName, Policies};

/// The permissions of one namespace, as the permissions admin API stores them in its policies
/// (Pulsar's `auth_policies`): every authorization decision reads them through this function.
pub fn auth_policies(policies: &Policies) -> &AuthPolicies {
    &policies.auth_policies
}

/// What one role may do on one topic or namespace.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Permissions {
    /// Actions granted on the whole namespace.
    pub namespace: BTreeSet<AuthAction>,
    /// Actions granted on the topic itself (empty for namespace questions).
    pub topic: BTreeSet<AuthAction>,
    /// When the subscription asked about has a role list: whether this role is on it.
    pub subscription_allowed: bool,
}

impl Permissions {
    /// Whether `action` is granted on the namespace or the topic.
    pub fn has(&self, action: AuthAction) -> bool {
        self.namespace.contains(&action) || self.topic.contains(&action)
    }

    /// The permissions of `role` on `topic` (its partitioned base name counts too) and, when
    /// given, on `subscription`, from `auth_policies` documents.
    pub fn of(
        role: &str,
        topic: Option<&TopicName>,
        subscription: Option<&str>,
        documents: &[&AuthPolicies],
    ) -> Self {
        let names: Vec<String> = topic
            .map(|t| {
                let (name, base) = (t.to_string(), t.base_name().to_string());
                if base == name {
                    vec![name]
                } else {
                    vec![name, base]
                }
            })
            .unwrap_or_default();
        let mut p = Permissions {
            subscription_allowed: true,
            ..Permissions::default()
        };
        for doc in documents {
            extend(&mut p.namespace, doc.namespace_auth.get(role));
            for name in &names {
                extend(
                    &mut p.topic,
                    doc.destination_auth.get(name).and_then(|m| m.get(role)),
                );
            }
            if let Some(roles) = subscription.and_then(|s| doc.subscription_auth_roles.get(s)) {
                if !roles.is_empty() && !roles.contains(role) {
                    p.subscription_allowed = false;
                }
            }
        }
        p
    }
}

fn extend(into: &mut BTreeSet<AuthAction>, actions: Option<&BTreeSet<AuthAction>>) {
    into.extend(actions.into_iter().flatten().copied());
}

/// What a namespace-level request needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum NamespaceOperation {
    /// List the namespace's topics: a namespace-wide produce or consume grant.
    ListTopics,
    /// Manage connectors or functions: the matching namespace grant.
    Action(AuthAction),
    /// Anything else (policies, permissions, create, delete): tenant admins only.
    Admin,
}

/// Superuser roles plus the permission rules.
#[derive(Clone, Debug, Default)]
pub struct Authorizer {
    superusers: BTreeSet<String>,
}

impl Authorizer {
    /// An authorizer with these superuser roles (`superUserRoles`).
    pub fn new(superusers: BTreeSet<String>) -> Self {
        Self { superusers }
    }

    /// Whether `role` is a superuser (may do anything).
    pub fn is_superuser(&self, role: &str) -> bool {
        self.superusers.contains(role)
    }

    /// Whether `role` is a superuser or one of `tenant`'s admin roles. An unknown tenant has
    /// no admins.
    ///
    /// # Errors
    /// Store failures.
    pub fn is_tenant_admin(
        &self,
        metadata: &MetadataService,
        tenant: &str,
        role: &str,
    ) -> Result<bool, MetadataError> {
        if self.is_superuser(role) {
            return Ok(true);
        }
        match metadata.tenant(tenant) {
            Ok(info) => Ok(info.admin_roles.contains(role)),
            Err(MetadataError::NotFound { .. }) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// The grants of `role` in `namespace` (and on `topic`, `subscription` when given). A
    /// missing namespace grants nothing.
    ///
    /// # Errors
    /// Store failures.
    pub fn permissions(
        &self,
        metadata: &MetadataService,
        namespace: &NamespaceName,
        topic: Option<&TopicName>,
        subscription: Option<&str>,
        role: &str,
    ) -> Result<Permissions, MetadataError> {
        // Topic grants live in the namespace's `destination_auth`, as in Pulsar.
        let policies = match metadata.policies(namespace) {
            Ok(p) => p,
            Err(MetadataError::NotFound { .. }) => Policies::default(),
            Err(e) => return Err(e),
        };
        Ok(Permissions::of(
            role,
            topic,
            subscription,
            &[auth_policies(&policies)],
        ))
    }

    /// Whether `role` may perform `op` on `namespace`.
    ///
    /// # Errors
    /// Store failures.
    pub fn allow_namespace(
        &self,
        metadata: &MetadataService,
        namespace: &NamespaceName,
        role: &str,
        op: NamespaceOperation,
    ) -> Result<bool, MetadataError> {
        if self.is_tenant_admin(metadata, namespace.tenant(), role)? {
            return Ok(true);
        }
        let p = self.permissions(metadata, namespace, None, None, role)?;
        Ok(match op {
            NamespaceOperation::ListTopics => {
                p.has(AuthAction::Produce) || p.has(AuthAction::Consume)
            }
            NamespaceOperation::Action(action) => p.has(action),
            NamespaceOperation::Admin => false,
        })
    }
}
