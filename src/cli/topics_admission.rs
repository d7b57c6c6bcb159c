//! `geminga admin topics` commands for deduplication, rates, the schema compatibility strategy
//! and permissions, named as pulsar-admin's, over `/admin/v2/{domain}/{t}/{ns}/{topic}/...`.

use std::io::Write;

use clap::Subcommand;
use serde_json::Value;

use super::{
    admin_http::encode_segment,
    policy_args::{DispatchRateArgs, EnableDisable, GrantArgs, PublishRateArgs},
    topics_http::{parse_topic, print_json, topic_path, AdminCliError, AdminHttp},
    topics_policies::{GetPolicy, PolicyTopic},
};

/// The commands.
#[derive(Debug, Subcommand)]
#[non_exhaustive]
pub enum AdmissionCommand {
    /// Turn message deduplication on or off for the topic.
    SetDeduplication {
        /// Topic name.
        topic: String,
        /// `--enable` or `--disable`.
        #[command(flatten)]
        flags: EnableDisable,
    },
    /// Show the topic's deduplication setting.
    GetDeduplication(GetPolicy),
    /// Remove the topic's deduplication setting.
    RemoveDeduplication(PolicyTopic),
    /// Set the topic's dispatch rate.
    SetDispatchRate {
        /// Topic name.
        topic: String,
        /// The rate.
        #[command(flatten)]
        rate: DispatchRateArgs,
    },
    /// Show the topic's dispatch rate.
    GetDispatchRate(GetPolicy),
    /// Remove the topic's dispatch rate.
    RemoveDispatchRate(PolicyTopic),
    /// Set the dispatch rate of each of the topic's subscriptions.
    SetSubscriptionDispatchRate {
        /// Topic name.
        topic: String,
        /// The rate.
        #[command(flatten)]
        rate: DispatchRateArgs,
    },
    /// Show the subscriptions' dispatch rate.
    GetSubscriptionDispatchRate(GetPolicy),
    /// Remove the subscriptions' dispatch rate.
    RemoveSubscriptionDispatchRate(PolicyTopic),
    /// Set the topic's publish rate.
    SetPublishRate {
        /// Topic name.
        topic: String,
        /// The rate.
        #[command(flatten)]
        rate: PublishRateArgs,
    },
    /// Show the topic's publish rate.
    GetPublishRate(GetPolicy),
    /// Remove the topic's publish rate.
    RemovePublishRate(PolicyTopic),
    /// Set the topic's schema compatibility strategy.
    SetSchemaCompatibilityStrategy {
        /// Topic name.
        topic: String,
        /// ALWAYS_COMPATIBLE, ALWAYS_INCOMPATIBLE, BACKWARD, FORWARD, FULL, and the
        /// `_TRANSITIVE` forms.
        #[arg(short = 's', long = "strategy")]
        strategy: String,
    },
    /// Show the topic's schema compatibility strategy.
    GetSchemaCompatibilityStrategy(GetPolicy),
    /// Remove the topic's schema compatibility strategy.
    RemoveSchemaCompatibilityStrategy(PolicyTopic),
    /// Grant a role actions on the topic.
    GrantPermission {
        /// Topic name.
        topic: String,
        /// Role and actions.
        #[command(flatten)]
        grant: GrantArgs,
    },
    /// Revoke a role's actions on the topic.
    RevokePermission {
        /// Topic name.
        topic: String,
        /// The client role.
        #[arg(long = "role")]
        role: String,
    },
    /// Show the roles and their actions on the topic (namespace grants included).
    Permissions(PolicyTopic),
}

/// What a command does over HTTP.
enum Call {
    Post(Value),
    Put(Value),
    Get { applied: bool },
    Delete,
}

impl AdmissionCommand {
    /// Runs the command, printing the values `get-` commands answer.
    ///
    /// # Errors
    /// The broker refused or could not be reached, or an argument is invalid.
    pub fn run(self, http: &AdminHttp, out: &mut impl Write) -> Result<(), AdminCliError> {
        let (topic, suffix, call) = self.plan()?;
        let path = format!("{}/{suffix}", topic_path(&parse_topic(&topic)?));
        match call {
            Call::Post(body) => http.call("POST", &path, Some(&body.to_string())).map(drop),
            Call::Put(body) => http.call("PUT", &path, Some(&body.to_string())).map(drop),
            Call::Delete => http.call("DELETE", &path, None).map(drop),
            Call::Get { applied } => {
                let path = if suffix == "permissions" {
                    path
                } else {
                    format!("{path}?applied={applied}")
                };
                print_json(out, &http.call("GET", &path, None)?.json()?)
            }
        }
    }

    fn plan(self) -> Result<(String, String, Call), AdminCliError> {
        use AdmissionCommand as A;
        use Call::{Delete, Post};
        let get = |g: &GetPolicy| Call::Get { applied: g.applied };
        let (topic, suffix, call) = match self {
            A::SetDeduplication { topic, flags } => {
                let on = flags.value().map_err(AdminCliError::InvalidArgument)?;
                (topic, "deduplicationEnabled", Post(on.into()))
            }
            A::GetDeduplication(g) => (g.topic.clone(), "deduplicationEnabled", get(&g)),
            A::RemoveDeduplication(t) => (t.topic, "deduplicationEnabled", Delete),
            A::SetDispatchRate { topic, rate } => (topic, "dispatchRate", Post(rate.body())),
            A::GetDispatchRate(g) => (g.topic.clone(), "dispatchRate", get(&g)),
            A::RemoveDispatchRate(t) => (t.topic, "dispatchRate", Delete),
            A::SetSubscriptionDispatchRate { topic, rate } => {
                (topic, "subscriptionDispatchRate", Post(rate.body()))
            }
            A::GetSubscriptionDispatchRate(g) => {
                (g.topic.clone(), "subscriptionDispatchRate", get(&g))
            }
            A::RemoveSubscriptionDispatchRate(t) => (t.topic, "subscriptionDispatchRate", Delete),
            A::SetPublishRate { topic, rate } => (topic, "publishRate", Post(rate.body())),
            A::GetPublishRate(g) => (g.topic.clone(), "publishRate", get(&g)),
            A::RemovePublishRate(t) => (t.topic, "publishRate", Delete),
            A::SetSchemaCompatibilityStrategy { topic, strategy } => {
                let strategy = Value::from(strategy.to_ascii_uppercase());
                (topic, "schemaCompatibilityStrategy", Call::Put(strategy))
            }
            A::GetSchemaCompatibilityStrategy(g) => {
                (g.topic.clone(), "schemaCompatibilityStrategy", get(&g))
            }
            A::RemoveSchemaCompatibilityStrategy(t) => {
                (t.topic, "schemaCompatibilityStrategy", Delete)
            }
            A::GrantPermission { topic, grant } => {
                let suffix = format!("permissions/{}", encode_segment(&grant.role));
                return Ok((topic, suffix, Post(grant.body())));
            }
            A::RevokePermission { topic, role } => {
                let suffix = format!("permissions/{}", encode_segment(&role));
                return Ok((topic, suffix, Delete));
            }
            A::Permissions(t) => (t.topic, "permissions", Call::Get { applied: false }),
        };
        Ok((topic, suffix.to_owned(), call))
    }
}
