//! Prometheus metrics: Pulsar's topic and subscription metrics plus Geminga's actor metrics,
//! read at scrape time from the counters the actors keep (no message is sent to any actor).
//!
//! Pulsar's names and labels (`cluster`, `namespace`, `topic`, `subscription`) are kept where
//! Pulsar has the metric, so existing dashboards work; actor metrics are `geminga_actor_*`,
//! labelled by `kind`. Rates are computed by [`spawn_sampler`] every [`SAMPLE_INTERVAL`].

use std::{fmt, sync::Arc, time::Duration};

use geminga_actors::{
    stats::{BrokerStats, SubscriptionStats, TopicStats},
    supervision::{ActorKind, ActorTracker, HistogramSnapshot},
    BrokerContext,
};
use prometheus_client::{
    collector::Collector,
    encoding::{DescriptorEncoder, EncodeCounterValue, EncodeGaugeValue},
    metrics::MetricType,
    registry::Registry,
};

/// How often rates (`pulsar_rate_in`...) are recomputed from the counters.
pub const SAMPLE_INTERVAL: Duration = Duration::from_secs(1);

/// Content type of [`render`]'s output (Prometheus text format 0.0.4).
pub const CONTENT_TYPE: &str = prometheus_client::encoding::prometheus_text::CONTENT_TYPE;

type Labels = Vec<(&'static str, String)>;

/// A gauge family: name, help and one value per label set.
type Family = (&'static str, &'static str, Vec<(Labels, f64)>);

/// The broker's metrics registry: one collector reading topic stats and the actor tree.
pub fn registry(context: &BrokerContext) -> Registry {
    let mut registry = Registry::default();
    registry.register_collector(Box::new(BrokerCollector {
        stats: context.stats().clone(),
        tracker: context.tracker().clone(),
    }));
    if let Some(connectors) = context.extension::<crate::connectors::Connectors>() {
        registry.register_collector(Box::new(
            crate::connectors::metrics::ConnectorCollector::new(connectors.env().clone()),
        ));
    }
    registry
}

/// Encodes every metric of `registry` in Prometheus' text format.
///
/// # Errors
/// Only a formatting failure of the writer (a `String` never fails).
pub fn render(registry: &Registry) -> Result<String, fmt::Error> {
    let mut out = String::new();
    prometheus_client::encoding::prometheus_text::encode(&mut out, registry)?;
    Ok(out)
}

/// Recomputes the rates every [`SAMPLE_INTERVAL`] on the current actix System.
pub fn spawn_sampler(stats: Arc<BrokerStats>) {
    actix_rt::spawn(async move {
        let mut tick = tokio::time::interval(SAMPLE_INTERVAL);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            stats.sample();
        }
    });
}

#[derive(Debug)]
struct BrokerCollector {
    stats: Arc<BrokerStats>,
    tracker: Arc<ActorTracker>,
}

impl Collector for BrokerCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), fmt::Error> {
        self.encode_topics(&mut encoder)?;
        self.encode_subscriptions(&mut encoder)?;
        self.encode_actors(&mut encoder)?;
        self.encode_commits(&mut encoder)
    }
}

/// `tenant/namespace` of `persistent://tenant/namespace/topic`.
fn namespace_of(topic: &str) -> String {
    let rest = topic.split_once("://").map_or(topic, |(_, rest)| rest);
    let mut parts = rest.splitn(3, '/');
    match (parts.next(), parts.next()) {
        (Some(tenant), Some(ns)) => format!("{tenant}/{ns}"),
        _ => String::new(),
    }
}

fn gauge<V: EncodeGaugeValue>(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    rows: &[(Labels, V)],
) -> Result<(), fmt::Error> {
    let mut metric = encoder.encode_descriptor(name, help, None, MetricType::Gauge)?;
    for (labels, value) in rows {
        metric.encode_family(labels)?.encode_gauge(value)?;
    }
    Ok(())
}

/// Encodes a latency histogram. `prometheus-client` sums the bucket counts itself, so the
/// snapshot's cumulative counts go in as per-bucket counts.
fn histogram(
    mut metric: prometheus_client::encoding::MetricEncoder<'_>,
    h: &HistogramSnapshot,
) -> Result<(), fmt::Error> {
    let per_bucket = per_bucket(&h.buckets);
    metric.encode_histogram::<prometheus_client::encoding::NoLabelSet>(
        h.sum_seconds,
        h.count,
        &per_bucket,
        None,
    )
}

/// Cumulative `(bound, count)` pairs to the count of each bucket alone.
fn per_bucket(cumulative: &[(f64, u64)]) -> Vec<(f64, u64)> {
    let mut below = 0;
    cumulative
        .iter()
        .map(|&(bound, total)| {
            let own = total.saturating_sub(below);
            below = total;
            (bound, own)
        })
        .collect()
}

fn counter<V: EncodeCounterValue>(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    rows: &[(Labels, V)],
) -> Result<(), fmt::Error> {
    let mut metric = encoder.encode_descriptor(name, help, None, MetricType::Counter)?;
    for (labels, value) in rows {
        metric
            .encode_family(labels)?
            .encode_counter::<prometheus_client::encoding::NoLabelSet, _, u64>(value, None)?;
    }
    Ok(())
}

impl BrokerCollector {
    fn topic_labels(&self, topic: &TopicStats) -> Labels {
        vec![
            ("cluster", self.stats.cluster().to_owned()),
            ("namespace", namespace_of(topic.name())),
            ("topic", topic.name().to_owned()),
        ]
    }

    fn encode_topics(&self, encoder: &mut DescriptorEncoder) -> Result<(), fmt::Error> {
        use std::sync::atomic::Ordering::Relaxed;
        let topics = self.stats.topics();
        let rows = |f: &dyn Fn(&TopicStats) -> f64| -> Vec<(Labels, f64)> {
            topics
                .iter()
                .map(|t| (self.topic_labels(t), f(t)))
                .collect()
        };
        let sum_subs = |t: &TopicStats, f: &dyn Fn(&SubscriptionStats) -> f64| -> f64 {
            t.subscriptions().iter().map(|s| f(s)).sum()
        };
        let families: [Family; 9] = [
            (
                "pulsar_rate_in",
                "Messages published per second",
                rows(&|t| t.msgs_in.rate()),
            ),
            (
                "pulsar_rate_out",
                "Messages delivered per second",
                rows(&|t| sum_subs(t, &|s| s.msgs_out.rate())),
            ),
            (
                "pulsar_throughput_in",
                "Bytes published per second",
                rows(&|t| t.bytes_in.rate()),
            ),
            (
                "pulsar_throughput_out",
                "Bytes delivered per second",
                rows(&|t| sum_subs(t, &|s| s.bytes_out.rate())),
            ),
            (
                "pulsar_storage_size",
                "Bytes stored in the topic's log",
                rows(&|t| t.storage_size.load(Relaxed) as f64),
            ),
            (
                "pulsar_msg_backlog",
                "Entries not yet acknowledged, summed over subscriptions",
                rows(&|t| t.backlog() as f64),
            ),
            (
                "pulsar_producers_count",
                "Producers attached",
                rows(&|t| t.producers.load(Relaxed) as f64),
            ),
            (
                "pulsar_consumers_count",
                "Consumers attached",
                rows(&|t| sum_subs(t, &|s| s.consumers.load(Relaxed) as f64)),
            ),
            (
                "pulsar_subscriptions_count",
                "Subscriptions of the topic",
                rows(&|t| t.subscriptions().len() as f64),
            ),
        ];
        for (name, help, values) in &families {
            gauge(encoder, name, help, values)?;
        }
        let totals = |f: &dyn Fn(&TopicStats) -> u64| -> Vec<(Labels, u64)> {
            topics
                .iter()
                .map(|t| (self.topic_labels(t), f(t)))
                .collect()
        };
        counter(
            encoder,
            "pulsar_in_messages",
            "Messages published",
            &totals(&|t| t.msgs_in.total()),
        )?;
        counter(
            encoder,
            "pulsar_in_bytes",
            "Bytes published",
            &totals(&|t| t.bytes_in.total()),
        )
    }

    fn encode_subscriptions(&self, encoder: &mut DescriptorEncoder) -> Result<(), fmt::Error> {
        use std::sync::atomic::Ordering::Relaxed;
        let mut subs = Vec::new();
        for topic in self.stats.topics() {
            for sub in topic.subscriptions() {
                let mut labels = self.topic_labels(&topic);
                labels.push(("subscription", sub.name().to_owned()));
                subs.push((labels, sub));
            }
        }
        let rows = |f: &dyn Fn(&SubscriptionStats) -> f64| -> Vec<(Labels, f64)> {
            subs.iter().map(|(l, s)| (l.clone(), f(s))).collect()
        };
        let families: [Family; 8] = [
            (
                "pulsar_subscription_back_log",
                "Entries not yet acknowledged",
                rows(&|s| s.backlog.load(Relaxed) as f64),
            ),
            (
                "pulsar_subscription_unacked_messages",
                "Entries delivered and not yet acknowledged",
                rows(&|s| s.unacked.load(Relaxed) as f64),
            ),
            (
                "pulsar_subscription_delayed",
                "Messages waiting for their deliver-at time",
                rows(&|s| s.delayed.load(Relaxed) as f64),
            ),
            (
                "geminga_subscription_dead_lettered",
                "Messages the broker moved to the dead-letter topic since the subscription loaded",
                rows(&|s| s.dead_lettered.load(Relaxed) as f64),
            ),
            (
                "geminga_subscription_redeliveries",
                "Redeliveries counted since the subscription loaded",
                rows(&|s| s.redeliveries.load(Relaxed) as f64),
            ),
            (
                "pulsar_subscription_msg_rate_out",
                "Messages delivered per second",
                rows(&|s| s.msgs_out.rate()),
            ),
            (
                "pulsar_subscription_msg_throughput_out",
                "Bytes delivered per second",
                rows(&|s| s.bytes_out.rate()),
            ),
            (
                "pulsar_subscription_consumers_count",
                "Consumers attached",
                rows(&|s| s.consumers.load(Relaxed) as f64),
            ),
        ];
        for (name, help, values) in &families {
            gauge(encoder, name, help, values)?;
        }
        Ok(())
    }

    fn encode_actors(&self, encoder: &mut DescriptorEncoder) -> Result<(), fmt::Error> {
        use std::sync::atomic::Ordering::Relaxed;
        let tracker = &self.tracker;
        let labels = |kind: ActorKind| -> Labels { vec![("kind", kind.as_str().to_owned())] };
        let per_kind = |f: &dyn Fn(ActorKind) -> u64| -> Vec<(Labels, u64)> {
            ActorKind::ALL.iter().map(|k| (labels(*k), f(*k))).collect()
        };
        gauge(
            encoder,
            "geminga_actors_live",
            "Actors alive, by kind",
            &per_kind(&|k| tracker.kind(k).live.load(Relaxed)),
        )?;
        gauge(
            encoder,
            "geminga_actor_mailbox_depth",
            "Messages waiting in the mailboxes of the actors of a kind",
            &per_kind(&|k| tracker.mailbox_depth(k)),
        )?;
        counter(
            encoder,
            "geminga_actor_messages_handled",
            "Messages handled by actors of a kind",
            &per_kind(&|k| tracker.kind(k).handled.load(Relaxed)),
        )?;
        counter(encoder, "geminga_actor_restarts", "Restarts of actors of a kind (client-bound actors: failures their client recovers from)", &per_kind(&|k| tracker.kind(k).restarts.load(Relaxed)))?;
        counter(
            encoder,
            "geminga_actor_panics",
            "Panics caught at the boundary of actors of a kind",
            &per_kind(&|k| tracker.kind(k).panics.load(Relaxed)),
        )?;
        let mut metric = encoder.encode_descriptor(
            "geminga_actor_handler_latency_seconds",
            "Time spent in one message handler",
            None,
            MetricType::Histogram,
        )?;
        for kind in ActorKind::ALL {
            let h = tracker.kind(kind).latency.snapshot();
            histogram(metric.encode_family(&labels(kind))?, &h)?;
        }
        Ok(())
    }
}

impl BrokerCollector {
    /// The storage writer's group commits: where the time of a durable publish goes.
    fn encode_commits(&self, encoder: &mut DescriptorEncoder) -> Result<(), fmt::Error> {
        use std::sync::atomic::Ordering::Relaxed;
        let commits = self.tracker.commits();
        let histograms = [
            (
                "geminga_storage_commit_write_seconds",
                "Time to apply one group commit apart from making it durable (payload segment writes, journal write, memtable insert)",
                &commits.write,
            ),
            (
                "geminga_storage_commit_sync_seconds",
                "Time to make one group commit durable (fdatasync of the write-ahead log segment, or of the journal with payload segments off)",
                &commits.sync,
            ),
        ];
        for (name, help, histogram_of) in histograms {
            let metric = encoder.encode_descriptor(name, help, None, MetricType::Histogram)?;
            histogram(metric, &histogram_of.snapshot())?;
        }
        counter(
            encoder,
            "geminga_storage_committed_writes",
            "Writes (log appends, cursor updates) committed by group commits",
            &[(Vec::new(), commits.ops.load(Relaxed))],
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cumulative_buckets_become_per_bucket_counts() {
        let cumulative = [(0.001, 2), (0.01, 5), (0.1, 5), (f64::INFINITY, 6)];
        assert_eq!(
            per_bucket(&cumulative),
            vec![(0.001, 2), (0.01, 3), (0.1, 0), (f64::INFINITY, 1)]
        );
    }

    #[test]
    fn namespace_is_tenant_and_namespace() {
        assert_eq!(
            namespace_of("persistent://public/default/t"),
            "public/default"
        );
        assert_eq!(namespace_of("persistent://a/b/c/d"), "a/b");
        assert_eq!(namespace_of("nonsense"), "");
    }
}
