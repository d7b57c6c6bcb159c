//! `geminga admin schemas get|upload|delete|compatibility`, as pulsar-admin's, over
//! `/admin/v2/schemas/{tenant}/{namespace}/{topic}/...`.

use std::io::Write;
use std::path::PathBuf;

use clap::Subcommand;
use geminga_protocol::topic_name::TopicName;
use serde_json::{json, Value};

use super::{
    admin::print_json,
    admin_http::{encode_segment, AdminClient, AdminError},
};

/// The commands.
#[derive(Debug, Subcommand)]
#[non_exhaustive]
pub enum SchemasCommand {
    /// Show the topic's latest schema, one version, or every version.
    Get {
        /// Topic name.
        topic: String,
        /// Only this version.
        #[arg(long = "version", conflicts_with = "all")]
        version: Option<u64>,
        /// Every version in force.
        #[arg(short = 'a', long = "all")]
        all: bool,
    },
    /// Add a schema version from a file holding `{"type", "schema", "properties"}`.
    Upload {
        /// Topic name.
        topic: String,
        /// The schema file.
        #[arg(short = 'f', long = "filename")]
        filename: PathBuf,
    },
    /// Delete the topic's schema.
    Delete {
        /// Topic name.
        topic: String,
        /// Remove every version instead of marking the schema deleted.
        #[arg(short = 'f', long = "force")]
        force: bool,
    },
    /// Check whether a schema file would be accepted by the topic.
    Compatibility {
        /// Topic name.
        topic: String,
        /// The schema file.
        #[arg(short = 'f', long = "filename")]
        filename: PathBuf,
    },
}

impl SchemasCommand {
    /// Runs the command, printing as pulsar-admin does.
    ///
    /// # Errors
    /// See [`AdminError`]; an unreadable or non-JSON schema file is a usage error.
    pub fn run(self, client: &AdminClient, out: &mut impl Write) -> Result<(), AdminError> {
        match self {
            Self::Get {
                topic,
                version,
                all,
            } => {
                let (base, name) = schema_path(&topic)?;
                if all {
                    let answer = client.get(&format!("{base}/schemas"))?;
                    let list = answer
                        .get("getSchemaResponseList")
                        .and_then(Value::as_array)
                        .map(|l| l.iter().map(|s| schema_info(&name, s)).collect())
                        .unwrap_or_default();
                    return print_json(out, &Value::Array(list));
                }
                if let Some(version) = version {
                    let answer = client.get(&format!("{base}/schema/{version}"))?;
                    return print_json(out, &schema_info(&name, &answer));
                }
                let answer = client.get(&format!("{base}/schema"))?;
                let shown = json!({
                    "version": answer.get("version").cloned().unwrap_or(Value::Null),
                    "schemaInfo": schema_info(&name, &answer),
                });
                print_json(out, &shown)
            }
            Self::Upload { topic, filename } => {
                let (base, _) = schema_path(&topic)?;
                let payload = read_payload(&filename)?;
                client
                    .post(&format!("{base}/schema"), Some(&payload))
                    .map(drop)
            }
            Self::Delete { topic, force } => {
                let (base, _) = schema_path(&topic)?;
                client
                    .delete(&format!("{base}/schema?force={force}"))
                    .map(drop)
            }
            Self::Compatibility { topic, filename } => {
                let (base, _) = schema_path(&topic)?;
                let payload = read_payload(&filename)?;
                let answer = client.post(&format!("{base}/compatibility"), Some(&payload))?;
                print_json(out, &answer)
            }
        }
    }
}

/// The schema path of a topic (partitions share their topic's schema) and the topic's local
/// name (a `SchemaInfo`'s name).
fn schema_path(topic: &str) -> Result<(String, String), AdminError> {
    let name = TopicName::parse(topic)
        .map_err(|e| AdminError::Usage(format!("invalid topic name {topic:?}: {e}")))?
        .base_name();
    let base = format!(
        "/admin/v2/schemas/{}/{}/{}",
        encode_segment(name.tenant()),
        encode_segment(name.namespace()),
        encode_segment(name.local_name())
    );
    Ok((base, name.local_name().to_owned()))
}

/// Pulsar's `SchemaInfo` of a `GetSchemaResponse`; Avro and JSON definitions are shown as
/// JSON documents, as pulsar-admin shows them.
fn schema_info(name: &str, response: &Value) -> Value {
    let data = response.get("data").and_then(Value::as_str).unwrap_or("");
    let schema = match serde_json::from_str::<Value>(data) {
        Ok(doc @ Value::Object(_)) => doc,
        _ => Value::from(data),
    };
    json!({
        "name": name,
        "schema": schema,
        "type": response.get("type").cloned().unwrap_or(Value::Null),
        "timestamp": response.get("timestamp").cloned().unwrap_or(Value::Null),
        "properties": response.get("properties").cloned().unwrap_or_else(|| json!({})),
    })
}

/// A `PostSchemaPayload` file; a `schema` given as a JSON document is sent as its text, as
/// pulsar-admin accepts both.
fn read_payload(path: &std::path::Path) -> Result<Value, AdminError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| AdminError::Usage(format!("cannot read {}: {e}", path.display())))?;
    let mut payload: Value = serde_json::from_str(&text)
        .map_err(|e| AdminError::Usage(format!("{} is not JSON: {e}", path.display())))?;
    if let Some(schema) = payload.get_mut("schema") {
        if schema.is_object() {
            *schema = Value::from(schema.to_string());
        }
    }
    Ok(payload)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partitions_share_their_topics_schema_path() {
        let (base, name) = schema_path("persistent://t/n/orders-partition-2").unwrap();
        assert_eq!(base, "/admin/v2/schemas/t/n/orders");
        assert_eq!(name, "orders");
    }

    #[test]
    fn avro_definitions_show_as_documents() {
        let response = json!({"version": 0, "type": "AVRO", "data": "{\"type\":\"record\"}"});
        assert_eq!(schema_info("x", &response)["schema"]["type"], "record");
        let response = json!({"version": 0, "type": "STRING", "data": ""});
        assert_eq!(schema_info("x", &response)["schema"], "");
    }
}
