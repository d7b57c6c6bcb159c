//! Scale scenarios: many idle topics, many subscriptions, and catching up a large backlog.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::stream::{self, StreamExt, TryStreamExt};
use tokio::runtime::Runtime;

use super::broker_proc::BrokerProcess;
use super::scenarios::{consume_deadline, end_to_end, topic};
use super::table::{mib, ratio, Row};
use super::{Recorder, Sizes, SuiteError};
use crate::cli::admin_http::AdminClient;
use crate::client::{Client, ConnectOptions, ProducerOptions, SubscribeOptions};
use crate::perf::{
    consume, ConsumeOptions, ProduceOptions, SubscriptionPosition, SubscriptionType,
};

/// Creations in flight at once (topics over the binary protocol, subscriptions over REST).
const CONCURRENCY: usize = 32;
/// Concurrent admin REST requests: "a few".
const REST_WORKERS: usize = 4;
/// Time given to the broker to settle before its RSS is read.
const SETTLE: Duration = Duration::from_secs(2);
const IDLE_RSS_TARGET: u64 = 500 * 1024 * 1024;
/// Catch-up must stay within 20% of the tailing rate.
const CATCH_UP_MIN_RATIO: f64 = 0.8;

/// Opens `count` topics, each with one producer and one consumer, lets them idle and reads the
/// broker's RSS.
///
/// # Errors
/// A client error while creating them, or an unreadable RSS.
pub(super) async fn idle_topics(
    broker: &BrokerProcess,
    count: usize,
    out: &mut Recorder,
) -> Result<(), SuiteError> {
    let client = Client::connect(&broker.service_url, ConnectOptions::default()).await?;
    let client = &client;
    let start = Instant::now();
    let handles: Vec<_> = stream::iter(0..count)
        .map(|i| async move {
            let name = topic(&format!("idle-{i}"));
            let producer = client
                .create_producer(&name, ProducerOptions::default())
                .await?;
            let consumer = client
                .subscribe(&name, SubscribeOptions::new("idle"))
                .await?;
            Ok::<_, SuiteError>((producer, consumer))
        })
        .buffer_unordered(CONCURRENCY)
        .try_collect()
        .await?;
    let opened = start.elapsed();
    tokio::time::sleep(SETTLE).await;
    let rss = broker.rss()?;
    out.push(Row::checked(
        &format!("{count} topics, 1 producer + 1 consumer each, idle: broker RSS"),
        "< 500 MB",
        format!("{} (opened in {:.1} s)", mib(rss), opened.as_secs_f64()),
        rss < IDLE_RSS_TARGET,
    ));
    drop(handles);
    Ok(())
}

/// Creates `count` subscriptions on one topic through the admin REST API and states the RSS
/// growth per subscription.
///
/// # Errors
/// A failed request or client error, or an unreadable RSS.
pub(super) fn subscriptions(
    runtime: &Runtime,
    broker: &BrokerProcess,
    count: usize,
    out: &mut Recorder,
) -> Result<(), SuiteError> {
    let name = "subs";
    runtime.block_on(async {
        let client = Client::connect(&broker.service_url, ConnectOptions::default()).await?;
        let producer = client
            .create_producer(&topic(name), ProducerOptions::default())
            .await?;
        producer.close().await?;
        Ok::<_, SuiteError>(())
    })?;
    std::thread::sleep(SETTLE);
    let before = broker.rss()?;
    let admin = Arc::new(AdminClient::new(&broker.admin_url));
    let start = Instant::now();
    let results: Vec<Result<(), SuiteError>> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..REST_WORKERS)
            .map(|worker| {
                let admin = admin.clone();
                scope.spawn(move || {
                    for i in (worker..count).step_by(REST_WORKERS) {
                        let path = format!(
                            "/admin/v2/persistent/public/default/suite-{name}/subscription/sub-{i}"
                        );
                        admin.put(&path, None)?;
                    }
                    Ok(())
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|w| {
                w.join().unwrap_or_else(|_| {
                    Err(SuiteError::Task {
                        reason: "a REST worker panicked".to_owned(),
                    })
                })
            })
            .collect()
    });
    results.into_iter().collect::<Result<(), _>>()?;
    let took = start.elapsed();
    std::thread::sleep(SETTLE);
    let after = broker.rss()?;
    let delta = after.saturating_sub(before);
    #[allow(clippy::cast_precision_loss, reason = "display only")]
    let (per_sub, per_sec) = (
        delta as f64 / count as f64,
        count as f64 / took.as_secs_f64().max(1e-9),
    );
    out.push(Row::stated(
        &format!("{count} subscriptions on one topic (REST): memory per subscription"),
        format!(
            "{per_sub:.0} bytes (RSS {} -> {}; {per_sec:.0} creates/s)",
            mib(before),
            mib(after)
        ),
    ));
    Ok(())
}

/// The durable subscription that falls behind in [`backlog`].
const CATCH_UP: &str = "catch-up";

/// Builds a backlog across `backlog_topics` topics while a subscription tails it, then reads it
/// all again with a second subscription, created before the build and left behind, and
/// compares the rates.
///
/// # Errors
/// A failed load run.
pub(super) async fn backlog(
    broker: &BrokerProcess,
    sizes: &Sizes,
    out: &mut Recorder,
) -> Result<(), SuiteError> {
    let url = broker.service_url.as_str();
    let topics: Vec<String> = (0..sizes.backlog_topics)
        .map(|i| topic(&format!("backlog-{i}")))
        .collect();
    let produce_options = ProduceOptions {
        topics: topics.clone(),
        num_messages: sizes.backlog,
        ..ProduceOptions::new(url, "")
    };
    create_subscriptions(url, &topics, CATCH_UP).await?;
    let exclusive = SubscriptionType::Exclusive;
    let (produced, tail) = end_to_end(url, topics.clone(), 1, exclusive, produce_options).await?;
    let label = format!(
        "{} messages across {} topics",
        sizes.backlog, sizes.backlog_topics
    );
    out.push(Row::stated(
        &format!("backlog build: publish + tailing consume, {label}"),
        format!(
            "publish {:.0} msg/s, tailing {:.0} msg/s ({} consumed)",
            produced.msg_per_sec, tail.msg_per_sec, tail.messages
        ),
    ));
    let catch_up = consume(&ConsumeOptions {
        topics,
        subscription: CATCH_UP.to_owned(),
        subscription_position: SubscriptionPosition::Earliest,
        num_messages: sizes.backlog,
        duration: Some(consume_deadline(sizes.backlog)),
        ..ConsumeOptions::new(url, "")
    })
    .await?;
    let share = ratio(catch_up.msg_per_sec, tail.msg_per_sec);
    out.push(Row::checked(
        &format!("catch-up of {label} vs tailing rate"),
        ">= 80% of tailing",
        format!(
            "{:.0} msg/s = {:.0}% of {:.0} msg/s ({} consumed)",
            catch_up.msg_per_sec,
            share * 100.0,
            tail.msg_per_sec,
            catch_up.messages
        ),
        share >= CATCH_UP_MIN_RATIO && catch_up.messages >= sizes.backlog,
    ));
    Ok(())
}

/// Creates the durable subscription `name` on every topic and leaves it without consumers, so
/// it holds what is published from then on. Without it, the backlog acked by the tailing
/// subscription alone would be trimmed once older than the retention grace period (60 s), and
/// a full-size build takes longer than that.
async fn create_subscriptions(url: &str, topics: &[String], name: &str) -> Result<(), SuiteError> {
    let client = Client::connect(url, ConnectOptions::default()).await?;
    let client = &client;
    stream::iter(topics)
        .map(|topic| async move {
            let consumer = client.subscribe(topic, SubscribeOptions::new(name)).await?;
            consumer.close().await?;
            Ok::<_, SuiteError>(())
        })
        .buffer_unordered(CONCURRENCY)
        .try_collect::<Vec<()>>()
        .await?;
    Ok(())
}
