//! `geminga admin sources|sinks ...`: pulsar-admin's connector commands over
//! `/admin/v3/sources` and `/admin/v3/sinks`.

use std::io::Write;

use clap::{Args, Subcommand};
use serde_json::{Map, Value};

use super::{
    admin::{comma_list, print_json, print_list},
    admin_http::{encode_segment, AdminClient, AdminError},
};

/// Which connector the command is about (pulsar-admin's flags).
#[derive(Debug, Args)]
pub struct ConnectorName {
    /// Tenant.
    #[arg(long, default_value = "public")]
    pub tenant: String,
    /// Namespace.
    #[arg(long, default_value = "default")]
    pub namespace: String,
    /// Connector name.
    #[arg(long)]
    pub name: String,
}

/// A tenant and namespace (for list).
#[derive(Debug, Args)]
pub struct NamespaceArgs {
    /// Tenant.
    #[arg(long, default_value = "public")]
    pub tenant: String,
    /// Namespace.
    #[arg(long, default_value = "default")]
    pub namespace: String,
}

/// A connector and, optionally, one of its instances.
#[derive(Debug, Args)]
pub struct InstanceArgs {
    /// The connector.
    #[command(flatten)]
    pub connector: ConnectorName,
    /// One instance (0-based); every instance when absent.
    #[arg(long = "instance-id")]
    pub instance_id: Option<u32>,
}

/// `create` and `update` flags of a source.
#[derive(Debug, Args)]
pub struct SourceSpec {
    /// The connector.
    #[command(flatten)]
    pub connector: ConnectorName,
    /// Built-in connector type (`file`, `postgres`, `http`).
    #[arg(long = "source-type", short = 't')]
    pub source_type: Option<String>,
    /// Archive (`builtin://<type>`).
    #[arg(long, short = 'a')]
    pub archive: Option<String>,
    /// The topic records are published to.
    #[arg(long = "destination-topic-name")]
    pub destination_topic_name: Option<String>,
    /// Instances to run.
    #[arg(long)]
    pub parallelism: Option<u32>,
    /// ATMOST_ONCE, ATLEAST_ONCE or EFFECTIVELY_ONCE.
    #[arg(long = "processing-guarantees")]
    pub processing_guarantees: Option<String>,
    /// The connector's own settings, as a JSON object.
    #[arg(long = "source-config")]
    pub source_config: Option<String>,
    /// A file holding a whole SourceConfig as JSON; the flags above override its fields.
    #[arg(long = "source-config-file")]
    pub source_config_file: Option<String>,
}

/// `create` and `update` flags of a sink.
#[derive(Debug, Args)]
pub struct SinkSpec {
    /// The connector.
    #[command(flatten)]
    pub connector: ConnectorName,
    /// Built-in connector type (`file`, `postgres`, `log`).
    #[arg(long = "sink-type", short = 't')]
    pub sink_type: Option<String>,
    /// Archive (`builtin://<type>`).
    #[arg(long, short = 'a')]
    pub archive: Option<String>,
    /// Input topics (comma separated).
    #[arg(long, short = 'i')]
    pub inputs: Vec<String>,
    /// A regex over topic names, instead of `--inputs`.
    #[arg(long = "topics-pattern")]
    pub topics_pattern: Option<String>,
    /// The subscription the instances share.
    #[arg(long = "subs-name")]
    pub subs_name: Option<String>,
    /// Where a new subscription starts: Latest or Earliest.
    #[arg(long = "subs-position")]
    pub subs_position: Option<String>,
    /// Instances to run.
    #[arg(long)]
    pub parallelism: Option<u32>,
    /// ATMOST_ONCE, ATLEAST_ONCE or EFFECTIVELY_ONCE.
    #[arg(long = "processing-guarantees")]
    pub processing_guarantees: Option<String>,
    /// Keep the order of the whole input (one active instance).
    #[arg(long = "retain-ordering")]
    pub retain_ordering: bool,
    /// Keep the order per key (Key_Shared).
    #[arg(long = "retain-key-ordering")]
    pub retain_key_ordering: bool,
    /// The connector's own settings, as a JSON object.
    #[arg(long = "sink-config")]
    pub sink_config: Option<String>,
    /// A file holding a whole SinkConfig as JSON; the flags above override its fields.
    #[arg(long = "sink-config-file")]
    pub sink_config_file: Option<String>,
}

/// The commands `sources` and `sinks` share; `S` is the create/update flag set.
#[derive(Debug, Subcommand)]
#[non_exhaustive]
pub enum ConnectorCommand<S: Args> {
    /// Create a connector and start its instances.
    Create(S),
    /// Change a connector; the fields given replace the stored ones.
    Update(S),
    /// Stop and delete a connector.
    Delete(ConnectorName),
    /// Show a connector's config.
    Get(ConnectorName),
    /// List the connectors of a namespace.
    List(NamespaceArgs),
    /// Per-instance status: running, received, written, latest errors.
    Status(InstanceArgs),
    /// Per-instance processing stats.
    Stats(InstanceArgs),
    /// Start stopped instances.
    Start(InstanceArgs),
    /// Stop instances (they stay configured).
    Stop(InstanceArgs),
    /// Restart instances.
    Restart(InstanceArgs),
    /// List the built-in connector types.
    #[command(alias = "available-sources", alias = "available-sinks")]
    Available,
    /// Reload the built-in connector types.
    Reload,
}

/// `sources` commands.
pub type SourcesCommand = ConnectorCommand<SourceSpec>;
/// `sinks` commands.
pub type SinksCommand = ConnectorCommand<SinkSpec>;

/// Turns create/update flags into a config document.
pub trait ConfigFlags {
    /// `sources` or `sinks`.
    const PLURAL: &'static str;
    /// The built-in list path segment.
    const BUILTIN: &'static str;
    /// The connector named.
    fn connector(&self) -> &ConnectorName;
    /// The config document the flags describe.
    ///
    /// # Errors
    /// [`AdminError::Usage`] for an unreadable file or invalid JSON.
    fn document(&self) -> Result<Value, AdminError>;
}

fn usage(e: impl std::fmt::Display) -> AdminError {
    AdminError::Usage(e.to_string())
}

/// The file's document, or an empty object.
fn base_document(file: Option<&str>) -> Result<Map<String, Value>, AdminError> {
    let Some(path) = file else {
        return Ok(Map::new());
    };
    let text = std::fs::read_to_string(path).map_err(|e| usage(format!("{path}: {e}")))?;
    match serde_json::from_str(&text).map_err(|e| usage(format!("{path}: {e}")))? {
        Value::Object(map) => Ok(map),
        _ => Err(usage(format!("{path}: expected a JSON object"))),
    }
}

fn set(doc: &mut Map<String, Value>, key: &str, value: Option<Value>) {
    if let Some(value) = value {
        doc.insert(key.to_owned(), value);
    }
}

/// `--source-config`/`--sink-config`: a JSON object.
fn configs(text: Option<&str>) -> Result<Option<Value>, AdminError> {
    text.map(|t| match serde_json::from_str(t) {
        Ok(Value::Object(map)) => Ok(Value::Object(map)),
        Ok(_) => Err(usage("the connector config must be a JSON object")),
        Err(e) => Err(usage(format!("invalid connector config: {e}"))),
    })
    .transpose()
}

fn common(
    doc: &mut Map<String, Value>,
    name: &ConnectorName,
    parallelism: Option<u32>,
    guarantee: Option<&String>,
    archive: Option<&String>,
) {
    set(doc, "tenant", Some(Value::from(name.tenant.as_str())));
    set(doc, "namespace", Some(Value::from(name.namespace.as_str())));
    set(doc, "name", Some(Value::from(name.name.as_str())));
    set(doc, "parallelism", parallelism.map(Value::from));
    set(
        doc,
        "processingGuarantees",
        guarantee.map(|g| Value::from(g.to_ascii_uppercase())),
    );
    set(doc, "archive", archive.map(|a| Value::from(a.as_str())));
}

impl ConfigFlags for SourceSpec {
    const PLURAL: &'static str = "sources";
    const BUILTIN: &'static str = "builtinsources";

    fn connector(&self) -> &ConnectorName {
        &self.connector
    }

    fn document(&self) -> Result<Value, AdminError> {
        let mut doc = base_document(self.source_config_file.as_deref())?;
        let guarantee = self.processing_guarantees.as_ref();
        common(
            &mut doc,
            &self.connector,
            self.parallelism,
            guarantee,
            self.archive.as_ref(),
        );
        set(
            &mut doc,
            "sourceType",
            self.source_type.clone().map(Value::from),
        );
        set(
            &mut doc,
            "topicName",
            self.destination_topic_name.clone().map(Value::from),
        );
        set(&mut doc, "configs", configs(self.source_config.as_deref())?);
        Ok(Value::Object(doc))
    }
}

impl ConfigFlags for SinkSpec {
    const PLURAL: &'static str = "sinks";
    const BUILTIN: &'static str = "builtinsinks";

    fn connector(&self) -> &ConnectorName {
        &self.connector
    }

    fn document(&self) -> Result<Value, AdminError> {
        let mut doc = base_document(self.sink_config_file.as_deref())?;
        let guarantee = self.processing_guarantees.as_ref();
        common(
            &mut doc,
            &self.connector,
            self.parallelism,
            guarantee,
            self.archive.as_ref(),
        );
        set(
            &mut doc,
            "sinkType",
            self.sink_type.clone().map(Value::from),
        );
        let inputs = comma_list(&self.inputs);
        if !inputs.is_empty() {
            doc.insert("inputs".to_owned(), Value::from(inputs));
        }
        set(
            &mut doc,
            "topicsPattern",
            self.topics_pattern.clone().map(Value::from),
        );
        set(
            &mut doc,
            "sourceSubscriptionName",
            self.subs_name.clone().map(Value::from),
        );
        set(
            &mut doc,
            "sourceSubscriptionPosition",
            self.subs_position.clone().map(Value::from),
        );
        set(
            &mut doc,
            "retainOrdering",
            self.retain_ordering.then_some(Value::Bool(true)),
        );
        let key_ordering = self.retain_key_ordering.then_some(Value::Bool(true));
        set(&mut doc, "retainKeyOrdering", key_ordering);
        set(&mut doc, "configs", configs(self.sink_config.as_deref())?);
        Ok(Value::Object(doc))
    }
}

fn connector_path(plural: &str, name: &ConnectorName) -> String {
    format!(
        "/admin/v3/{plural}/{}/{}/{}",
        encode_segment(&name.tenant),
        encode_segment(&name.namespace),
        encode_segment(&name.name)
    )
}

fn instance_path(plural: &str, args: &InstanceArgs, what: &str) -> String {
    let base = connector_path(plural, &args.connector);
    match args.instance_id {
        Some(i) => format!("{base}/{i}/{what}"),
        None => format!("{base}/{what}"),
    }
}

impl<S: Args + ConfigFlags> ConnectorCommand<S> {
    /// Runs the command, printing what pulsar-admin would.
    ///
    /// # Errors
    /// See [`AdminError`].
    pub fn run(self, client: &AdminClient, out: &mut impl Write) -> Result<(), AdminError> {
        let plural = S::PLURAL;
        let kind = plural.trim_end_matches('s').to_owned();
        match self {
            Self::Create(spec) => {
                let path = connector_path(plural, spec.connector());
                client.post(&path, Some(&spec.document()?))?;
                writeln!(out, "Created {kind} {} successfully", spec.connector().name)?;
            }
            Self::Update(spec) => {
                let path = connector_path(plural, spec.connector());
                client.put(&path, Some(&spec.document()?))?;
                writeln!(out, "Updated {kind} {} successfully", spec.connector().name)?;
            }
            Self::Delete(name) => {
                client.delete(&connector_path(plural, &name))?;
                writeln!(out, "Deleted {kind} {} successfully", name.name)?;
            }
            Self::Get(name) => print_json(out, &client.get(&connector_path(plural, &name))?)?,
            Self::List(ns) => {
                let path = format!(
                    "/admin/v3/{plural}/{}/{}",
                    encode_segment(&ns.tenant),
                    encode_segment(&ns.namespace)
                );
                print_list(out, &client.get(&path)?)?;
            }
            Self::Status(args) => {
                print_json(out, &client.get(&instance_path(plural, &args, "status"))?)?
            }
            Self::Stats(args) => {
                print_json(out, &client.get(&instance_path(plural, &args, "stats"))?)?
            }
            Self::Start(args) => action(client, out, plural, &args, "start", "Started")?,
            Self::Stop(args) => action(client, out, plural, &args, "stop", "Stopped")?,
            Self::Restart(args) => action(client, out, plural, &args, "restart", "Restarted")?,
            Self::Available => {
                print_json(
                    out,
                    &client.get(&format!("/admin/v3/{plural}/{}", S::BUILTIN))?,
                )?;
            }
            Self::Reload => {
                let what = if plural == "sources" {
                    "reloadBuiltInSources"
                } else {
                    "reloadBuiltInSinks"
                };
                client.post(&format!("/admin/v3/{plural}/{what}"), None)?;
                writeln!(out, "Reloaded built-in {plural}")?;
            }
        }
        Ok(())
    }
}

fn action(
    client: &AdminClient,
    out: &mut impl Write,
    plural: &str,
    args: &InstanceArgs,
    what: &str,
    done: &str,
) -> Result<(), AdminError> {
    client.post(&instance_path(plural, args, what), None)?;
    writeln!(out, "{done} successfully")?;
    Ok(())
}
