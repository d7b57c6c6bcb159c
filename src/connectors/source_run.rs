//! A source instance's loop: read records, publish them, commit the position, under the
//! connector's processing guarantee.
//!
//! - At-most-once commits a batch's offsets before publishing it: after a crash the batch in
//!   flight is not read again (lost at most), nothing is published twice.
//! - At-least-once commits offsets after the broker stored the records: after a crash the
//!   records since the last commit are read and published again (never lost).
//! - Effectively-once publishes like at-least-once, with a producer named after the instance
//!   and each record's partition and offset in its properties. Before reading, the instance
//!   finds what it (or a predecessor) published after the last commit by scanning the topic
//!   (`recovery`), and resumes after it: one message per record.

use std::{
    collections::BTreeMap,
    time::{Duration, Instant},
};

use tokio::sync::watch;

use super::{
    api::{SourceContext, SourceOffsets, SourceRecord},
    builtin::owner,
    config::{ConnectorId, ConnectorSpec, ProcessingGuarantee},
    recovery,
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
    tag_positions: bool,
}

/// A record on its way: its receipt, where it went, and what it covers.
struct InFlight {
    receipt: SendFuture,
    topic: String,
    record: SourceRecord,
}

impl Publisher {
    fn route(&mut self, key: Option<&str>) -> usize {
        let n = self.producers.len().max(1);
        match key {
            Some(key) => usize::try_from(owner(key, u32::try_from(n).unwrap_or(1))).unwrap_or(0),
            None => {
                self.next = (self.next + 1) % n;
                self.next
            }
        }
    }

    async fn send(&mut self, mut record: SourceRecord) -> Result<InFlight, ConnectorError> {
        let index = self.route(record.key.as_deref());
        let (Some(producer), Some(topic)) = (self.producers.get(index), self.topics.get(index))
        else {
            return Err(ConnectorError::broker("no producer"));
        };
        let mut properties = record.properties.clone();
        if let (true, Some(offset)) = (self.tag_positions, &record.offset) {
            properties.push((PARTITION_PROPERTY.to_owned(), offset.partition.clone()));
            properties.push((OFFSET_PROPERTY.to_owned(), offset.offset.to_string()));
        }
        let message = OutgoingMessage {
            payload: std::mem::take(&mut record.value),
            key: record.key.clone(),
            properties,
            event_time: record.event_time,
        };
        let receipt = producer
            .send(message)
            .await
            .map_err(ConnectorError::broker)?;
        Ok(InFlight {
            receipt,
            topic: topic.clone(),
            record,
        })
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
    scan_from: BTreeMap<String, u64>,
    since: Option<Instant>,
}

impl Pending {
    fn is_empty(&self) -> bool {
        self.offsets.is_empty() && self.scan_from.is_empty()
    }
}

async fn commit(
    env: &RuntimeEnv,
    id: &ConnectorId,
    instance: u32,
    pending: &mut Pending,
) -> Result<(), ConnectorError> {
    if pending.is_empty() {
        return Ok(());
    }
    let (store, id) = (env.store.clone(), id.clone());
    let (offsets, scan_from) = (
        std::mem::take(&mut pending.offsets),
        std::mem::take(&mut pending.scan_from),
    );
    pending.since = None;
    blocking(move || store.commit(&id, instance, &offsets, &scan_from)).await
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
    let mut positions = blocking(move || store.positions(&id)).await?;
    let effectively_once = spec.guarantee == ProcessingGuarantee::EffectivelyOnce;
    if effectively_once {
        let found = recovery::recover(env, &topics, &producer_prefix(&spec.id), &positions).await?;
        let mut pending = Pending {
            offsets: found.offsets,
            scan_from: found.next,
            since: None,
        };
        positions.advance(&pending.offsets, instance, &pending.scan_from);
        commit(env, &spec.id, instance, &mut pending).await?;
    }
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
    let mut publisher = Publisher {
        topics,
        producers,
        next: 0,
        tag_positions: effectively_once,
    };
    let mut pending = Pending::default();
    loop {
        let batch = tokio::select! {
            biased;
            _ = stop.changed() => break,
            batch = source.read() => batch?,
            () = tokio::time::sleep(env.settings.commit_interval), if !pending.is_empty() => {
                commit(env, &spec.id, instance, &mut pending).await?;
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
            publish_at_most_once(env, spec, instance, &mut publisher, batch).await?;
        } else {
            publish_at_least_once(&mut publisher, batch, &mut pending).await?;
            let due = pending
                .since
                .is_some_and(|since| since.elapsed() >= env.settings.commit_interval);
            if due {
                commit(env, &spec.id, instance, &mut pending).await?;
            }
        }
        status.on_written(
            n,
            u64::try_from(arrived.elapsed().as_micros()).unwrap_or(u64::MAX),
        );
    }
    commit(env, &spec.id, instance, &mut pending).await?;
    for producer in &publisher.producers {
        let _ = producer.close().await;
    }
    source.close().await
}

/// Commits the batch's offsets, then publishes it; a record that fails is lost.
async fn publish_at_most_once(
    env: &RuntimeEnv,
    spec: &ConnectorSpec,
    instance: u32,
    publisher: &mut Publisher,
    batch: Vec<SourceRecord>,
) -> Result<(), ConnectorError> {
    let mut pending = Pending {
        offsets: offsets_of(batch.iter()),
        ..Pending::default()
    };
    commit(env, &spec.id, instance, &mut pending).await?;
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
            Ok(receipt) => {
                if let Some(offset) = &sent.record.offset {
                    let slot = pending
                        .offsets
                        .entry(offset.partition.clone())
                        .or_insert(offset.offset);
                    *slot = (*slot).max(offset.offset);
                }
                pending
                    .scan_from
                    .insert(sent.topic.clone(), receipt.message_id.entry_id + 1);
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
