//! Stored schemas: every version of a topic's schema in one document at
//! `/schemas/{tenant}/{namespace}/{topic}` (partitions and both domains share it, as Pulsar's
//! schema id `tenant/namespace/topic` does). The rules for adding versions live in
//! [`crate::schema`].

use std::collections::BTreeMap;

use base64::Engine;
use geminga_protocol::{proto::schema::Type as ProtoType, topic_name::TopicName};
use serde::{Deserialize, Serialize};

use super::{MetadataError, MetadataService};

/// Root of the schema documents.
const SCHEMAS: &str = "/schemas/";

/// A schema type, by Pulsar's admin names (`AVRO`, `JSON`, `STRING`...).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[non_exhaustive]
#[allow(missing_docs)]
pub enum SchemaType {
    None,
    String,
    Json,
    Protobuf,
    Avro,
    Boolean,
    Int8,
    Int16,
    Int32,
    Int64,
    Float,
    Double,
    Date,
    Time,
    Timestamp,
    KeyValue,
    Instant,
    LocalDate,
    LocalTime,
    LocalDateTime,
    ProtobufNative,
    /// Plain bytes (never sent on the wire: a producer without a schema).
    Bytes,
}

impl SchemaType {
    /// The wire type of this schema type (`Bytes` has none; it is sent as `None`).
    pub fn to_proto(self) -> ProtoType {
        use SchemaType as S;
        match self {
            S::None | S::Bytes => ProtoType::None,
            S::String => ProtoType::String,
            S::Json => ProtoType::Json,
            S::Protobuf => ProtoType::Protobuf,
            S::Avro => ProtoType::Avro,
            S::Boolean => ProtoType::Bool,
            S::Int8 => ProtoType::Int8,
            S::Int16 => ProtoType::Int16,
            S::Int32 => ProtoType::Int32,
            S::Int64 => ProtoType::Int64,
            S::Float => ProtoType::Float,
            S::Double => ProtoType::Double,
            S::Date => ProtoType::Date,
            S::Time => ProtoType::Time,
            S::Timestamp => ProtoType::Timestamp,
            S::KeyValue => ProtoType::KeyValue,
            S::Instant => ProtoType::Instant,
            S::LocalDate => ProtoType::LocalDate,
            S::LocalTime => ProtoType::LocalTime,
            S::LocalDateTime => ProtoType::LocalDateTime,
            S::ProtobufNative => ProtoType::ProtobufNative,
        }
    }

    /// The schema type of a wire type.
    pub fn from_proto(ty: ProtoType) -> Self {
        use SchemaType as S;
        match ty {
            ProtoType::None => S::None,
            ProtoType::String => S::String,
            ProtoType::Json => S::Json,
            ProtoType::Protobuf => S::Protobuf,
            ProtoType::Avro => S::Avro,
            ProtoType::Bool => S::Boolean,
            ProtoType::Int8 => S::Int8,
            ProtoType::Int16 => S::Int16,
            ProtoType::Int32 => S::Int32,
            ProtoType::Int64 => S::Int64,
            ProtoType::Float => S::Float,
            ProtoType::Double => S::Double,
            ProtoType::Date => S::Date,
            ProtoType::Time => S::Time,
            ProtoType::Timestamp => S::Timestamp,
            ProtoType::KeyValue => S::KeyValue,
            ProtoType::Instant => S::Instant,
            ProtoType::LocalDate => S::LocalDate,
            ProtoType::LocalTime => S::LocalTime,
            ProtoType::LocalDateTime => S::LocalDateTime,
            ProtoType::ProtobufNative => S::ProtobufNative,
        }
    }

    /// Types whose data is an Avro record definition (JSON schemas are Avro-shaped).
    pub fn is_struct(self) -> bool {
        matches!(self, SchemaType::Avro | SchemaType::Json)
    }
}

/// One schema as registered: type, definition and properties.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SchemaData {
    /// Its type.
    #[serde(rename = "type")]
    pub schema_type: SchemaType,
    /// The definition (Avro JSON for AVRO/JSON, empty for primitive types).
    #[serde(with = "base64_bytes")]
    pub data: Vec<u8>,
    /// User properties.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub properties: BTreeMap<String, String>,
}

impl SchemaData {
    /// Whether two schemas are the same schema (type and definition; properties aside, as
    /// Pulsar's schema hash).
    pub fn same_as(&self, other: &SchemaData) -> bool {
        self.schema_type == other.schema_type && self.data == other.data
    }
}

/// One stored version: a schema, or the marker a delete leaves.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SchemaVersion {
    /// Version number, from 0 up; never reused.
    pub version: u64,
    /// The schema (unused in a delete marker).
    #[serde(flatten)]
    pub schema: SchemaData,
    /// Milliseconds since the epoch when it was stored.
    pub timestamp: u64,
    /// A delete marker: versions up to here are gone.
    #[serde(default)]
    pub deleted: bool,
}

/// Every version of one topic's schema, oldest first.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SchemaHistory {
    /// The versions, including delete markers.
    pub versions: Vec<SchemaVersion>,
}

impl SchemaHistory {
    /// The versions in force: those after the last delete marker.
    pub fn active(&self) -> &[SchemaVersion] {
        let start = self
            .versions
            .iter()
            .rposition(|v| v.deleted)
            .map_or(0, |i| i + 1);
        self.versions.get(start..).unwrap_or_default()
    }

    /// The number the next version gets.
    pub fn next_version(&self) -> u64 {
        self.versions.last().map_or(0, |v| v.version + 1)
    }
}

mod base64_bytes {
    use base64::Engine;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&base64::engine::general_purpose::STANDARD.encode(bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(d)?;
        base64::engine::general_purpose::STANDARD
            .decode(text)
            .map_err(serde::de::Error::custom)
    }
}

/// The metadata key of a topic's schemas.
fn schema_key(topic: &TopicName) -> String {
    let base = topic.base_name();
    format!(
        "{SCHEMAS}{}/{}/{}",
        base.tenant(),
        base.namespace(),
        base.local_name()
    )
}

/// `tenant/namespace/topic`, Pulsar's schema id of a topic.
pub fn schema_id(topic: &TopicName) -> String {
    schema_key(topic)
        .strip_prefix(SCHEMAS)
        .map(str::to_owned)
        .unwrap_or_default()
}

impl MetadataService {
    /// Every stored version of `topic`'s schema (empty when none was ever stored).
    ///
    /// # Errors
    /// Store failures or a corrupt document.
    pub fn schema_history(&self, topic: &TopicName) -> Result<SchemaHistory, MetadataError> {
        Ok(self
            .get_json(&schema_key(topic))?
            .map(|(history, _)| history)
            .unwrap_or_default())
    }

    /// Changes `topic`'s schema history with compare-and-set (creating it when absent) and
    /// returns what `change` returned.
    ///
    /// # Errors
    /// Whatever `change` returns, [`MetadataError::Conflict`] after repeated races, store
    /// failures.
    pub fn update_schema_history<T, E: From<MetadataError>>(
        &self,
        topic: &TopicName,
        mut change: impl FnMut(&mut SchemaHistory) -> Result<T, E>,
    ) -> Result<T, E> {
        let key = schema_key(topic);
        for _ in 0..super::service::CAS_ATTEMPTS {
            let (mut history, version) = self.get_json::<SchemaHistory>(&key)?.unwrap_or_default();
            let out = change(&mut history)?;
            match self.put_json(&key, &history, Some(version)) {
                Err(MetadataError::Conflict { .. }) => continue,
                Err(e) => return Err(E::from(e)),
                Ok(_) => return Ok(out),
            }
        }
        Err(E::from(MetadataError::Conflict { key }))
    }

    /// Removes every version of `topic`'s schema (a forced delete); true when there was one.
    ///
    /// # Errors
    /// Store failures.
    pub fn delete_schema_history(&self, topic: &TopicName) -> Result<bool, MetadataError> {
        let key = schema_key(topic);
        let existed = self.get_json::<SchemaHistory>(&key)?.is_some();
        self.delete_key(&key, None)?;
        Ok(existed)
    }
}

/// Encodes a schema version as the wire carries it: 8 bytes, big-endian.
pub fn encode_schema_version(version: u64) -> Vec<u8> {
    version.to_be_bytes().to_vec()
}

/// Decodes a wire schema version (8 bytes, big-endian); `None` for anything else.
pub fn decode_schema_version(bytes: &[u8]) -> Option<u64> {
    <[u8; 8]>::try_from(bytes).ok().map(u64::from_be_bytes)
}

/// The schema data as text for the admin API (Pulsar shows it as UTF-8; binary definitions
/// such as KEY_VALUE are shown base64-encoded).
pub fn schema_data_text(data: &[u8]) -> String {
    match std::str::from_utf8(data) {
        Ok(text) => text.to_owned(),
        Err(_) => base64::engine::general_purpose::STANDARD.encode(data),
    }
}
