//! `geminga admin namespaces` commands for deduplication, rates, producer/consumer limits, the
//! schema compatibility strategy and permissions, named as pulsar-admin's, over
//! `/admin/v2/namespaces/{tenant}/{namespace}/<policy>`.

use std::io::Write;

use clap::{Args, Subcommand};
use serde_json::Value;

use super::{
    admin::print_json,
    admin_http::{encode_segment, AdminClient, AdminError},
    policy_args::{DispatchRateArgs, EnableDisable, GrantArgs, PublishRateArgs},
};

/// A `tenant/namespace` argument.
#[derive(Debug, Args)]
pub struct Namespace {
    /// `tenant/namespace`.
    pub namespace: String,
}

/// The commands.
#[derive(Debug, Subcommand)]
#[non_exhaustive]
pub enum NsPolicyCommand {
    /// Turn message deduplication on or off for the namespace.
    SetDeduplication {
        /// `tenant/namespace`.
        namespace: String,
        /// `--enable` or `--disable`.
        #[command(flatten)]
        flags: EnableDisable,
    },
    /// Show the namespace's deduplication setting (nothing when unset).
    GetDeduplication(Namespace),
    /// Remove the namespace's deduplication setting (the broker's applies).
    RemoveDeduplication(Namespace),
    /// Set the dispatch rate of each topic.
    SetDispatchRate {
        /// `tenant/namespace`.
        namespace: String,
        /// The rate.
        #[command(flatten)]
        rate: DispatchRateArgs,
    },
    /// Show the topics' dispatch rate.
    GetDispatchRate(Namespace),
    /// Remove the topics' dispatch rate.
    RemoveDispatchRate(Namespace),
    /// Set the dispatch rate of each subscription.
    SetSubscriptionDispatchRate {
        /// `tenant/namespace`.
        namespace: String,
        /// The rate.
        #[command(flatten)]
        rate: DispatchRateArgs,
    },
    /// Show the subscriptions' dispatch rate.
    GetSubscriptionDispatchRate(Namespace),
    /// Remove the subscriptions' dispatch rate.
    RemoveSubscriptionDispatchRate(Namespace),
    /// Set the publish rate of each topic.
    SetPublishRate {
        /// `tenant/namespace`.
        namespace: String,
        /// The rate.
        #[command(flatten)]
        rate: PublishRateArgs,
    },
    /// Show the publish rate.
    GetPublishRate(Namespace),
    /// Remove the publish rate.
    RemovePublishRate(Namespace),
    /// Set the producers a topic allows at once.
    SetMaxProducersPerTopic {
        /// `tenant/namespace`.
        namespace: String,
        /// The limit (0: unlimited).
        #[arg(short = 'p', long = "max-producers-per-topic")]
        max: u32,
    },
    /// Show the producers a topic allows.
    GetMaxProducersPerTopic(Namespace),
    /// Remove the producer limit.
    RemoveMaxProducersPerTopic(Namespace),
    /// Set the consumers a topic allows at once.
    SetMaxConsumersPerTopic {
        /// `tenant/namespace`.
        namespace: String,
        /// The limit (0: unlimited).
        #[arg(short = 'c', long = "max-consumers-per-topic")]
        max: u32,
    },
    /// Show the consumers a topic allows.
    GetMaxConsumersPerTopic(Namespace),
    /// Remove the per-topic consumer limit.
    RemoveMaxConsumersPerTopic(Namespace),
    /// Set the consumers a subscription allows at once.
    SetMaxConsumersPerSubscription {
        /// `tenant/namespace`.
        namespace: String,
        /// The limit (0: unlimited).
        #[arg(short = 'c', long = "max-consumers-per-subscription")]
        max: u32,
    },
    /// Show the consumers a subscription allows.
    GetMaxConsumersPerSubscription(Namespace),
    /// Remove the per-subscription consumer limit.
    RemoveMaxConsumersPerSubscription(Namespace),
    /// Set the schema compatibility strategy of the namespace's topics.
    SetSchemaCompatibilityStrategy {
        /// `tenant/namespace`.
        namespace: String,
        /// ALWAYS_COMPATIBLE, ALWAYS_INCOMPATIBLE, BACKWARD, FORWARD, FULL, and the
        /// `_TRANSITIVE` forms.
        #[arg(short = 'c', long = "compatibility")]
        strategy: String,
    },
    /// Show the schema compatibility strategy in force.
    GetSchemaCompatibilityStrategy(Namespace),
    /// Grant a role actions on the namespace.
    GrantPermission {
        /// `tenant/namespace`.
        namespace: String,
        /// Role and actions.
        #[command(flatten)]
        grant: GrantArgs,
    },
    /// Revoke a role's actions on the namespace.
    RevokePermission {
        /// `tenant/namespace`.
        namespace: String,
        /// The client role.
        #[arg(long = "role")]
        role: String,
    },
    /// Show the roles and their actions on the namespace.
    Permissions(Namespace),
}

/// What a command does over HTTP: `POST` a body, `PUT` one, `GET` and print, `DELETE`.
enum Call {
    Post(Value),
    Put(Value),
    Get,
    Delete,
}

impl NsPolicyCommand {
    /// Runs the command, printing the values `get-` commands answer.
    ///
    /// # Errors
    /// See [`AdminError`].
    pub fn run(self, client: &AdminClient, out: &mut impl Write) -> Result<(), AdminError> {
        let (namespace, policy, call) = self.plan()?;
        let path = format!("{}/{policy}", ns_path(&namespace)?);
        match call {
            Call::Post(body) => client.post(&path, Some(&body)).map(drop),
            Call::Put(body) => client.put(&path, Some(&body)).map(drop),
            Call::Delete => client.delete(&path).map(drop),
            Call::Get => print_json(out, &client.get(&path)?),
        }
    }

    fn plan(self) -> Result<(String, String, Call), AdminError> {
        use Call::{Delete, Get, Post};
        use NsPolicyCommand as N;
        let (ns, policy, call) = match self {
            N::SetDeduplication { namespace, flags } => {
                let on = flags.value().map_err(AdminError::Usage)?;
                (namespace, "deduplication", Post(on.into()))
            }
            N::GetDeduplication(n) => (n.namespace, "deduplication", Get),
            N::RemoveDeduplication(n) => (n.namespace, "deduplication", Delete),
            N::SetDispatchRate { namespace, rate } => {
                (namespace, "dispatchRate", Post(rate.body()))
            }
            N::GetDispatchRate(n) => (n.namespace, "dispatchRate", Get),
            N::RemoveDispatchRate(n) => (n.namespace, "dispatchRate", Delete),
            N::SetSubscriptionDispatchRate { namespace, rate } => {
                (namespace, "subscriptionDispatchRate", Post(rate.body()))
            }
            N::GetSubscriptionDispatchRate(n) => (n.namespace, "subscriptionDispatchRate", Get),
            N::RemoveSubscriptionDispatchRate(n) => {
                (n.namespace, "subscriptionDispatchRate", Delete)
            }
            N::SetPublishRate { namespace, rate } => (namespace, "publishRate", Post(rate.body())),
            N::GetPublishRate(n) => (n.namespace, "publishRate", Get),
            N::RemovePublishRate(n) => (n.namespace, "publishRate", Delete),
            N::SetMaxProducersPerTopic { namespace, max } => {
                (namespace, "maxProducersPerTopic", Post(max.into()))
            }
            N::GetMaxProducersPerTopic(n) => (n.namespace, "maxProducersPerTopic", Get),
            N::RemoveMaxProducersPerTopic(n) => (n.namespace, "maxProducersPerTopic", Delete),
            N::SetMaxConsumersPerTopic { namespace, max } => {
                (namespace, "maxConsumersPerTopic", Post(max.into()))
            }
            N::GetMaxConsumersPerTopic(n) => (n.namespace, "maxConsumersPerTopic", Get),
            N::RemoveMaxConsumersPerTopic(n) => (n.namespace, "maxConsumersPerTopic", Delete),
            N::SetMaxConsumersPerSubscription { namespace, max } => {
                (namespace, "maxConsumersPerSubscription", Post(max.into()))
            }
            N::GetMaxConsumersPerSubscription(n) => {
                (n.namespace, "maxConsumersPerSubscription", Get)
            }
            N::RemoveMaxConsumersPerSubscription(n) => {
                (n.namespace, "maxConsumersPerSubscription", Delete)
            }
            N::SetSchemaCompatibilityStrategy {
                namespace,
                strategy,
            } => {
                let strategy = Value::from(strategy.to_ascii_uppercase());
                (
                    namespace,
                    "schemaCompatibilityStrategy",
                    Call::Put(strategy),
                )
            }
            N::GetSchemaCompatibilityStrategy(n) => {
                (n.namespace, "schemaCompatibilityStrategy", Get)
            }
            N::GrantPermission { namespace, grant } => {
                let path = format!("permissions/{}", encode_segment(&grant.role));
                return Ok((namespace, path, Post(grant.body())));
            }
            N::RevokePermission { namespace, role } => {
                let path = format!("permissions/{}", encode_segment(&role));
                return Ok((namespace, path, Delete));
            }
            N::Permissions(n) => (n.namespace, "permissions", Get),
        };
        Ok((ns, policy.to_owned(), call))
    }
}

/// `/admin/v2/namespaces/{tenant}/{namespace}` for `tenant/namespace`.
///
/// # Errors
/// [`AdminError::Usage`] for anything but `tenant/namespace`.
pub fn ns_path(namespace: &str) -> Result<String, AdminError> {
    match namespace.split_once('/') {
        Some((tenant, ns)) if !tenant.is_empty() && !ns.is_empty() && !ns.contains('/') => {
            Ok(format!(
                "/admin/v2/namespaces/{}/{}",
                encode_segment(tenant),
                encode_segment(ns)
            ))
        }
        _ => Err(AdminError::Usage(format!(
            "invalid namespace {namespace:?}: expected tenant/namespace"
        ))),
    }
}
