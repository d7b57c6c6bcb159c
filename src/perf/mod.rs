//! `geminga perf produce|consume|suite`: a load generator in the spirit of `pulsar-perf`, built
//! on the native [`crate::client`]. [`produce`] and [`consume`] run in-process (for benches and
//! tests); [`suite`] runs the scripted scenarios of the performance targets; [`run`] is the
//! command-line entry that prints progress and a final report.

mod args;
mod consume;
mod payload;
mod produce;
pub(crate) mod runtime;
mod sent_time;
mod stats;
pub mod suite;

use std::io::Write;
use std::time::Duration;

use tokio::sync::watch;

use crate::client::{BatchingOptions, ClientError};

pub use args::{
    ClientArgs, ConsumeArgs, PerfArgs, PerfCommand, ProduceArgs, SubscriptionPosition,
    SubscriptionType, DEFAULT_SERVICE_URL,
};
pub use sent_time::SENT_MICROS_PROPERTY;
pub use stats::{Latency, Report};

/// What `produce` does.
#[derive(Clone, Debug, PartialEq)]
pub struct ProduceOptions {
    /// `pulsar://host:port`.
    pub service_url: String,
    /// Topics; a partitioned topic is expanded to its partitions.
    pub topics: Vec<String>,
    /// Messages per second across all producers; 0 means unthrottled.
    pub rate: u64,
    /// Payload size in bytes.
    pub message_size: usize,
    /// The same compressible payload every time instead of distinct random letters.
    pub compressible_payload: bool,
    /// Stamp each message with its send time in microseconds (property
    /// [`SENT_MICROS_PROPERTY`]), so `perf consume` measures end-to-end latency at that
    /// resolution instead of `publish_time`'s milliseconds.
    pub stamp_send_time: bool,
    /// Producers per topic (per partition for partitioned topics).
    pub producers_per_topic: usize,
    /// Messages to publish in total; 0 means no limit.
    pub num_messages: u64,
    /// Stop after this long.
    pub duration: Option<Duration>,
    /// Batching; `None` sends one message per SEND.
    pub batching: Option<BatchingOptions>,
    /// Sends awaiting a receipt, per producer.
    pub max_outstanding: usize,
    /// Print a progress line this often; `None` prints nothing.
    pub stats_interval: Option<Duration>,
}

impl ProduceOptions {
    /// `pulsar-perf`-like defaults for one topic, quiet, unthrottled, batching on.
    #[must_use]
    pub fn new(service_url: impl Into<String>, topic: impl Into<String>) -> Self {
        ProduceOptions {
            service_url: service_url.into(),
            topics: vec![topic.into()],
            rate: 0,
            message_size: 1024,
            compressible_payload: false,
            stamp_send_time: false,
            producers_per_topic: 1,
            num_messages: 0,
            duration: None,
            batching: Some(BatchingOptions::default()),
            max_outstanding: 1000,
            stats_interval: None,
        }
    }
}

/// What `consume` does.
#[derive(Clone, Debug, PartialEq)]
pub struct ConsumeOptions {
    /// `pulsar://host:port`.
    pub service_url: String,
    /// Topics; a partitioned topic is expanded to its partitions.
    pub topics: Vec<String>,
    /// Subscription name.
    pub subscription: String,
    /// Subscription type.
    pub subscription_type: SubscriptionType,
    /// Where a new subscription starts.
    pub subscription_position: SubscriptionPosition,
    /// Consumers per topic (per partition for partitioned topics).
    pub consumers_per_topic: usize,
    /// Permits per consumer.
    pub receiver_queue_size: u32,
    /// Stop after this many messages in total; 0 means no limit.
    pub num_messages: u64,
    /// Stop after this long.
    pub duration: Option<Duration>,
    /// Print a progress line this often; `None` prints nothing.
    pub stats_interval: Option<Duration>,
}

impl ConsumeOptions {
    /// Defaults for one topic: Exclusive subscription `sub` from Earliest, quiet.
    #[must_use]
    pub fn new(service_url: impl Into<String>, topic: impl Into<String>) -> Self {
        ConsumeOptions {
            service_url: service_url.into(),
            topics: vec![topic.into()],
            subscription: "sub".to_owned(),
            subscription_type: SubscriptionType::Exclusive,
            subscription_position: SubscriptionPosition::Earliest,
            consumers_per_topic: 1,
            receiver_queue_size: 1000,
            num_messages: 0,
            duration: None,
            stats_interval: None,
        }
    }
}

/// Why a perf run failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PerfError {
    /// An option is out of range; fix the flag.
    #[error("invalid {option}: {reason}")]
    InvalidOption {
        /// The flag.
        option: &'static str,
        /// What a valid value looks like.
        reason: String,
    },
    /// The client failed (connect, lookup, producer or consumer creation, lost connection).
    #[error(transparent)]
    Client(#[from] ClientError),
    /// The tokio runtime could not be started.
    #[error("cannot start the runtime: {0}")]
    Runtime(#[source] std::io::Error),
    /// A scenario of `perf suite` failed.
    #[error("perf suite: {0}")]
    Suite(#[from] suite::SuiteError),
}

/// Publishes per `options` and returns the aggregate report. Runs until `num_messages` or
/// `duration` is reached (forever if neither is set).
///
/// # Errors
/// [`PerfError`] when connecting or creating a producer fails, or a connection is lost.
pub async fn produce(options: &ProduceOptions) -> Result<Report, PerfError> {
    produce::run(options, watch::channel(false).1).await
}

/// Consumes per `options` and returns the aggregate report. Runs until `num_messages` or
/// `duration` is reached (forever if neither is set).
///
/// # Errors
/// [`PerfError`] when connecting or subscribing fails, or a connection is lost.
pub async fn consume(options: &ConsumeOptions) -> Result<Report, PerfError> {
    consume::run(options, watch::channel(false).1).await
}

/// Runs a `geminga perf` command on its own runtime until its limits or Ctrl-C, printing
/// progress lines and a final report on stdout.
///
/// # Errors
/// Invalid options, or any [`PerfError`] of the run.
pub fn run(args: PerfArgs) -> Result<(), PerfError> {
    if let PerfCommand::Suite(suite_args) = &args.command {
        // The suite drives its own runtime between blocking steps (disk, child processes).
        return suite::run(suite_args);
    }
    let io_threads = match &args.command {
        PerfCommand::Produce(args) => args.client.num_io_threads,
        PerfCommand::Consume(args) => args.client.num_io_threads,
        PerfCommand::Suite(_) => None,
    };
    runtime::client_runtime(io_threads.map(usize::from))?.block_on(async move {
        let (stop_tx, stop) = watch::channel(false);
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                let _ = stop_tx.send(true);
            }
        });
        let (label, report) = match args.command {
            PerfCommand::Produce(args) => {
                ("produced", produce::run(&args.to_options()?, stop).await?)
            }
            PerfCommand::Consume(args) => {
                ("consumed", consume::run(&args.to_options()?, stop).await?)
            }
            PerfCommand::Suite(_) => return Ok(()),
        };
        print_line(&format!("Aggregated {label}: {report}"));
        Ok(())
    })
}

/// Writes one report line to stdout; a closed stdout (e.g. `| head`) is not an error worth
/// stopping the load for.
fn print_line(line: &str) {
    let _ = writeln!(std::io::stdout().lock(), "{line}");
}

/// Prints a progress line every `interval` until `stop` flips.
async fn print_progress(
    stats: std::sync::Arc<stats::Stats>,
    label: &'static str,
    interval: Duration,
    mut stop: watch::Receiver<bool>,
) {
    let mut ticker = tokio::time::interval_at(tokio::time::Instant::now() + interval, interval);
    loop {
        tokio::select! {
            _ = ticker.tick() => print_line(&format!("{label}: {}", stats.roll_interval())),
            _ = stop.wait_for(|stopped| *stopped) => return,
        }
    }
}

/// Flips `stop` after `duration`, or never.
fn stop_after(duration: Option<Duration>, stop: &std::sync::Arc<watch::Sender<bool>>) {
    if let Some(duration) = duration {
        let stop = stop.clone();
        tokio::spawn(async move {
            tokio::time::sleep(duration).await;
            let _ = stop.send(true);
        });
    }
}

#[cfg(test)]
mod tests;
