//! PRODUCER, SEND and CLOSE_PRODUCER.

use actix::{fut::wrap_future, ActorFutureExt, Addr, Arbiter, AsyncContext, Context};
use geminga_protocol::{
    commands,
    frame::Payload,
    proto::{BaseCommand, CommandCloseProducer, CommandProducer, CommandSend, ServerError},
};
use tracing::info_span;

use super::{
    actor::{Connection, ProducerSlot},
    messages::{ProducerExited, ProducerReady},
};
use crate::{
    error::RequestError,
    producer::{CloseProducer, Producer, ProducerWiring, Register, SendMessage},
    security::TopicOperation,
    supervision::{supervise, ActorKind},
    topic::{ProducerGrant, Topic},
};

impl Connection {
    pub(super) fn on_producer(&mut self, c: CommandProducer, ctx: &mut Context<Self>) {
        match self.producers.get_mut(&c.producer_id) {
            // A client retrying a request it already sent gets the same answer.
            Some(ProducerSlot::Ready { grant, waiting, .. }) => {
                let ready = waiting.is_none();
                if !ready {
                    *waiting = Some(c.request_id);
                }
                let success = producer_success(c.request_id, grant, ready);
                return self.send(success);
            }
            Some(ProducerSlot::Pending { waiters, .. }) => return waiters.push(c.request_id),
            None => {}
        }
        let topic = match Self::parse_topic(&c.topic) {
            Ok(topic) => topic,
            Err(e) => return self.send_error(c.request_id, e.server_error(), e.to_string()),
        };
        let producer_id = c.producer_id;
        let handle = self.broker.next_id();
        let lookup = self.open_topic(&topic, true, TopicOperation::Produce);
        let register = Register {
            name: c.producer_name.clone(),
            access_mode: c.producer_access_mode(),
            topic_epoch: c.topic_epoch,
            schema: c.schema.clone(),
            // The C++ client's dead-letter producer asks for this subscription to exist
            // (Earliest) before it publishes, so dead letters wait for a consumer that comes
            // later.
            initial_subscription: c
                .initial_subscription_name
                .clone()
                .filter(|s| !s.is_empty()),
        };
        let fut = wrap_future::<_, Self>(lookup)
            .then(move |found, act, ctx| {
                let registered = match found {
                    Ok(topic_addr) => {
                        let addr = act.start_producer(
                            producer_id,
                            handle,
                            topic_addr,
                            &topic.to_string(),
                            ctx,
                        );
                        if let Some(ProducerSlot::Pending {
                            addr: slot_addr, ..
                        }) = act.producers.get_mut(&producer_id)
                        {
                            *slot_addr = Some(addr.clone());
                        }
                        Ok((addr.clone(), addr.send(register)))
                    }
                    Err(e) => Err(e),
                };
                wrap_future::<_, Self>(async move {
                    match registered {
                        Ok((addr, request)) => (
                            Some(addr),
                            request.await.unwrap_or_else(|e| Err(RequestError::from(e))),
                        ),
                        Err(e) => (None, Err(e)),
                    }
                })
            })
            .map(move |(addr, granted), act, _ctx| {
                act.finish_producer(producer_id, handle, addr, granted)
            });
        let slot = ProducerSlot::Pending {
            waiters: vec![c.request_id],
            handle,
            addr: None,
        };
        self.producers.insert(producer_id, slot);
        ctx.spawn(fut);
    }

    fn start_producer(
        &mut self,
        producer_id: u64,
        handle: u64,
        topic: Addr<Topic>,
        topic_name: &str,
        ctx: &mut Context<Self>,
    ) -> Addr<Producer> {
        let mut spec = self.broker.spec(
            ActorKind::Producer,
            format!("{topic_name}/{producer_id}"),
            Some(self.lifecycle.id()),
        );
        spec.restart = false;
        let connection = self.me(ctx);
        spec.on_exit = Some(Box::new(move |reason| {
            connection.do_send(ProducerExited {
                producer_id,
                handle,
                reason,
            })
        }));
        let wiring = ProducerWiring {
            handle,
            producer_id,
            topic,
            connection: self.me(ctx),
            gate: self.producer_gate(producer_id),
            max_message_size: self.broker.config().max_message_size,
            span: info_span!(parent: &self.span, "producer", topic = %topic_name, producer_id),
        };
        supervise(&Arbiter::current(), spec, move |_ctx, lifecycle| {
            Producer::new(lifecycle, wiring)
        })
    }

    fn finish_producer(
        &mut self,
        producer_id: u64,
        handle: u64,
        addr: Option<Addr<Producer>>,
        granted: Result<ProducerGrant, RequestError>,
    ) {
        let waiters = match self.producers.get(&producer_id) {
            Some(ProducerSlot::Pending { handle: h, .. }) if *h == handle => {
                match self.producers.remove(&producer_id) {
                    Some(ProducerSlot::Pending { waiters, .. }) => waiters,
                    _ => Vec::new(),
                }
            }
            // Closed (or replaced) while being created: make sure the topic forgets it.
            _ => {
                if let Some(addr) = addr {
                    addr.do_send(CloseProducer { graceful: false });
                }
                return;
            }
        };
        match (granted, addr) {
            (Ok(grant), Some(addr)) => {
                for request_id in &waiters {
                    let success = producer_success(*request_id, &grant, grant.ready);
                    self.send(success);
                }
                // A waiting producer's second PRODUCER_SUCCESS answers its last request id.
                let waiting = (!grant.ready).then(|| waiters.last().copied()).flatten();
                let slot = ProducerSlot::Ready {
                    addr,
                    handle,
                    grant: Box::new(grant),
                    waiting,
                };
                self.producers.insert(producer_id, slot);
            }
            (granted, addr) => {
                let e = granted
                    .err()
                    .unwrap_or_else(|| RequestError::unavailable("the producer"));
                if let Some(addr) = addr {
                    addr.do_send(CloseProducer { graceful: false });
                }
                for request_id in waiters {
                    self.send_error(request_id, e.server_error(), e.to_string());
                }
            }
        }
    }

    pub(super) fn on_send(
        &mut self,
        c: CommandSend,
        payload: Option<Payload>,
        ctx: &mut Context<Self>,
    ) {
        let Some(payload) = payload else {
            return self.send(commands::send_error(
                c.producer_id,
                c.sequence_id,
                ServerError::UnknownError,
                "SEND without a payload",
            ));
        };
        let Some(ProducerSlot::Ready { addr, grant, .. }) = self.producers.get(&c.producer_id)
        else {
            // Usually a SEND that crossed the broker's CLOSE_PRODUCER. PersistenceError makes
            // pulsar-rs re-create the producer and resend (other codes fail the message), and
            // C++ reconnects and resends on any error but ChecksumError.
            let message = format!("producer {} is closed on this connection", c.producer_id);
            return self.send(commands::send_error(
                c.producer_id,
                c.sequence_id,
                ServerError::PersistenceError,
                message,
            ));
        };
        if let Err(e) = self.check_pending_sends(c.producer_id) {
            let message = e.to_string();
            return self.send(commands::send_error(
                c.producer_id,
                c.sequence_id,
                e.server_error(),
                message,
            ));
        }
        let at_limit = match self.auth.producer_gates.get(&c.producer_id) {
            Some(gate) => gate.acquire(),
            None => self.gate.acquire(),
        };
        let limiter = grant.publish_limiter.clone();
        let (messages, bytes) = (c.num_messages().max(1), payload.data.len());
        addr.do_send(SendMessage {
            sequence_id: c.sequence_id,
            highest_sequence_id: c.highest_sequence_id(),
            num_messages: c.num_messages(),
            payload,
        });
        if at_limit {
            // Stop reading this socket until receipts bring the count back under the limit.
            ctx.wait(wrap_future::<_, Self>(self.gate.clone().below_limit()));
        }
        // The topic's publish rate: stop reading this socket until its buckets refill.
        limiter.consume(u64::from(messages.unsigned_abs()), bytes as u64);
        if let Some(wait) = limiter.wait_time() {
            ctx.wait(wrap_future::<_, Self>(tokio::time::sleep(wait)));
        }
    }

    pub(super) fn on_producer_ready(&mut self, msg: ProducerReady) {
        let Some(ProducerSlot::Ready {
            handle, waiting, ..
        }) = self.producers.get_mut(&msg.producer_id)
        else {
            return;
        };
        if *handle != msg.handle {
            return;
        }
        let Some(request_id) = waiting.take() else {
            return;
        };
        match msg.grant {
            Ok(granted) => {
                let success = producer_success(request_id, &granted, true);
                if let Some(ProducerSlot::Ready { grant, .. }) =
                    self.producers.get_mut(&msg.producer_id)
                {
                    **grant = granted;
                }
                self.send(success);
            }
            Err(e) => {
                self.producers.remove(&msg.producer_id);
                self.send_error(request_id, e.server_error(), e.to_string());
            }
        }
    }

    pub(super) fn on_close_producer(&mut self, c: CommandCloseProducer, ctx: &mut Context<Self>) {
        let request_id = c.request_id;
        self.auth.producer_gates.remove(&c.producer_id);
        let addr = match self.producers.remove(&c.producer_id) {
            Some(ProducerSlot::Ready { addr, .. }) => Some(addr),
            Some(ProducerSlot::Pending { addr, .. }) => addr,
            None => None,
        };
        match addr {
            Some(addr) => {
                let close = addr.send(CloseProducer { graceful: true });
                let fut = wrap_future::<_, Self>(close)
                    .map(move |_, act, _ctx| act.send(commands::success(request_id)));
                ctx.spawn(fut);
            }
            // Unknown ids are answered too: clients close handles the broker already dropped.
            None => self.send(commands::success(request_id)),
        }
    }
}

/// PRODUCER_SUCCESS for `grant`: name, last sequence id, schema version, topic epoch, and
/// whether the producer may publish now (`false` only while WaitForExclusive waits).
fn producer_success(request_id: u64, grant: &ProducerGrant, ready: bool) -> BaseCommand {
    let mut command = commands::producer_success(
        request_id,
        grant.name.clone(),
        grant.last_sequence_id,
        grant.schema_version.clone(),
        ready,
    );
    if let Some(success) = command.producer_success.as_mut() {
        success.topic_epoch = grant.topic_epoch;
    }
    command
}
