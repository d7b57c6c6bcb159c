//! `geminga admin namespaces` storage policy commands (pulsar-admin's names): retention,
//! message TTL, backlog quotas, the compaction threshold, delayed delivery and dead letters.

use std::io::Write;

use clap::Subcommand;
use serde_json::{json, Value};

use super::{
    admin::print_json,
    admin_http::{AdminClient, AdminError},
    ns_policies::ns_path,
    topics_http::{parse_seconds, parse_size_mb},
    topics_storage::{parse_size_bytes, quota_body},
};

/// The storage policy commands of a namespace.
#[derive(Debug, Subcommand)]
#[non_exhaustive]
pub enum NamespacePolicyCommand {
    /// Set the retention of acknowledged messages.
    SetRetention {
        /// `tenant/namespace`.
        namespace: String,
        /// Retention time: minutes, or 10m, 3h, 2d, 1w; -1 for infinite.
        #[arg(short = 't', long = "time", allow_hyphen_values = true)]
        time: String,
        /// Retention size: 10M, 1G...; -1 for infinite.
        #[arg(short = 's', long = "size", allow_hyphen_values = true)]
        size: String,
    },
    /// Get the retention (nothing when unset).
    GetRetention {
        /// `tenant/namespace`.
        namespace: String,
    },
    /// Remove the retention.
    RemoveRetention {
        /// `tenant/namespace`.
        namespace: String,
    },
    /// Set the message TTL.
    SetMessageTtl {
        /// `tenant/namespace`.
        namespace: String,
        /// Seconds, or 10m, 3h, 2d, 1w.
        #[arg(long = "messageTTL", visible_alias = "ttl")]
        ttl: String,
    },
    /// Get the message TTL (nothing when unset).
    GetMessageTtl {
        /// `tenant/namespace`.
        namespace: String,
    },
    /// Remove the message TTL.
    RemoveMessageTtl {
        /// `tenant/namespace`.
        namespace: String,
    },
    /// Set a backlog quota.
    SetBacklogQuota {
        /// `tenant/namespace`.
        namespace: String,
        /// Size limit: bytes, or 10K, 10M, 1G...; -1 for none.
        #[arg(short = 'l', long = "limit", allow_hyphen_values = true)]
        limit: Option<String>,
        /// Age limit of the oldest unacknowledged message: seconds, or 10m, 3h...; -1 for none.
        #[arg(
            long = "limitTime",
            visible_alias = "limit-time",
            allow_hyphen_values = true
        )]
        limit_time: Option<String>,
        /// producer_request_hold, producer_exception or consumer_backlog_eviction.
        #[arg(short = 'p', long = "policy")]
        policy: String,
        /// destination_storage or message_age.
        #[arg(short = 't', long = "type", default_value = "destination_storage")]
        quota_type: String,
    },
    /// Get the backlog quotas.
    GetBacklogQuotas {
        /// `tenant/namespace`.
        namespace: String,
    },
    /// Remove a backlog quota.
    RemoveBacklogQuota {
        /// `tenant/namespace`.
        namespace: String,
        /// destination_storage or message_age.
        #[arg(short = 't', long = "type", default_value = "destination_storage")]
        quota_type: String,
    },
    /// Set the compaction threshold (uncompacted bytes that trigger a compaction).
    SetCompactionThreshold {
        /// `tenant/namespace`.
        namespace: String,
        /// Bytes, or 10K, 10M, 1G...; 0 switches automatic compaction off.
        #[arg(short = 't', long = "threshold")]
        threshold: String,
    },
    /// Get the compaction threshold (nothing when unset).
    GetCompactionThreshold {
        /// `tenant/namespace`.
        namespace: String,
    },
    /// Remove the compaction threshold.
    RemoveCompactionThreshold {
        /// `tenant/namespace`.
        namespace: String,
    },
    /// Turn delayed delivery on or off and set its tick time.
    SetDelayedDelivery {
        /// `tenant/namespace`.
        namespace: String,
        /// The policy's flags.
        #[command(flatten)]
        flags: DelayedDeliveryFlags,
    },
    /// Get the delayed-delivery policy (nothing when unset).
    GetDelayedDelivery {
        /// `tenant/namespace`.
        namespace: String,
    },
    /// Remove the delayed-delivery policy (the broker's settings apply again).
    RemoveDelayedDelivery {
        /// `tenant/namespace`.
        namespace: String,
    },
    /// Set the broker-side dead-letter policy (a Geminga extension of the namespace policies).
    SetDeadLetterPolicy {
        /// `tenant/namespace`.
        namespace: String,
        /// The policy's flags.
        #[command(flatten)]
        flags: DeadLetterFlags,
    },
    /// Get the dead-letter policy (nothing when unset).
    GetDeadLetterPolicy {
        /// `tenant/namespace`.
        namespace: String,
    },
    /// Remove the dead-letter policy.
    RemoveDeadLetterPolicy {
        /// `tenant/namespace`.
        namespace: String,
    },
}

/// Flags of `set-dead-letter-policy`, named after the clients' `DeadLetterPolicy`.
#[derive(Debug, clap::Args)]
pub struct DeadLetterFlags {
    /// Deliveries after which a message goes to the dead-letter topic (0: off).
    #[arg(
        short = 'm',
        long = "maxRedeliverCount",
        visible_alias = "max-redeliver-count"
    )]
    pub max_redeliver_count: u32,
    /// The dead-letter topic (default `<topic>-<subscription>-DLQ`).
    #[arg(
        short = 't',
        long = "deadLetterTopic",
        visible_alias = "dead-letter-topic"
    )]
    pub dead_letter_topic: Option<String>,
}

impl DeadLetterFlags {
    /// The `DeadLetterPolicy` JSON body.
    #[must_use]
    pub fn body(&self) -> Value {
        let mut body = json!({ "maxRedeliverCount": self.max_redeliver_count });
        if let (Some(topic), Some(map)) = (&self.dead_letter_topic, body.as_object_mut()) {
            map.insert("deadLetterTopic".to_owned(), Value::from(topic.as_str()));
        }
        body
    }
}

/// pulsar-admin's `set-delayed-delivery` flags, shared by namespaces and topics.
#[derive(Debug, clap::Args)]
pub struct DelayedDeliveryFlags {
    /// Hold messages with a delivery time back until it comes.
    #[arg(short = 'e', long = "enable", conflicts_with = "disable")]
    pub enable: bool,
    /// Deliver messages with a delivery time at once.
    #[arg(short = 'd', long = "disable")]
    pub disable: bool,
    /// How often due messages are looked for: 1s, 10s, 1m...
    #[arg(short = 't', long = "time", default_value = "1s")]
    pub time: String,
    /// Longest delay a producer may ask for (0: no limit): 1s, 10m, 1d...
    #[arg(long = "maxDelay", visible_alias = "max-delay", default_value = "0")]
    pub max_delay: String,
}

impl DelayedDeliveryFlags {
    /// The `DelayedDeliveryPolicies` JSON body. Without `--enable` or `--disable` the policy
    /// is off, as with pulsar-admin.
    ///
    /// # Errors
    /// A time that does not parse.
    pub fn body(&self) -> Result<Value, String> {
        let millis = |text: &str| {
            super::topics_http::parse_seconds(text)
                .map(|s| s.saturating_mul(1000))
                .map_err(|e| e.to_string())
        };
        Ok(json!({
            "active": self.enable && !self.disable,
            "tickTime": millis(&self.time)?,
            "maxDeliveryDelayInMillis": millis(&self.max_delay)?,
        }))
    }
}

fn usage(e: impl std::fmt::Display) -> AdminError {
    AdminError::Usage(e.to_string())
}

impl NamespacePolicyCommand {
    /// Runs the command, printing the values of `get-` commands.
    ///
    /// # Errors
    /// See [`AdminError`].
    pub fn run(self, client: &AdminClient, out: &mut impl Write) -> Result<(), AdminError> {
        use NamespacePolicyCommand as C;
        let at = |ns: &str, policy: &str| ns_path(ns).map(|p| format!("{p}/{policy}"));
        match self {
            C::SetRetention {
                namespace,
                time,
                size,
            } => {
                let minutes = if time.trim() == "-1" {
                    -1
                } else {
                    i64::try_from(parse_seconds(&time).map_err(usage)? / 60).unwrap_or(i64::MAX)
                };
                let body = json!({
                    "retentionTimeInMinutes": minutes,
                    "retentionSizeInMB": parse_size_mb(&size).map_err(usage)?,
                });
                client
                    .post(&at(&namespace, "retention")?, Some(&body))
                    .map(drop)
            }
            C::GetRetention { namespace } => {
                print_json(out, &client.get(&at(&namespace, "retention")?)?)
            }
            C::RemoveRetention { namespace } => {
                client.delete(&at(&namespace, "retention")?).map(drop)
            }
            C::SetMessageTtl { namespace, ttl } => {
                let seconds = parse_seconds(&ttl).map_err(usage)?;
                let body = Value::from(seconds);
                client
                    .post(&at(&namespace, "messageTTL")?, Some(&body))
                    .map(drop)
            }
            C::GetMessageTtl { namespace } => {
                print_json(out, &client.get(&at(&namespace, "messageTTL")?)?)
            }
            C::RemoveMessageTtl { namespace } => {
                client.delete(&at(&namespace, "messageTTL")?).map(drop)
            }
            C::SetBacklogQuota {
                namespace,
                limit,
                limit_time,
                policy,
                quota_type,
            } => {
                let body =
                    quota_body(limit.as_deref(), limit_time.as_deref(), &policy).map_err(usage)?;
                let path = format!(
                    "{}?backlogQuotaType={quota_type}",
                    at(&namespace, "backlogQuota")?
                );
                client.post(&path, Some(&body)).map(drop)
            }
            C::GetBacklogQuotas { namespace } => {
                print_json(out, &client.get(&at(&namespace, "backlogQuotaMap")?)?)
            }
            C::RemoveBacklogQuota {
                namespace,
                quota_type,
            } => {
                let path = format!(
                    "{}?backlogQuotaType={quota_type}",
                    at(&namespace, "backlogQuota")?
                );
                client.delete(&path).map(drop)
            }
            C::SetCompactionThreshold {
                namespace,
                threshold,
            } => {
                let bytes = parse_size_bytes(&threshold).map_err(usage)?.max(0);
                let body = Value::from(bytes);
                client
                    .put(&at(&namespace, "compactionThreshold")?, Some(&body))
                    .map(drop)
            }
            C::GetCompactionThreshold { namespace } => {
                print_json(out, &client.get(&at(&namespace, "compactionThreshold")?)?)
            }
            C::RemoveCompactionThreshold { namespace } => client
                .delete(&at(&namespace, "compactionThreshold")?)
                .map(drop),
            C::SetDelayedDelivery { namespace, flags } => {
                let body = flags.body().map_err(usage)?;
                client
                    .post(&at(&namespace, "delayedDelivery")?, Some(&body))
                    .map(drop)
            }
            C::GetDelayedDelivery { namespace } => {
                print_json(out, &client.get(&at(&namespace, "delayedDelivery")?)?)
            }
            C::RemoveDelayedDelivery { namespace } => {
                client.delete(&at(&namespace, "delayedDelivery")?).map(drop)
            }
            C::SetDeadLetterPolicy { namespace, flags } => client
                .post(&at(&namespace, "deadLetterPolicy")?, Some(&flags.body()))
                .map(drop),
            C::GetDeadLetterPolicy { namespace } => {
                print_json(out, &client.get(&at(&namespace, "deadLetterPolicy")?)?)
            }
            C::RemoveDeadLetterPolicy { namespace } => client
                .delete(&at(&namespace, "deadLetterPolicy")?)
                .map(drop),
        }
    }
}
