//! SUBSCRIBE and the commands of an attached consumer.

use actix::{fut::wrap_future, ActorFutureExt, Addr, Arbiter, AsyncContext, Context};
use geminga_protocol::{
    commands,
    message_id::MessageId,
    proto::{
        CommandAck, CommandCloseConsumer, CommandConsumerStats, CommandFlow,
        CommandGetLastMessageId, CommandRedeliverUnacknowledgedMessages, CommandSeek,
        CommandSubscribe, CommandUnsubscribe, ServerError,
    },
};
use tracing::info_span;

use super::{
    actor::{Connection, ConsumerSlot},
    messages::ConsumerExited,
};
use crate::{
    consumer::{CloseConsumer, Consumer, Join, JoinRequest, Subscribed},
    dispatcher::{Flow, Redeliver},
    error::RequestError,
    security::TopicOperation,
    subscription::{Ack, GetLastMessageId, RedeliverAll, Seek, SeekTarget, Unsubscribe},
    supervision::{supervise, ActorKind},
    topic::Attached,
};

impl Connection {
    pub(super) fn on_subscribe(&mut self, c: CommandSubscribe, ctx: &mut Context<Self>) {
        match self.consumers.get_mut(&c.consumer_id) {
            Some(ConsumerSlot::Ready { .. }) => return self.send(commands::success(c.request_id)),
            Some(ConsumerSlot::Pending { waiters, .. }) => return waiters.push(c.request_id),
            None => {}
        }
        let topic = match Self::parse_topic(&c.topic) {
            Ok(topic) => topic,
            Err(e) => return self.send_error(c.request_id, e.server_error(), e.to_string()),
        };
        let consumer_id = c.consumer_id;
        let key = self.broker.next_id();
        let partition = topic
            .partition_index()
            .and_then(|p| i32::try_from(p).ok())
            .unwrap_or(-1);
        let topic_name = topic.to_string();
        let op = TopicOperation::Consume {
            subscription: Some(c.subscription.clone()),
        };
        let lookup = self.open_topic(&topic, c.force_topic_creation(), op);
        let join = JoinRequest {
            subscription: c.subscription.clone(),
            durable: c.durable(),
            initial_position: c.initial_position(),
            start_message_id: c.start_message_id.as_ref().map(MessageId::from),
            name: c
                .consumer_name
                .clone()
                .filter(|n| !n.is_empty())
                .unwrap_or_else(|| format!("consumer-{key}")),
            sub_type: c.sub_type(),
            priority_level: c.priority_level(),
            key_shared: c.key_shared_meta.clone(),
            read_compacted: c.read_compacted(),
            protocol_version: self.protocol_version,
            schema: c.schema.clone(),
        };
        let fut = wrap_future::<_, Self>(lookup)
            .then(move |found, act, ctx| {
                let joined = match found {
                    Ok(topic_addr) => {
                        let addr =
                            act.start_consumer(consumer_id, key, partition, &topic_name, ctx);
                        if let Some(ConsumerSlot::Pending {
                            addr: slot_addr, ..
                        }) = act.consumers.get_mut(&consumer_id)
                        {
                            *slot_addr = Some(addr.clone());
                        }
                        Ok((
                            addr.clone(),
                            addr.send(Join {
                                topic: topic_addr,
                                request: join,
                            }),
                        ))
                    }
                    Err(e) => Err(e),
                };
                wrap_future::<_, Self>(async move {
                    match joined {
                        Ok((addr, request)) => (
                            Some(addr),
                            request.await.unwrap_or_else(|e| Err(RequestError::from(e))),
                        ),
                        Err(e) => (None, Err(e)),
                    }
                })
            })
            .map(move |(addr, attached), act, _ctx| {
                act.finish_subscribe(consumer_id, key, partition, addr, attached)
            });
        let slot = ConsumerSlot::Pending {
            waiters: vec![c.request_id],
            key,
            addr: None,
        };
        self.consumers.insert(consumer_id, slot);
        ctx.spawn(fut);
    }

    fn start_consumer(
        &mut self,
        consumer_id: u64,
        key: u64,
        partition: i32,
        topic_name: &str,
        ctx: &mut Context<Self>,
    ) -> Addr<Consumer> {
        let mut spec = self.broker.spec(
            ActorKind::Consumer,
            format!("{topic_name}/{consumer_id}"),
            Some(self.lifecycle.id()),
        );
        spec.restart = false;
        let connection = self.me(ctx);
        spec.on_exit = Some(Box::new(move |reason| {
            connection.do_send(ConsumerExited {
                consumer_id,
                key,
                reason,
            })
        }));
        let connection = self.me(ctx);
        let span = info_span!(parent: &self.span, "consumer", topic = %topic_name, consumer_id);
        supervise(&Arbiter::current(), spec, move |_ctx, lifecycle| {
            Consumer::new(lifecycle, key, consumer_id, partition, connection, span)
        })
    }

    fn finish_subscribe(
        &mut self,
        consumer_id: u64,
        key: u64,
        partition: i32,
        addr: Option<Addr<Consumer>>,
        attached: Result<Attached, RequestError>,
    ) {
        let waiters = match self.consumers.get(&consumer_id) {
            Some(ConsumerSlot::Pending { key: k, .. }) if *k == key => {
                match self.consumers.remove(&consumer_id) {
                    Some(ConsumerSlot::Pending { waiters, .. }) => waiters,
                    _ => Vec::new(),
                }
            }
            // Closed while attaching: detach it again.
            _ => {
                if let Some(addr) = addr {
                    addr.do_send(CloseConsumer);
                }
                return;
            }
        };
        match (attached, addr) {
            (Ok(attached), Some(addr)) => {
                for request_id in waiters {
                    self.send(commands::success(request_id));
                }
                // Broker-initiated frames for the consumer go out after its SUCCESS.
                addr.do_send(Subscribed);
                self.consumers.insert(
                    consumer_id,
                    ConsumerSlot::Ready {
                        addr,
                        key,
                        attached,
                        partition,
                    },
                );
            }
            (attached, addr) => {
                let e = attached
                    .err()
                    .unwrap_or_else(|| RequestError::unavailable("the consumer"));
                if let Some(addr) = addr {
                    addr.do_send(CloseConsumer);
                }
                for request_id in waiters {
                    self.send_error(request_id, e.server_error(), e.to_string());
                }
            }
        }
    }

    fn ready_consumer(&self, consumer_id: u64) -> Option<(u64, &Attached, i32)> {
        match self.consumers.get(&consumer_id) {
            Some(ConsumerSlot::Ready {
                key,
                attached,
                partition,
                ..
            }) => Some((*key, attached, *partition)),
            _ => None,
        }
    }

    pub(super) fn on_flow(&mut self, c: CommandFlow) {
        if let Some((key, attached, _)) = self.ready_consumer(c.consumer_id) {
            attached.dispatcher.do_send(Flow {
                key,
                permits: c.message_permits,
            });
        }
    }

    pub(super) fn on_ack(&mut self, c: CommandAck, ctx: &mut Context<Self>) {
        let consumer_id = c.consumer_id;
        let Some((key, attached, _)) = self.ready_consumer(consumer_id) else {
            if let Some(request_id) = c.request_id {
                let error = Some((
                    ServerError::ConsumerNotFound,
                    "consumer not found".to_owned(),
                ));
                self.send(commands::ack_response(consumer_id, request_id, error));
            }
            return;
        };
        let ack = Ack {
            key,
            ack_type: c.ack_type(),
            ids: c.message_id,
            wait_durable: c.request_id.is_some(),
        };
        let Some(request_id) = c.request_id else {
            return attached.subscription.do_send(ack);
        };
        let sent = attached.subscription.send(ack);
        let fut = wrap_future::<_, Self>(sent).map(move |result, act, _ctx| {
            let error = match result.unwrap_or_else(|e| Err(RequestError::from(e))) {
                Ok(()) => None,
                Err(e) => Some((e.server_error(), e.to_string())),
            };
            act.send(commands::ack_response(consumer_id, request_id, error));
        });
        ctx.spawn(fut);
    }

    pub(super) fn on_redeliver(&mut self, c: CommandRedeliverUnacknowledgedMessages) {
        let Some((key, attached, _)) = self.ready_consumer(c.consumer_id) else {
            return;
        };
        if c.message_ids.is_empty() {
            attached.subscription.do_send(RedeliverAll { key });
        } else {
            let ids = c.message_ids.iter().map(|id| id.entry_id).collect();
            attached.dispatcher.do_send(Redeliver {
                key,
                ids: Some(ids),
            });
        }
    }

    pub(super) fn on_seek(&mut self, c: CommandSeek, ctx: &mut Context<Self>) {
        let request_id = c.request_id;
        let target = match (&c.message_id, c.message_publish_time) {
            // (-1, -1) is earliest and i64::MAX latest; the subscription reads them from the entry id.
            (Some(id), _) => SeekTarget::Entry(id.entry_id),
            (None, Some(time)) => SeekTarget::PublishTime(time),
            (None, None) => {
                return self.send_error(
                    request_id,
                    ServerError::NotAllowedError,
                    "seek without a target",
                )
            }
        };
        let Some((key, attached, _)) = self.ready_consumer(c.consumer_id) else {
            return self.send_error(
                request_id,
                ServerError::ConsumerNotFound,
                "consumer not found",
            );
        };
        let consumer_id = c.consumer_id;
        let sent = attached.subscription.send(Seek { key, target });
        let fut = wrap_future::<_, Self>(sent).map(move |result, act, _ctx| {
            match result.unwrap_or_else(|e| Err(RequestError::from(e))) {
                Ok(()) => {
                    act.send(commands::success(request_id));
                    // The subscription already forgot the requester; closing it after SUCCESS
                    // makes the client re-attach at the new position.
                    let ours = matches!(act.consumers.get(&consumer_id), Some(ConsumerSlot::Ready { key: k, .. }) if *k == key);
                    if let (true, Some(ConsumerSlot::Ready { addr, .. })) = (ours, act.consumers.remove(&consumer_id)) {
                        act.send(commands::close_consumer(consumer_id));
                        addr.do_send(CloseConsumer);
                    }
                }
                Err(e) => act.send_error(request_id, e.server_error(), e.to_string()),
            }
        });
        ctx.spawn(fut);
    }

    pub(super) fn on_unsubscribe(&mut self, c: CommandUnsubscribe, ctx: &mut Context<Self>) {
        let (request_id, consumer_id) = (c.request_id, c.consumer_id);
        let Some((key, attached, _)) = self.ready_consumer(consumer_id) else {
            return self.send_error(
                request_id,
                ServerError::ConsumerNotFound,
                "consumer not found",
            );
        };
        let sent = attached.subscription.send(Unsubscribe { key });
        let fut = wrap_future::<_, Self>(sent).map(move |result, act, _ctx| {
            match result.unwrap_or_else(|e| Err(RequestError::from(e))) {
                Ok(()) => {
                    if let Some(ConsumerSlot::Ready { addr, .. }) =
                        act.consumers.remove(&consumer_id)
                    {
                        addr.do_send(CloseConsumer);
                    }
                    act.send(commands::success(request_id));
                }
                Err(e) => act.send_error(request_id, e.server_error(), e.to_string()),
            }
        });
        ctx.spawn(fut);
    }

    pub(super) fn on_close_consumer(&mut self, c: CommandCloseConsumer, ctx: &mut Context<Self>) {
        let request_id = c.request_id;
        let addr = match self.consumers.remove(&c.consumer_id) {
            Some(ConsumerSlot::Ready { addr, .. }) => Some(addr),
            Some(ConsumerSlot::Pending { addr, .. }) => addr,
            None => None,
        };
        match addr {
            Some(addr) => {
                let closed = addr.send(CloseConsumer);
                let fut = wrap_future::<_, Self>(closed)
                    .map(move |_, act, _ctx| act.send(commands::success(request_id)));
                ctx.spawn(fut);
            }
            // pulsar-rs closes consumers the broker already closed; it needs the answer.
            None => self.send(commands::success(request_id)),
        }
    }

    pub(super) fn on_get_last_message_id(
        &mut self,
        c: CommandGetLastMessageId,
        ctx: &mut Context<Self>,
    ) {
        let request_id = c.request_id;
        let Some((_, attached, partition)) = self.ready_consumer(c.consumer_id) else {
            return self.send_error(
                request_id,
                ServerError::ConsumerNotFound,
                "consumer not found",
            );
        };
        let sent = attached.subscription.send(GetLastMessageId);
        let fut = wrap_future::<_, Self>(sent).map(move |result, act, _ctx| {
            match result.unwrap_or_else(|e| Err(RequestError::from(e))) {
                Ok(mut ids) => {
                    ids.last.partition = Some(partition);
                    ids.mark_delete.partition = Some(partition);
                    act.send(commands::last_message_id(
                        request_id,
                        ids.last,
                        Some(ids.mark_delete),
                    ));
                }
                Err(e) => act.send_error(request_id, e.server_error(), e.to_string()),
            }
        });
        ctx.spawn(fut);
    }

    pub(super) fn on_consumer_stats(&mut self, c: CommandConsumerStats) {
        let message =
            "consumer stats over the binary protocol are not served; use the admin API".to_owned();
        self.send(commands::consumer_stats_error(
            c.request_id,
            ServerError::NotAllowedError,
            message,
        ));
    }
}
