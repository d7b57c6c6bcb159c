//! `geminga admin clusters|tenants|namespaces ...`.

use std::io::Write;

use clap::Subcommand;
use serde_json::{json, Value};

use super::{
    admin::{comma_list, print_json, print_list},
    admin_http::{encode_segment, AdminClient, AdminError},
    ns_policies::{ns_path, NsPolicyCommand},
};

/// `clusters` commands.
#[derive(Debug, Subcommand)]
#[non_exhaustive]
pub enum ClustersCommand {
    /// List the clusters.
    List,
    /// Show a cluster's addresses.
    Get {
        /// Cluster name.
        cluster: String,
    },
}

impl ClustersCommand {
    /// Runs the command.
    ///
    /// # Errors
    /// See [`AdminError`].
    pub fn run(self, client: &AdminClient, out: &mut impl Write) -> Result<(), AdminError> {
        match self {
            Self::List => print_list(out, &client.get("/admin/v2/clusters")?),
            Self::Get { cluster } => print_json(
                out,
                &client.get(&format!("/admin/v2/clusters/{}", encode_segment(&cluster)))?,
            ),
        }
    }
}

/// `tenants` commands.
#[derive(Debug, Subcommand)]
#[non_exhaustive]
pub enum TenantsCommand {
    /// List the tenants.
    List,
    /// Show a tenant's admin roles and allowed clusters.
    Get {
        /// Tenant name.
        tenant: String,
    },
    /// Create a tenant.
    Create {
        /// Tenant name.
        tenant: String,
        /// Admin roles (comma separated).
        #[arg(short = 'r', long = "admin-roles")]
        admin_roles: Vec<String>,
        /// Allowed clusters (comma separated); default every cluster.
        #[arg(short = 'c', long = "allowed-clusters")]
        allowed_clusters: Vec<String>,
    },
    /// Replace a tenant's admin roles and allowed clusters.
    Update {
        /// Tenant name.
        tenant: String,
        /// Admin roles (comma separated).
        #[arg(short = 'r', long = "admin-roles")]
        admin_roles: Vec<String>,
        /// Allowed clusters (comma separated); default every cluster.
        #[arg(short = 'c', long = "allowed-clusters")]
        allowed_clusters: Vec<String>,
    },
    /// Delete a tenant without namespaces.
    Delete {
        /// Tenant name.
        tenant: String,
    },
}

fn tenant_path(tenant: &str) -> String {
    format!("/admin/v2/tenants/{}", encode_segment(tenant))
}

/// A TenantInfo body; no clusters given means every cluster, as pulsar-admin does.
fn tenant_info(
    client: &AdminClient,
    roles: &[String],
    clusters: &[String],
) -> Result<Value, AdminError> {
    let mut clusters = comma_list(clusters);
    if clusters.is_empty() {
        if let Value::Array(all) = client.get("/admin/v2/clusters")? {
            clusters = all
                .iter()
                .filter_map(|c| c.as_str().map(str::to_owned))
                .collect();
        }
    }
    Ok(json!({ "adminRoles": comma_list(roles), "allowedClusters": clusters }))
}

impl TenantsCommand {
    /// Runs the command.
    ///
    /// # Errors
    /// See [`AdminError`].
    pub fn run(self, client: &AdminClient, out: &mut impl Write) -> Result<(), AdminError> {
        match self {
            Self::List => print_list(out, &client.get("/admin/v2/tenants")?),
            Self::Get { tenant } => print_json(out, &client.get(&tenant_path(&tenant))?),
            Self::Create {
                tenant,
                admin_roles,
                allowed_clusters,
            } => {
                let body = tenant_info(client, &admin_roles, &allowed_clusters)?;
                client.put(&tenant_path(&tenant), Some(&body)).map(drop)
            }
            Self::Update {
                tenant,
                admin_roles,
                allowed_clusters,
            } => {
                let body = tenant_info(client, &admin_roles, &allowed_clusters)?;
                client.post(&tenant_path(&tenant), Some(&body)).map(drop)
            }
            Self::Delete { tenant } => client.delete(&tenant_path(&tenant)).map(drop),
        }
    }
}

/// `namespaces` commands.
#[derive(Debug, Subcommand)]
#[non_exhaustive]
pub enum NamespacesCommand {
    /// List a tenant's namespaces.
    List {
        /// Tenant name.
        tenant: String,
    },
    /// Create a namespace (`tenant/namespace`).
    Create {
        /// `tenant/namespace`.
        namespace: String,
        /// Number of bundles; default the broker's.
        #[arg(short = 'b', long = "bundles")]
        bundles: Option<u32>,
        /// Replication clusters (comma separated); default the tenant's.
        #[arg(short = 'c', long = "clusters")]
        clusters: Vec<String>,
    },
    /// Delete a namespace; `--force` deletes its topics first.
    Delete {
        /// `tenant/namespace`.
        namespace: String,
        /// Delete the topics in it too.
        #[arg(short = 'f', long = "force")]
        force: bool,
    },
    /// Show a namespace's policies.
    Policies {
        /// `tenant/namespace`.
        namespace: String,
    },
    /// List a namespace's topics.
    Topics {
        /// `tenant/namespace`.
        namespace: String,
    },
    /// Show a namespace's bundles.
    Bundles {
        /// `tenant/namespace`.
        namespace: String,
    },
    /// Unload a namespace, or one of its bundles (clients reconnect).
    Unload {
        /// `tenant/namespace`.
        namespace: String,
        /// Only this bundle (`0x00000000_0x40000000`).
        #[arg(short = 'b', long = "bundle")]
        bundle: Option<String>,
    },
    /// Split a bundle in two.
    SplitBundle {
        /// `tenant/namespace`.
        namespace: String,
        /// The bundle to split.
        #[arg(short = 'b', long = "bundle")]
        bundle: String,
        /// Unload the bundle's topics after splitting.
        #[arg(short = 'u', long = "unload")]
        unload: bool,
    },
    /// Set the namespace's auto topic creation.
    SetAutoTopicCreation {
        /// `tenant/namespace`.
        namespace: String,
        /// Allow auto-creation.
        #[arg(short = 'e', long = "enable", conflicts_with = "disable")]
        enable: bool,
        /// Forbid auto-creation.
        #[arg(short = 'd', long = "disable")]
        disable: bool,
        /// `partitioned` or `non-partitioned`.
        #[arg(short = 't', long = "type", default_value = "non-partitioned")]
        topic_type: String,
        /// Partitions of auto-created partitioned topics.
        #[arg(short = 'n', long = "num-partitions")]
        num_partitions: Option<u32>,
    },
    /// Show the namespace's auto topic creation override (nothing when unset).
    GetAutoTopicCreation {
        /// `tenant/namespace`.
        namespace: String,
    },
    /// Remove the namespace's auto topic creation override.
    RemoveAutoTopicCreation {
        /// `tenant/namespace`.
        namespace: String,
    },
    /// Retention, message TTL, backlog quotas, compaction threshold.
    #[command(flatten)]
    StoragePolicy(super::admin_ns_policies::NamespacePolicyCommand),
    /// Deduplication, rates, limits, schema strategy and permissions.
    #[command(flatten)]
    Policy(NsPolicyCommand),
}

impl NamespacesCommand {
    /// Runs the command.
    ///
    /// # Errors
    /// See [`AdminError`].
    pub fn run(self, client: &AdminClient, out: &mut impl Write) -> Result<(), AdminError> {
        match self {
            Self::List { tenant } => print_list(
                out,
                &client.get(&format!("/admin/v2/namespaces/{}", encode_segment(&tenant)))?,
            ),
            Self::Create {
                namespace,
                bundles,
                clusters,
            } => {
                let mut policies = serde_json::Map::new();
                if let Some(n) = bundles {
                    policies.insert("bundles".into(), json!({ "numBundles": n }));
                }
                let clusters = comma_list(&clusters);
                if !clusters.is_empty() {
                    policies.insert("replication_clusters".into(), json!(clusters));
                }
                let body = Value::Object(policies);
                client.put(&ns_path(&namespace)?, Some(&body)).map(drop)
            }
            Self::Delete { namespace, force } => client
                .delete(&format!("{}?force={force}", ns_path(&namespace)?))
                .map(drop),
            Self::Policies { namespace } => print_json(out, &client.get(&ns_path(&namespace)?)?),
            Self::Topics { namespace } => print_list(
                out,
                &client.get(&format!("{}/topics?mode=ALL", ns_path(&namespace)?))?,
            ),
            Self::Bundles { namespace } => print_json(
                out,
                &client.get(&format!("{}/bundles", ns_path(&namespace)?))?,
            ),
            Self::Unload { namespace, bundle } => {
                let path = match bundle {
                    Some(b) => format!("{}/{}/unload", ns_path(&namespace)?, encode_segment(&b)),
                    None => format!("{}/unload", ns_path(&namespace)?),
                };
                client.put(&path, None).map(drop)
            }
            Self::SplitBundle {
                namespace,
                bundle,
                unload,
            } => {
                let path = format!(
                    "{}/{}/split?unload={unload}",
                    ns_path(&namespace)?,
                    encode_segment(&bundle)
                );
                client.put(&path, None).map(drop)
            }
            Self::SetAutoTopicCreation {
                namespace,
                enable,
                disable,
                topic_type,
                num_partitions,
            } => {
                if !enable && !disable {
                    return Err(AdminError::Usage("give --enable or --disable".into()));
                }
                let mut body = serde_json::Map::new();
                body.insert("allowAutoTopicCreation".into(), json!(enable));
                body.insert("topicType".into(), json!(topic_type));
                if let Some(n) = num_partitions {
                    body.insert("defaultNumPartitions".into(), json!(n));
                }
                let body = Value::Object(body);
                let path = format!("{}/autoTopicCreation", ns_path(&namespace)?);
                client.post(&path, Some(&body)).map(drop)
            }
            Self::GetAutoTopicCreation { namespace } => print_json(
                out,
                &client.get(&format!("{}/autoTopicCreation", ns_path(&namespace)?))?,
            ),
            Self::RemoveAutoTopicCreation { namespace } => client
                .delete(&format!("{}/autoTopicCreation", ns_path(&namespace)?))
                .map(drop),
            Self::StoragePolicy(command) => command.run(client, out),
            Self::Policy(command) => command.run(client, out),
        }
    }
}
