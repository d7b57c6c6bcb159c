//! `perf consume`: consumers that receive, ack and measure end-to-end latency.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use geminga_protocol::proto::KeyValue;
use tokio::sync::watch;

use super::stats::{Report, Stats};
use super::{
    print_progress, sent_time, stop_after, ConsumeOptions, PerfError, SubscriptionPosition,
    SubscriptionType,
};
use crate::client::{
    Client, ClientError, ConnectOptions, Consumer, InitialPosition, Message, MessageId, SubType,
    SubscribeOptions,
};

/// Messages taken from the local queue before their acks go out in one ACK.
const ACK_GROUP: usize = 1000;

/// The protocol's subscription type for a perf flag value.
pub(crate) fn sub_type(value: SubscriptionType) -> SubType {
    match value {
        SubscriptionType::Exclusive => SubType::Exclusive,
        SubscriptionType::Shared => SubType::Shared,
        SubscriptionType::Failover => SubType::Failover,
        SubscriptionType::KeyShared => SubType::KeyShared,
    }
}

fn initial_position(value: SubscriptionPosition) -> InitialPosition {
    match value {
        SubscriptionPosition::Latest => InitialPosition::Latest,
        SubscriptionPosition::Earliest => InitialPosition::Earliest,
    }
}

/// Shared stop conditions of the consumers.
struct Limit {
    /// Messages to consume in total; 0 means no limit.
    target: u64,
    consumed: AtomicU64,
    stop: Arc<watch::Sender<bool>>,
}

impl Limit {
    fn add(&self, n: u64) {
        let total = self
            .consumed
            .fetch_add(n, Ordering::Relaxed)
            .saturating_add(n);
        if self.target > 0 && total >= self.target {
            let _ = self.stop.send(true);
        }
    }
}

pub(super) async fn run(
    options: &ConsumeOptions,
    mut external_stop: watch::Receiver<bool>,
) -> Result<Report, PerfError> {
    let client = Client::connect(&options.service_url, ConnectOptions::default()).await?;
    let mut consumers = Vec::new();
    for topic in &options.topics {
        for partition in client.expand_partitions(topic).await? {
            for i in 0..options.consumers_per_topic.max(1) {
                let subscribe = SubscribeOptions {
                    subscription: options.subscription.clone(),
                    sub_type: sub_type(options.subscription_type),
                    initial_position: initial_position(options.subscription_position),
                    consumer_name: Some(format!("perf-consumer-{i}")),
                    receiver_queue_size: options.receiver_queue_size,
                };
                consumers.push(client.subscribe(&partition, subscribe).await?);
            }
        }
    }
    let (stop_tx, stop) = watch::channel(false);
    let stop_tx = Arc::new(stop_tx);
    let forward = stop_tx.clone();
    tokio::spawn(async move {
        // An external sender that is dropped without stopping means "never stop".
        if external_stop.wait_for(|stopped| *stopped).await.is_ok() {
            let _ = forward.send(true);
        }
    });
    stop_after(options.duration, &stop_tx);
    let stats = Arc::new(Stats::new());
    if let Some(interval) = options.stats_interval {
        tokio::spawn(print_progress(
            stats.clone(),
            "consumed",
            interval,
            stop.clone(),
        ));
    }
    let limit = Arc::new(Limit {
        target: options.num_messages,
        consumed: AtomicU64::new(0),
        stop: stop_tx.clone(),
    });
    let tasks: Vec<_> = consumers
        .into_iter()
        .map(|consumer| {
            let (stats, stop, limit) = (stats.clone(), stop.clone(), limit.clone());
            tokio::spawn(consume_loop(consumer, stats, stop, limit))
        })
        .collect();
    let mut first_error = None;
    for task in tasks {
        let result = match task.await {
            Ok(result) => result,
            Err(join) => Err(ClientError::disconnected(format!(
                "consumer task failed: {join}"
            ))),
        };
        if let Err(error) = result {
            first_error.get_or_insert(error);
            let _ = stop_tx.send(true);
        }
    }
    let _ = stop_tx.send(true);
    match first_error {
        Some(error) => Err(error.into()),
        None => Ok(stats.total()),
    }
}

/// Receives until stopped, acking each group of buffered messages with one ACK.
async fn consume_loop(
    mut consumer: Consumer,
    stats: Arc<Stats>,
    mut stop: watch::Receiver<bool>,
    limit: Arc<Limit>,
) -> Result<(), ClientError> {
    let mut acks: Vec<MessageId> = Vec::with_capacity(ACK_GROUP);
    loop {
        let first = tokio::select! {
            biased;
            _ = stop.wait_for(|stopped| *stopped) => break,
            message = consumer.receive() => message,
        };
        let mut next = Some(first);
        while let Some(result) = next.take() {
            match result {
                Ok(message) => {
                    limit.add(record(&stats, &message));
                    acks.push(message.id);
                }
                Err(ClientError::ChecksumMismatch { .. } | ClientError::Protocol(_)) => {
                    stats.record_error();
                }
                Err(error) => return Err(error),
            }
            if acks.len() < ACK_GROUP {
                next = consumer.try_receive().transpose();
            }
        }
        consumer.ack_many(&acks).await?;
        acks.clear();
    }
    consumer.close().await
}

/// The latency from a `perf produce --stamp-send-time` stamp among `properties` to now.
fn stamped_latency(properties: &[KeyValue]) -> Option<Duration> {
    if properties.is_empty() {
        return None;
    }
    let pairs = properties
        .iter()
        .map(|p| (p.key.as_str(), p.value.as_str()));
    sent_time::latency(pairs, sent_time::epoch_micros())
}

/// Records one entry; returns the number of messages in it.
fn record(stats: &Stats, message: &Message) -> u64 {
    let count = u64::try_from(message.num_messages()).unwrap_or(u64::MAX);
    // A batch body also holds per-message headers; count payload bytes only, like pulsar-perf.
    let (bytes, stamped) = match message.is_batch().then(|| message.batch()) {
        Some(Ok(messages)) => {
            let bytes = messages.iter().map(|m| m.payload.len()).sum::<usize>();
            // A batch is measured by its first message, the one that waited longest.
            let first = messages
                .first()
                .map(|m| stamped_latency(&m.metadata.properties));
            (bytes, first.flatten())
        }
        _ => (
            message.payload.len(),
            stamped_latency(&message.metadata.properties),
        ),
    };
    let latency = stamped.unwrap_or_else(|| {
        let now = crate::client::epoch_millis();
        Duration::from_millis(now.saturating_sub(message.metadata.publish_time))
    });
    stats.record(count, u64::try_from(bytes).unwrap_or(u64::MAX), latency);
    count
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flag_values_map_to_protocol_enums() {
        assert_eq!(sub_type(SubscriptionType::KeyShared), SubType::KeyShared);
        assert_eq!(sub_type(SubscriptionType::Failover), SubType::Failover);
        assert_eq!(sub_type(SubscriptionType::Shared), SubType::Shared);
        assert_eq!(sub_type(SubscriptionType::Exclusive), SubType::Exclusive);
        assert_eq!(
            initial_position(SubscriptionPosition::Earliest),
            InitialPosition::Earliest
        );
        assert_eq!(
            initial_position(SubscriptionPosition::Latest),
            InitialPosition::Latest
        );
    }

    #[test]
    fn limit_stops_once_the_target_is_reached() {
        let (tx, rx) = watch::channel(false);
        let limit = Limit {
            target: 10,
            consumed: AtomicU64::new(0),
            stop: Arc::new(tx),
        };
        limit.add(9);
        assert!(!*rx.borrow());
        limit.add(5);
        assert!(*rx.borrow());
    }
}
