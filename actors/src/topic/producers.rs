//! PRODUCER on a topic: schema, access mode, name and limits; and producers leaving (which
//! may hand the topic to a waiting exclusive producer).

use std::sync::atomic::Ordering;

use actix::{fut::wrap_future, ActorFutureExt, Context, Handler, ResponseActFuture};
use geminga_protocol::topic_name::TopicName;

use super::{
    access::AccessDecision,
    actor::Topic,
    messages::{AddProducer, ProducerGrant, ProducerGranted, RemoveProducer},
};
use crate::{error::RequestError, metadata::encode_schema_version, producer::TopicClosing, schema};

impl Topic {
    /// Registers the producer's schema (or checks a producer without one); answers the schema
    /// version to put in PRODUCER_SUCCESS.
    fn producer_schema(
        &self,
        msg: &AddProducer,
    ) -> impl std::future::Future<Output = Result<Option<Vec<u8>>, RequestError>> {
        let levels = self.levels();
        let strategy = levels.schema_strategy();
        let allow_new = levels.allow_auto_update_schema();
        let enforced = levels.schema_validation_enforced();
        let schema = msg.schema.as_ref().map(schema::from_proto);
        let metadata = self.broker.metadata().clone();
        let name = self.record.name.clone();
        async move {
            if schema.is_none() && !enforced {
                return Ok(None);
            }
            let topic = TopicName::parse(&name).map_err(|e| RequestError::InvalidTopicName {
                name: name.clone(),
                reason: e.to_string(),
            })?;
            let registered = actix_rt::task::spawn_blocking(move || {
                match &schema {
                    Some(schema) => {
                        schema::add_schema(&metadata, &topic, schema, strategy, allow_new)
                            .map(|v| Some(encode_schema_version(v)))
                    }
                    None => schema::check_schemaless(&metadata, &topic, enforced).map(|()| None),
                }
                .map_err(|e| e.into_request_error(&topic))
            })
            .await;
            registered.unwrap_or_else(|_| Err(RequestError::unavailable("the schema registry")))
        }
    }

    /// Handles of the attached producers other than `handle`, waiting ones excluded.
    fn other_producers(&self, handle: u64) -> Vec<u64> {
        self.state
            .as_ref()
            .map(|s| s.producer_handles())
            .unwrap_or_default()
            .into_iter()
            .filter(|h| *h != handle && !self.policy.access.is_waiting(*h))
            .collect()
    }

    /// Closes producers fenced by an ExclusiveWithFencing producer.
    fn fence(&mut self, handles: &[u64]) {
        for handle in handles {
            if let Some(producer) = self.producers.remove(handle) {
                producer.do_send(TopicClosing);
            }
            if let Some((waiting, _)) = self.policy.waiting.remove(handle) {
                waiting.do_send(ProducerGranted {
                    grant: Err(RequestError::ProducerFenced {
                        topic: self.record.name.clone(),
                        reason: "fenced by an ExclusiveWithFencing producer".into(),
                    }),
                });
            }
            if let Some(state) = self.state.as_mut() {
                state.remove_producer(*handle);
            }
            self.admin.on_producer_removed(*handle);
        }
        self.count_producers();
    }

    /// Publishes the number of attached producers to the topic's stats.
    pub(super) fn count_producers(&self) {
        self.stats
            .producers
            .store(self.producers.len() as u64, Ordering::Relaxed);
    }

    /// The grant of producer `handle` named `name`.
    fn grant(
        &self,
        name: String,
        schema_version: Option<Vec<u8>>,
        epoch: Option<u64>,
    ) -> ProducerGrant {
        ProducerGrant {
            last_sequence_id: self.policy.dedup.last_sequence_id(&name),
            name,
            ledger_id: self.record.ledger_id,
            schema_version,
            topic_epoch: epoch,
            ready: true,
            publish_limiter: self.policy.publish_limiter.clone(),
        }
    }

    /// Registers a producer whose schema passed: access mode, then name and limits.
    fn admit_producer(
        &mut self,
        msg: AddProducer,
        schema_version: Option<Vec<u8>>,
    ) -> Result<ProducerGrant, RequestError> {
        if let Some(refused) = self.admin.refusal(&self.record.name) {
            return Err(refused);
        }
        if let Some(refused) = self.quota_refusal() {
            return Err(refused);
        }
        if self.state.is_none() {
            return Err(RequestError::unavailable("the topic"));
        }
        let others = self.other_producers(msg.handle);
        let before = self.policy.access.epoch();
        let decision = self.policy.access.decide(
            &self.record.name,
            msg.handle,
            msg.access_mode,
            msg.topic_epoch,
            &others,
        );
        let (epoch, queued) = match decision {
            AccessDecision::Refuse(e) => return Err(e),
            AccessDecision::Queue => (None, true),
            AccessDecision::Grant { epoch, fence } => {
                self.fence(&fence);
                (epoch, false)
            }
        };
        let prefix = format!(
            "{}-{}",
            self.broker.config().cluster_name,
            self.record.ledger_id
        );
        let max = self.levels().max_producers();
        let registered = match self.state.as_mut() {
            Some(state) => state.add_producer(msg.handle, msg.name, &prefix, max),
            None => Err(RequestError::unavailable("the topic")),
        };
        let name = match registered {
            Ok(name) => name,
            Err(e) => {
                // Give back what the access decision took.
                let others = self.other_producers(msg.handle);
                self.promote_waiter(msg.handle, &others);
                return Err(e);
            }
        };
        if self.policy.access.epoch() != before {
            self.store_epoch(self.policy.access.epoch());
        }
        if queued {
            self.policy
                .waiting
                .insert(msg.handle, (msg.producer, schema_version.clone()));
            let mut grant = self.grant(name, schema_version, None);
            grant.ready = false;
            return Ok(grant);
        }
        self.policy.access.name_exclusive(msg.handle, &name);
        self.admin.on_producer_added(msg.handle, &name);
        self.producers.insert(msg.handle, msg.producer);
        self.count_producers();
        Ok(self.grant(name, schema_version, epoch))
    }

    /// `handle` left: if a waiting exclusive producer may now take the topic, it gets it.
    fn promote_waiter(&mut self, handle: u64, others: &[u64]) {
        let before = self.policy.access.epoch();
        let Some((next, epoch)) = self.policy.access.remove(handle, others) else {
            return;
        };
        if self.policy.access.epoch() != before {
            self.store_epoch(epoch);
        }
        let Some((producer, schema_version)) = self.policy.waiting.remove(&next.handle) else {
            return;
        };
        let name = self
            .state
            .as_ref()
            .and_then(|s| s.producer_name(next.handle))
            .unwrap_or_default()
            .to_owned();
        self.policy.access.name_exclusive(next.handle, &name);
        self.admin.on_producer_added(next.handle, &name);
        self.producers.insert(next.handle, producer.clone());
        self.count_producers();
        producer.do_send(ProducerGranted {
            grant: Ok(self.grant(name, schema_version, Some(epoch))),
        });
    }
}

impl Handler<AddProducer> for Topic {
    type Result = ResponseActFuture<Self, Result<ProducerGrant, RequestError>>;

    /// Checks the schema, registers the producer, then, with an initial subscription,
    /// answers once that subscription is durable.
    fn handle(&mut self, msg: AddProducer, _ctx: &mut Context<Self>) -> Self::Result {
        if let Some(refused) = self.admin.refusal(&self.record.name) {
            return Box::pin(actix::fut::ready(Err(refused)));
        }
        let schema = self.producer_schema(&msg);
        Box::pin(
            wrap_future::<_, Self>(schema).then(move |version, act, ctx| {
                let handle = msg.handle;
                let initial = msg.initial_subscription.clone();
                let grant = version.and_then(|version| act.admit_producer(msg, version));
                let created = match (&grant, initial) {
                    (Ok(_), Some(name)) => act.ensure_subscription(&name, ctx),
                    _ => None,
                };
                let created = async move {
                    match created {
                        Some(created) => created.await,
                        None => Ok(()),
                    }
                };
                wrap_future::<_, Self>(created).map(move |created, act, _ctx| match created {
                    Ok(()) => grant,
                    Err(e) => {
                        act.drop_producer(handle);
                        Err(e)
                    }
                })
            }),
        )
    }
}

impl Topic {
    /// Forgets producer `handle` and hands the topic to a waiting exclusive producer if it
    /// may now take it.
    fn drop_producer(&mut self, handle: u64) {
        if let Some(state) = self.state.as_mut() {
            state.remove_producer(handle);
        }
        self.producers.remove(&handle);
        self.policy.waiting.remove(&handle);
        self.admin.on_producer_removed(handle);
        self.count_producers();
        let others = self.other_producers(handle);
        self.promote_waiter(handle, &others);
    }
}

impl Handler<RemoveProducer> for Topic {
    type Result = ();

    fn handle(&mut self, msg: RemoveProducer, _ctx: &mut Context<Self>) {
        self.drop_producer(msg.handle);
    }
}
