//! A sink instance's loop: consume the inputs on the connector's subscription, write batches
//! to the sink, and ack, under the processing guarantee.
//!
//! - At-most-once acks a batch (durably) before writing it: after a crash the batch in hand
//!   is not redelivered (lost at most), nothing is written twice.
//! - At-least-once acks after the write succeeded: after a crash the unacked messages are
//!   redelivered and written again (never lost).
//! - Effectively-once asks the sink for the positions it committed with its data, skips
//!   messages at or below them, and acks after the write: one write per message. The
//!   subscription is Failover, so a topic's messages arrive in order.

use std::{collections::BTreeMap, time::Instant};

use futures_util::future::select_all;
use tokio::sync::watch;

use super::{
    api::{CommittedPositions, MessagePosition, SinkContext, SinkRecord},
    config::{ConnectorSpec, ProcessingGuarantee, SharingMode, SinkInputs},
    runtime::RuntimeEnv,
    source_run::connect,
    status::InstanceStatus,
    ConnectorError,
};
use crate::client::{
    Client, ClientError, Consumer, InitialPosition, Message, MessageId, SubType, SubscribeOptions,
};

/// One subscribed input topic.
struct Input {
    topic: String,
    consumer: Consumer,
}

/// The subscribed inputs, and how to find more for a pattern.
struct Inputs {
    inputs: Vec<Input>,
    pattern: Option<regex::Regex>,
    options: SubscribeOptions,
}

/// One entry received, with the input it came from.
struct Received {
    input: usize,
    message: Message,
}

impl Inputs {
    fn new(
        spec: &ConnectorSpec,
        instance: u32,
        receiver_queue: u32,
    ) -> Result<Self, ConnectorError> {
        let sub_type = match spec.sharing {
            SharingMode::Shared => SubType::Shared,
            SharingMode::KeyShared => SubType::KeyShared,
            SharingMode::Failover => SubType::Failover,
        };
        let pattern = match &spec.inputs {
            Some(SinkInputs::Pattern(p)) => Some(
                regex::Regex::new(&format!("^(?:{p})$"))
                    .map_err(|e| ConnectorError::invalid(e.to_string()))?,
            ),
            _ => None,
        };
        Ok(Self {
            inputs: Vec::new(),
            pattern,
            options: SubscribeOptions {
                subscription: spec.subscription.clone(),
                sub_type,
                initial_position: if spec.subscribe_earliest {
                    InitialPosition::Earliest
                } else {
                    InitialPosition::Latest
                },
                consumer_name: Some(spec.id.instance_name(instance)),
                receiver_queue_size: receiver_queue,
            },
        })
    }

    /// Subscribes to the inputs not subscribed yet (all of them, or new pattern matches).
    async fn refresh(
        &mut self,
        env: &RuntimeEnv,
        client: &Client,
        spec: &ConnectorSpec,
    ) -> Result<(), ConnectorError> {
        let wanted = match (&spec.inputs, &self.pattern) {
            (Some(SinkInputs::Topics(topics)), _) => topics.clone(),
            (_, Some(pattern)) => pattern_topics(env, spec, pattern).await?,
            _ => Vec::new(),
        };
        for topic in wanted {
            for partition in client
                .expand_partitions(&topic)
                .await
                .map_err(ConnectorError::broker)?
            {
                if self.inputs.iter().any(|i| i.topic == partition) {
                    continue;
                }
                let consumer = client
                    .subscribe(&partition, self.options.clone())
                    .await
                    .map_err(ConnectorError::broker)?;
                tracing::info!(connector = %spec.id, topic = %partition, "sink subscribed");
                self.inputs.push(Input {
                    topic: partition,
                    consumer,
                });
            }
        }
        Ok(())
    }

    /// Waits for the next entry of any input.
    async fn next(&mut self) -> Result<Received, ConnectorError> {
        if self.inputs.is_empty() {
            return std::future::pending().await;
        }
        let waits = self
            .inputs
            .iter_mut()
            .map(|i| Box::pin(i.consumer.receive()));
        let (result, input, _) = select_all(waits).await;
        let message = result.map_err(ConnectorError::broker)?;
        Ok(Received { input, message })
    }

    /// Entries already buffered, round-robin over inputs, without waiting.
    fn drain(&mut self, into: &mut Vec<Received>, max: usize) -> Result<(), ConnectorError> {
        let mut progress = true;
        while into.len() < max && progress {
            progress = false;
            for (index, input) in self.inputs.iter_mut().enumerate() {
                if into.len() >= max {
                    break;
                }
                if let Some(message) = input
                    .consumer
                    .try_receive()
                    .map_err(ConnectorError::broker)?
                {
                    into.push(Received {
                        input: index,
                        message,
                    });
                    progress = true;
                }
            }
        }
        Ok(())
    }

    /// Acks entries per input; `durable` waits until the broker persisted them.
    async fn ack(
        &self,
        ids: &BTreeMap<usize, Vec<MessageId>>,
        durable: bool,
    ) -> Result<(), ClientError> {
        for (index, ids) in ids {
            if let Some(input) = self.inputs.get(*index) {
                if durable {
                    input.consumer.ack_durable(ids).await?;
                } else {
                    input.consumer.ack_many(ids).await?;
                }
            }
        }
        Ok(())
    }
}

/// The namespace's topics whose full name matches the sink's pattern.
async fn pattern_topics(
    env: &RuntimeEnv,
    spec: &ConnectorSpec,
    pattern: &regex::Regex,
) -> Result<Vec<String>, ConnectorError> {
    use geminga_actors::{metadata::NamespaceName, registry::TopicsOfNamespace};
    use geminga_protocol::proto::command_get_topics_of_namespace::Mode;
    let namespace = NamespaceName::new(&spec.id.tenant, &spec.id.namespace)
        .map_err(|e| ConnectorError::invalid(e.to_string()))?;
    let registry = env.context.registry().ok_or(ConnectorError::Unavailable)?;
    let topics = registry
        .send(TopicsOfNamespace {
            namespace,
            mode: Mode::Persistent,
        })
        .await
        .map_err(|_| ConnectorError::Unavailable)?
        .map_err(ConnectorError::broker)?;
    Ok(topics.into_iter().filter(|t| pattern.is_match(t)).collect())
}

/// The sink records of one entry (every message of a batch).
fn records_of(topic: &str, message: &Message) -> Result<Vec<SinkRecord>, ConnectorError> {
    let position = |batch_index: i32| MessagePosition {
        ledger_id: message.id.ledger_id,
        entry_id: message.id.entry_id,
        batch_index,
    };
    let publish_time = message.metadata.publish_time;
    if !message.is_batch() {
        let m = &message.metadata;
        return Ok(vec![SinkRecord {
            topic: topic.to_owned(),
            position: position(-1),
            key: m.partition_key.clone(),
            value: message.payload.clone(),
            properties: m
                .properties
                .iter()
                .map(|kv| (kv.key.clone(), kv.value.clone()))
                .collect(),
            event_time: m.event_time.filter(|t| *t > 0),
            publish_time,
        }]);
    }
    let batch = message.batch().map_err(ConnectorError::broker)?;
    Ok(batch
        .into_iter()
        .enumerate()
        .map(|(i, b)| SinkRecord {
            topic: topic.to_owned(),
            position: position(i32::try_from(i).unwrap_or(i32::MAX)),
            key: b.metadata.partition_key.clone(),
            value: b.payload,
            properties: b
                .metadata
                .properties
                .iter()
                .map(|kv| (kv.key.clone(), kv.value.clone()))
                .collect(),
            event_time: b.metadata.event_time.filter(|t| *t > 0),
            publish_time,
        })
        .collect())
}

/// Runs a sink instance until `stop` changes or something fails.
pub async fn run_sink(
    env: &RuntimeEnv,
    spec: &ConnectorSpec,
    instance: u32,
    status: &InstanceStatus,
    stop: &mut watch::Receiver<bool>,
) -> Result<(), ConnectorError> {
    let mut sink = env.catalog.sink(&spec.connector_type, &spec.configs)?;
    sink.open(SinkContext {
        id: spec.id.clone(),
        instance,
        parallelism: spec.parallelism,
        config: spec.configs.clone(),
        guarantee: spec.guarantee,
    })
    .await?;
    let effectively_once = spec.guarantee == ProcessingGuarantee::EffectivelyOnce;
    if effectively_once && !sink.supports_effectively_once() {
        return Err(ConnectorError::invalid(format!(
            "the {} sink cannot run EFFECTIVELY_ONCE",
            spec.connector_type
        )));
    }
    let mut committed = if effectively_once {
        sink.committed().await?
    } else {
        CommittedPositions::new()
    };
    let client = connect(env).await?;
    let batch_max = env.settings.sink_batch.max(1);
    let queue = u32::try_from(batch_max * 2).unwrap_or(u32::MAX);
    let mut inputs = Inputs::new(spec, instance, queue)?;
    inputs.refresh(env, &client, spec).await?;
    status.on_running();
    tracing::info!(connector = %spec.id, instance, guarantee = %spec.guarantee, "sink running");
    let mut refresh = tokio::time::interval(env.settings.pattern_refresh);
    refresh.tick().await;
    loop {
        let first = tokio::select! {
            biased;
            _ = stop.changed() => break,
            _ = refresh.tick(), if inputs.pattern.is_some() => {
                inputs.refresh(env, &client, spec).await?;
                continue;
            }
            received = inputs.next() => received?,
        };
        let mut batch = vec![first];
        inputs.drain(&mut batch, batch_max)?;
        process(
            &inputs,
            sink.as_mut(),
            spec.guarantee,
            &mut committed,
            status,
            batch,
        )
        .await?;
    }
    for input in inputs.inputs {
        let _ = input.consumer.close().await;
    }
    sink.close().await
}

/// Writes and acks one batch of entries under `guarantee`.
async fn process(
    inputs: &Inputs,
    sink: &mut dyn super::Sink,
    guarantee: ProcessingGuarantee,
    committed: &mut CommittedPositions,
    status: &InstanceStatus,
    batch: Vec<Received>,
) -> Result<(), ConnectorError> {
    let arrived = Instant::now();
    let mut acks: BTreeMap<usize, Vec<MessageId>> = BTreeMap::new();
    let mut records = Vec::new();
    for received in &batch {
        let topic = inputs
            .inputs
            .get(received.input)
            .map(|i| i.topic.as_str())
            .unwrap_or_default();
        let mut entry = records_of(topic, &received.message)?;
        status.on_received(entry.len() as u64);
        if let Some(done) = committed.get(topic) {
            // Written before a crash: its ack was lost, the data was not.
            entry.retain(|r| r.position > *done);
        }
        records.extend(entry);
        acks.entry(received.input)
            .or_default()
            .push(received.message.id);
    }
    let n = records.len() as u64;
    if guarantee == ProcessingGuarantee::AtmostOnce {
        inputs
            .ack(&acks, true)
            .await
            .map_err(ConnectorError::broker)?;
    }
    let mut highest: BTreeMap<String, MessagePosition> = BTreeMap::new();
    for r in &records {
        let slot = highest.entry(r.topic.clone()).or_insert(r.position);
        *slot = (*slot).max(r.position);
    }
    if !records.is_empty() {
        sink.write(records).await?;
    }
    if guarantee == ProcessingGuarantee::EffectivelyOnce {
        committed.extend(highest);
    }
    if guarantee != ProcessingGuarantee::AtmostOnce {
        inputs
            .ack(&acks, false)
            .await
            .map_err(ConnectorError::broker)?;
    }
    status.on_written(
        n,
        u64::try_from(arrived.elapsed().as_micros()).unwrap_or(u64::MAX),
    );
    Ok(())
}
