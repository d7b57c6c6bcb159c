//! Topic policy commands of `geminga admin topics` (`set-`/`get-`/`remove-` pulsar-admin's
//! names), over `/admin/v2/{domain}/{t}/{ns}/{topic}/<policy>`.

use std::io::Write;

use clap::{Args, Subcommand};
use serde_json::json;

use super::topics_http::{
    parse_seconds, parse_size_mb, parse_topic, print_json, topic_path, AdminCliError, AdminHttp,
};

/// A topic argument.
#[derive(Debug, Args)]
pub struct PolicyTopic {
    /// Topic name.
    pub topic: String,
}

/// A topic argument and `--applied`.
#[derive(Debug, Args)]
pub struct GetPolicy {
    /// Topic name.
    pub topic: String,
    /// Show the value in effect (the broker's when the topic sets none).
    #[arg(long = "applied", visible_alias = "ap")]
    pub applied: bool,
}

/// A topic argument and a count flag.
#[derive(Debug, Args)]
pub struct SetCount {
    /// Topic name.
    pub topic: String,
    /// The limit (0: unlimited).
    #[arg(short = 'm', long = "maxNum")]
    pub max_num: u32,
}

/// The policy commands.
#[derive(Debug, Subcommand)]
#[non_exhaustive]
pub enum PolicyCommand {
    /// Set the message TTL.
    SetMessageTtl {
        /// Topic name.
        topic: String,
        /// Seconds, or 10m, 3h, 2d, 1w.
        #[arg(short = 't', long = "ttl")]
        ttl: String,
    },
    /// Get the message TTL.
    GetMessageTtl(GetPolicy),
    /// Remove the message TTL.
    RemoveMessageTtl(PolicyTopic),
    /// Set the retention of acknowledged messages.
    SetRetention {
        /// Topic name.
        topic: String,
        /// Retention time: minutes, or 10m, 3h, 2d, 1w; -1 for infinite.
        #[arg(short = 't', long = "time", allow_hyphen_values = true)]
        time: String,
        /// Retention size: 10M, 1G...; -1 for infinite.
        #[arg(short = 's', long = "size", allow_hyphen_values = true)]
        size: String,
    },
    /// Get the retention.
    GetRetention(GetPolicy),
    /// Remove the retention.
    RemoveRetention(PolicyTopic),
    /// Set the unacked messages a consumer may hold.
    SetMaxUnackedMessagesPerConsumer(SetCount),
    /// Get the unacked messages a consumer may hold.
    GetMaxUnackedMessagesPerConsumer(GetPolicy),
    /// Remove the per-consumer unacked limit.
    RemoveMaxUnackedMessagesPerConsumer(PolicyTopic),
    /// Set the unacked messages a subscription may hold.
    SetMaxUnackedMessagesPerSubscription(SetCount),
    /// Get the unacked messages a subscription may hold.
    GetMaxUnackedMessagesPerSubscription(GetPolicy),
    /// Remove the per-subscription unacked limit.
    RemoveMaxUnackedMessagesPerSubscription(PolicyTopic),
    /// Set the producers allowed at once.
    SetMaxProducers {
        /// Topic name.
        topic: String,
        /// The limit (0: unlimited).
        #[arg(short = 'p', long = "max-producers")]
        max_producers: u32,
    },
    /// Get the producers allowed at once.
    GetMaxProducers(GetPolicy),
    /// Remove the producer limit.
    RemoveMaxProducers(PolicyTopic),
    /// Set the consumers allowed at once.
    SetMaxConsumers {
        /// Topic name.
        topic: String,
        /// The limit (0: unlimited).
        #[arg(short = 'c', long = "max-consumers")]
        max_consumers: u32,
    },
    /// Get the consumers allowed at once.
    GetMaxConsumers(GetPolicy),
    /// Remove the consumer limit.
    RemoveMaxConsumers(PolicyTopic),
    /// Set the consumers allowed per subscription.
    SetMaxConsumersPerSubscription {
        /// Topic name.
        topic: String,
        /// The limit (0: unlimited).
        #[arg(short = 'c', long = "max-consumers-per-subscription")]
        max_consumers_per_subscription: u32,
    },
    /// Get the consumers allowed per subscription.
    GetMaxConsumersPerSubscription(GetPolicy),
    /// Remove the per-subscription consumer limit.
    RemoveMaxConsumersPerSubscription(PolicyTopic),
    /// Turn delayed delivery on or off and set its tick time.
    SetDelayedDelivery {
        /// Topic name.
        topic: String,
        /// The policy's flags.
        #[command(flatten)]
        flags: super::admin_ns_policies::DelayedDeliveryFlags,
    },
    /// Get the delayed-delivery policy.
    GetDelayedDelivery(GetPolicy),
    /// Remove the delayed-delivery policy (the namespace's or broker's applies again).
    RemoveDelayedDelivery(PolicyTopic),
    /// Set the broker-side dead-letter policy (a Geminga extension of the topic policies).
    SetDeadLetterPolicy {
        /// Topic name.
        topic: String,
        /// The policy's flags.
        #[command(flatten)]
        flags: super::admin_ns_policies::DeadLetterFlags,
    },
    /// Get the dead-letter policy.
    GetDeadLetterPolicy(GetPolicy),
    /// Remove the dead-letter policy (the namespace's applies again).
    RemoveDeadLetterPolicy(PolicyTopic),
}

/// What a policy command does over HTTP.
enum Action {
    Set { body: String, query: String },
    Get { applied: bool },
    Remove,
}

impl PolicyCommand {
    /// Runs the command, printing what pulsar-admin prints (values of `get-` commands).
    ///
    /// # Errors
    /// The broker refused or could not be reached, or an argument is invalid.
    pub fn run(self, http: &AdminHttp, out: &mut impl Write) -> Result<(), AdminCliError> {
        let (topic, policy, action) = self.plan()?;
        let path = format!("{}/{policy}", topic_path(&parse_topic(&topic)?));
        match action {
            Action::Set { body, query } => http
                .call("POST", &format!("{path}{query}"), Some(&body))
                .map(drop),
            Action::Remove => http.call("DELETE", &path, None).map(drop),
            Action::Get { applied } => {
                let reply = http.call("GET", &format!("{path}?applied={applied}"), None)?;
                print_json(out, &reply.json()?)
            }
        }
    }

    fn plan(self) -> Result<(String, &'static str, Action), AdminCliError> {
        use PolicyCommand as P;
        let set = |value: serde_json::Value| Action::Set {
            body: value.to_string(),
            query: String::new(),
        };
        let get = |g: &GetPolicy| Action::Get { applied: g.applied };
        Ok(match self {
            P::SetMessageTtl { topic, ttl } => {
                let seconds = parse_seconds(&ttl)?;
                let action = Action::Set {
                    body: seconds.to_string(),
                    query: format!("?messageTTL={seconds}"),
                };
                (topic, "messageTTL", action)
            }
            P::GetMessageTtl(g) => (g.topic.clone(), "messageTTL", get(&g)),
            P::RemoveMessageTtl(t) => (t.topic, "messageTTL", Action::Remove),
            P::SetRetention { topic, time, size } => {
                let minutes = if time.trim() == "-1" {
                    -1
                } else {
                    i64::try_from(parse_seconds(&time)? / 60).unwrap_or(i64::MAX)
                };
                let body = json!({
                    "retentionTimeInMinutes": minutes,
                    "retentionSizeInMB": parse_size_mb(&size)?,
                });
                (topic, "retention", set(body))
            }
            P::GetRetention(g) => (g.topic.clone(), "retention", get(&g)),
            P::RemoveRetention(t) => (t.topic, "retention", Action::Remove),
            P::SetMaxUnackedMessagesPerConsumer(c) => (
                c.topic,
                "maxUnackedMessagesOnConsumer",
                set(c.max_num.into()),
            ),
            P::GetMaxUnackedMessagesPerConsumer(g) => {
                (g.topic.clone(), "maxUnackedMessagesOnConsumer", get(&g))
            }
            P::RemoveMaxUnackedMessagesPerConsumer(t) => {
                (t.topic, "maxUnackedMessagesOnConsumer", Action::Remove)
            }
            P::SetMaxUnackedMessagesPerSubscription(c) => (
                c.topic,
                "maxUnackedMessagesOnSubscription",
                set(c.max_num.into()),
            ),
            P::GetMaxUnackedMessagesPerSubscription(g) => {
                (g.topic.clone(), "maxUnackedMessagesOnSubscription", get(&g))
            }
            P::RemoveMaxUnackedMessagesPerSubscription(t) => {
                (t.topic, "maxUnackedMessagesOnSubscription", Action::Remove)
            }
            P::SetMaxProducers {
                topic,
                max_producers,
            } => (topic, "maxProducers", set(max_producers.into())),
            P::GetMaxProducers(g) => (g.topic.clone(), "maxProducers", get(&g)),
            P::RemoveMaxProducers(t) => (t.topic, "maxProducers", Action::Remove),
            P::SetMaxConsumers {
                topic,
                max_consumers,
            } => (topic, "maxConsumers", set(max_consumers.into())),
            P::GetMaxConsumers(g) => (g.topic.clone(), "maxConsumers", get(&g)),
            P::RemoveMaxConsumers(t) => (t.topic, "maxConsumers", Action::Remove),
            P::SetMaxConsumersPerSubscription {
                topic,
                max_consumers_per_subscription,
            } => (
                topic,
                "maxConsumersPerSubscription",
                set(max_consumers_per_subscription.into()),
            ),
            P::GetMaxConsumersPerSubscription(g) => {
                (g.topic.clone(), "maxConsumersPerSubscription", get(&g))
            }
            P::RemoveMaxConsumersPerSubscription(t) => {
                (t.topic, "maxConsumersPerSubscription", Action::Remove)
            }
            P::SetDelayedDelivery { topic, flags } => {
                let body = flags.body().map_err(AdminCliError::InvalidArgument)?;
                (topic, "delayedDelivery", set(body))
            }
            P::GetDelayedDelivery(g) => (g.topic.clone(), "delayedDelivery", get(&g)),
            P::RemoveDelayedDelivery(t) => (t.topic, "delayedDelivery", Action::Remove),
            P::SetDeadLetterPolicy { topic, flags } => {
                (topic, "deadLetterPolicy", set(flags.body()))
            }
            P::GetDeadLetterPolicy(g) => (g.topic.clone(), "deadLetterPolicy", get(&g)),
            P::RemoveDeadLetterPolicy(t) => (t.topic, "deadLetterPolicy", Action::Remove),
        })
    }
}
