//! The TopicRegistry actor.

use std::collections::HashMap;

use actix::{
    fut::wrap_future, Actor, ActorFutureExt, Addr, AsyncContext, Context, Handler, ResponseFuture,
    Supervised,
};
use geminga_protocol::topic_name::TopicName;
use geminga_storage::TopicRecord;
use tokio::sync::oneshot;
use tracing::{info, warn};

use super::{
    messages::{GetTopic, ListTopics, TopicExited},
    table::{TopicSlot, TopicTable},
    watch::Watcher,
};
use crate::{
    context::BrokerContext,
    error::RequestError,
    metadata::NamespaceName,
    nonpersistent,
    supervision::{supervise, ActorKind, Lifecycle},
    topic::Topic,
};

pub(super) type Waiter = oneshot::Sender<Result<Addr<Topic>, RequestError>>;

/// One per broker. Supervised; the table of live topics lives in the [`BrokerContext`] and
/// survives restarts and replacements (entries whose actor is gone are dropped), so a restart
/// never starts a second actor for a loaded topic.
pub struct TopicRegistry {
    pub(super) broker: BrokerContext,
    pub(super) lifecycle: Lifecycle,
    pub(super) topics: TopicTable,
    /// Callers waiting for a topic being loaded, by name, with their `create` flag: a caller
    /// that may create the topic must not get the "not found" of a load that could not.
    pub(super) loading: HashMap<String, Vec<(Waiter, bool)>>,
    /// Topics being unloaded or deleted, with the callers (and their `create` flag) waiting
    /// for it to finish, so a new instance never loads while the old one still writes.
    pub(super) closing: HashMap<String, Vec<(Waiter, bool)>>,
    /// Topic-list watchers (WATCH_TOPIC_LIST) by id.
    pub(super) watchers: HashMap<u64, Watcher>,
}

impl TopicRegistry {
    /// An empty registry.
    pub fn new(broker: BrokerContext, lifecycle: Lifecycle) -> Self {
        let topics = broker.topics().clone();
        Self {
            broker,
            lifecycle,
            topics,
            loading: HashMap::new(),
            closing: HashMap::new(),
            watchers: HashMap::new(),
        }
    }

    fn start_topic(&mut self, record: TopicRecord) -> Option<Addr<Topic>> {
        let arbiter = self.broker.worker_for(&record.name)?.clone();
        let instance = self.broker.next_id();
        let name = record.name.clone();
        let mut spec = self
            .broker
            .spec(ActorKind::Topic, name.clone(), Some(self.lifecycle.id()));
        // Escalation from a topic (its restart budget exhausted, or its mailbox dropped): forget
        // it, so its next use loads it afresh from storage. The table is shared, so this works
        // even while the registry itself is being replaced.
        let table = self.topics.clone();
        let exited = name.clone();
        spec.on_exit = Some(Box::new(move |_reason| {
            table.remove_instance(&exited, instance);
        }));
        let broker = self.broker.clone();
        let addr = supervise(&arbiter, spec, move |_ctx, lifecycle| {
            Topic::new(broker, lifecycle, record)
        });
        self.topics.insert(
            name,
            TopicSlot {
                addr: addr.clone(),
                instance,
            },
        );
        Some(addr)
    }

    pub(super) fn load(&mut self, name: String, create: bool, ctx: &mut Context<Self>) {
        if nonpersistent::is_non_persistent(&name) {
            // Never stored: it exists while loaded, and using it creates it.
            let result = if create {
                let record = nonpersistent::transient_record(&name, self.broker.next_id());
                info!(topic = %name, "loading non-persistent topic");
                self.start_topic(record)
                    .ok_or_else(|| RequestError::unavailable("the broker"))
            } else {
                Err(RequestError::TopicNotFound {
                    topic: name.clone(),
                })
            };
            for (waiter, _) in self.loading.remove(&name).unwrap_or_default() {
                let _ = waiter.send(result.clone());
            }
            return;
        }
        let storage = self.broker.storage().clone();
        let metadata = self.broker.metadata().clone();
        let lookup = name.clone();
        let work = actix_rt::task::spawn_blocking(
            move || -> Result<Option<(TopicRecord, bool)>, RequestError> {
                if let Some(record) = storage.topic(&lookup)? {
                    return Ok(Some((record, false)));
                }
                if !create {
                    return Ok(None);
                }
                // A topic is only ever created inside an existing tenant and namespace.
                let topic =
                    TopicName::parse(&lookup).map_err(|e| RequestError::InvalidTopicName {
                        name: lookup.clone(),
                        reason: e.to_string(),
                    })?;
                if !metadata.namespace_exists(&NamespaceName::of_topic(&topic))? {
                    return Ok(None);
                }
                Ok(Some((storage.create_topic(&lookup)?, true)))
            },
        );
        let fut = wrap_future::<_, Self>(work).map(move |joined, act, ctx| {
            if !create && matches!(joined, Ok(Ok(None))) && act.load_again_for_creators(&name) {
                act.load(name, true, ctx);
                return;
            }
            let result = match joined {
                Ok(Ok(Some((record, created)))) => {
                    info!(topic = %name, ledger_id = record.ledger_id, "loading topic");
                    if created {
                        act.topics_changed(&name, true);
                    }
                    act.start_topic(record)
                        .ok_or_else(|| RequestError::unavailable("the broker"))
                }
                Ok(Ok(None)) => Err(RequestError::TopicNotFound {
                    topic: name.clone(),
                }),
                Ok(Err(e)) => Err(e),
                Err(_) => Err(RequestError::unavailable("topic loading")),
            };
            for (waiter, _) in act.loading.remove(&name).unwrap_or_default() {
                let _ = waiter.send(result.clone());
            }
        });
        ctx.spawn(fut);
    }

    /// A load that could not create `name` found nothing: answers "not found" to the callers
    /// that could not create it either, and keeps the ones that may create it waiting.
    /// Returns whether any are left, so the caller loads again with `create`.
    fn load_again_for_creators(&mut self, name: &str) -> bool {
        let waiters = self.loading.remove(name).unwrap_or_default();
        let (creators, others): (Vec<_>, Vec<_>) = waiters.into_iter().partition(|(_, c)| *c);
        for (waiter, _) in others {
            let _ = waiter.send(Err(RequestError::TopicNotFound {
                topic: name.to_owned(),
            }));
        }
        if creators.is_empty() {
            return false;
        }
        self.loading.insert(name.to_owned(), creators);
        true
    }

    /// Ends an unload or delete of `name`: callers that asked for it meanwhile load it afresh.
    pub(super) fn finish_closing(&mut self, name: &str, ctx: &mut Context<Self>) {
        let waiters = self.closing.remove(name).unwrap_or_default();
        if waiters.is_empty() {
            return;
        }
        let create = waiters.iter().any(|(_, create)| *create);
        let first = !self.loading.contains_key(name);
        self.loading
            .entry(name.to_owned())
            .or_default()
            .extend(waiters);
        if first {
            self.load(name.to_owned(), create, ctx);
        }
    }
}

impl Actor for TopicRegistry {
    type Context = Context<Self>;
}

impl Supervised for TopicRegistry {
    fn restarting(&mut self, _ctx: &mut Context<Self>) {
        warn!("topic registry restarting");
        // Loads, unloads and deletes in flight were cancelled; their callers get a retryable
        // error.
        self.loading.clear();
        self.closing.clear();
        self.topics.retain_live();
    }
}

impl Handler<GetTopic> for TopicRegistry {
    type Result = ResponseFuture<Result<Addr<Topic>, RequestError>>;

    fn handle(&mut self, msg: GetTopic, ctx: &mut Context<Self>) -> Self::Result {
        if let Some(addr) = self.topics.get(&msg.name) {
            return Box::pin(async move { Ok(addr) });
        }
        let (tx, rx) = oneshot::channel();
        if let Some(waiters) = self.closing.get_mut(&msg.name) {
            waiters.push((tx, msg.create));
            return Box::pin(async move {
                rx.await
                    .unwrap_or_else(|_| Err(RequestError::unavailable("the topic registry")))
            });
        }
        let first = !self.loading.contains_key(&msg.name);
        self.loading
            .entry(msg.name.clone())
            .or_default()
            .push((tx, msg.create));
        if first {
            self.load(msg.name, msg.create, ctx);
        }
        Box::pin(async move {
            rx.await
                .unwrap_or_else(|_| Err(RequestError::unavailable("the topic registry")))
        })
    }
}

impl Handler<ListTopics> for TopicRegistry {
    type Result = ResponseFuture<Result<Vec<String>, RequestError>>;

    fn handle(&mut self, msg: ListTopics, _ctx: &mut Context<Self>) -> Self::Result {
        let storage = self.broker.storage().clone();
        let prefix = format!("persistent://{}/", msg.namespace);
        Box::pin(async move {
            let joined = actix_rt::task::spawn_blocking(move || storage.list_topics()).await;
            let records = joined.map_err(|_| RequestError::unavailable("topic listing"))??;
            Ok(records
                .into_iter()
                .map(|r| r.name)
                .filter(|n| n.starts_with(&prefix))
                .collect())
        })
    }
}

impl Handler<TopicExited> for TopicRegistry {
    type Result = ();

    fn handle(&mut self, msg: TopicExited, _ctx: &mut Context<Self>) {
        self.topics.remove_instance(&msg.name, msg.instance);
    }
}
