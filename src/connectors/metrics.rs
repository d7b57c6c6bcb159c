//! Connector metrics on `/metrics`, with Pulsar's function-worker names and labels
//! (`pulsar_source_received_total`, `pulsar_sink_written_total`, ... labelled `tenant`,
//! `namespace`, `name`, `instance_id`, `cluster`, `fqfn`), read at scrape time.

use std::{
    fmt,
    sync::{atomic::Ordering::Relaxed, Arc},
};

use prometheus_client::{
    collector::Collector,
    encoding::{DescriptorEncoder, EncodeMetric},
    metrics::{counter::ConstCounter, gauge::ConstGauge},
};

use super::{config::ConnectorKind, runtime::RuntimeEnv, status::InstanceStatus};

type Labels = Vec<(&'static str, String)>;

/// Reads every instance's counters at scrape time.
#[derive(Debug)]
pub struct ConnectorCollector {
    env: Arc<RuntimeEnv>,
}

impl ConnectorCollector {
    /// A collector over a runtime's table.
    pub fn new(env: Arc<RuntimeEnv>) -> Self {
        Self { env }
    }

    fn rows(&self, kind: ConnectorKind) -> Vec<(Labels, Arc<InstanceStatus>)> {
        let cluster = self.env.context.config().cluster_name.clone();
        self.env
            .table()
            .iter()
            .filter(|(id, _)| id.kind == kind)
            .flat_map(|(id, connector)| {
                let cluster = cluster.clone();
                connector.instances.iter().map(move |(i, slot)| {
                    let labels = vec![
                        ("tenant", id.tenant.clone()),
                        ("namespace", format!("{}/{}", id.tenant, id.namespace)),
                        ("name", id.name.clone()),
                        ("instance_id", i.to_string()),
                        ("cluster", cluster.clone()),
                        ("fqfn", id.fqn()),
                    ];
                    (labels, slot.status.clone())
                })
            })
            .collect()
    }
}

/// One counter family: name suffix, help, and the value read from an instance.
type CounterFamily = (&'static str, &'static str, fn(&InstanceStatus) -> u64);
/// One gauge family: name suffix, help, and the value read from an instance.
type GaugeFamily = (&'static str, &'static str, fn(&InstanceStatus) -> i64);

impl Collector for ConnectorCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), fmt::Error> {
        for kind in [ConnectorKind::Source, ConnectorKind::Sink] {
            let rows = self.rows(kind);
            let prefix = format!("pulsar_{}", kind.as_str());
            let external = match kind {
                ConnectorKind::Source => "source_exceptions",
                ConnectorKind::Sink => "sink_exceptions",
            };
            let counters: [CounterFamily; 5] = [
                ("received", "Records received", |s| s.received.load(Relaxed)),
                ("written", "Records written", |s| s.written.load(Relaxed)),
                (external, "Failures of the external system", |s| {
                    s.connector_errors.load(Relaxed)
                }),
                (
                    "system_exceptions",
                    "Failures of the broker or runtime",
                    |s| s.system_errors.load(Relaxed),
                ),
                ("restarts", "Instance restarts", |s| {
                    s.restarts.load(Relaxed)
                }),
            ];
            for (suffix, help, read) in counters {
                let name = format!("{prefix}_{suffix}");
                let mut metric = encoder.encode_descriptor(
                    &name,
                    help,
                    None,
                    prometheus_client::metrics::MetricType::Counter,
                )?;
                for (labels, status) in &rows {
                    ConstCounter::new(read(status)).encode(metric.encode_family(labels)?)?;
                }
            }
            let gauges: [GaugeFamily; 2] = [
                (
                    "last_invocation",
                    "When the last record was written, epoch ms",
                    |s| i64::try_from(s.last_written_ms.load(Relaxed)).unwrap_or(i64::MAX),
                ),
                ("running", "1 while the instance runs", |s| {
                    i64::from(s.running.load(Relaxed))
                }),
            ];
            for (suffix, help, read) in gauges {
                let name = format!("{prefix}_{suffix}");
                let mut metric = encoder.encode_descriptor(
                    &name,
                    help,
                    None,
                    prometheus_client::metrics::MetricType::Gauge,
                )?;
                for (labels, status) in &rows {
                    ConstGauge::new(read(status)).encode(metric.encode_family(labels)?)?;
                }
            }
        }
        Ok(())
    }
}
