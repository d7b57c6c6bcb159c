//! `geminga admin topics ...`: partitioned topics, listing and lookup.

use std::io::Write;

use clap::Subcommand;
use geminga_protocol::topic_name::TopicName;
use serde_json::{json, Value};

use super::{
    admin::{print_json, print_list},
    admin_http::{encode_segment, AdminClient, AdminError},
};

/// `topics` commands (the partitioned-topic, listing and lookup part).
#[derive(Debug, Subcommand)]
#[non_exhaustive]
pub enum TopicsCommand {
    /// Create a partitioned topic.
    CreatePartitionedTopic {
        /// Topic name (`persistent://tenant/namespace/topic` or a short form).
        topic: String,
        /// Number of partitions.
        #[arg(short = 'p', long = "partitions")]
        partitions: u32,
    },
    /// Raise a partitioned topic's partition count.
    UpdatePartitionedTopic {
        /// Topic name.
        topic: String,
        /// New number of partitions (more than now).
        #[arg(short = 'p', long = "partitions")]
        partitions: u32,
    },
    /// Show a topic's partition count (0: not partitioned).
    GetPartitionedTopicMetadata {
        /// Topic name.
        topic: String,
    },
    /// Delete a partitioned topic and its partitions.
    DeletePartitionedTopic {
        /// Topic name.
        topic: String,
        /// Close connected producers and consumers instead of refusing.
        #[arg(short = 'f', long = "force")]
        force: bool,
    },
    /// List a namespace's partitioned topics.
    ListPartitionedTopics {
        /// `tenant/namespace`.
        namespace: String,
    },
    /// Show the broker serving a topic.
    Lookup {
        /// Topic name.
        topic: String,
    },
    /// Show the bundle a topic belongs to.
    BundleRange {
        /// Topic name.
        topic: String,
    },
}

/// `{domain}/{tenant}/{namespace}/{local}` of a topic name, each part encoded.
fn topic_path(topic: &str) -> Result<String, AdminError> {
    let name = TopicName::parse(topic).map_err(|e| AdminError::Usage(e.to_string()))?;
    Ok(format!(
        "{}/{}/{}/{}",
        name.domain(),
        encode_segment(name.tenant()),
        encode_segment(name.namespace()),
        encode_segment(name.local_name())
    ))
}

/// `{tenant}/{namespace}` checked and encoded.
fn namespace_path(namespace: &str) -> Result<String, AdminError> {
    match namespace.split_once('/') {
        Some((tenant, ns)) if !tenant.is_empty() && !ns.is_empty() && !ns.contains('/') => {
            Ok(format!("{}/{}", encode_segment(tenant), encode_segment(ns)))
        }
        _ => Err(AdminError::Usage(format!(
            "invalid namespace {namespace:?}: expected tenant/namespace"
        ))),
    }
}

impl TopicsCommand {
    /// Runs the command.
    ///
    /// # Errors
    /// See [`AdminError`].
    pub fn run(self, client: &AdminClient, out: &mut impl Write) -> Result<(), AdminError> {
        match self {
            Self::CreatePartitionedTopic { topic, partitions } => {
                let path = format!("/admin/v2/{}/partitions", topic_path(&topic)?);
                client.put(&path, Some(&json!(partitions))).map(drop)
            }
            Self::UpdatePartitionedTopic { topic, partitions } => {
                let path = format!("/admin/v2/{}/partitions", topic_path(&topic)?);
                client.post(&path, Some(&json!(partitions))).map(drop)
            }
            Self::GetPartitionedTopicMetadata { topic } => {
                let path = format!("/admin/v2/{}/partitions", topic_path(&topic)?);
                print_json(out, &client.get(&path)?)
            }
            Self::DeletePartitionedTopic { topic, force } => {
                let path = format!("/admin/v2/{}/partitions?force={force}", topic_path(&topic)?);
                client.delete(&path).map(drop)
            }
            Self::ListPartitionedTopics { namespace } => {
                let ns = namespace_path(&namespace)?;
                let mut all = Vec::new();
                for domain in ["persistent", "non-persistent"] {
                    let path = format!("/admin/v2/{domain}/{ns}/partitioned");
                    if let Value::Array(items) = client.get(&path)? {
                        all.extend(items);
                    }
                }
                print_list(out, &Value::Array(all))
            }
            Self::Lookup { topic } => {
                let answer = client.get(&format!("/lookup/v2/topic/{}", topic_path(&topic)?))?;
                let url = answer.get("brokerUrl").cloned().unwrap_or(Value::Null);
                print_json(out, &url)
            }
            Self::BundleRange { topic } => print_json(
                out,
                &client.get(&format!("/lookup/v2/topic/{}/bundle", topic_path(&topic)?))?,
            ),
        }
    }
}
