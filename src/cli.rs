//! Command line: `geminga [standalone] [flags]` and `geminga perf produce|consume`.

use std::ffi::OsString;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::config::{parse_host_port, BrokerConfig, ConfigError};

pub mod admin;
pub mod admin_connectors;
pub mod admin_http;
pub mod admin_ns_policies;
pub mod admin_partitioned;
pub mod admin_tenancy;
pub mod client_cmd;
pub mod ns_policies;
pub mod policy_args;
pub mod schemas;
pub mod tokens;
pub mod topics;
pub mod topics_admission;
pub mod topics_http;
pub mod topics_policies;
pub mod topics_storage;
use crate::perf::PerfArgs;

/// The parsed command line. Without a subcommand the top-level flags run `standalone`.
#[derive(Debug, Parser)]
#[command(
    name = "geminga",
    version,
    about = "A message broker that speaks Apache Pulsar's binary protocol.",
    args_conflicts_with_subcommands = true
)]
pub struct Cli {
    /// What to run; absent means `standalone`.
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Flags of the implicit `standalone` (`geminga --bind ...`).
    #[command(flatten)]
    pub standalone: StandaloneArgs,
}

/// The subcommands. New ones (`admin`, `client`, `tokens`) are added here.
#[derive(Debug, Subcommand)]
#[non_exhaustive]
pub enum Command {
    /// Run a single-node broker (the default when no subcommand is given).
    Standalone(StandaloneArgs),
    /// Load generator in the spirit of `pulsar-perf`.
    Perf(PerfArgs),
    /// Administer clusters, tenants, namespaces and topics over the admin API, like
    /// `pulsar-admin`.
    Admin(admin::AdminArgs),
    /// Produce and consume messages, in the spirit of `pulsar-client`.
    Client(client_cmd::ClientArgs),
    /// Create and check JWT keys and tokens, like `pulsar tokens`.
    Tokens(tokens::TokensArgs),
}

/// Flags of `geminga standalone`; they override values read from `--config`.
#[derive(Clone, Debug, Default, Args)]
pub struct StandaloneArgs {
    /// Pulsar-style `key=value` configuration file (for example a `standalone.conf`).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Directory holding topic logs and cursors.
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Address of the Pulsar protocol listener; port 0 picks a free port.
    #[arg(long, value_name = "HOST:PORT", value_parser = host_port)]
    pub bind: Option<String>,
    /// Address of the admin HTTP listener; port 0 picks a free port.
    #[arg(long, value_name = "HOST:PORT", value_parser = host_port)]
    pub admin_bind: Option<String>,
}

impl Cli {
    /// The command to run, turning "no subcommand" into `standalone` with the top-level flags.
    #[must_use]
    pub fn into_command(self) -> Command {
        self.command.unwrap_or(Command::Standalone(self.standalone))
    }
}

impl StandaloneArgs {
    /// Builds the broker config: defaults, then the `--config` file, then the flags.
    ///
    /// Returns the config and the file's keys that Geminga does not use.
    ///
    /// # Errors
    /// Any [`ConfigError`] from reading or parsing the file, or an invalid flag value.
    pub fn to_config(&self) -> Result<(BrokerConfig, Vec<String>), ConfigError> {
        let (mut config, unknown) = match &self.config {
            Some(path) => BrokerConfig::load_file(path)?,
            None => (BrokerConfig::default(), Vec::new()),
        };
        if let Some(dir) = &self.data_dir {
            config.data_dir.clone_from(dir);
        }
        if let Some(bind) = &self.bind {
            config.set_bind(bind)?;
        }
        if let Some(bind) = &self.admin_bind {
            config.set_admin_bind(bind)?;
        }
        Ok((config, unknown))
    }
}

/// clap value parser for `HOST:PORT` flags, so a typo fails before anything starts.
fn host_port(value: &str) -> Result<String, String> {
    parse_host_port(value).map(|_| value.to_owned())
}

/// Parses the process arguments, exiting with clap's message on error (as CLIs do).
#[must_use]
pub fn parse() -> Cli {
    Cli::parse_from(normalize_args(std::env::args_os()))
}

/// Parses `args` (the first item is the program name) without exiting.
///
/// # Errors
/// clap's error for unknown flags, missing values or bad values.
pub fn try_parse_from<I, T>(args: I) -> Result<Cli, clap::Error>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString>,
{
    Cli::try_parse_from(normalize_args(args))
}

/// Rewrites the two-letter short flags of `pulsar-perf` (`-ss`, `-st`, `-sp`) and
/// `pulsar-admin` (`-md`, `-bd`, `-dt`, `-rp`, `-ap`), which clap cannot declare, into their
/// long forms. Only arguments after `consume` or `admin` are touched, so values elsewhere are
/// never rewritten.
fn normalize_args<I, T>(args: I) -> Vec<OsString>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString>,
{
    let (mut in_consume, mut in_admin, mut in_tokens) = (false, false, false);
    args.into_iter()
        .map(|arg| {
            let arg: OsString = arg.into();
            if in_admin {
                return match arg.to_str().and_then(policy_args::long_form) {
                    Some(long) => OsString::from(long),
                    None => arg,
                };
            }
            if in_tokens {
                // `pulsar tokens`' two-letter flags (-sk, -pk, -hs) become clap aliases.
                return match arg.to_str() {
                    Some("-sk") => OsString::from("--sk"),
                    Some("-pk") => OsString::from("--pk"),
                    Some("-hs") => OsString::from("--hs"),
                    _ => arg,
                };
            }
            if !in_consume {
                in_consume = arg == "consume";
                in_admin = arg == "admin";
                in_tokens = arg == "tokens";
                return arg;
            }
            match arg.to_str() {
                Some("-ss") => OsString::from("--subscriptions"),
                Some("-st") => OsString::from("--subscription-type"),
                Some("-sp") => OsString::from("--subscription-position"),
                _ => arg,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::perf::{PerfCommand, SubscriptionPosition, SubscriptionType};

    fn command(args: &[&str]) -> Command {
        let mut full = vec!["geminga"];
        full.extend_from_slice(args);
        try_parse_from(full).unwrap().into_command()
    }

    #[test]
    fn no_subcommand_means_standalone_with_defaults() {
        let Command::Standalone(args) = command(&[]) else {
            panic!("expected standalone");
        };
        let (config, unknown) = args.to_config().unwrap();
        assert_eq!(config, BrokerConfig::default());
        assert!(unknown.is_empty());
    }

    #[test]
    fn top_level_flags_run_standalone() {
        let Command::Standalone(args) = command(&["--bind", "127.0.0.1:0", "--data-dir", "/d"])
        else {
            panic!("expected standalone");
        };
        let (config, _) = args.to_config().unwrap();
        assert_eq!(config.bind, "127.0.0.1:0");
        assert_eq!(config.data_dir, PathBuf::from("/d"));
    }

    #[test]
    fn flags_override_the_config_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("geminga.conf");
        std::fs::write(
            &path,
            "brokerServicePort=7000\nwebServicePort=7001\ndataDir=/from/file\nclusterName=c1\nzk=x\n",
        )
        .unwrap();
        let path_arg = path.to_str().unwrap();
        let Command::Standalone(args) = command(&[
            "standalone",
            "--config",
            path_arg,
            "--admin-bind",
            "0.0.0.0:0",
        ]) else {
            panic!("expected standalone");
        };
        let (config, unknown) = args.to_config().unwrap();
        assert_eq!(config.bind, "127.0.0.1:7000");
        assert_eq!(config.admin_bind, "0.0.0.0:0");
        assert_eq!(config.data_dir, PathBuf::from("/from/file"));
        assert_eq!(config.cluster_name, "c1");
        assert_eq!(unknown, ["zk"]);
    }

    #[test]
    fn bad_bind_flag_is_rejected_by_the_parser() {
        assert!(try_parse_from(["geminga", "--bind", "6650"]).is_err());
        assert!(try_parse_from(["geminga", "standalone", "--admin-bind", "x:y"]).is_err());
    }

    #[test]
    fn top_level_flags_conflict_with_subcommands() {
        assert!(try_parse_from(["geminga", "--bind", "a:1", "perf", "produce", "t"]).is_err());
    }

    #[test]
    fn perf_consume_accepts_pulsar_perf_two_letter_flags() {
        let Command::Perf(perf) = command(&[
            "perf",
            "consume",
            "-ss",
            "my-sub",
            "-st",
            "Key_Shared",
            "-sp",
            "Earliest",
            "t1",
        ]) else {
            panic!("expected perf");
        };
        let PerfCommand::Consume(args) = perf.command else {
            panic!("expected consume");
        };
        assert_eq!(args.subscriptions, "my-sub");
        assert_eq!(args.subscription_type, SubscriptionType::KeyShared);
        assert_eq!(args.subscription_position, SubscriptionPosition::Earliest);
        assert_eq!(args.topics, ["t1"]);
    }

    #[test]
    fn only_arguments_after_consume_are_rewritten() {
        let args = normalize_args(["geminga", "-ss", "consume", "-st", "-ss"]);
        assert_eq!(
            args,
            [
                "geminga",
                "-ss",
                "consume",
                "--subscription-type",
                "--subscriptions"
            ]
        );
    }
}
