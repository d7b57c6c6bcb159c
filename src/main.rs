//! The `geminga` binary: parse the command line, set up logging, run the chosen command.

use std::process::ExitCode;

use geminga::cli::{self, Command};
use tracing_subscriber::EnvFilter;

fn main() -> ExitCode {
    match run(cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("geminga: {error}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: cli::Cli) -> Result<(), Box<dyn std::error::Error>> {
    match cli.into_command() {
        Command::Standalone(args) => {
            let (config, unknown) = args.to_config()?;
            init_tracing(config.log_level.as_deref());
            if !unknown.is_empty() {
                tracing::warn!(keys = %unknown.join(", "), "config keys not used by Geminga");
            }
            geminga::broker::run_standalone(config)?;
        }
        Command::Perf(args) => {
            init_tracing(None);
            geminga::perf::run(args)?;
        }
        Command::Admin(args) => geminga::cli::admin::run(args)?,
        Command::Client(args) => {
            init_tracing(None);
            cli::client_cmd::run(args)?;
        }
        Command::Tokens(args) => cli::tokens::run(args, &mut std::io::stdout().lock())?,
        other => return Err(format!("command not supported yet: {other:?}").into()),
    }
    Ok(())
}

/// Logs go to stderr so stdout carries only the READY line and perf reports. `RUST_LOG` wins
/// over the config's `logLevel`, which wins over `info`. Colour codes only on a terminal, so
/// log files and journald stay plain text.
fn init_tracing(config_level: Option<&str>) {
    use std::io::IsTerminal;
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(config_level.unwrap_or("info")))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr)
        .init();
}
