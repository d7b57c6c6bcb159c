//! `AccessCheck`: one client's role plus the broker's rules, asked by connections and the
//! admin API before they act.

use std::sync::Arc;

use geminga_protocol::topic_name::TopicName;

use super::{
    authz::{AuthAction, NamespaceOperation},
    Security,
};
use crate::{
    error::RequestError,
    metadata::{MetadataError, MetadataService, NamespaceName},
};

/// What a topic-level request needs (Pulsar's `TopicOperation`, reduced to what differs).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum TopicOperation {
    /// LOOKUP, PARTITIONED_METADATA, stats: a produce or consume grant.
    Lookup,
    /// PRODUCER: a produce grant.
    Produce,
    /// SUBSCRIBE and subscription admin: a consume grant, and the subscription's role list
    /// (when it has one) must name the role.
    Consume {
        /// The subscription, when the request names one.
        subscription: Option<String>,
    },
    /// Topic administration (create, delete, terminate, unload, policies, permissions):
    /// tenant admins only.
    Admin,
}

/// The role of one client and the broker's security. Cheap to clone; every check blocks
/// (metadata reads), so run it on the blocking pool.
#[derive(Clone, Debug)]
pub struct AccessCheck {
    security: Arc<Security>,
    metadata: MetadataService,
    role: Option<String>,
}

impl AccessCheck {
    /// A check for `role` (`None`: an unauthenticated client without an anonymous role).
    pub fn new(security: Arc<Security>, metadata: MetadataService, role: Option<String>) -> Self {
        Self {
            security,
            metadata,
            role,
        }
    }

    /// The client's role.
    pub fn role(&self) -> Option<&str> {
        self.role.as_deref()
    }

    /// Whether authorization is on (when off every check passes).
    pub fn enforced(&self) -> bool {
        self.security.authorization.is_some()
    }

    /// Whether the client is a superuser (true for everyone when authorization is off).
    pub fn is_superuser(&self) -> bool {
        match (&self.security.authorization, &self.role) {
            (None, _) => true,
            (Some(authz), Some(role)) => authz.is_superuser(role),
            (Some(_), None) => false,
        }
    }

    /// Requires superuser rights.
    ///
    /// # Errors
    /// [`RequestError::NotAuthorized`] otherwise.
    pub fn superuser(&self) -> Result<(), RequestError> {
        if self.is_superuser() {
            Ok(())
        } else {
            Err(self.refused("this operation requires super-user access"))
        }
    }

    /// Whether the client administers `tenant` (superusers administer every tenant).
    ///
    /// # Errors
    /// Metadata failures.
    pub fn is_tenant_admin(&self, tenant: &str) -> Result<bool, RequestError> {
        match (&self.security.authorization, &self.role) {
            (None, _) => Ok(true),
            (Some(_), None) => Ok(false),
            (Some(authz), Some(role)) => authz
                .is_tenant_admin(&self.metadata, tenant, role)
                .map_err(metadata_error),
        }
    }

    /// Requires admin rights on `tenant`.
    ///
    /// # Errors
    /// [`RequestError::NotAuthorized`] otherwise, metadata failures.
    pub fn tenant_admin(&self, tenant: &str) -> Result<(), RequestError> {
        if self.is_tenant_admin(tenant)? {
            Ok(())
        } else {
            Err(self.refused(&format!("no permission to administer tenant {tenant}")))
        }
    }

    /// Requires `op` on `namespace`.
    ///
    /// # Errors
    /// [`RequestError::NotAuthorized`] otherwise, metadata failures.
    pub fn namespace(
        &self,
        namespace: &NamespaceName,
        op: NamespaceOperation,
    ) -> Result<(), RequestError> {
        let (authz, role) = match (&self.security.authorization, &self.role) {
            (None, _) => return Ok(()),
            (Some(_), None) => return Err(self.refused("authentication required")),
            (Some(authz), Some(role)) => (authz, role),
        };
        let allowed = authz
            .allow_namespace(&self.metadata, namespace, role, op)
            .map_err(metadata_error)?;
        if allowed {
            Ok(())
        } else {
            Err(self.refused(&format!("no permission on namespace {namespace}")))
        }
    }

    /// Requires `op` on `topic`.
    ///
    /// # Errors
    /// [`RequestError::NotAuthorized`] otherwise, metadata failures.
    pub fn topic(&self, topic: &TopicName, op: &TopicOperation) -> Result<(), RequestError> {
        let (authz, role) = match (&self.security.authorization, &self.role) {
            (None, _) => return Ok(()),
            (Some(_), None) => return Err(self.refused("authentication required")),
            (Some(authz), Some(role)) => (authz, role),
        };
        if authz
            .is_tenant_admin(&self.metadata, topic.tenant(), role)
            .map_err(metadata_error)?
        {
            return Ok(());
        }
        let namespace = NamespaceName::of_topic(topic);
        let subscription = match op {
            TopicOperation::Consume { subscription } => subscription.as_deref(),
            _ => None,
        };
        let p = authz
            .permissions(&self.metadata, &namespace, Some(topic), subscription, role)
            .map_err(metadata_error)?;
        let allowed = match op {
            TopicOperation::Lookup => p.has(AuthAction::Produce) || p.has(AuthAction::Consume),
            TopicOperation::Produce => p.has(AuthAction::Produce),
            TopicOperation::Consume { .. } => p.has(AuthAction::Consume) && p.subscription_allowed,
            TopicOperation::Admin => false,
        };
        if allowed {
            Ok(())
        } else {
            let what = match op {
                TopicOperation::Lookup => "look up",
                TopicOperation::Produce => "produce to",
                TopicOperation::Consume { .. } => "consume from",
                TopicOperation::Admin => "administer",
            };
            Err(self.refused(&format!("no permission to {what} {topic}")))
        }
    }

    /// The topics of `namespace` the client may see: all of them with a namespace-wide grant
    /// (or as tenant admin), else those it has a topic grant on. A client with no grant at all
    /// in the namespace is refused, so it learns nothing of it.
    ///
    /// # Errors
    /// [`RequestError::NotAuthorized`], metadata failures.
    pub fn visible_topics(
        &self,
        namespace: &NamespaceName,
        topics: Vec<String>,
    ) -> Result<Vec<String>, RequestError> {
        if self
            .namespace(namespace, NamespaceOperation::ListTopics)
            .is_ok()
        {
            return Ok(topics);
        }
        let Some(role) = self.role.as_deref() else {
            return Err(self.refused("authentication required"));
        };
        let Some(authz) = &self.security.authorization else {
            return Ok(topics);
        };
        let mut visible = Vec::new();
        for name in topics {
            let Ok(topic) = TopicName::parse(&name) else {
                continue;
            };
            let p = authz
                .permissions(&self.metadata, namespace, Some(&topic), None, role)
                .map_err(metadata_error)?;
            if p.has(AuthAction::Produce) || p.has(AuthAction::Consume) {
                visible.push(name);
            }
        }
        if visible.is_empty() {
            Err(self.refused(&format!("no permission on namespace {namespace}")))
        } else {
            Ok(visible)
        }
    }

    fn refused(&self, reason: &str) -> RequestError {
        RequestError::NotAuthorized {
            role: self.role.clone().unwrap_or_else(|| "<none>".to_owned()),
            reason: reason.to_owned(),
        }
    }
}

fn metadata_error(e: MetadataError) -> RequestError {
    RequestError::from(e)
}
