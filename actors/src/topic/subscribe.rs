//! SUBSCRIBE on a topic: the consumer's schema, the topic's consumer limit, then attaching
//! the consumer to its subscription (created if needed).

use actix::{fut::wrap_future, ActorFutureExt, Handler, ResponseActFuture};
use geminga_protocol::topic_name::TopicName;
use geminga_storage::Cursor;

use super::{
    actor::Topic,
    messages::{Attached, Subscribe},
    TopicState,
};
use crate::{error::RequestError, schema, subscription::AddConsumer};

impl Topic {
    /// Whether nothing uses the topic yet: no producers and nothing stored. A consumer's
    /// schema becomes the topic's schema only then, as in Pulsar.
    fn is_idle(&self) -> bool {
        let durable_next = self.state.as_ref().map_or(0, TopicState::durable_next);
        self.producers.is_empty() && durable_next <= self.first_entry
    }

    /// The checks a SUBSCRIBE must pass before it attaches (schema, consumer limit).
    fn subscribe_checks(
        &self,
        msg: &Subscribe,
    ) -> impl std::future::Future<Output = Result<(), RequestError>> {
        let levels = self.levels();
        let (strategy, enforced) = (
            levels.schema_strategy(),
            levels.schema_validation_enforced(),
        );
        let max_consumers = levels.max_consumers();
        let schema = msg.schema.as_ref().map(schema::from_proto);
        let idle = self.is_idle();
        let metadata = self.broker.metadata().clone();
        let name = self.record.name.clone();
        let counting = (max_consumers > 0).then(|| self.snapshots());
        async move {
            if let Some(snapshots) = counting {
                let consumers: usize = snapshots
                    .await
                    .iter()
                    .map(|(_, s)| s.stats.consumers.len())
                    .sum();
                if consumers >= max_consumers as usize {
                    return Err(RequestError::ConsumerBusy {
                        subscription: String::new(),
                        reason: format!("Topic reached max consumers limit of {max_consumers}"),
                    });
                }
            }
            if schema.is_none() && !enforced {
                return Ok(());
            }
            let topic = TopicName::parse(&name).map_err(|e| RequestError::InvalidTopicName {
                name: name.clone(),
                reason: e.to_string(),
            })?;
            let checked = actix_rt::task::spawn_blocking(move || {
                match &schema {
                    Some(schema) => {
                        schema::check_consumer_schema(&metadata, &topic, schema, strategy, idle)
                    }
                    None => schema::check_schemaless(&metadata, &topic, enforced),
                }
                .map_err(|e| e.into_request_error(&topic))
            })
            .await;
            checked.unwrap_or_else(|_| Err(RequestError::unavailable("the schema registry")))
        }
    }
}

impl Handler<Subscribe> for Topic {
    type Result = ResponseActFuture<Self, Result<Attached, RequestError>>;

    fn handle(&mut self, msg: Subscribe, _ctx: &mut Self::Context) -> Self::Result {
        if self.state.is_none() || self.admin.closing {
            return Box::pin(actix::fut::ready(Err(RequestError::unavailable(
                "the topic",
            ))));
        }
        let checks = self.subscribe_checks(&msg);
        Box::pin(
            wrap_future::<_, Self>(checks).then(move |checked, act, ctx| {
                let attach = checked.and_then(|()| {
                    if act.state.is_none() || act.admin.closing {
                        return Err(RequestError::unavailable("the topic"));
                    }
                    // A non-persistent subscription keeps its cursor in memory and ends with
                    // its consumers.
                    let durable = msg.durable && !act.non_persistent;
                    let addr = match act.subscriptions.get(&msg.subscription) {
                        Some(slot) => slot.addr.clone(),
                        None => {
                            let cursor = Cursor::new(&msg.subscription, act.start_floor(&msg));
                            act.start_subscription(cursor, durable, ctx)
                        }
                    };
                    Ok(addr.send(AddConsumer { spec: msg.consumer }))
                });
                wrap_future::<_, Self>(async move {
                    match attach {
                        Ok(request) => request.await.unwrap_or_else(|e| Err(RequestError::from(e))),
                        Err(e) => Err(e),
                    }
                })
            }),
        )
    }
}
