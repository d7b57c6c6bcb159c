//! The TopicRegistry actor.

use std::collections::HashMap;

use actix::{
    fut::wrap_future, Actor, ActorFutureExt, Addr, AsyncContext, Context, Handler, ResponseFuture,
    Supervised,
};
use geminga_storage::{StorageError, TopicRecord};
use tokio::sync::oneshot;
use tracing::{info, warn};

use super::{
    messages::{GetTopic, ListTopics, TopicExited},
    table::{TopicSlot, TopicTable},
};
use crate::{
    context::BrokerContext,
    error::RequestError,
    supervision::{supervise, ActorKind, Lifecycle},
    topic::Topic,
};

type Waiter = oneshot::Sender<Result<Addr<Topic>, RequestError>>;

/// One per broker. Supervised; the table of live topics lives in the [`BrokerContext`] and
/// survives restarts and replacements (entries whose actor is gone are dropped), so a restart
/// never starts a second actor for a loaded topic.
pub struct TopicRegistry {
    broker: BrokerContext,
    lifecycle: Lifecycle,
    topics: TopicTable,
    /// Callers waiting for a topic being loaded, by name.
    loading: HashMap<String, Vec<Waiter>>,
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

    fn load(&mut self, name: String, create: bool, ctx: &mut Context<Self>) {
        let storage = self.broker.storage().clone();
        let lookup = name.clone();
        let work =
            actix_rt::task::spawn_blocking(move || -> Result<Option<TopicRecord>, StorageError> {
                match storage.topic(&lookup)? {
                    Some(record) => Ok(Some(record)),
                    None if create => storage.create_topic(&lookup).map(Some),
                    None => Ok(None),
                }
            });
        let fut = wrap_future::<_, Self>(work).map(move |joined, act, _ctx| {
            let result = match joined {
                Ok(Ok(Some(record))) => {
                    info!(topic = %name, ledger_id = record.ledger_id, "loading topic");
                    act.start_topic(record)
                        .ok_or_else(|| RequestError::unavailable("the broker"))
                }
                Ok(Ok(None)) => Err(RequestError::TopicNotFound {
                    topic: name.clone(),
                }),
                Ok(Err(e)) => Err(RequestError::from(e)),
                Err(_) => Err(RequestError::unavailable("topic loading")),
            };
            for waiter in act.loading.remove(&name).unwrap_or_default() {
                let _ = waiter.send(result.clone());
            }
        });
        ctx.spawn(fut);
    }
}

impl Actor for TopicRegistry {
    type Context = Context<Self>;
}

impl Supervised for TopicRegistry {
    fn restarting(&mut self, _ctx: &mut Context<Self>) {
        warn!("topic registry restarting");
        // Loads in flight were cancelled; their callers get a retryable error.
        self.loading.clear();
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
        let first = !self.loading.contains_key(&msg.name);
        self.loading.entry(msg.name.clone()).or_default().push(tx);
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
