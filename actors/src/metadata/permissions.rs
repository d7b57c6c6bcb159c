//! Permissions: grants of actions to roles on a namespace and on single topics, kept in the
//! namespace's `auth_policies` as Pulsar does. Nothing enforces them yet; the security work
//! will ask [`MetadataService::allowed_actions`] / [`MetadataService::is_allowed`].

use std::collections::BTreeSet;

use geminga_protocol::topic_name::TopicName;

use super::{AuthAction, Grants, MetadataError, MetadataService, NamespaceName};

impl MetadataService {
    /// The grants on a namespace, by role.
    ///
    /// # Errors
    /// [`MetadataError::NotFound`] for an unknown namespace, store failures.
    pub fn namespace_permissions(&self, ns: &NamespaceName) -> Result<Grants, MetadataError> {
        Ok(self.policies(ns)?.auth_policies.namespace_auth)
    }

    /// Grants `actions` on a namespace to `role`, replacing what it had there.
    ///
    /// # Errors
    /// [`MetadataError::NotFound`], [`MetadataError::Invalid`] for an empty role, store
    /// failures.
    pub fn grant_namespace_permission(
        &self,
        ns: &NamespaceName,
        role: &str,
        actions: BTreeSet<AuthAction>,
    ) -> Result<(), MetadataError> {
        check_role(role)?;
        self.update_policies(ns, |p| {
            p.auth_policies
                .namespace_auth
                .insert(role.to_owned(), actions.clone());
            Ok(())
        })
    }

    /// Revokes every grant of `role` on a namespace (its topic-level grants stay).
    ///
    /// # Errors
    /// [`MetadataError::NotFound`], store failures.
    pub fn revoke_namespace_permission(
        &self,
        ns: &NamespaceName,
        role: &str,
    ) -> Result<(), MetadataError> {
        self.update_policies(ns, |p| {
            p.auth_policies.namespace_auth.remove(role);
            Ok(())
        })
    }

    /// The effective grants on a topic, by role: the namespace's grants joined with the
    /// topic's own (those of its partitioned topic for a partition), as Pulsar lists them.
    ///
    /// # Errors
    /// [`MetadataError::NotFound`] for an unknown namespace, store failures.
    pub fn topic_permissions(&self, topic: &TopicName) -> Result<Grants, MetadataError> {
        let auth = self
            .policies(&NamespaceName::of_topic(topic))?
            .auth_policies;
        let mut grants = auth.namespace_auth;
        for key in topic_keys(topic) {
            for (role, actions) in auth.destination_auth.get(&key).into_iter().flatten() {
                grants
                    .entry(role.clone())
                    .or_default()
                    .extend(actions.iter().copied());
            }
        }
        Ok(grants)
    }

    /// Grants `actions` on one topic (its base name) to `role`, replacing what it had there.
    ///
    /// # Errors
    /// [`MetadataError::NotFound`], [`MetadataError::Invalid`] for an empty role, store
    /// failures.
    pub fn grant_topic_permission(
        &self,
        topic: &TopicName,
        role: &str,
        actions: BTreeSet<AuthAction>,
    ) -> Result<(), MetadataError> {
        check_role(role)?;
        let key = topic.base_name().to_string();
        self.update_policies(&NamespaceName::of_topic(topic), |p| {
            p.auth_policies
                .destination_auth
                .entry(key.clone())
                .or_default()
                .insert(role.to_owned(), actions.clone());
            Ok(())
        })
    }

    /// Revokes the topic-level grants of `role` on a topic.
    ///
    /// # Errors
    /// [`MetadataError::NotFound`] for an unknown namespace, [`MetadataError::Precondition`]
    /// when the role has no grant on the topic itself (Pulsar's "Permissions are not set at
    /// the topic level"), store failures.
    pub fn revoke_topic_permission(
        &self,
        topic: &TopicName,
        role: &str,
    ) -> Result<(), MetadataError> {
        let key = topic.base_name().to_string();
        self.update_policies(&NamespaceName::of_topic(topic), |p| {
            let destination = &mut p.auth_policies.destination_auth;
            let removed = destination
                .get_mut(&key)
                .and_then(|grants| grants.remove(role));
            if removed.is_none() {
                return Err(MetadataError::precondition(format!(
                    "Permissions are not set at the topic level for role {role} on {key}"
                )));
            }
            if destination.get(&key).is_some_and(Grants::is_empty) {
                destination.remove(&key);
            }
            Ok(())
        })
    }

    /// Forgets the topic-level grants of a deleted topic.
    ///
    /// # Errors
    /// Store failures (a missing namespace is fine).
    pub fn forget_topic_permissions(&self, topic: &TopicName) -> Result<(), MetadataError> {
        let key = topic.base_name().to_string();
        match self.update_policies(&NamespaceName::of_topic(topic), |p| {
            p.auth_policies.destination_auth.remove(&key);
            Ok(())
        }) {
            Ok(()) | Err(MetadataError::NotFound { .. }) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// What `role` may do on `topic`: the union of its namespace and topic grants. This is
    /// the lookup the authorization layer calls for PRODUCER (needs `produce`) and SUBSCRIBE
    /// (needs `consume`).
    ///
    /// # Errors
    /// [`MetadataError::NotFound`] for an unknown namespace, store failures.
    pub fn allowed_actions(
        &self,
        topic: &TopicName,
        role: &str,
    ) -> Result<BTreeSet<AuthAction>, MetadataError> {
        Ok(self
            .topic_permissions(topic)?
            .remove(role)
            .unwrap_or_default())
    }

    /// Whether `role` may do `action` on `topic`.
    ///
    /// # Errors
    /// As [`Self::allowed_actions`].
    pub fn is_allowed(
        &self,
        topic: &TopicName,
        role: &str,
        action: AuthAction,
    ) -> Result<bool, MetadataError> {
        Ok(self.allowed_actions(topic, role)?.contains(&action))
    }
}

/// The `destination_auth` keys that apply to `topic`: its base name and, for a partition, the
/// partition's own name (Pulsar grants on partitions one by one).
fn topic_keys(topic: &TopicName) -> Vec<String> {
    let base = topic.base_name().to_string();
    let own = topic.to_string();
    if own == base {
        vec![base]
    } else {
        vec![base, own]
    }
}

fn check_role(role: &str) -> Result<(), MetadataError> {
    if role.trim().is_empty() {
        return Err(MetadataError::invalid("the role must not be empty"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::metadata::{ClusterData, MemoryMetadataStore};

    fn service() -> MetadataService {
        let svc = MetadataService::new(Arc::new(MemoryMetadataStore::default()), 4);
        svc.bootstrap("standalone", &ClusterData::default())
            .unwrap();
        svc
    }

    fn actions(list: &[AuthAction]) -> BTreeSet<AuthAction> {
        list.iter().copied().collect()
    }

    #[test]
    fn namespace_and_topic_grants_join_and_revoke_separately() {
        let svc = service();
        let ns = NamespaceName::parse("public/default").unwrap();
        let topic = TopicName::parse("persistent://public/default/orders").unwrap();
        let partition = topic.partition_name(1);
        svc.grant_namespace_permission(&ns, "reader", actions(&[AuthAction::Consume]))
            .unwrap();
        svc.grant_topic_permission(&partition, "writer", actions(&[AuthAction::Produce]))
            .unwrap();
        svc.grant_topic_permission(&topic, "reader", actions(&[AuthAction::Produce]))
            .unwrap();
        let grants = svc.topic_permissions(&partition).unwrap();
        assert_eq!(
            grants.get("reader"),
            Some(&actions(&[AuthAction::Produce, AuthAction::Consume]))
        );
        assert!(svc
            .is_allowed(&topic, "writer", AuthAction::Produce)
            .unwrap());
        assert!(!svc
            .is_allowed(&topic, "writer", AuthAction::Consume)
            .unwrap());
        assert!(!svc
            .is_allowed(&topic, "nobody", AuthAction::Consume)
            .unwrap());
        assert_eq!(
            svc.namespace_permissions(&ns)
                .unwrap()
                .keys()
                .collect::<Vec<_>>(),
            vec!["reader"]
        );
        // Only a topic-level grant can be revoked on the topic.
        svc.revoke_topic_permission(&topic, "reader").unwrap();
        assert_eq!(
            svc.revoke_topic_permission(&topic, "reader")
                .unwrap_err()
                .http_status(),
            412
        );
        assert!(svc
            .is_allowed(&topic, "reader", AuthAction::Consume)
            .unwrap());
        svc.revoke_namespace_permission(&ns, "reader").unwrap();
        assert!(!svc
            .is_allowed(&topic, "reader", AuthAction::Consume)
            .unwrap());
        svc.forget_topic_permissions(&topic).unwrap();
        assert!(svc.topic_permissions(&topic).unwrap().is_empty());
        assert!(svc
            .grant_namespace_permission(&ns, " ", BTreeSet::new())
            .is_err());
    }
}
