//! `geminga admin topics ...`: pulsar-admin's topic commands over the admin REST API.

use std::io::Write;

use clap::{Args, Subcommand};
use geminga_protocol::batch::parse_batch;
use serde_json::{json, Value};

use super::topics_admission::AdmissionCommand;
use super::topics_http::{
    parse_seconds, parse_topic, print_json, print_lines, topic_path, AdminCliError, AdminHttp,
    Reply,
};
use super::topics_policies::PolicyCommand;

/// `geminga admin topics <command>`.
#[derive(Debug, Args)]
pub struct TopicsArgs {
    /// What to do.
    #[command(subcommand)]
    pub command: TopicsCommand,
}

/// A topic argument and a subscription flag, shared by the subscription commands.
#[derive(Debug, Args)]
pub struct SubscriptionArgs {
    /// persistent://tenant/namespace/topic (short names mean public/default).
    pub topic: String,
    /// Subscription name.
    #[arg(short = 's', long = "subscription")]
    pub subscription: String,
}

/// pulsar-admin's `topics` commands (the partitioned-topic commands are the tenancy CLI's).
#[derive(Debug, Subcommand)]
#[non_exhaustive]
pub enum TopicsCommand {
    /// List the topics of a namespace (`tenant/namespace`).
    List {
        /// tenant/namespace.
        namespace: String,
        /// `persistent` or `non_persistent`; both when absent.
        #[arg(long = "topic-domain")]
        topic_domain: Option<String>,
    },
    /// Create a non-partitioned topic.
    Create {
        /// Topic name.
        topic: String,
    },
    /// Delete a topic (refused while clients are attached unless --force).
    Delete {
        /// Topic name.
        topic: String,
        /// Disconnect attached producers and consumers.
        #[arg(short = 'f', long)]
        force: bool,
    },
    /// Topic stats.
    Stats {
        /// Topic name.
        topic: String,
    },
    /// Internal (storage) stats.
    #[command(name = "stats-internal", alias = "internal-stats")]
    StatsInternal {
        /// Topic name.
        topic: String,
    },
    /// Stats of a partitioned topic.
    PartitionedStats {
        /// Topic name.
        topic: String,
        /// Include each partition's stats.
        #[arg(long)]
        per_partition: bool,
    },
    /// List the subscriptions of a topic.
    Subscriptions {
        /// Topic name.
        topic: String,
    },
    /// Create a subscription at a message id.
    CreateSubscription {
        /// Topic and subscription.
        #[command(flatten)]
        target: SubscriptionArgs,
        /// `latest`, `earliest` or `ledgerId:entryId`.
        #[arg(short = 'm', long = "messageId", default_value = "latest")]
        message_id: String,
    },
    /// Delete a subscription.
    Unsubscribe {
        /// Topic and subscription.
        #[command(flatten)]
        target: SubscriptionArgs,
        /// Disconnect attached consumers.
        #[arg(short = 'f', long)]
        force: bool,
    },
    /// Skip (acknowledge) the next N messages of a subscription.
    Skip {
        /// Topic and subscription.
        #[command(flatten)]
        target: SubscriptionArgs,
        /// Messages to skip.
        #[arg(short = 'n', long)]
        count: u64,
    },
    /// Skip all messages of a subscription.
    #[command(alias = "skip-all")]
    ClearBacklog {
        /// Topic and subscription.
        #[command(flatten)]
        target: SubscriptionArgs,
    },
    /// Expire messages older than a time.
    ExpireMessages {
        /// Topic and subscription.
        #[command(flatten)]
        target: SubscriptionArgs,
        /// Seconds, or 10m, 3h, 2d, 1w.
        #[arg(short = 't', long = "expireTime")]
        expire_time: String,
    },
    /// Expire messages older than a time on every subscription.
    ExpireMessagesAllSubscriptions {
        /// Topic name.
        topic: String,
        /// Seconds, or 10m, 3h, 2d, 1w.
        #[arg(short = 't', long = "expireTime")]
        expire_time: String,
    },
    /// Move a subscription's cursor to a time in the past or to a message id.
    ResetCursor {
        /// Topic and subscription.
        #[command(flatten)]
        target: SubscriptionArgs,
        /// How far back: seconds, or 10m, 3h, 2d, 1w.
        #[arg(short = 't', long = "time", conflicts_with = "message_id")]
        time: Option<String>,
        /// `ledgerId:entryId`, `earliest` or `latest`.
        #[arg(short = 'm', long = "messageId")]
        message_id: Option<String>,
        /// Start after the given message id instead of at it.
        #[arg(short = 'e', long = "exclude-reset-position")]
        exclude: bool,
    },
    /// Show the next unacknowledged messages of a subscription.
    PeekMessages {
        /// Topic and subscription.
        #[command(flatten)]
        target: SubscriptionArgs,
        /// Messages to show.
        #[arg(short = 'n', long, default_value_t = 1)]
        count: u64,
    },
    /// Show one message by id.
    GetMessageById {
        /// Topic name.
        topic: String,
        /// Ledger id.
        #[arg(short = 'l', long = "ledgerId")]
        ledger_id: u64,
        /// Entry id.
        #[arg(short = 'e', long = "entryId")]
        entry_id: u64,
    },
    /// The id of the last message.
    LastMessageId {
        /// Topic name.
        topic: String,
    },
    /// Unload a topic (clients reconnect).
    Unload {
        /// Topic name.
        topic: String,
    },
    /// Terminate a topic: no more messages can be published.
    Terminate {
        /// Topic name.
        topic: String,
    },
    /// Topic policies (set-/get-/remove-...).
    #[command(flatten)]
    Policy(PolicyCommand),
    /// Backlog quotas, compaction and storage holds.
    #[command(flatten)]
    Storage(super::topics_storage::StorageCommand),
    /// Deduplication, rates, schema strategy and permissions.
    #[command(flatten)]
    Admission(AdmissionCommand),
}

/// Runs a topics command against `admin_url`, printing to `out`.
///
/// # Errors
/// The broker refused or could not be reached, or an argument is invalid.
pub fn run(admin_url: &str, args: TopicsArgs, out: &mut impl Write) -> Result<(), AdminCliError> {
    let http = AdminHttp::new(admin_url);
    let path_of = |topic: &str| parse_topic(topic).map(|t| topic_path(&t));
    match args.command {
        TopicsCommand::List {
            namespace,
            topic_domain,
        } => list(&http, &namespace, topic_domain.as_deref(), out),
        TopicsCommand::Create { topic } => http.call("PUT", &path_of(&topic)?, None).map(drop),
        TopicsCommand::Delete { topic, force } => {
            let path = format!("{}?force={force}", path_of(&topic)?);
            http.call("DELETE", &path, None).map(drop)
        }
        TopicsCommand::Stats { topic } => get_json(&http, &path_of(&topic)?, "/stats", out),
        TopicsCommand::StatsInternal { topic } => {
            get_json(&http, &path_of(&topic)?, "/internalStats", out)
        }
        TopicsCommand::PartitionedStats {
            topic,
            per_partition,
        } => {
            let suffix = format!("/partitioned-stats?perPartition={per_partition}");
            get_json(&http, &path_of(&topic)?, &suffix, out)
        }
        TopicsCommand::Subscriptions { topic } => {
            let reply = http.call("GET", &format!("{}/subscriptions", path_of(&topic)?), None)?;
            print_lines(out, &reply.json()?)
        }
        TopicsCommand::LastMessageId { topic } => {
            get_json(&http, &path_of(&topic)?, "/lastMessageId", out)
        }
        TopicsCommand::Unload { topic } => http
            .call("PUT", &format!("{}/unload", path_of(&topic)?), None)
            .map(drop),
        TopicsCommand::Terminate { topic } => {
            let reply = http.call("POST", &format!("{}/terminate", path_of(&topic)?), None)?;
            let id = reply.json()?;
            writeln!(
                out,
                "Topic successfully terminated at {}:{}",
                id.get("ledgerId").unwrap_or(&Value::Null),
                id.get("entryId").unwrap_or(&Value::Null)
            )?;
            Ok(())
        }
        TopicsCommand::ExpireMessagesAllSubscriptions { topic, expire_time } => {
            let seconds = parse_seconds(&expire_time)?;
            let path = format!(
                "{}/all_subscription/expireMessages/{seconds}",
                path_of(&topic)?
            );
            http.call("POST", &path, None).map(drop)
        }
        TopicsCommand::GetMessageById {
            topic,
            ledger_id,
            entry_id,
        } => {
            let path = format!("{}/ledger/{ledger_id}/entry/{entry_id}", path_of(&topic)?);
            let reply = http.call("GET", &path, None)?;
            print_message(&reply, out, u64::MAX).map(drop)
        }
        TopicsCommand::Policy(command) => command.run(&http, out),
        TopicsCommand::Storage(command) => command.run(&http, out),
        TopicsCommand::Admission(command) => command.run(&http, out),
        other => run_subscription_command(&http, other, out),
    }
}

fn run_subscription_command(
    http: &AdminHttp,
    command: TopicsCommand,
    out: &mut impl Write,
) -> Result<(), AdminCliError> {
    let sub_path = |target: &SubscriptionArgs| -> Result<String, AdminCliError> {
        let topic = parse_topic(&target.topic)?;
        Ok(format!(
            "{}/subscription/{}",
            topic_path(&topic),
            target.subscription
        ))
    };
    match command {
        TopicsCommand::CreateSubscription { target, message_id } => {
            let body = message_id_body(&message_id, false)?.to_string();
            http.call("PUT", &sub_path(&target)?, Some(&body)).map(drop)
        }
        TopicsCommand::Unsubscribe { target, force } => {
            let path = format!("{}?force={force}", sub_path(&target)?);
            http.call("DELETE", &path, None).map(drop)
        }
        TopicsCommand::Skip { target, count } => {
            let path = format!("{}/skip/{count}", sub_path(&target)?);
            http.call("POST", &path, None).map(drop)
        }
        TopicsCommand::ClearBacklog { target } => {
            let path = format!("{}/skip_all", sub_path(&target)?);
            http.call("POST", &path, None).map(drop)
        }
        TopicsCommand::ExpireMessages {
            target,
            expire_time,
        } => {
            let seconds = parse_seconds(&expire_time)?;
            let path = format!("{}/expireMessages/{seconds}", sub_path(&target)?);
            http.call("POST", &path, None).map(drop)
        }
        TopicsCommand::ResetCursor {
            target,
            time,
            message_id,
            exclude,
        } => {
            let base = sub_path(&target)?;
            match (time, message_id) {
                (Some(time), _) => {
                    let back_ms = parse_seconds(&time)?.saturating_mul(1000);
                    let at = crate::client::epoch_millis().saturating_sub(back_ms);
                    http.call("POST", &format!("{base}/resetcursor/{at}"), None)
                        .map(drop)
                }
                (None, Some(id)) => {
                    let body = message_id_body(&id, exclude)?.to_string();
                    http.call("POST", &format!("{base}/resetcursor"), Some(&body))
                        .map(drop)
                }
                (None, None) => Err(AdminCliError::InvalidArgument(
                    "either --time or --messageId is required".into(),
                )),
            }
        }
        TopicsCommand::PeekMessages { target, count } => {
            let base = sub_path(&target)?;
            let mut shown = 0u64;
            let mut position = 1u64;
            while shown < count {
                let reply = http.call("GET", &format!("{base}/position/{position}"), None)?;
                shown += print_message(&reply, out, count - shown)?;
                position += 1;
            }
            Ok(())
        }
        other => Err(AdminCliError::InvalidArgument(format!(
            "unsupported command {other:?}"
        ))),
    }
}

fn list(
    http: &AdminHttp,
    namespace: &str,
    domain: Option<&str>,
    out: &mut impl Write,
) -> Result<(), AdminCliError> {
    let domains: &[&str] = match domain {
        None => &["persistent", "non-persistent"],
        Some("persistent") => &["persistent"],
        Some("non_persistent" | "non-persistent") => &["non-persistent"],
        Some(other) => {
            return Err(AdminCliError::InvalidArgument(format!(
                "unknown topic domain {other:?}"
            )))
        }
    };
    for domain in domains {
        let reply = http.call("GET", &format!("/admin/v2/{domain}/{namespace}"), None)?;
        print_lines(out, &reply.json()?)?;
    }
    Ok(())
}

fn get_json(
    http: &AdminHttp,
    topic_path: &str,
    suffix: &str,
    out: &mut impl Write,
) -> Result<(), AdminCliError> {
    let reply = http.call("GET", &format!("{topic_path}{suffix}"), None)?;
    print_json(out, &reply.json()?)
}

/// The JSON body of a message id flag: `latest`, `earliest` or `ledgerId:entryId`.
fn message_id_body(text: &str, excluded: bool) -> Result<Value, AdminCliError> {
    let (ledger, entry): (i64, i64) = match text {
        "latest" => (i64::MAX, i64::MAX),
        "earliest" => (-1, -1),
        _ => {
            let invalid = || AdminCliError::InvalidArgument(format!("invalid message id {text:?}"));
            let mut parts = text.split(':');
            let ledger = parts
                .next()
                .and_then(|p| p.parse().ok())
                .ok_or_else(invalid)?;
            let entry = parts
                .next()
                .and_then(|p| p.parse().ok())
                .ok_or_else(invalid)?;
            (ledger, entry)
        }
    };
    Ok(
        json!({ "ledgerId": ledger, "entryId": entry, "partitionIndex": -1, "isExcluded": excluded }),
    )
}

/// Prints one peeked entry (each message of a batch, at most `limit`); answers how many
/// messages were printed.
fn print_message(reply: &Reply, out: &mut impl Write, limit: u64) -> Result<u64, AdminCliError> {
    let id = reply.header("X-Pulsar-Message-ID").unwrap_or("?");
    let publish_time = reply.header("X-Pulsar-publish-time").unwrap_or("");
    let properties: serde_json::Map<String, Value> = reply
        .headers
        .iter()
        .filter_map(|(name, value)| {
            name.strip_prefix("x-pulsar-property-")
                .map(|key| (key.to_owned(), Value::from(value.clone())))
        })
        .collect();
    let batch_size = reply
        .header("X-Pulsar-num-batch-message")
        .and_then(|n| n.parse::<usize>().ok());
    let Some(size) = batch_size else {
        writeln!(out, "Message ID: {id}")?;
        writeln!(out, "Publish time: {publish_time}")?;
        writeln!(out, "Properties: {}", Value::Object(properties))?;
        write_payload(out, &reply.body)?;
        return Ok(1);
    };
    let body = bytes::Bytes::from(reply.body.clone());
    let messages = parse_batch(&body, size).map_err(|e| AdminCliError::Refused {
        status: reply.status,
        reason: format!("the batch does not parse: {e}"),
    })?;
    let mut printed = 0;
    for (index, message) in messages.iter().enumerate() {
        if printed >= limit {
            break;
        }
        writeln!(out, "Batch Message ID: {id}:{index}")?;
        writeln!(out, "Publish time: {publish_time}")?;
        let props: serde_json::Map<String, Value> = message
            .metadata
            .properties
            .iter()
            .map(|kv| (kv.key.clone(), Value::from(kv.value.clone())))
            .collect();
        writeln!(out, "Properties: {}", Value::Object(props))?;
        write_payload(out, &message.payload)?;
        printed += 1;
    }
    Ok(printed)
}

/// Text payloads print as text, anything else as hex.
fn write_payload(out: &mut impl Write, payload: &[u8]) -> Result<(), AdminCliError> {
    match std::str::from_utf8(payload) {
        Ok(text) => writeln!(out, "Payload: {text}")?,
        Err(_) => {
            let hex: String = payload.iter().map(|b| format!("{b:02x}")).collect();
            writeln!(out, "Payload (hex): {hex}")?;
        }
    }
    Ok(())
}
