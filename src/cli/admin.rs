//! `geminga admin ...`: a `pulsar-admin` look-alike over the broker's REST admin API.

use std::io::Write;

use clap::{Args, Subcommand};
use serde_json::Value;

use super::{
    admin_connectors::{SinksCommand, SourcesCommand},
    admin_http::{AdminClient, AdminError},
    admin_partitioned::TopicsCommand,
    admin_tenancy::{ClustersCommand, NamespacesCommand, TenantsCommand},
    schemas::SchemasCommand,
};

/// Default admin URL, as pulsar-admin's.
pub const DEFAULT_ADMIN_URL: &str = "http://127.0.0.1:8080";

/// `geminga admin [--admin-url URL] <group> <command>`.
#[derive(Debug, Args)]
pub struct AdminArgs {
    /// The broker's admin API.
    #[arg(long, global = true, default_value = DEFAULT_ADMIN_URL, value_name = "URL")]
    pub admin_url: String,
    /// What to administer.
    #[command(subcommand)]
    pub command: AdminCommand,
}

/// The resource groups, named as in pulsar-admin.
#[derive(Debug, Subcommand)]
#[non_exhaustive]
pub enum AdminCommand {
    /// Clusters known to the broker.
    #[command(subcommand)]
    Clusters(ClustersCommand),
    /// Tenants.
    #[command(subcommand)]
    Tenants(TenantsCommand),
    /// Namespaces, their policies and bundles.
    #[command(subcommand)]
    Namespaces(NamespacesCommand),
    /// Topics: partitioning, administration, subscriptions, messages and policies.
    #[command(subcommand)]
    Topics(AllTopicsCommand),
    /// IO source connectors (`/admin/v3/sources`).
    #[command(subcommand)]
    Sources(SourcesCommand),
    /// IO sink connectors (`/admin/v3/sinks`).
    #[command(subcommand)]
    Sinks(SinksCommand),
    /// Topic schemas: get, upload, delete, compatibility.
    #[command(subcommand)]
    Schemas(SchemasCommand),
}

/// `geminga admin topics ...`: partitioned-topic commands and the per-topic ones, flattened
/// into one list as pulsar-admin shows them.
#[derive(Debug, Subcommand)]
pub enum AllTopicsCommand {
    /// Partitioned topics, listing by namespace, lookup.
    #[command(flatten)]
    Partitioned(TopicsCommand),
    /// Create, delete, stats, subscriptions, messages, policies.
    #[command(flatten)]
    Topic(super::topics::TopicsCommand),
}

/// Runs one admin command, printing what pulsar-admin would.
///
/// # Errors
/// The broker's error (with its status and reason), a transport failure or bad arguments.
pub fn run(args: AdminArgs) -> Result<(), Box<dyn std::error::Error>> {
    let client = AdminClient::new(&args.admin_url);
    let admin_url = args.admin_url;
    let mut out = std::io::stdout().lock();
    match args.command {
        AdminCommand::Clusters(c) => c.run(&client, &mut out)?,
        AdminCommand::Tenants(c) => c.run(&client, &mut out)?,
        AdminCommand::Namespaces(c) => c.run(&client, &mut out)?,
        AdminCommand::Schemas(c) => c.run(&client, &mut out)?,
        AdminCommand::Topics(AllTopicsCommand::Partitioned(c)) => c.run(&client, &mut out)?,
        AdminCommand::Sources(c) => c.run(&client, &mut out)?,
        AdminCommand::Sinks(c) => c.run(&client, &mut out)?,
        AdminCommand::Topics(AllTopicsCommand::Topic(command)) => {
            let args = super::topics::TopicsArgs { command };
            super::topics::run(&admin_url, args, &mut out)?;
        }
    }
    Ok(())
}

/// Prints a list one item per line, as pulsar-admin's list commands do.
///
/// # Errors
/// Writing failed.
pub fn print_list(out: &mut impl Write, value: &Value) -> Result<(), AdminError> {
    if let Value::Array(items) = value {
        for item in items {
            match item {
                Value::String(s) => writeln!(out, "{s}")?,
                other => writeln!(out, "{other}")?,
            }
        }
        return Ok(());
    }
    print_json(out, value)
}

/// Prints a document as indented JSON (plain text as is; nothing for an empty answer).
///
/// # Errors
/// Writing failed.
pub fn print_json(out: &mut impl Write, value: &Value) -> Result<(), AdminError> {
    match value {
        Value::Null => Ok(()),
        Value::String(s) => Ok(writeln!(out, "{s}")?),
        other => {
            let text = serde_json::to_string_pretty(other).unwrap_or_else(|_| other.to_string());
            Ok(writeln!(out, "{text}")?)
        }
    }
}

/// Splits `a,b,c` flag values into their items.
pub fn comma_list(values: &[String]) -> Vec<String> {
    values
        .iter()
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}
