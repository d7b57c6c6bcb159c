//! `geminga perf suite`: the scripted scenarios of the performance issue (disk reference,
//! publish and end-to-end throughput, latency at a steady rate, scale, catch-up, start-up)
//! against a broker child process, printed as they finish and then as one markdown table.

mod broker_proc;
mod disk;
mod procfs;
mod scale;
mod scenarios;
mod table;

use std::path::PathBuf;

use clap::Args;

use super::{print_line, PerfError};
use crate::cli::admin_http::AdminError;
use crate::client::ClientError;

pub use broker_proc::BrokerProcess;
pub use procfs::Machine;
pub use table::Row;

/// Bytes a stored 1 KiB message is assumed to take at most (payload uncompressed, metadata,
/// index), when checking the free space. Compressible payloads take far less once flushed; the
/// start-up row states the real figure.
const STORED_MESSAGE_BYTES: u64 = 1200;

/// `geminga perf suite`: every size has a flag; `--quick` shrinks the defaults.
#[derive(Clone, Debug, Default, Args)]
pub struct SuiteArgs {
    /// Small sizes so the whole suite takes under two minutes (figures are noisier).
    #[arg(long)]
    pub quick: bool,
    /// Directory on the filesystem to measure; the suite works in a fresh subdirectory of it
    /// and removes it at the end. Default: the system temp directory.
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// MiB written for the sequential disk write speed.
    #[arg(long)]
    pub disk_mib: Option<u64>,
    /// 4 KiB write + fdatasync rounds for the fsync latency.
    #[arg(long)]
    pub fsyncs: Option<usize>,
    /// Messages of each throughput run (publish, end-to-end).
    #[arg(long)]
    pub messages: Option<u64>,
    /// Seconds of the steady-rate latency run.
    #[arg(long)]
    pub latency_secs: Option<u64>,
    /// Rate of the latency run, msg/s.
    #[arg(long)]
    pub latency_rate: Option<u64>,
    /// Idle topics, each with one producer and one consumer.
    #[arg(long)]
    pub topics: Option<usize>,
    /// Subscriptions created on one topic.
    #[arg(long)]
    pub subscriptions: Option<usize>,
    /// Messages of the catch-up backlog (also the stored data of the start-up run).
    #[arg(long)]
    pub backlog: Option<u64>,
    /// Topics the backlog is spread over.
    #[arg(long)]
    pub backlog_topics: Option<usize>,
}

/// The sizes one run uses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sizes {
    /// Bytes of the sequential disk write.
    pub disk_bytes: u64,
    /// Rounds of the fsync probe.
    pub fsyncs: usize,
    /// Messages per throughput run.
    pub messages: u64,
    /// Seconds of the latency run.
    pub latency_secs: u64,
    /// msg/s of the latency run.
    pub latency_rate: u64,
    /// Idle topics.
    pub topics: usize,
    /// Subscriptions on one topic.
    pub subscriptions: usize,
    /// Messages of the backlog.
    pub backlog: u64,
    /// Topics of the backlog.
    pub backlog_topics: usize,
}

impl Sizes {
    /// The sizes (10,000 topics, 100k subscriptions, 10M messages on 1,000 topics).
    #[must_use]
    pub fn full() -> Self {
        Sizes {
            disk_bytes: 1 << 30,
            fsyncs: 1000,
            messages: 3_000_000,
            // Long enough for several memtable flushes and a payload segment's deletion:
            // 30 s runs measured a p99 a third of the 90 s one.
            latency_secs: 90,
            latency_rate: 10_000,
            topics: 10_000,
            subscriptions: 100_000,
            backlog: 10_000_000,
            backlog_topics: 1000,
        }
    }

    /// Sizes for a run of under two minutes.
    #[must_use]
    pub fn quick() -> Self {
        Sizes {
            disk_bytes: 256 << 20,
            fsyncs: 300,
            messages: 300_000,
            latency_secs: 10,
            latency_rate: 10_000,
            topics: 2000,
            subscriptions: 10_000,
            backlog: 500_000,
            backlog_topics: 100,
        }
    }

    /// The preset chosen by `--quick`, with each given flag overriding it.
    #[must_use]
    pub fn from_args(args: &SuiteArgs) -> Self {
        let base = if args.quick {
            Sizes::quick()
        } else {
            Sizes::full()
        };
        Sizes {
            disk_bytes: args.disk_mib.map_or(base.disk_bytes, |m| m.max(1) << 20),
            fsyncs: args.fsyncs.unwrap_or(base.fsyncs).max(1),
            messages: args.messages.unwrap_or(base.messages).max(1),
            latency_secs: args.latency_secs.unwrap_or(base.latency_secs).max(1),
            latency_rate: args.latency_rate.unwrap_or(base.latency_rate).max(1),
            topics: args.topics.unwrap_or(base.topics).max(1),
            subscriptions: args.subscriptions.unwrap_or(base.subscriptions).max(1),
            backlog: args.backlog.unwrap_or(base.backlog).max(1),
            backlog_topics: args.backlog_topics.unwrap_or(base.backlog_topics).max(1),
        }
    }

    /// Shrinks the backlog to what half of `available` bytes can hold; returns a note when it
    /// did. The other half stays free for everything else on the machine.
    pub fn fit_backlog(&mut self, available: Option<u64>) -> Option<String> {
        let available = available?;
        let most = available / 2 / STORED_MESSAGE_BYTES;
        if self.backlog <= most {
            return None;
        }
        let note = format!(
            "note: {} free and the suite uses at most half of it; the {}-message backlog \
             (about {} at peak) is scaled down to {most} messages",
            table::mib(available),
            self.backlog,
            table::mib(self.backlog.saturating_mul(STORED_MESSAGE_BYTES)),
        );
        self.backlog = most.max(1);
        Some(note)
    }
}

/// Why the suite stopped.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SuiteError {
    /// A file of the suite could not be created, written or synced.
    #[error("{context}: {source}")]
    Io {
        /// What was being done, with the path.
        context: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The broker child could not be started, or disappeared.
    #[error("broker process: {reason}")]
    Broker {
        /// What went wrong.
        reason: String,
    },
    /// A load run (produce or consume) failed.
    #[error("load run: {0}")]
    Load(#[source] Box<PerfError>),
    /// The native client failed outside a load run.
    #[error(transparent)]
    Client(#[from] ClientError),
    /// An admin REST request failed.
    #[error("admin API: {0}")]
    Admin(#[from] AdminError),
    /// A task of the suite panicked or was cancelled.
    #[error("suite task failed: {reason}")]
    Task {
        /// The join error.
        reason: String,
    },
}

impl From<PerfError> for SuiteError {
    fn from(error: PerfError) -> Self {
        SuiteError::Load(Box::new(error))
    }
}

/// Collects rows, printing each as it is measured.
#[derive(Debug, Default)]
pub struct Recorder {
    rows: Vec<Row>,
}

impl Recorder {
    /// Prints `row` and keeps it for the final table.
    pub fn push(&mut self, row: Row) {
        let verdict = match row.met {
            Some(met) => format!(
                " (target {}) [{}]",
                row.target,
                if met { "met" } else { "NOT met" }
            ),
            None => String::new(),
        };
        print_line(&format!("== {}: {}{verdict}", row.scenario, row.measured));
        self.rows.push(row);
    }

    /// The rows so far.
    #[must_use]
    pub fn rows(&self) -> &[Row] {
        &self.rows
    }
}

/// Runs every scenario and prints the table (also after a failure, with the rows measured so
/// far).
///
/// # Errors
/// [`SuiteError`] of the first scenario that failed, as [`PerfError::Suite`].
pub fn run(args: &SuiteArgs) -> Result<(), PerfError> {
    let mut sizes = Sizes::from_args(args);
    let machine = Machine::current().describe();
    print_line(&format!("machine: {machine}"));
    let base = args.data_dir.clone().unwrap_or_else(std::env::temp_dir);
    let root = base.join(format!("geminga-suite-{}", std::process::id()));
    std::fs::create_dir_all(&root).map_err(|source| SuiteError::Io {
        context: format!("creating {}", root.display()),
        source,
    })?;
    if let Some(note) = sizes.fit_backlog(procfs::available_bytes(&root)) {
        print_line(&note);
    }
    print_line(&format!("sizes: {sizes:?}; working in {}", root.display()));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(PerfError::Runtime)?;
    let mut recorder = Recorder::default();
    let result = scenarios::all(&runtime, &root, &sizes, &mut recorder);
    drop(runtime);
    if result.is_ok() {
        let _ = std::fs::remove_dir_all(&root);
    } else {
        // The broker logs explain a failure; only the (possibly large) data goes.
        for data in scenarios::DATA_DIRS {
            let _ = std::fs::remove_dir_all(root.join(data));
        }
        print_line(&format!("broker logs kept in {}", root.display()));
    }
    print_line("");
    print_line(&table::markdown(&machine, recorder.rows()));
    result.map_err(PerfError::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quick_flag_and_overrides() {
        let args = SuiteArgs {
            quick: true,
            topics: Some(7),
            disk_mib: Some(3),
            ..SuiteArgs::default()
        };
        let sizes = Sizes::from_args(&args);
        assert_eq!(sizes.topics, 7);
        assert_eq!(sizes.disk_bytes, 3 << 20);
        assert_eq!(sizes.backlog, Sizes::quick().backlog);
        assert_eq!(Sizes::from_args(&SuiteArgs::default()), Sizes::full());
        let zero = SuiteArgs {
            fsyncs: Some(0),
            ..SuiteArgs::default()
        };
        assert_eq!(
            Sizes::from_args(&zero).fsyncs,
            1,
            "zero would divide nothing"
        );
    }

    #[test]
    fn parses_from_the_command_line() {
        use crate::cli::{try_parse_from, Command};
        use crate::perf::PerfCommand;
        let cli = try_parse_from([
            "geminga",
            "perf",
            "suite",
            "--quick",
            "--topics",
            "5",
            "--data-dir",
            "/mnt/fast",
        ])
        .unwrap();
        let Command::Perf(perf) = cli.into_command() else {
            panic!("expected perf");
        };
        let PerfCommand::Suite(args) = perf.command else {
            panic!("expected suite");
        };
        assert!(args.quick);
        assert_eq!(args.data_dir, Some(PathBuf::from("/mnt/fast")));
        assert_eq!(Sizes::from_args(&args).topics, 5);
        assert!(try_parse_from(["geminga", "perf", "suite", "--topics", "many"]).is_err());
    }

    #[test]
    fn backlog_is_scaled_to_the_free_space() {
        let mut sizes = Sizes::full();
        assert_eq!(sizes.fit_backlog(None), None);
        let plenty = 10_000_000 * STORED_MESSAGE_BYTES * 2;
        assert_eq!(sizes.fit_backlog(Some(plenty)), None);
        assert_eq!(sizes.backlog, 10_000_000);
        let note = sizes.fit_backlog(Some(plenty / 10)).unwrap();
        assert_eq!(sizes.backlog, 1_000_000);
        assert!(note.contains("scaled down to 1000000"), "{note}");
        sizes.fit_backlog(Some(0));
        assert_eq!(sizes.backlog, 1, "never zero");
    }
}
