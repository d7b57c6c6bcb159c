//! `geminga perf` command-line arguments, named and defaulted like `pulsar-perf`.

use std::time::Duration;

use clap::{Args, Subcommand, ValueEnum};

use super::{ConsumeOptions, PerfError, ProduceOptions};
use crate::client::BatchingOptions;

/// Default service URL of both perf commands.
pub const DEFAULT_SERVICE_URL: &str = "pulsar://127.0.0.1:6650";

/// `geminga perf ...`.
#[derive(Clone, Debug, Args)]
pub struct PerfArgs {
    /// Which side of the load to generate.
    #[command(subcommand)]
    pub command: PerfCommand,
}

/// The perf subcommands.
#[derive(Clone, Debug, Subcommand)]
#[non_exhaustive]
pub enum PerfCommand {
    /// Publish messages and report rate, throughput and publish latency.
    Produce(ProduceArgs),
    /// Consume messages and report rate, throughput and end-to-end latency.
    Consume(ConsumeArgs),
    /// Run every performance scenario against a broker child process and print a table.
    Suite(super::suite::SuiteArgs),
}

/// Flags both perf commands take.
#[derive(Clone, Debug, Args)]
pub struct ClientArgs {
    /// Pulsar service URL.
    #[arg(short = 'u', long, default_value = DEFAULT_SERVICE_URL)]
    pub service_url: String,
    /// Test duration in seconds; 0 means until interrupted or `-m` is reached.
    #[arg(short = 't', long, default_value_t = 0)]
    pub test_duration: u64,
    /// Seconds between progress lines; 0 disables them.
    #[arg(short = 'i', long, default_value_t = 5)]
    pub stats_interval: u64,
    /// Threads the client runs on (`pulsar-perf`'s `--num-io-threads`); default one per
    /// core. 1 runs everything on one thread: fewer wake-ups, so a shorter latency tail at a
    /// steady rate on one topic, but too few for hundreds of topics.
    #[arg(long, alias = "ioThreads", value_parser = clap::value_parser!(u16).range(1..))]
    pub num_io_threads: Option<u16>,
}

/// `geminga perf produce`.
#[derive(Clone, Debug, Args)]
pub struct ProduceArgs {
    /// Service URL, duration, progress and client threads.
    #[command(flatten)]
    pub client: ClientArgs,
    /// Topics to publish to (a partitioned topic gets a producer per partition).
    #[arg(required = true, value_name = "TOPIC")]
    pub topics: Vec<String>,
    /// Publish rate in msg/s across all producers; 0 means as fast as possible.
    #[arg(short = 'r', long, default_value_t = 100)]
    pub rate: u64,
    /// Message size in bytes.
    #[arg(short = 's', long, default_value_t = 1024)]
    pub size: usize,
    /// Send the same run of `x`s every time instead of distinct random letters per message
    /// (compresses to almost nothing, so it overstates what the disk can take).
    #[arg(long)]
    pub compressible_payload: bool,
    /// Stamp each message with its send time in microseconds (a property), so `perf consume`
    /// measures end-to-end latency in microseconds instead of whole milliseconds.
    #[arg(long)]
    pub stamp_send_time: bool,
    /// Producers per topic.
    #[arg(short = 'n', long, default_value_t = 1)]
    pub num_producers: usize,
    /// Messages to publish in total; 0 means no limit.
    #[arg(short = 'm', long, default_value_t = 0)]
    pub num_messages: u64,
    /// Send one message per SEND instead of batching.
    #[arg(long)]
    pub disable_batching: bool,
    /// Longest a batch waits for more messages, in milliseconds.
    #[arg(short = 'b', long, default_value_t = 1.0)]
    pub batch_time_window: f64,
    /// Most messages in one batch.
    #[arg(long, default_value_t = 1000)]
    pub batch_max_messages: usize,
    /// Most payload bytes in one batch.
    #[arg(long, default_value_t = 128 * 1024)]
    pub batch_max_bytes: usize,
    /// Most messages awaiting a receipt, per producer.
    #[arg(short = 'o', long, default_value_t = 1000)]
    pub max_outstanding: usize,
}

/// `geminga perf consume`.
#[derive(Clone, Debug, Args)]
pub struct ConsumeArgs {
    /// Service URL, duration, progress and client threads.
    #[command(flatten)]
    pub client: ClientArgs,
    /// Topics to consume from (a partitioned topic gets consumers per partition).
    #[arg(required = true, value_name = "TOPIC")]
    pub topics: Vec<String>,
    /// Subscription name (`-ss`).
    #[arg(long, default_value = "sub")]
    pub subscriptions: String,
    /// Subscription type (`-st`).
    #[arg(long, value_enum, ignore_case = true, default_value = "Exclusive")]
    pub subscription_type: SubscriptionType,
    /// Where a new subscription starts (`-sp`).
    #[arg(long, value_enum, ignore_case = true, default_value = "Latest")]
    pub subscription_position: SubscriptionPosition,
    /// Consumers per topic.
    #[arg(short = 'n', long, default_value_t = 1)]
    pub num_consumers: usize,
    /// Permits each consumer grants (its receiver queue).
    #[arg(short = 'q', long, default_value_t = 1000)]
    pub receiver_queue_size: u32,
    /// Messages to consume in total before stopping; 0 means no limit.
    #[arg(short = 'm', long, default_value_t = 0)]
    pub num_messages: u64,
}

/// Pulsar subscription types, spelled as `pulsar-perf` spells them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
#[non_exhaustive]
pub enum SubscriptionType {
    /// One consumer at a time.
    #[value(name = "Exclusive")]
    Exclusive,
    /// Round-robin across consumers.
    #[value(name = "Shared")]
    Shared,
    /// One active consumer, others on standby.
    #[value(name = "Failover")]
    Failover,
    /// Messages of one key go to one consumer.
    #[value(name = "Key_Shared")]
    KeyShared,
}

/// Where a new durable subscription starts reading.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
#[non_exhaustive]
pub enum SubscriptionPosition {
    /// Only messages published after subscribing.
    #[value(name = "Latest")]
    Latest,
    /// Everything still stored.
    #[value(name = "Earliest")]
    Earliest,
}

/// Seconds to an optional duration, where 0 means "none".
fn secs(value: u64) -> Option<Duration> {
    (value > 0).then(|| Duration::from_secs(value))
}

impl ProduceArgs {
    /// Validates the flags into [`ProduceOptions`].
    ///
    /// # Errors
    /// [`PerfError::InvalidOption`] for zero producers, zero outstanding messages, a negative or
    /// non-finite batch window, or an empty batch limit.
    pub fn to_options(&self) -> Result<ProduceOptions, PerfError> {
        let invalid = |option: &'static str, reason: &str| PerfError::InvalidOption {
            option,
            reason: reason.to_owned(),
        };
        if self.num_producers == 0 {
            return Err(invalid("--num-producers", "must be at least 1"));
        }
        if self.max_outstanding == 0 {
            return Err(invalid("--max-outstanding", "must be at least 1"));
        }
        let batching = if self.disable_batching {
            None
        } else {
            if !(self.batch_time_window.is_finite() && self.batch_time_window >= 0.0) {
                return Err(invalid(
                    "--batch-time-window",
                    "must be a non-negative number",
                ));
            }
            if self.batch_max_messages == 0 || self.batch_max_bytes == 0 {
                return Err(invalid(
                    "--batch-max-messages",
                    "batch limits must be at least 1",
                ));
            }
            Some(BatchingOptions {
                max_messages: self.batch_max_messages,
                max_bytes: self.batch_max_bytes,
                max_delay: Duration::from_secs_f64(self.batch_time_window / 1000.0),
            })
        };
        Ok(ProduceOptions {
            service_url: self.client.service_url.clone(),
            topics: self.topics.clone(),
            rate: self.rate,
            message_size: self.size,
            compressible_payload: self.compressible_payload,
            stamp_send_time: self.stamp_send_time,
            producers_per_topic: self.num_producers,
            num_messages: self.num_messages,
            duration: secs(self.client.test_duration),
            batching,
            max_outstanding: self.max_outstanding,
            stats_interval: secs(self.client.stats_interval),
        })
    }
}

impl ConsumeArgs {
    /// Validates the flags into [`ConsumeOptions`].
    ///
    /// # Errors
    /// [`PerfError::InvalidOption`] for zero consumers or a zero receiver queue.
    pub fn to_options(&self) -> Result<ConsumeOptions, PerfError> {
        if self.num_consumers == 0 {
            return Err(PerfError::InvalidOption {
                option: "--num-consumers",
                reason: "must be at least 1".to_owned(),
            });
        }
        if self.receiver_queue_size == 0 {
            return Err(PerfError::InvalidOption {
                option: "--receiver-queue-size",
                reason: "must be at least 1".to_owned(),
            });
        }
        Ok(ConsumeOptions {
            service_url: self.client.service_url.clone(),
            topics: self.topics.clone(),
            subscription: self.subscriptions.clone(),
            subscription_type: self.subscription_type,
            subscription_position: self.subscription_position,
            consumers_per_topic: self.num_consumers,
            receiver_queue_size: self.receiver_queue_size,
            num_messages: self.num_messages,
            duration: secs(self.client.test_duration),
            stats_interval: secs(self.client.stats_interval),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::{try_parse_from, Command};

    fn perf(args: &[&str]) -> PerfCommand {
        let mut full = vec!["geminga", "perf"];
        full.extend_from_slice(args);
        match try_parse_from(full).unwrap().into_command() {
            Command::Perf(p) => p.command,
            other => panic!("expected perf, got {other:?}"),
        }
    }

    fn produce(args: &[&str]) -> ProduceArgs {
        match perf(args) {
            PerfCommand::Produce(a) => a,
            other => panic!("expected produce, got {other:?}"),
        }
    }

    #[test]
    fn produce_defaults_match_pulsar_perf() {
        let opts = produce(&["produce", "my-topic"]).to_options().unwrap();
        assert_eq!(opts.service_url, "pulsar://127.0.0.1:6650");
        assert_eq!(opts.topics, ["my-topic"]);
        assert_eq!(opts.rate, 100);
        assert_eq!(opts.message_size, 1024);
        assert_eq!(opts.producers_per_topic, 1);
        assert_eq!(opts.num_messages, 0);
        assert_eq!(opts.duration, None);
        assert_eq!(opts.max_outstanding, 1000);
        assert_eq!(opts.stats_interval, Some(Duration::from_secs(5)));
        let batching = opts.batching.unwrap();
        assert_eq!(batching.max_messages, 1000);
        assert_eq!(batching.max_bytes, 128 * 1024);
        assert_eq!(batching.max_delay, Duration::from_millis(1));
    }

    #[test]
    fn produce_short_flags() {
        let args = produce(&[
            "produce",
            "-u",
            "pulsar://h:1",
            "-r",
            "0",
            "-s",
            "10",
            "-n",
            "3",
            "-m",
            "99",
            "-t",
            "7",
            "-b",
            "2.5",
            "-o",
            "5",
            "-i",
            "0",
            "t1",
            "t2",
        ]);
        let opts = args.to_options().unwrap();
        assert_eq!(opts.service_url, "pulsar://h:1");
        assert_eq!(opts.topics, ["t1", "t2"]);
        assert_eq!(
            (opts.rate, opts.message_size, opts.producers_per_topic),
            (0, 10, 3)
        );
        assert_eq!(opts.num_messages, 99);
        assert_eq!(opts.duration, Some(Duration::from_secs(7)));
        assert_eq!(opts.max_outstanding, 5);
        assert_eq!(opts.stats_interval, None);
        assert_eq!(
            opts.batching.unwrap().max_delay,
            Duration::from_micros(2500)
        );
    }

    #[test]
    fn produce_disable_batching_and_limits() {
        let opts = produce(&[
            "produce",
            "--disable-batching",
            "--batch-max-messages",
            "0",
            "t",
        ])
        .to_options()
        .unwrap();
        assert!(
            opts.batching.is_none(),
            "limits are ignored when batching is off"
        );
        let err = produce(&["produce", "--batch-max-bytes", "0", "t"]).to_options();
        assert!(matches!(err, Err(PerfError::InvalidOption { .. })));
        let err = produce(&["produce", "-n", "0", "t"]).to_options();
        assert!(matches!(
            err,
            Err(PerfError::InvalidOption {
                option: "--num-producers",
                ..
            })
        ));
        let err = produce(&["produce", "--batch-time-window=-1", "t"]).to_options();
        assert!(matches!(err, Err(PerfError::InvalidOption { .. })));
    }

    #[test]
    fn produce_requires_a_topic() {
        assert!(try_parse_from(["geminga", "perf", "produce"]).is_err());
    }

    #[test]
    fn consume_defaults_and_flags() {
        let PerfCommand::Consume(args) = perf(&["consume", "t"]) else {
            panic!("expected consume");
        };
        let opts = args.to_options().unwrap();
        assert_eq!(opts.subscription, "sub");
        assert_eq!(opts.subscription_type, SubscriptionType::Exclusive);
        assert_eq!(opts.subscription_position, SubscriptionPosition::Latest);
        assert_eq!(
            (opts.consumers_per_topic, opts.receiver_queue_size),
            (1, 1000)
        );

        let PerfCommand::Consume(args) = perf(&[
            "consume", "-st", "shared", "-n", "2", "-q", "10", "-t", "3", "-m", "5", "t",
        ]) else {
            panic!("expected consume");
        };
        let opts = args.to_options().unwrap();
        assert_eq!(opts.subscription_type, SubscriptionType::Shared);
        assert_eq!(
            (opts.consumers_per_topic, opts.receiver_queue_size),
            (2, 10)
        );
        assert_eq!(opts.duration, Some(Duration::from_secs(3)));
        assert_eq!(opts.num_messages, 5);

        let PerfCommand::Consume(args) = perf(&["consume", "-q", "0", "t"]) else {
            panic!("expected consume");
        };
        assert!(args.to_options().is_err());
        assert!(try_parse_from(["geminga", "perf", "consume", "-st", "Nope", "t"]).is_err());
    }

    #[test]
    fn io_threads_are_one_per_core_unless_asked() {
        assert_eq!(produce(&["produce", "t"]).client.num_io_threads, None);
        assert_eq!(
            produce(&["produce", "--num-io-threads", "1", "t"])
                .client
                .num_io_threads,
            Some(1)
        );
        let PerfCommand::Consume(args) = perf(&["consume", "--ioThreads", "3", "t"]) else {
            panic!("expected consume");
        };
        assert_eq!(args.client.num_io_threads, Some(3));
        for command in ["produce", "consume"] {
            let zero = ["geminga", "perf", command, "--num-io-threads", "0", "t"];
            assert!(try_parse_from(zero).is_err(), "{command} took 0 threads");
        }
    }
}
