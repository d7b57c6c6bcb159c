//! Admin messages handled by the [`super::TopicRegistry`]: unload, delete, list loaded topics.
//!
//! Unloads and deletes are serialised through the registry (`AtomicResponse`): while one runs,
//! lookups wait, so a client reconnecting during a delete cannot bring the topic back halfway.

use actix::{
    fut::wrap_future, ActorFutureExt, AtomicResponse, Context, Handler, Message, ResponseActFuture,
};
use geminga_storage::StorageError;

use super::actor::TopicRegistry;
use crate::{
    error::RequestError,
    nonpersistent,
    topic::{policies, CloseTopic},
};

/// Unloads a topic: its producers and consumers are disconnected (they reconnect and load it
/// again). Answers `TopicNotFound` when the topic does not exist.
#[derive(Debug, Message)]
#[rtype(result = "Result<(), RequestError>")]
pub struct UnloadTopic {
    /// Full topic name.
    pub name: String,
}

/// Deletes a topic with its subscriptions and log. Refused (precondition failed) while
/// producers or consumers are attached, unless `force`.
#[derive(Debug, Message)]
#[rtype(result = "Result<(), RequestError>")]
pub struct DeleteTopic {
    /// Full topic name.
    pub name: String,
    /// Disconnect attached clients instead of refusing.
    pub force: bool,
}

/// Full names of the loaded topics starting with `prefix`, sorted.
#[derive(Debug, Message)]
#[rtype(result = "Vec<String>")]
pub struct ListLoadedTopics {
    /// For example `non-persistent://public/default/`.
    pub prefix: String,
}

impl TopicRegistry {
    /// Closes the loaded topic `name` (if loaded) and forgets it; `Ok(false)` when it was not
    /// loaded.
    fn close_loaded(
        &mut self,
        name: String,
        only_if_idle: bool,
    ) -> ResponseActFuture<Self, Result<bool, RequestError>> {
        let Some(slot) = self.topics.get(&name) else {
            return Box::pin(actix::fut::ready(Ok(false)));
        };
        let (instance, request) = (slot.instance, slot.addr.send(CloseTopic { only_if_idle }));
        Box::pin(wrap_future::<_, Self>(request).map(move |sent, act, _ctx| {
            sent.unwrap_or_else(|e| Err(RequestError::from(e)))?;
            if act
                .topics
                .get(&name)
                .is_some_and(|slot| slot.instance == instance)
            {
                act.topics.remove(&name);
            }
            Ok(true)
        }))
    }
}

fn joined<T>(
    result: Result<Result<T, StorageError>, tokio::task::JoinError>,
    name: &str,
) -> Result<T, RequestError> {
    match result {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(StorageError::TopicNotFound { .. })) => Err(RequestError::TopicNotFound {
            topic: name.to_owned(),
        }),
        Ok(Err(e)) => Err(RequestError::from(e)),
        Err(_) => Err(RequestError::unavailable("the storage task")),
    }
}

impl Handler<UnloadTopic> for TopicRegistry {
    type Result = AtomicResponse<Self, Result<(), RequestError>>;

    fn handle(&mut self, msg: UnloadTopic, _ctx: &mut Context<Self>) -> Self::Result {
        let storage = self.broker.storage().clone();
        let name = msg.name.clone();
        let closed = self.close_loaded(msg.name, false);
        AtomicResponse::new(Box::pin(closed.then(move |closed, _act, _ctx| {
            let exists = async move {
                match closed? {
                    true => Ok(()),
                    false if nonpersistent::is_non_persistent(&name) => {
                        Err(RequestError::TopicNotFound { topic: name })
                    }
                    false => {
                        let lookup = name.clone();
                        let found =
                            actix_rt::task::spawn_blocking(move || storage.topic(&lookup)).await;
                        match joined(found, &name)? {
                            Some(_) => Ok(()),
                            None => Err(RequestError::TopicNotFound { topic: name }),
                        }
                    }
                }
            };
            wrap_future::<_, Self>(exists)
        })))
    }
}

impl Handler<DeleteTopic> for TopicRegistry {
    type Result = AtomicResponse<Self, Result<(), RequestError>>;

    fn handle(&mut self, msg: DeleteTopic, _ctx: &mut Context<Self>) -> Self::Result {
        let storage = self.broker.storage().clone();
        let name = msg.name.clone();
        let closed = self.close_loaded(msg.name, !msg.force);
        AtomicResponse::new(Box::pin(closed.then(move |closed, _act, _ctx| {
            let deleted = async move {
                let was_loaded = closed?;
                let non_persistent = nonpersistent::is_non_persistent(&name);
                if non_persistent && !was_loaded {
                    return Err(RequestError::TopicNotFound { topic: name });
                }
                let target = name.clone();
                let work = actix_rt::task::spawn_blocking(move || {
                    if !non_persistent {
                        storage.delete_topic(&target)?;
                    }
                    policies::forget_topic(storage.metadata(), &target)
                })
                .await;
                joined(work, &name)
            };
            wrap_future::<_, Self>(deleted)
        })))
    }
}

impl Handler<ListLoadedTopics> for TopicRegistry {
    type Result = Vec<String>;

    fn handle(&mut self, msg: ListLoadedTopics, _ctx: &mut Context<Self>) -> Vec<String> {
        let mut names: Vec<String> = self
            .topics
            .keys()
            .filter(|name| name.starts_with(&msg.prefix))
            .cloned()
            .collect();
        names.sort();
        names
    }
}
