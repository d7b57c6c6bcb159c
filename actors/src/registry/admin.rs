//! Unloading and deleting topics through the registry.

use actix::{fut::wrap_future, ActorFutureExt, Addr, Context, Handler, ResponseActFuture};
use futures_util::future::join_all;
use geminga_protocol::topic_name::TopicName;
use geminga_storage::StorageError;
use tracing::info;

use super::{
    actor::TopicRegistry,
    messages::{DeleteTopic, ListLoadedTopics, UnloadTopic, UnloadTopics},
};
use crate::{
    error::RequestError,
    metadata::NamespaceName,
    ownership::topic_hash,
    supervision::{ActorKind, ActorTracker},
    topic::{Topic, Unload},
};

/// Whether a producer or consumer of `topic` is connected. Their actors are named
/// `{topic}/{client id}` in the actor tree.
pub fn topic_in_use(tracker: &ActorTracker, topic: &str) -> bool {
    tracker.snapshot().iter().any(|actor| {
        matches!(actor.kind, ActorKind::Producer | ActorKind::Consumer)
            && actor
                .name
                .strip_prefix(topic)
                .and_then(|rest| rest.strip_prefix('/'))
                .is_some_and(|id| !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()))
    })
}

impl TopicRegistry {
    fn in_use(&self, topic: &str) -> bool {
        topic_in_use(self.broker.tracker(), topic)
    }

    /// Takes `name` out of the live map and marks it closing; returns its actor if it was
    /// live. Callers asking for it meanwhile wait for [`TopicRegistry::finish_closing`].
    fn begin_closing(&mut self, name: &str) -> Option<Addr<Topic>> {
        self.closing.entry(name.to_owned()).or_default();
        self.topics.remove(name).map(|slot| slot.addr)
    }
}

impl Handler<UnloadTopics> for TopicRegistry {
    type Result = ResponseActFuture<Self, usize>;

    fn handle(&mut self, msg: UnloadTopics, _ctx: &mut Context<Self>) -> Self::Result {
        let names: Vec<String> = self
            .topics
            .names()
            .into_iter()
            .filter(|name| {
                let Ok(topic) = TopicName::parse(name) else {
                    return false;
                };
                NamespaceName::of_topic(&topic) == msg.namespace
                    && msg
                        .bundle
                        .is_none_or(|range| range.contains(topic_hash(name)))
                    && !self.closing.contains_key(name)
            })
            .collect();
        let unloads: Vec<_> = names
            .iter()
            .filter_map(|name| self.begin_closing(name))
            .map(|addr| addr.send(Unload))
            .collect();
        info!(namespace = %msg.namespace, topics = names.len(), "unloading topics");
        Box::pin(
            wrap_future::<_, Self>(join_all(unloads)).map(move |_, act, ctx| {
                for name in &names {
                    act.finish_closing(name, ctx);
                }
                names.len()
            }),
        )
    }
}

impl Handler<DeleteTopic> for TopicRegistry {
    type Result = ResponseActFuture<Self, Result<(), RequestError>>;

    fn handle(&mut self, msg: DeleteTopic, _ctx: &mut Context<Self>) -> Self::Result {
        let name = msg.name;
        // A load in flight would start an actor on the log being deleted: retry after it.
        if self.closing.contains_key(&name) || self.loading.contains_key(&name) {
            let busy = RequestError::unavailable(&format!("topic {name}"));
            return Box::pin(actix::fut::ready(Err(busy)));
        }
        if !msg.force && self.in_use(&name) {
            let refused = RequestError::PreconditionFailed {
                reason: format!("Topic {name} has active producers/subscriptions"),
            };
            return Box::pin(actix::fut::ready(Err(refused)));
        }
        let live = self.begin_closing(&name);
        let was_live = live.is_some();
        let storage = self.broker.storage().clone();
        let target = name.clone();
        let work = async move {
            if let Some(addr) = live {
                let _ = addr.send(Unload).await;
            }
            let deleted = actix_rt::task::spawn_blocking(move || {
                crate::topic::policies::forget_topic(storage.metadata(), &target)?;
                storage.delete_topic(&target)
            })
            .await;
            match deleted {
                Ok(Ok(())) => Ok(true),
                // Only a live topic without a record (non-persistent) may be "deleted" so.
                Ok(Err(StorageError::TopicNotFound { .. })) => Ok(false),
                Ok(Err(e)) => Err(RequestError::from(e)),
                Err(_) => Err(RequestError::unavailable("topic deletion")),
            }
        };
        Box::pin(wrap_future::<_, Self>(work).map(move |deleted, act, ctx| {
            act.finish_closing(&name, ctx);
            match deleted {
                Ok(true) => {
                    info!(topic = %name, "topic deleted");
                    act.topics_changed(&name, false);
                    Ok(())
                }
                Ok(false) if was_live => {
                    act.topics_changed(&name, false);
                    Ok(())
                }
                Ok(false) => Err(RequestError::TopicNotFound { topic: name }),
                Err(e) => Err(e),
            }
        }))
    }
}

impl Handler<UnloadTopic> for TopicRegistry {
    type Result = ResponseActFuture<Self, Result<(), RequestError>>;

    /// Closes one loaded topic (its clients reconnect and load it again). A topic that exists
    /// but is not loaded is already "unloaded"; one that does not exist is not found.
    fn handle(&mut self, msg: UnloadTopic, ctx: &mut Context<Self>) -> Self::Result {
        let name = msg.name;
        if self.closing.contains_key(&name) {
            return Box::pin(actix::fut::ready(Ok(())));
        }
        if let Some(addr) = self.begin_closing(&name) {
            info!(topic = %name, "unloading topic");
            return Box::pin(
                wrap_future::<_, Self>(addr.send(Unload)).map(move |_, act, ctx| {
                    act.finish_closing(&name, ctx);
                    Ok(())
                }),
            );
        }
        self.finish_closing(&name, ctx);
        if crate::nonpersistent::is_non_persistent(&name) {
            return Box::pin(actix::fut::ready(Err(RequestError::TopicNotFound {
                topic: name,
            })));
        }
        let storage = self.broker.storage().clone();
        let lookup = name.clone();
        let exists = async move {
            match actix_rt::task::spawn_blocking(move || storage.topic(&lookup)).await {
                Ok(Ok(Some(_))) => Ok(()),
                Ok(Ok(None)) => Err(RequestError::TopicNotFound { topic: name }),
                Ok(Err(e)) => Err(RequestError::from(e)),
                Err(_) => Err(RequestError::unavailable("topic lookup")),
            }
        };
        Box::pin(wrap_future::<_, Self>(exists))
    }
}

impl Handler<ListLoadedTopics> for TopicRegistry {
    type Result = Vec<String>;

    fn handle(&mut self, msg: ListLoadedTopics, _ctx: &mut Context<Self>) -> Vec<String> {
        let mut names: Vec<String> = self
            .topics
            .names()
            .into_iter()
            .filter(|name| name.starts_with(&msg.prefix))
            .collect();
        names.sort();
        names
    }
}
