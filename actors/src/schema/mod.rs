//! The schema registry: versioned schemas per topic (stored by [`crate::metadata`]) and the
//! rules for accepting a producer's or consumer's schema under a compatibility strategy.
//!
//! - A producer's schema (PRODUCER, GET_OR_CREATE_SCHEMA, the admin POST) is found among the
//!   versions in force, or added as a new version if the strategy allows it
//!   ([`add_schema`]).
//! - A consumer's schema (SUBSCRIBE) is registered on a topic that has no schema and is idle;
//!   otherwise it must be able to read what the topic holds ([`check_consumer_schema`]).
//! - AVRO and JSON schemas are compared field by field with Avro's resolution rules
//!   ([`avro`]); other types only need the same type.
//!
//! Every function blocks (metadata store): call it from the blocking pool.

pub mod avro;
mod compat;

use geminga_protocol::proto::{KeyValue, Schema};
use geminga_protocol::topic_name::TopicName;

pub use compat::{check_compatible, check_consumer};

use crate::{
    error::RequestError,
    metadata::{
        MetadataError, MetadataService, SchemaCompatibilityStrategy, SchemaData, SchemaType,
        SchemaVersion,
    },
    subscription::now_ms,
};

/// Why a schema operation failed.
#[derive(Clone, Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SchemaError {
    /// The schema breaks the topic's compatibility strategy.
    #[error("{reason}")]
    Incompatible {
        /// Which rule it breaks.
        reason: String,
    },
    /// The schema definition does not parse.
    #[error("invalid schema: {reason}")]
    Invalid {
        /// What is wrong.
        reason: String,
    },
    /// No such schema (version).
    #[error("{what} not found")]
    NotFound {
        /// What is missing.
        what: String,
    },
    /// The metadata store failed.
    #[error(transparent)]
    Metadata(#[from] MetadataError),
}

impl SchemaError {
    /// The binary-protocol error for `topic`.
    pub fn into_request_error(self, topic: &TopicName) -> RequestError {
        match self {
            SchemaError::Incompatible { reason } | SchemaError::Invalid { reason } => {
                RequestError::IncompatibleSchema {
                    topic: topic.to_string(),
                    reason,
                }
            }
            SchemaError::NotFound { what } => RequestError::TopicNotFound { topic: what },
            SchemaError::Metadata(e) => RequestError::from(e),
        }
    }
}

fn incompatible(reason: impl Into<String>) -> SchemaError {
    SchemaError::Incompatible {
        reason: reason.into(),
    }
}

/// The registry's view of a wire schema.
pub fn from_proto(schema: &Schema) -> SchemaData {
    SchemaData {
        schema_type: SchemaType::from_proto(schema.r#type()),
        data: schema.schema_data.clone(),
        properties: schema
            .properties
            .iter()
            .map(|kv| (kv.key.clone(), kv.value.clone()))
            .collect(),
    }
}

/// A stored schema as the wire carries it, named after `topic`'s schema id.
pub fn to_proto(name: &str, schema: &SchemaData) -> Schema {
    Schema {
        name: name.to_owned(),
        schema_data: schema.data.clone(),
        r#type: schema.schema_type.to_proto() as i32,
        properties: schema
            .properties
            .iter()
            .map(|(key, value)| KeyValue {
                key: key.clone(),
                value: value.clone(),
            })
            .collect(),
    }
}

/// Checks that an AVRO definition parses (JSON definitions may use Pulsar's older JSON
/// format, which is accepted as it is).
///
/// # Errors
/// [`SchemaError::Invalid`].
pub fn validate(schema: &SchemaData) -> Result<(), SchemaError> {
    match schema.schema_type {
        SchemaType::Avro => avro::AvroSchema::parse(&schema.data)
            .map(|_| ())
            .map_err(|e| SchemaError::Invalid {
                reason: e.to_string(),
            }),
        SchemaType::Json => serde_json::from_slice::<serde_json::Value>(&schema.data)
            .map(|_| ())
            .map_err(|e| SchemaError::Invalid {
                reason: format!("the JSON schema definition is not JSON: {e}"),
            }),
        _ => Ok(()),
    }
}

/// Finds `schema` among `topic`'s versions in force, or adds it as a new version if the
/// strategy allows it; returns its version. With `allow_new` false (the namespace forbids
/// automatic updates) only an existing version is accepted, unless the topic has no schema.
///
/// # Errors
/// [`SchemaError::Incompatible`], [`SchemaError::Invalid`], store failures.
pub fn add_schema(
    metadata: &MetadataService,
    topic: &TopicName,
    schema: &SchemaData,
    strategy: SchemaCompatibilityStrategy,
    allow_new: bool,
) -> Result<u64, SchemaError> {
    validate(schema)?;
    if let Some(found) = find(&metadata.schema_history(topic)?.versions, schema) {
        return Ok(found);
    }
    metadata.update_schema_history(topic, |history| {
        let active = history.active();
        if let Some(found) = find(active, schema) {
            return Ok(found);
        }
        if !allow_new && !active.is_empty() {
            return Err(incompatible(
                "the namespace does not allow automatic schema updates (isAllowAutoUpdateSchema=false)",
            ));
        }
        check_compatible(active, schema, strategy).map_err(incompatible)?;
        let version = history.next_version();
        history.versions.push(SchemaVersion {
            version,
            schema: schema.clone(),
            timestamp: now_ms(),
            deleted: false,
        });
        Ok(version)
    })
}

/// The version in force equal to `schema`, if any.
fn find(versions: &[SchemaVersion], schema: &SchemaData) -> Option<u64> {
    let start = versions
        .iter()
        .rposition(|v| v.deleted)
        .map_or(0, |i| i + 1);
    versions
        .get(start..)
        .unwrap_or_default()
        .iter()
        .find(|v| v.schema.same_as(schema))
        .map(|v| v.version)
}

/// Accepts a consumer's schema: on a topic without schema that is `idle` (no producers, no
/// data) it becomes the topic's schema; otherwise it must read what the topic's versions
/// wrote under `strategy`, as Pulsar's `checkConsumerCompatibility`.
///
/// # Errors
/// [`SchemaError::Incompatible`] ("Topic does not have schema to check" on a busy topic
/// without schema, as Pulsar), [`SchemaError::Invalid`], store failures.
pub fn check_consumer_schema(
    metadata: &MetadataService,
    topic: &TopicName,
    schema: &SchemaData,
    strategy: SchemaCompatibilityStrategy,
    idle: bool,
) -> Result<(), SchemaError> {
    validate(schema)?;
    let history = metadata.schema_history(topic)?;
    let active = history.active();
    if active.is_empty() {
        if idle {
            return add_schema(metadata, topic, schema, strategy, true).map(|_| ());
        }
        return Err(incompatible("Topic does not have schema to check"));
    }
    check_consumer(active, schema, strategy).map_err(incompatible)
}

/// Checks a producer without a schema: refused only when the namespace enforces schema
/// validation and the topic has a schema.
///
/// # Errors
/// [`SchemaError::Incompatible`], store failures.
pub fn check_schemaless(
    metadata: &MetadataService,
    topic: &TopicName,
    enforced: bool,
) -> Result<(), SchemaError> {
    if enforced && !metadata.schema_history(topic)?.active().is_empty() {
        return Err(incompatible(
            "the topic has a schema and schema validation is enforced; a schema is required",
        ));
    }
    Ok(())
}

/// The latest version in force, or the given version (not a delete marker).
///
/// # Errors
/// Store failures.
pub fn get_schema(
    metadata: &MetadataService,
    topic: &TopicName,
    version: Option<u64>,
) -> Result<Option<SchemaVersion>, SchemaError> {
    let history = metadata.schema_history(topic)?;
    Ok(match version {
        None => history.active().last().cloned(),
        Some(n) => history
            .versions
            .into_iter()
            .find(|v| v.version == n && !v.deleted),
    })
}

/// Deletes `topic`'s schema: with `force` every version is removed, otherwise a delete marker
/// is added (later schemas start afresh). Returns the marker's version (`None` when forced).
///
/// # Errors
/// [`SchemaError::NotFound`] when the topic has no schema, store failures.
pub fn delete_schema(
    metadata: &MetadataService,
    topic: &TopicName,
    force: bool,
) -> Result<Option<u64>, SchemaError> {
    if force {
        return if metadata.delete_schema_history(topic)? {
            Ok(None)
        } else {
            Err(SchemaError::NotFound {
                what: format!("schema of {topic}"),
            })
        };
    }
    metadata.update_schema_history(topic, |history| {
        let Some(last) = history.active().last().cloned() else {
            return Err(SchemaError::NotFound {
                what: format!("schema of {topic}"),
            });
        };
        let version = history.next_version();
        history.versions.push(SchemaVersion {
            version,
            schema: SchemaData {
                data: Vec::new(),
                properties: Default::default(),
                ..last.schema
            },
            timestamp: now_ms(),
            deleted: true,
        });
        Ok(Some(version))
    })
}

#[cfg(test)]
mod tests;
