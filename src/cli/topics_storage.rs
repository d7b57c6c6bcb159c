//! `geminga admin topics` commands about a topic's log: backlog quotas, the compaction
//! threshold, compaction and `storage-holds` (pulsar-admin's names and flags).

use std::{io::Write, time::Duration};

use clap::{Args, Subcommand};
use serde_json::{json, Value};

use super::topics_http::{
    parse_seconds, parse_topic, print_json, topic_path, AdminCliError, AdminHttp,
};

/// How often `compaction-status --wait-complete` asks.
const STATUS_POLL: Duration = Duration::from_millis(200);

/// A topic argument.
#[derive(Debug, Args)]
pub struct StorageTopic {
    /// Topic name.
    pub topic: String,
}

/// The log commands.
#[derive(Debug, Subcommand)]
#[non_exhaustive]
pub enum StorageCommand {
    /// Set a backlog quota of the topic.
    SetBacklogQuota {
        /// Topic name.
        topic: String,
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
    /// Get the topic's backlog quotas.
    GetBacklogQuotas {
        /// Topic name.
        topic: String,
        /// Show the quotas in effect (the namespace's or broker's when the topic sets none).
        #[arg(long = "applied", visible_alias = "ap")]
        applied: bool,
    },
    /// Remove a backlog quota of the topic.
    RemoveBacklogQuota {
        /// Topic name.
        topic: String,
        /// destination_storage or message_age.
        #[arg(short = 't', long = "type", default_value = "destination_storage")]
        quota_type: String,
    },
    /// Set the compaction threshold: uncompacted bytes that trigger a compaction.
    SetCompactionThreshold {
        /// Topic name.
        topic: String,
        /// Bytes, or 10K, 10M, 1G...; 0 switches automatic compaction off.
        #[arg(short = 't', long = "threshold")]
        threshold: String,
    },
    /// Get the compaction threshold.
    GetCompactionThreshold {
        /// Topic name.
        topic: String,
        /// Show the value in effect.
        #[arg(long = "applied", visible_alias = "ap")]
        applied: bool,
    },
    /// Remove the compaction threshold.
    RemoveCompactionThreshold(StorageTopic),
    /// Run compaction on the topic.
    Compact(StorageTopic),
    /// Status of the topic's compaction.
    CompactionStatus {
        /// Topic name.
        topic: String,
        /// Wait until the compaction is no longer running.
        #[arg(short = 'w', long = "wait-complete")]
        wait_complete: bool,
    },
    /// Explain what holds the topic's storage: cursors, retention, grace period, bytes.
    StorageHolds(StorageTopic),
}

/// Parses a size: bytes, or a number with K, M, G or T; -1 stays -1.
///
/// # Errors
/// [`AdminCliError::InvalidArgument`] for anything else.
pub fn parse_size_bytes(text: &str) -> Result<i64, AdminCliError> {
    let invalid = || AdminCliError::InvalidArgument(format!("invalid size {text:?}"));
    let text = text.trim();
    if text == "-1" {
        return Ok(-1);
    }
    let (digits, unit) = match text.char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() => (text.get(..i).unwrap_or(""), Some(c)),
        _ => (text, None),
    };
    let value: i64 = digits.parse().map_err(|_| invalid())?;
    let factor: i64 = match unit.map(|c| c.to_ascii_uppercase()) {
        None => 1,
        Some('K') => 1 << 10,
        Some('M') => 1 << 20,
        Some('G') => 1 << 30,
        Some('T') => 1 << 40,
        Some(_) => return Err(invalid()),
    };
    value
        .checked_mul(factor)
        .filter(|v| *v >= 0)
        .ok_or_else(invalid)
}

/// A backlog quota body from the CLI flags.
///
/// # Errors
/// [`AdminCliError::InvalidArgument`] for a bad size, time or policy.
pub fn quota_body(
    limit: Option<&str>,
    limit_time: Option<&str>,
    policy: &str,
) -> Result<Value, AdminCliError> {
    let limit_size = limit.map(parse_size_bytes).transpose()?.unwrap_or(-1);
    let limit_time = match limit_time.map(str::trim) {
        None | Some("-1") => -1,
        Some(t) => i64::try_from(parse_seconds(t)?).unwrap_or(i64::MAX),
    };
    if !matches!(
        policy,
        "producer_request_hold" | "producer_exception" | "consumer_backlog_eviction"
    ) {
        return Err(AdminCliError::InvalidArgument(format!(
            "invalid policy {policy:?}: use producer_request_hold, producer_exception or \
             consumer_backlog_eviction"
        )));
    }
    Ok(json!({ "limitSize": limit_size, "limitTime": limit_time, "policy": policy }))
}

impl StorageCommand {
    /// Runs the command, printing what pulsar-admin prints.
    ///
    /// # Errors
    /// The broker refused or could not be reached, or an argument is invalid.
    pub fn run(self, http: &AdminHttp, out: &mut impl Write) -> Result<(), AdminCliError> {
        let path_of = |topic: &str| parse_topic(topic).map(|t| topic_path(&t));
        match self {
            Self::SetBacklogQuota {
                topic,
                limit,
                limit_time,
                policy,
                quota_type,
            } => {
                let body = quota_body(limit.as_deref(), limit_time.as_deref(), &policy)?;
                let path = format!(
                    "{}/backlogQuota?backlogQuotaType={quota_type}",
                    path_of(&topic)?
                );
                http.call("POST", &path, Some(&body.to_string())).map(drop)
            }
            Self::GetBacklogQuotas { topic, applied } => {
                let path = format!("{}/backlogQuotaMap?applied={applied}", path_of(&topic)?);
                print_json(out, &http.call("GET", &path, None)?.json()?)
            }
            Self::RemoveBacklogQuota { topic, quota_type } => {
                let path = format!(
                    "{}/backlogQuota?backlogQuotaType={quota_type}",
                    path_of(&topic)?
                );
                http.call("DELETE", &path, None).map(drop)
            }
            Self::SetCompactionThreshold { topic, threshold } => {
                let bytes = parse_size_bytes(&threshold)?.max(0);
                let path = format!("{}/compactionThreshold", path_of(&topic)?);
                http.call("POST", &path, Some(&bytes.to_string())).map(drop)
            }
            Self::GetCompactionThreshold { topic, applied } => {
                let path = format!("{}/compactionThreshold?applied={applied}", path_of(&topic)?);
                print_json(out, &http.call("GET", &path, None)?.json()?)
            }
            Self::RemoveCompactionThreshold(t) => {
                let path = format!("{}/compactionThreshold", path_of(&t.topic)?);
                http.call("DELETE", &path, None).map(drop)
            }
            Self::Compact(t) => {
                let name = parse_topic(&t.topic)?;
                http.call("PUT", &format!("{}/compaction", topic_path(&name)), None)?;
                writeln!(out, "Topic compaction requested for {name}")?;
                Ok(())
            }
            Self::CompactionStatus {
                topic,
                wait_complete,
            } => compaction_status(http, &path_of(&topic)?, wait_complete, out),
            Self::StorageHolds(t) => {
                let path = format!("{}/storage-holds", path_of(&t.topic)?);
                print_json(out, &http.call("GET", &path, None)?.json()?)
            }
        }
    }
}

fn compaction_status(
    http: &AdminHttp,
    path: &str,
    wait: bool,
    out: &mut impl Write,
) -> Result<(), AdminCliError> {
    let status = loop {
        let reply = http
            .call("GET", &format!("{path}/compaction"), None)?
            .json()?;
        let status = reply
            .get("status")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned();
        if !(wait && status == "RUNNING") {
            break reply;
        }
        std::thread::sleep(STATUS_POLL);
    };
    match status.get("status").and_then(Value::as_str) {
        Some("SUCCESS") => writeln!(out, "Compaction was a success")?,
        Some("RUNNING") => writeln!(out, "Compaction is running")?,
        Some("NOT_RUN") => writeln!(out, "Compaction has not been run")?,
        _ => {
            let error = status
                .get("lastError")
                .and_then(Value::as_str)
                .unwrap_or("");
            return Err(AdminCliError::Refused {
                status: 500,
                reason: format!("Error in compaction: {error}"),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_quota_bodies_parse_like_pulsar_admin() {
        assert_eq!(parse_size_bytes("10").unwrap(), 10);
        assert_eq!(parse_size_bytes("2K").unwrap(), 2048);
        assert_eq!(parse_size_bytes("1M").unwrap(), 1 << 20);
        assert_eq!(parse_size_bytes("-1").unwrap(), -1);
        assert!(parse_size_bytes("-5").is_err());
        let body = quota_body(Some("1M"), Some("10m"), "producer_exception").unwrap();
        assert_eq!(body["limitSize"], 1 << 20);
        assert_eq!(body["limitTime"], 600);
        assert_eq!(body["policy"], "producer_exception");
        assert_eq!(
            quota_body(None, None, "producer_request_hold").unwrap()["limitSize"],
            -1
        );
        assert!(quota_body(None, None, "drop").is_err());
    }
}
