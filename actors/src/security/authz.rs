//! Authorization: superusers, tenant admins, and namespace/topic permissions read from
//! Pulsar's `auth_policies` document.

use std::collections::{BTreeMap, BTreeSet};

use geminga_protocol::topic_name::TopicName;
use serde::{Deserialize, Serialize};

use crate::metadata::{MetadataError, MetadataService, NamespaceName, Policies, TopicPolicies};

/// One permission, by Pulsar's `AuthAction` names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum AuthAction {
    /// Publish.
    Produce,
    /// Subscribe and receive.
    Consume,
    /// Manage Pulsar Functions.
    Functions,
    /// Manage source connectors.
    Sources,
    /// Manage sink connectors.
    Sinks,
    /// Manage packages.
    Packages,
}

impl AuthAction {
    /// Parses Pulsar's name (any case); unknown names give `None` and are ignored.
    pub fn parse(name: &str) -> Option<Self> {
        match name.to_ascii_lowercase().as_str() {
            "produce" => Some(Self::Produce),
            "consume" => Some(Self::Consume),
            "functions" => Some(Self::Functions),
            "sources" => Some(Self::Sources),
            "sinks" => Some(Self::Sinks),
            "packages" => Some(Self::Packages),
            _ => None,
        }
    }
}

/// Pulsar's `AuthPolicies`: who may do what in one namespace. Kept as it is stored, so any
/// writer that stores Pulsar's JSON (the permissions admin API) is understood.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct AuthPolicies {
    /// Role -> actions on every topic of the namespace.
    pub namespace_auth: BTreeMap<String, BTreeSet<String>>,
    /// Topic (full name) -> role -> actions on that topic.
    pub destination_auth: BTreeMap<String, BTreeMap<String, BTreeSet<String>>>,
    /// Subscription -> the roles allowed to use it (none listed: any role with `consume`).
    pub subscription_auth_roles: BTreeMap<String, BTreeSet<String>>,
}

/// The `auth_policies` of a policies document (a namespace's `Policies` or a topic's
/// `TopicPolicies`), read from its JSON form so it works whether the field is typed or kept
/// among the unmodelled ones. A missing or unreadable field means "no grants".
pub fn auth_policies<T: Serialize>(document: &T) -> AuthPolicies {
    let Ok(json) = serde_json::to_value(document) else {
        return AuthPolicies::default();
    };
    json.get("auth_policies")
        .cloned()
        .and_then(|v| serde_json::from_value(v).ok())
        .unwrap_or_default()
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
    /// given, on `subscription`, from the namespace's and the topic's `auth_policies`.
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

fn extend(into: &mut BTreeSet<AuthAction>, actions: Option<&BTreeSet<String>>) {
    into.extend(
        actions
            .into_iter()
            .flatten()
            .filter_map(|a| AuthAction::parse(a)),
    );
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
        let ns = match metadata.policies(namespace) {
            Ok(p) => auth_policies::<Policies>(&p),
            Err(MetadataError::NotFound { .. }) => AuthPolicies::default(),
            Err(e) => return Err(e),
        };
        let topic_doc = match topic {
            Some(t) => match metadata.topic_policies(&t.base_name()) {
                Ok(Some(p)) => auth_policies::<TopicPolicies>(&p),
                Ok(None) | Err(MetadataError::NotFound { .. }) => AuthPolicies::default(),
                Err(e) => return Err(e),
            },
            None => AuthPolicies::default(),
        };
        Ok(Permissions::of(
            role,
            topic,
            subscription,
            &[&ns, &topic_doc],
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
