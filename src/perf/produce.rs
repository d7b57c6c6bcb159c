//! `perf produce`: producers publishing at a target rate with bounded in-flight sends.

use std::sync::Arc;
use std::time::Duration;

use futures_util::stream::{FuturesUnordered, StreamExt};
use futures_util::FutureExt;
use tokio::sync::watch;
use tokio::time::Instant;

use super::payload::Payloads;
use super::stats::{Report, Stats};
use super::{print_progress, sent_time, stop_after, PerfError, ProduceOptions};
use crate::client::{
    Client, ClientError, ConnectOptions, OutgoingMessage, Producer, ProducerOptions,
};

/// How long a stopping producer waits for its outstanding receipts.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(30);

/// One producer's share of the work.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Plan {
    /// Messages to send; `None` means until stopped.
    pub(crate) messages: Option<u64>,
    /// Messages per second; 0.0 means unthrottled.
    pub(crate) rate: f64,
    pub(crate) max_outstanding: usize,
}

/// Splits the totals across `producers`: message counts as evenly as possible (the first ones
/// take the remainder), the rate equally.
pub(crate) fn plans(options: &ProduceOptions, producers: usize) -> Vec<Plan> {
    let n = u64::try_from(producers.max(1)).unwrap_or(u64::MAX);
    #[allow(
        clippy::cast_precision_loss,
        reason = "rates are approximate by nature"
    )]
    let rate = options.rate as f64 / n as f64;
    (0..n)
        .map(|i| Plan {
            messages: (options.num_messages > 0)
                .then(|| options.num_messages / n + u64::from(i < options.num_messages % n)),
            rate,
            max_outstanding: options.max_outstanding.max(1),
        })
        .collect()
}

pub(super) async fn run(
    options: &ProduceOptions,
    mut external_stop: watch::Receiver<bool>,
) -> Result<Report, PerfError> {
    let client = Client::connect(&options.service_url, ConnectOptions::default()).await?;
    let mut producers = Vec::new();
    for topic in &options.topics {
        for partition in client.expand_partitions(topic).await? {
            for _ in 0..options.producers_per_topic.max(1) {
                let producer_options = ProducerOptions {
                    name: None,
                    batching: options.batching,
                };
                producers.push(client.create_producer(&partition, producer_options).await?);
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
            "produced",
            interval,
            stop.clone(),
        ));
    }
    let tasks: Vec<_> = plans(options, producers.len())
        .into_iter()
        .zip(producers)
        .enumerate()
        .map(|(i, (plan, producer))| {
            let payloads = Payloads::new(
                options.message_size,
                options.compressible_payload,
                0x5eed_0000 + i as u64,
            );
            let (stats, stop) = (stats.clone(), stop.clone());
            let stamp = options.stamp_send_time;
            tokio::spawn(produce_loop(producer, plan, payloads, stamp, stats, stop))
        })
        .collect();
    let mut first_error = None;
    for task in tasks {
        let result = match task.await {
            Ok(result) => result,
            Err(join) => Err(ClientError::disconnected(format!(
                "producer task failed: {join}"
            ))),
        };
        if let Err(error) = result {
            first_error.get_or_insert(error);
        }
    }
    let _ = stop_tx.send(true);
    match first_error {
        Some(error) => Err(error.into()),
        None => Ok(stats.total()),
    }
}

type Inflight = FuturesUnordered<futures_util::future::BoxFuture<'static, ()>>;

/// Publishes per `plan` until done or stopped, then waits for the outstanding receipts.
async fn produce_loop(
    producer: Producer,
    plan: Plan,
    mut payloads: Payloads,
    stamp_send_time: bool,
    stats: Arc<Stats>,
    mut stop: watch::Receiver<bool>,
) -> Result<(), ClientError> {
    let mut inflight: Inflight = FuturesUnordered::new();
    let start = Instant::now();
    let mut sent: u64 = 0;
    while plan.messages.is_none_or(|limit| sent < limit) && !*stop.borrow() {
        // Record finished receipts first, so their latency is not inflated by our own sends.
        while let Some(Some(())) = inflight.next().now_or_never() {}
        if inflight.len() >= plan.max_outstanding {
            tokio::select! {
                _ = inflight.next() => {}
                _ = stop.changed() => {}
            }
            continue;
        }
        if let Some(due) = next_send_time(start, sent, plan.rate) {
            if due > Instant::now() {
                tokio::select! {
                    _ = tokio::time::sleep_until(due) => {}
                    Some(()) = inflight.next(), if !inflight.is_empty() => continue,
                    _ = stop.changed() => continue,
                }
            }
        }
        let payload = payloads.next_payload();
        let bytes = payload.len() as u64;
        let mut message = OutgoingMessage::from(payload);
        if stamp_send_time {
            message
                .properties
                .push(sent_time::stamp(sent_time::epoch_micros()));
        }
        let started = std::time::Instant::now();
        let receipt = producer.send(message).await?;
        sent += 1;
        let stats = stats.clone();
        inflight.push(Box::pin(async move {
            match receipt.await {
                Ok(_) => stats.record(1, bytes, started.elapsed()),
                Err(_) => stats.record_error(),
            }
        }));
    }
    producer.flush().await?;
    let drained = tokio::time::timeout(DRAIN_TIMEOUT, async {
        while inflight.next().await.is_some() {}
    })
    .await;
    for _ in 0..if drained.is_err() { inflight.len() } else { 0 } {
        stats.record_error();
    }
    producer.close().await
}

/// When message number `sent` is due at `rate` msg/s; `None` when unthrottled. Sends fall
/// behind the schedule under load and then catch up in a burst, which keeps the average rate.
pub(crate) fn next_send_time(start: Instant, sent: u64, rate: f64) -> Option<Instant> {
    if rate <= 0.0 {
        return None;
    }
    #[allow(
        clippy::cast_precision_loss,
        reason = "message counts stay far below 2^52"
    )]
    let offset = sent as f64 / rate;
    Some(start + Duration::from_secs_f64(offset.min(1e9)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(rate: u64, num_messages: u64) -> ProduceOptions {
        ProduceOptions {
            rate,
            num_messages,
            ..ProduceOptions::new("pulsar://h:1", "t")
        }
    }

    #[test]
    fn plans_split_messages_and_rate() {
        let plans = plans(&options(300, 10), 3);
        let counts: Vec<_> = plans.iter().map(|p| p.messages).collect();
        assert_eq!(counts, [Some(4), Some(3), Some(3)]);
        assert!(plans.iter().all(|p| (p.rate - 100.0).abs() < 1e-9));
        assert_eq!(plans[0].max_outstanding, 1000);
    }

    #[test]
    fn plans_without_limits() {
        let plans = plans(&options(0, 0), 2);
        assert!(plans.iter().all(|p| p.messages.is_none() && p.rate == 0.0));
    }

    #[test]
    fn send_schedule_follows_the_rate() {
        let start = Instant::now();
        assert_eq!(next_send_time(start, 5, 0.0), None);
        assert_eq!(next_send_time(start, 0, 100.0), Some(start));
        assert_eq!(
            next_send_time(start, 50, 100.0),
            Some(start + Duration::from_millis(500))
        );
        assert_eq!(
            next_send_time(start, 3, 2.0),
            Some(start + Duration::from_millis(1500))
        );
    }
}
