//! A source instance's loop: read records, publish them, commit the position, under the
//! connector's processing guarantee.
//!
//! - At-most-once commits a batch's offsets before publishing it: after a crash the batch in
//!   flight is not read again (lost at most), nothing is published twice.
//! - At-least-once commits offsets after the broker stored the records: after a crash the
//!   records since the last commit are read and published again (never lost).
//! - Effectively-once publishes like at-least-once with broker deduplication: it turns on the
//!   destination's `deduplicationEnabled` topic policy, publishes each source partition's
//!   records through a producer named after the connector and that partition, with the
//!   record's offset as sequence id, and after a crash resumes from the committed position.
//!   Records published after the last commit are read and sent again with the same ids, and
//!   the broker drops them as duplicates (it keeps each producer name's highest id durably):
//!   one message per record. Offsets grow within a partition, so ids grow per producer; an
//!   unkeyed record goes to the destination partition its source partition hashes to, so a
//!   resend meets the producer that saw the first send.

use std::{
    collections::BTreeMap,
    time::{Duration, Instant},
};

use geminga_protocol::topic_name::TopicName;
use tokio::sync::watch;

use super::{
    api::{SourceContext, SourceOffsets, SourceRecord},
    builtin::owner,
    config::{ConnectorId, ConnectorSpec, ProcessingGuarantee},
    runtime::RuntimeEnv,
    status::InstanceStatus,
    ConnectorError,
};
use crate::client::{
    Authentication, Client, ClientError, ConnectOptions, OutgoingMessage, Producer,
    ProducerOptions, SendFuture,
};

/// Property naming the record's partition, on effectively-once sources' messages.
pub const PARTITION_PROPERTY: &str = "geminga.source.partition";
/// Property holding the record's offset, on effectively-once sources' messages.
pub const OFFSET_PROPERTY: &str = "geminga.source.offset";
/// The topic policy an effectively-once source turns on for its destination.
const DEDUPLICATION_POLICY: &str = "deduplicationEnabled";
/// How long a new producer waits for its predecessor's to leave (same name: ProducerBusy).
const PRODUCER_TAKEOVER: Duration = Duration::from_secs(30);

/// Prefix of every producer name of a source's instances.
pub fn producer_prefix(id: &ConnectorId) -> String {
    format!("geminga-source:{}:", id.fqn())
}

/// Connects the native client to the broker's own listener.
pub async fn connect(env: &RuntimeEnv) -> Result<Client, ConnectorError> {
    let auth = match &env.settings.client_auth {
        Some(auth) => Some(Authentication::token(
            &auth.token().map_err(ConnectorError::broker)?,
        )),
        None => None,
    };
    let options = ConnectOptions {
        auth,
        ..ConnectOptions::default()
    };
    Client::connect(&env.service_url, options)
        .await
        .map_err(ConnectorError::broker)
}

/// Runs on the blocking pool.
pub async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, ConnectorError> + Send + 'static,
) -> Result<T, ConnectorError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|_| ConnectorError::Unavailable)?
}

/// Creates the producer, waiting while a predecessor of the same name is still attached.
async fn create_producer(
    client: &Client,
    topic: &str,
    name: &str,
    stop: &mut watch::Receiver<bool>,
) -> Result<Producer, ConnectorError> {
    let deadline = Instant::now() + PRODUCER_TAKEOVER;
    loop {
        let options = ProducerOptions {
            name: Some(name.to_owned()),
            batching: None,
        };
        match client.create_producer(topic, options).await {
            Ok(producer) => return Ok(producer),
            Err(ClientError::Server { message, .. })
                if message.contains("already") && Instant::now() < deadline =>
            {
                tokio::select! {
                    _ = stop.changed() => return Err(ConnectorError::broker("stopped while waiting for the producer")),
                    () = tokio::time::sleep(Duration::from_millis(250)) => {}
                }
            }
            Err(e) => return Err(ConnectorError::broker(e)),
        }
    }
}

/// The producers of a source (one per partition of the destination) and the routing rule.
struct Publisher {
    topics: Vec<String>,
    producers: Vec<Producer>,
    next: usize,
    /// Effectively-once: the deduplicating producers, by source partition and destination.
    dedup: Option<DedupProducers>,
}

/// One producer per (source partition, destination partition), named
/// `{producer_prefix}partition:{source partition}` (apart from the instances' plain producers,
/// `{producer_prefix}{instance}`), publishing with the record offsets as sequence ids.
struct DedupProducers {
    client: Client,
    prefix: String,
    producers: BTreeMap<(String, usize), Producer>,
    stop: watch::Receiver<bool>,
}

impl DedupProducers {
    async fn producer(
        &mut self,
        partition: &str,
        index: usize,
        topic: &str,
    ) -> Result<&Producer, ConnectorError> {
        let slot = (partition.to_owned(), index);
        if !self.producers.contains_key(&slot) {
            let name = format!("{}partition:{partition}", self.prefix);
            let producer = create_producer(&self.client, topic, &name, &mut self.stop).await?;
            self.producers.insert(slot.clone(), producer);
        }
        self.producers
            .get(&slot)
            .ok_or_else(|| ConnectorError::broker("no producer"))
    }

    async fn close(&self) {
        for producer in self.producers.values() {
            let _ = producer.close().await;
        }
    }
}

/// A record on its way: its receipt, where it went, and what it covers.
struct InFlight {
    receipt: SendFuture,
    record: SourceRecord,
}

impl Publisher {
    fn route(&mut self, key: Option<&str>, partition: Option<&str>) -> usize {
        let n = u32::try_from(self.producers.len().max(1)).unwrap_or(1);
        match key.or(partition) {
            Some(key) => usize::try_from(owner(key, n)).unwrap_or(0),
            None => {
                self.next = (self.next + 1) % self.producers.len().max(1);
                self.next
            }
        }
    }

    async fn send(&mut self, mut record: SourceRecord) -> Result<InFlight, ConnectorError> {
        // Effectively-once: an unkeyed record follows its source partition (see the module doc).
        let dedup_offset = self.dedup.as_ref().and(record.offset.as_ref());
        let partition = dedup_offset.map(|o| o.partition.as_str());
        let index = self.route(record.key.as_deref(), partition);
        let (Some(producer), Some(topic)) = (self.producers.get(index), self.topics.get(index))
        else {
            return Err(ConnectorError::broker("no producer"));
        };
        let mut properties = record.properties.clone();
        let mut sequence_id = None;
        let mut producer = producer;
        if let (Some(dedup), Some(offset)) = (self.dedup.as_mut(), dedup_offset) {
            properties.push((PARTITION_PROPERTY.to_owned(), offset.partition.clone()));
            properties.push((OFFSET_PROPERTY.to_owned(), offset.offset.to_string()));
            sequence_id = Some(u64::try_from(offset.offset).map_err(|_| {
                ConnectorError::invalid(format!(
                    "effectively-once needs non-negative offsets; {} has {}",
                    offset.partition, offset.offset
                ))
            })?);
            producer = dedup.producer(&offset.partition, index, topic).await?;
        }
        let message = OutgoingMessage {
            payload: std::mem::take(&mut record.value),
            key: record.key.clone(),
            properties,
            event_time: record.event_time,
            sequence_id,
        };
        let receipt = producer
            .send(message)
            .await
            .map_err(ConnectorError::broker)?;
        Ok(InFlight { receipt, record })
    }
}

/// The highest offset per partition of `records`.
fn offsets_of<'a>(records: impl Iterator<Item = &'a SourceRecord>) -> SourceOffsets {
    let mut out = SourceOffsets::new();
    for offset in records.filter_map(|r| r.offset.as_ref()) {
        let slot = out.entry(offset.partition.clone()).or_insert(offset.offset);
        *slot = (*slot).max(offset.offset);
    }
    out
}

fn tell(record: &mut SourceRecord, outcome: Result<(), String>) {
    if let Some(done) = record.done.take() {
        let _ = done.send(outcome);
    }
}

/// Position changes not yet committed.
#[derive(Default)]
struct Pending {
    offsets: SourceOffsets,
    since: Option<Instant>,
}

impl Pending {
    fn is_empty(&self) -> bool {
        self.offsets.is_empty()
    }
}

async fn commit(
    env: &RuntimeEnv,
    id: &ConnectorId,
    pending: &mut Pending,
) -> Result<(), ConnectorError> {
    if pending.is_empty() {
        return Ok(());
    }
    let (store, id) = (env.store.clone(), id.clone());
    let offsets = std::mem::take(&mut pending.offsets);
    pending.since = None;
    blocking(move || store.commit(&id, &offsets)).await
}

/// Turns on the `deduplicationEnabled` topic policy of `topic` (its partitions follow).
async fn enable_deduplication(env: &RuntimeEnv, topic: &str) -> Result<(), ConnectorError> {
    let name = TopicName::parse(topic).map_err(|e| ConnectorError::invalid(e.to_string()))?;
    crate::admin::set_topic_policy(&env.context, &name, DEDUPLICATION_POLICY, true.into())
        .await
        .map_err(|e| ConnectorError::broker(format!("enabling deduplication on {topic}: {e}")))
}

/// Runs a source instance until `stop` changes or something fails.
pub async fn run_source(
    env: &RuntimeEnv,
    spec: &ConnectorSpec,
    instance: u32,
    status: &InstanceStatus,
    stop: &mut watch::Receiver<bool>,
) -> Result<(), ConnectorError> {
    let topic = spec
        .topic
        .clone()
        .ok_or_else(|| ConnectorError::invalid("a source needs a destination topic"))?;
    let mut source = env.catalog.source(&spec.connector_type, &spec.configs)?;
    let client = connect(env).await?;
    let effectively_once = spec.guarantee == ProcessingGuarantee::EffectivelyOnce;
    if effectively_once {
        // Before any producer attaches, so every send of this run is deduplicated.
        enable_deduplication(env, &topic).await?;
    }
    let topics = client
        .expand_partitions(&topic)
        .await
        .map_err(ConnectorError::broker)?;
    let name = format!("{}{instance}", producer_prefix(&spec.id));
    let mut producers = Vec::with_capacity(topics.len());
    for t in &topics {
        producers.push(create_producer(&client, t, &name, stop).await?);
    }
    let (store, id) = (env.store.clone(), spec.id.clone());
    let positions = blocking(move || store.positions(&id)).await?;
    source
        .open(SourceContext {
            id: spec.id.clone(),
            instance,
            parallelism: spec.parallelism,
            config: spec.configs.clone(),
            guarantee: spec.guarantee,
            offsets: positions.offsets,
        })
        .await?;
    status.on_running();
    tracing::info!(connector = %spec.id, instance, guarantee = %spec.guarantee, "source running");
    // The client lives as long as the loop: in the publisher, or here.
    let (dedup, _client) = if effectively_once {
        let dedup = DedupProducers {
            client,
            prefix: producer_prefix(&spec.id),
            producers: BTreeMap::new(),
            stop: stop.clone(),
        };
        (Some(dedup), None)
    } else {
        (None, Some(client))
    };
    let mut publisher = Publisher {
        topics,
        producers,
        next: 0,
        dedup,
    };
    let mut pending = Pending::default();
    loop {
        let batch = tokio::select! {
            biased;
            _ = stop.changed() => break,
            batch = source.read() => batch?,
            () = tokio::time::sleep(env.settings.commit_interval), if !pending.is_empty() => {
                commit(env, &spec.id, &mut pending).await?;
                continue;
            }
        };
        if batch.is_empty() {
            continue;
        }
        status.on_received(batch.len() as u64);
        let arrived = Instant::now();
        let n = batch.len() as u64;
        if spec.guarantee == ProcessingGuarantee::AtmostOnce {
            publish_at_most_once(env, spec, &mut publisher, batch).await?;
        } else {
            publish_at_least_once(&mut publisher, batch, &mut pending).await?;
            let due = pending
                .since
                .is_some_and(|since| since.elapsed() >= env.settings.commit_interval);
            if due {
                commit(env, &spec.id, &mut pending).await?;
            }
        }
        status.on_written(
            n,
            u64::try_from(arrived.elapsed().as_micros()).unwrap_or(u64::MAX),
        );
    }
    commit(env, &spec.id, &mut pending).await?;
    for producer in &publisher.producers {
        let _ = producer.close().await;
    }
    if let Some(dedup) = &publisher.dedup {
        dedup.close().await;
    }
    source.close().await
}

/// Commits the batch's offsets, then publishes it; a record that fails is lost.
async fn publish_at_most_once(
    env: &RuntimeEnv,
    spec: &ConnectorSpec,
    publisher: &mut Publisher,
    batch: Vec<SourceRecord>,
) -> Result<(), ConnectorError> {
    let mut pending = Pending {
        offsets: offsets_of(batch.iter()),
        ..Pending::default()
    };
    commit(env, &spec.id, &mut pending).await?;
    let mut in_flight = Vec::with_capacity(batch.len());
    for record in batch {
        in_flight.push(publisher.send(record).await?);
    }
    let mut failure = None;
    for mut sent in in_flight {
        let outcome = sent.receipt.await.map(drop).map_err(|e| e.to_string());
        if let Err(e) = &outcome {
            failure.get_or_insert_with(|| ConnectorError::broker(e));
        }
        tell(&mut sent.record, outcome);
    }
    failure.map_or(Ok(()), Err)
}

/// Publishes the batch and waits for every receipt; offsets go to `pending` once stored.
async fn publish_at_least_once(
    publisher: &mut Publisher,
    batch: Vec<SourceRecord>,
    pending: &mut Pending,
) -> Result<(), ConnectorError> {
    let mut in_flight = Vec::with_capacity(batch.len());
    for record in batch {
        in_flight.push(publisher.send(record).await?);
    }
    let mut failure: Option<ConnectorError> = None;
    for mut sent in in_flight {
        if let Some(e) = &failure {
            tell(&mut sent.record, Err(e.to_string()));
            continue;
        }
        match sent.receipt.await {
            Ok(_) => {
                if let Some(offset) = &sent.record.offset {
                    let slot = pending
                        .offsets
                        .entry(offset.partition.clone())
                        .or_insert(offset.offset);
                    *slot = (*slot).max(offset.offset);
                }
                pending.since.get_or_insert_with(Instant::now);
                tell(&mut sent.record, Ok(()));
            }
            Err(e) => {
                tell(&mut sent.record, Err(e.to_string()));
                failure = Some(ConnectorError::broker(e));
            }
        }
    }
    failure.map_or(Ok(()), Err)
}
