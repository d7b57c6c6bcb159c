//! Connector configurations with Pulsar's JSON names (`SourceConfig`, `SinkConfig`), their
//! validation, the update merge, and the normalized [`ConnectorSpec`] the runtime runs.

use std::fmt;

use geminga_actors::metadata::NamespaceName;
use geminga_protocol::topic_name::TopicName;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::ConnectorError;

/// Instances one connector may run; more is almost certainly a typo.
pub const MAX_PARALLELISM: u32 = 64;

/// Prefix of a built-in connector's archive (`builtin://file`), as in Pulsar.
pub const BUILTIN_PREFIX: &str = "builtin://";

/// Sources feed topics; sinks drain them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ConnectorKind {
    /// An external system into a topic.
    Source,
    /// Topics into an external system.
    Sink,
}

impl ConnectorKind {
    /// `source` or `sink`, as in actor names and metric names.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Source => "source",
            Self::Sink => "sink",
        }
    }

    /// `sources` or `sinks`, as in admin paths and metadata keys.
    pub fn plural(self) -> &'static str {
        match self {
            Self::Source => "sources",
            Self::Sink => "sinks",
        }
    }
}

/// What happens to a record when a connector or the broker fails mid-stream.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ProcessingGuarantee {
    /// Processed once or not at all: a sink acks before it writes, a source commits its
    /// position before it publishes. A crash loses at most what was in flight.
    AtmostOnce,
    /// Processed once or more: a sink acks after the write succeeded, a source commits its
    /// position after the broker stored the record. A crash may repeat, never lose.
    #[default]
    AtleastOnce,
    /// One output per input: a source recovers what it already published from the topic
    /// (its own producer's records) before resuming; a sink stores its position in the
    /// target system in the same transaction as the data.
    EffectivelyOnce,
}

impl ProcessingGuarantee {
    /// Pulsar's spelling (`ATLEAST_ONCE`...).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::AtmostOnce => "ATMOST_ONCE",
            Self::AtleastOnce => "ATLEAST_ONCE",
            Self::EffectivelyOnce => "EFFECTIVELY_ONCE",
        }
    }

    /// Parses Pulsar's spelling, case-insensitively.
    pub fn parse(text: &str) -> Option<Self> {
        match text.to_ascii_uppercase().as_str() {
            "ATMOST_ONCE" => Some(Self::AtmostOnce),
            "ATLEAST_ONCE" => Some(Self::AtleastOnce),
            "EFFECTIVELY_ONCE" => Some(Self::EffectivelyOnce),
            _ => None,
        }
    }
}

impl fmt::Display for ProcessingGuarantee {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A connector's identity: kind, namespace and name.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnectorId {
    /// Source or sink.
    pub kind: ConnectorKind,
    /// Tenant.
    pub tenant: String,
    /// Namespace within the tenant.
    pub namespace: String,
    /// Connector name.
    pub name: String,
}

impl ConnectorId {
    /// A checked id (names follow Pulsar's `[-=:.\w%]` rule).
    ///
    /// # Errors
    /// [`ConnectorError::InvalidConfig`] for an invalid tenant, namespace or name.
    pub fn new(
        kind: ConnectorKind,
        tenant: &str,
        namespace: &str,
        name: &str,
    ) -> Result<Self, ConnectorError> {
        NamespaceName::new(tenant, namespace)
            .map_err(|e| ConnectorError::invalid(e.to_string()))?;
        geminga_actors::metadata::check_name(kind.as_str(), name)
            .map_err(|e| ConnectorError::invalid(e.to_string()))?;
        Ok(Self {
            kind,
            tenant: tenant.to_owned(),
            namespace: namespace.to_owned(),
            name: name.to_owned(),
        })
    }

    /// `tenant/namespace/name`, Pulsar's fully qualified function name.
    pub fn fqn(&self) -> String {
        format!("{}/{}/{}", self.tenant, self.namespace, self.name)
    }

    /// The supervised actor's name of instance `instance`: `source/tenant/ns/name/0`.
    pub fn instance_name(&self, instance: u32) -> String {
        format!("{}/{}/{instance}", self.kind.as_str(), self.fqn())
    }
}

impl fmt::Display for ConnectorId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.kind.as_str(), self.fqn())
    }
}

/// Pulsar's `SourceConfig`. Fields Geminga does not use are kept in `other`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct SourceConfig {
    /// Tenant (taken from the path when absent).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
    /// Namespace (taken from the path when absent).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Name (taken from the path when absent).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Java class in Pulsar; informational here.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub class_name: Option<String>,
    /// The topic records are published to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub topic_name: Option<String>,
    /// The connector's own settings.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub configs: Option<Map<String, Value>>,
    /// Instances to run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parallelism: Option<u32>,
    /// `ATMOST_ONCE`, `ATLEAST_ONCE` (default) or `EFFECTIVELY_ONCE`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub processing_guarantees: Option<ProcessingGuarantee>,
    /// `builtin://<type>`: which built-in connector runs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub archive: Option<String>,
    /// Geminga shorthand for `archive: builtin://<type>` (pulsar-admin's `--source-type`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_type: Option<String>,
    /// Everything else, kept as sent.
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

/// Pulsar's `SinkConfig`. Fields Geminga does not use are kept in `other`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct SinkConfig {
    /// Tenant (taken from the path when absent).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
    /// Namespace (taken from the path when absent).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Name (taken from the path when absent).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Java class in Pulsar; informational here.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub class_name: Option<String>,
    /// Topics to consume.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub inputs: Option<Vec<String>>,
    /// A regex over the topic names of the connector's namespace, instead of `inputs`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub topics_pattern: Option<String>,
    /// Subscription of every instance (default `tenant/namespace/name`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_subscription_name: Option<String>,
    /// `Latest` (default) or `Earliest`: where a new subscription starts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_subscription_position: Option<String>,
    /// The connector's own settings.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub configs: Option<Map<String, Value>>,
    /// Instances to run; they share the subscription.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parallelism: Option<u32>,
    /// `ATMOST_ONCE`, `ATLEAST_ONCE` (default) or `EFFECTIVELY_ONCE`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub processing_guarantees: Option<ProcessingGuarantee>,
    /// Keep the order of the whole input: one active instance (Failover).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retain_ordering: Option<bool>,
    /// Keep the order per key: instances share by key (Key_Shared).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retain_key_ordering: Option<bool>,
    /// `builtin://<type>`: which built-in connector runs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub archive: Option<String>,
    /// Geminga shorthand for `archive: builtin://<type>` (pulsar-admin's `--sink-type`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sink_type: Option<String>,
    /// Everything else, kept as sent.
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

/// How sink instances share their subscription.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SharingMode {
    /// Any instance gets any message.
    Shared,
    /// Messages of one key go to one instance.
    KeyShared,
    /// One active instance, the others stand by (order and effectively-once).
    Failover,
}

/// Where a sink's inputs come from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SinkInputs {
    /// Fixed topics (full names).
    Topics(Vec<String>),
    /// Every topic of the namespace whose full name matches.
    Pattern(String),
}

/// What the runtime needs to run one connector, derived from its stored config.
#[derive(Clone, Debug, PartialEq)]
pub struct ConnectorSpec {
    /// Identity.
    pub id: ConnectorId,
    /// The built-in connector type (`file`, `postgres`...).
    pub connector_type: String,
    /// The connector's own settings.
    pub configs: Map<String, Value>,
    /// Instances to run.
    pub parallelism: u32,
    /// Processing guarantee.
    pub guarantee: ProcessingGuarantee,
    /// The source's destination topic (full name); `None` for sinks.
    pub topic: Option<String>,
    /// The sink's inputs; `None` for sources.
    pub inputs: Option<SinkInputs>,
    /// The sink's subscription name.
    pub subscription: String,
    /// The sink's subscription start (true: earliest).
    pub subscribe_earliest: bool,
    /// How sink instances share the subscription.
    pub sharing: SharingMode,
}

/// A full topic name from a short or full one.
///
/// # Errors
/// [`ConnectorError::InvalidConfig`] for an invalid name.
pub fn full_topic(name: &str) -> Result<String, ConnectorError> {
    TopicName::parse(name)
        .map(|t| t.full_name())
        .map_err(|e| ConnectorError::invalid(format!("invalid topic {name:?}: {e}")))
}

/// `builtin://x` or `x` to `x`; `sourceType`/`sinkType` wins over `archive`.
fn connector_type(
    shorthand: Option<&str>,
    archive: Option<&str>,
) -> Result<String, ConnectorError> {
    let chosen = shorthand.or(archive).ok_or_else(|| {
        ConnectorError::invalid("the connector type is missing: set --source-type/--sink-type or archive builtin://<type>")
    })?;
    let name = chosen.strip_prefix(BUILTIN_PREFIX).unwrap_or(chosen);
    if name.is_empty() || name.contains('/') {
        return Err(ConnectorError::invalid(format!(
            "unsupported archive {chosen:?}: Geminga runs built-in connectors (builtin://<type>)"
        )));
    }
    Ok(name.to_owned())
}

fn parallelism(value: Option<u32>) -> Result<u32, ConnectorError> {
    match value.unwrap_or(1) {
        0 => Err(ConnectorError::invalid("parallelism must be positive")),
        n if n > MAX_PARALLELISM => Err(ConnectorError::invalid(format!(
            "parallelism {n} exceeds the limit of {MAX_PARALLELISM}"
        ))),
        n => Ok(n),
    }
}

/// Fills identity fields from the path and refuses a body that names another connector.
fn fill_identity(
    field: &mut Option<String>,
    from_path: &str,
    what: &str,
) -> Result<(), ConnectorError> {
    match field {
        Some(value) if value != from_path => Err(ConnectorError::invalid(format!(
            "{what} {value:?} in the config differs from {from_path:?} in the path"
        ))),
        _ => {
            *field = Some(from_path.to_owned());
            Ok(())
        }
    }
}

impl SourceConfig {
    /// Fills tenant/namespace/name from `id` (refusing conflicting values) and normalizes the
    /// connector type into `archive`.
    ///
    /// # Errors
    /// [`ConnectorError::InvalidConfig`].
    pub fn normalize(&mut self, id: &ConnectorId) -> Result<(), ConnectorError> {
        fill_identity(&mut self.tenant, &id.tenant, "tenant")?;
        fill_identity(&mut self.namespace, &id.namespace, "namespace")?;
        fill_identity(&mut self.name, &id.name, "name")?;
        if self.source_type.is_some() || self.archive.is_some() {
            let kind = connector_type(self.source_type.as_deref(), self.archive.as_deref())?;
            self.archive = Some(format!("{BUILTIN_PREFIX}{kind}"));
            self.source_type = None;
        }
        Ok(())
    }

    /// Applies an update: every field the update sets replaces the stored one.
    pub fn merge(&mut self, update: SourceConfig) {
        macro_rules! take {
            ($($field:ident),*) => { $( if update.$field.is_some() { self.$field = update.$field; } )* };
        }
        take!(
            class_name,
            topic_name,
            configs,
            parallelism,
            processing_guarantees,
            archive,
            source_type
        );
        self.other.extend(update.other);
    }

    /// The runtime's view.
    ///
    /// # Errors
    /// [`ConnectorError::InvalidConfig`] for a missing topic or type, or a bad parallelism.
    pub fn spec(&self, id: &ConnectorId) -> Result<ConnectorSpec, ConnectorError> {
        let topic = self.topic_name.as_deref().ok_or_else(|| {
            ConnectorError::invalid("topicName (--destination-topic-name) is missing")
        })?;
        Ok(ConnectorSpec {
            id: id.clone(),
            connector_type: connector_type(self.source_type.as_deref(), self.archive.as_deref())?,
            configs: self.configs.clone().unwrap_or_default(),
            parallelism: parallelism(self.parallelism)?,
            guarantee: self.processing_guarantees.unwrap_or_default(),
            topic: Some(full_topic(topic)?),
            inputs: None,
            subscription: String::new(),
            subscribe_earliest: false,
            sharing: SharingMode::Shared,
        })
    }
}

impl SinkConfig {
    /// Fills tenant/namespace/name from `id` (refusing conflicting values), normalizes the
    /// connector type into `archive` and folds `inputSpecs` keys into `inputs`.
    ///
    /// # Errors
    /// [`ConnectorError::InvalidConfig`].
    pub fn normalize(&mut self, id: &ConnectorId) -> Result<(), ConnectorError> {
        fill_identity(&mut self.tenant, &id.tenant, "tenant")?;
        fill_identity(&mut self.namespace, &id.namespace, "namespace")?;
        fill_identity(&mut self.name, &id.name, "name")?;
        if self.sink_type.is_some() || self.archive.is_some() {
            let kind = connector_type(self.sink_type.as_deref(), self.archive.as_deref())?;
            self.archive = Some(format!("{BUILTIN_PREFIX}{kind}"));
            self.sink_type = None;
        }
        if let Some(Value::Object(specs)) = self.other.get("inputSpecs") {
            let inputs = self.inputs.get_or_insert_with(Vec::new);
            for topic in specs.keys() {
                if !inputs.contains(topic) {
                    inputs.push(topic.clone());
                }
            }
        }
        Ok(())
    }

    /// Applies an update: every field the update sets replaces the stored one.
    pub fn merge(&mut self, update: SinkConfig) {
        macro_rules! take {
            ($($field:ident),*) => { $( if update.$field.is_some() { self.$field = update.$field; } )* };
        }
        take!(
            class_name,
            inputs,
            topics_pattern,
            source_subscription_position,
            configs,
            parallelism,
            processing_guarantees,
            retain_ordering,
            retain_key_ordering,
            archive,
            sink_type
        );
        self.other.extend(update.other);
    }

    /// The runtime's view.
    ///
    /// # Errors
    /// [`ConnectorError::InvalidConfig`] for missing or conflicting inputs, a bad pattern or
    /// position, a missing type, or a bad parallelism.
    pub fn spec(&self, id: &ConnectorId) -> Result<ConnectorSpec, ConnectorError> {
        let inputs = match (&self.inputs, &self.topics_pattern) {
            (Some(topics), None) if !topics.is_empty() => SinkInputs::Topics(
                topics
                    .iter()
                    .map(|t| full_topic(t))
                    .collect::<Result<_, _>>()?,
            ),
            (None | Some(_), Some(pattern)) if self.inputs.as_ref().is_none_or(Vec::is_empty) => {
                regex::Regex::new(pattern)
                    .map_err(|e| ConnectorError::invalid(format!("invalid topicsPattern: {e}")))?;
                SinkInputs::Pattern(pattern.clone())
            }
            (Some(_), Some(_)) => {
                return Err(ConnectorError::invalid(
                    "set either inputs or topicsPattern, not both",
                ))
            }
            _ => return Err(ConnectorError::invalid(
                "the sink has no inputs: set inputs (--inputs) or topicsPattern (--topics-pattern)",
            )),
        };
        let guarantee = self.processing_guarantees.unwrap_or_default();
        let sharing = if guarantee == ProcessingGuarantee::EffectivelyOnce
            || self.retain_ordering == Some(true)
        {
            // Effectively-once sinks compare positions per topic, which needs the topic's order.
            SharingMode::Failover
        } else if self.retain_key_ordering == Some(true) {
            SharingMode::KeyShared
        } else {
            SharingMode::Shared
        };
        let subscribe_earliest = match self.source_subscription_position.as_deref() {
            None | Some("Latest") => false,
            Some("Earliest") => true,
            Some(other) => {
                return Err(ConnectorError::invalid(format!(
                    "sourceSubscriptionPosition must be Latest or Earliest, not {other:?}"
                )))
            }
        };
        Ok(ConnectorSpec {
            id: id.clone(),
            connector_type: connector_type(self.sink_type.as_deref(), self.archive.as_deref())?,
            configs: self.configs.clone().unwrap_or_default(),
            parallelism: parallelism(self.parallelism)?,
            guarantee,
            topic: None,
            inputs: Some(inputs),
            subscription: self
                .source_subscription_name
                .clone()
                .unwrap_or_else(|| id.fqn()),
            subscribe_earliest,
            sharing,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(kind: ConnectorKind) -> ConnectorId {
        ConnectorId::new(kind, "public", "default", "c1").unwrap()
    }

    #[test]
    fn guarantees_use_pulsar_spelling_and_default_to_at_least_once() {
        let config: SourceConfig =
            serde_json::from_str(r#"{"processingGuarantees":"EFFECTIVELY_ONCE"}"#).unwrap();
        assert_eq!(
            config.processing_guarantees,
            Some(ProcessingGuarantee::EffectivelyOnce)
        );
        assert_eq!(
            ProcessingGuarantee::default(),
            ProcessingGuarantee::AtleastOnce
        );
        assert_eq!(
            ProcessingGuarantee::parse("atmost_once"),
            Some(ProcessingGuarantee::AtmostOnce)
        );
        assert!(
            serde_json::from_str::<SourceConfig>(r#"{"processingGuarantees":"SOMETIMES"}"#)
                .is_err()
        );
    }

    #[test]
    fn source_spec_takes_identity_from_the_path_and_keeps_unknown_fields() {
        let mut config: SourceConfig = serde_json::from_str(
            r#"{"topicName":"out","archive":"builtin://file","configs":{"a":1},"logTopic":"x"}"#,
        )
        .unwrap();
        config.normalize(&id(ConnectorKind::Source)).unwrap();
        assert_eq!(config.name.as_deref(), Some("c1"));
        let spec = config.spec(&id(ConnectorKind::Source)).unwrap();
        assert_eq!(spec.connector_type, "file");
        assert_eq!(
            spec.topic.as_deref(),
            Some("persistent://public/default/out")
        );
        assert_eq!(spec.parallelism, 1);
        let json = serde_json::to_value(&config).unwrap();
        assert_eq!(json["logTopic"], "x");
    }

    #[test]
    fn a_body_naming_another_connector_is_refused() {
        let mut config = SourceConfig {
            name: Some("other".into()),
            ..SourceConfig::default()
        };
        assert!(config.normalize(&id(ConnectorKind::Source)).is_err());
    }

    #[test]
    fn update_replaces_only_the_fields_it_sets() {
        let mut stored = SinkConfig {
            inputs: Some(vec!["a".into()]),
            parallelism: Some(2),
            sink_type: Some("file".into()),
            ..SinkConfig::default()
        };
        stored.merge(SinkConfig {
            processing_guarantees: Some(ProcessingGuarantee::AtmostOnce),
            ..SinkConfig::default()
        });
        assert_eq!(stored.parallelism, Some(2));
        assert_eq!(
            stored.processing_guarantees,
            Some(ProcessingGuarantee::AtmostOnce)
        );
        let spec = stored.spec(&id(ConnectorKind::Sink)).unwrap();
        assert_eq!(spec.subscription, "public/default/c1");
        assert_eq!(spec.sharing, SharingMode::Shared);
    }

    #[test]
    fn sink_sharing_follows_guarantee_and_ordering() {
        let base = SinkConfig {
            inputs: Some(vec!["a".into()]),
            sink_type: Some("log".into()),
            ..SinkConfig::default()
        };
        let with = |f: fn(&mut SinkConfig)| {
            let mut c = base.clone();
            f(&mut c);
            c.spec(&id(ConnectorKind::Sink)).unwrap().sharing
        };
        assert_eq!(
            with(|c| c.retain_key_ordering = Some(true)),
            SharingMode::KeyShared
        );
        assert_eq!(
            with(|c| c.retain_ordering = Some(true)),
            SharingMode::Failover
        );
        assert_eq!(
            with(|c| c.processing_guarantees = Some(ProcessingGuarantee::EffectivelyOnce)),
            SharingMode::Failover
        );
    }

    #[test]
    fn sink_needs_exactly_one_kind_of_input() {
        let mut c = SinkConfig {
            sink_type: Some("log".into()),
            ..SinkConfig::default()
        };
        assert!(c.spec(&id(ConnectorKind::Sink)).is_err());
        c.topics_pattern = Some("persistent://public/default/in-.*".into());
        assert!(matches!(
            c.spec(&id(ConnectorKind::Sink)).unwrap().inputs,
            Some(SinkInputs::Pattern(_))
        ));
        c.inputs = Some(vec!["x".into()]);
        assert!(c.spec(&id(ConnectorKind::Sink)).is_err());
        c.topics_pattern = Some("(".into());
        c.inputs = None;
        assert!(c.spec(&id(ConnectorKind::Sink)).is_err());
    }

    #[test]
    fn parallelism_is_bounded() {
        let mut c = SourceConfig {
            topic_name: Some("t".into()),
            source_type: Some("file".into()),
            parallelism: Some(0),
            ..SourceConfig::default()
        };
        assert!(c.spec(&id(ConnectorKind::Source)).is_err());
        c.parallelism = Some(MAX_PARALLELISM + 1);
        assert!(c.spec(&id(ConnectorKind::Source)).is_err());
    }
}
