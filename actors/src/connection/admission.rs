//! Which topic a PRODUCER or SUBSCRIBE may use: tenant and namespace checks and auto-creation.

use std::future::Future;

use actix::Addr;
use geminga_protocol::topic_name::TopicName;

use super::actor::Connection;
use crate::{
    error::RequestError, metadata::TopicAdmission, ownership::topic_error, registry::GetTopic,
    security::TopicOperation, topic::Topic,
};

impl Connection {
    /// The actor of `topic` for a producer or consumer. A topic in a missing tenant or
    /// namespace is TopicNotFound; a missing topic is created when `may_create` is set and
    /// the namespace (or the broker) allows auto-creation, or when it is a partition of a
    /// partitioned topic. The client's role must be allowed `op` first (nothing is created
    /// for a client that may not use the topic).
    pub(super) fn open_topic(
        &self,
        topic: &TopicName,
        may_create: bool,
        op: TopicOperation,
    ) -> impl Future<Output = Result<Addr<Topic>, RequestError>> + 'static {
        let access = self.access();
        let metadata = self.broker.metadata().clone();
        let registry = self.broker.registry();
        let auto = self.broker.config().auto_topic_creation();
        let topic = topic.clone();
        async move {
            let registry = registry.ok_or_else(|| RequestError::ServiceNotReady {
                reason: "the broker is starting".to_owned(),
            })?;
            let checked = topic.clone();
            let admission = actix_rt::task::spawn_blocking(move || {
                access.topic(&checked, &op)?;
                metadata
                    .admit_topic(&checked, auto)
                    .map_err(|e| RequestError::from(topic_error(&checked, e)))
            })
            .await
            .map_err(|_| RequestError::unavailable("the metadata service"))??;
            let create = may_create && admission == TopicAdmission::Create;
            let name = topic.to_string();
            registry.send(GetTopic { name, create }).await?
        }
    }
}
