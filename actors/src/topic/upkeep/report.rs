//! The storage-holds report: why a topic's log is still stored, who holds which part, and
//! how many bytes each holder keeps (served at `GET .../{topic}/storage-holds`).

use std::collections::BTreeMap;

use geminga_storage::{Storage, StorageError};
use serde::Serialize;

use super::plan::{self, HoldKind, PlanInput};
use crate::metadata::{BacklogQuota, PolicySource, Sourced};

/// One holder of part of the log.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HoldReport {
    /// `subscription`, `reader`, `compaction`, `retention` or `gracePeriod`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The cursor's name (cursors only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The first entry id this holder keeps.
    pub position: u64,
    /// Stored entries from `position` to the end of the log.
    pub held_entries: u64,
    /// Stored bytes from `position` to the end of the log: what this holder alone would keep.
    pub held_bytes: u64,
    /// Bytes that would be freed if only this holder went away (0 unless it is the lowest).
    pub exclusive_bytes: u64,
    /// Publish time of the oldest entry it keeps (ms), if any is stored.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub oldest_publish_time: Option<u64>,
    /// For cursors: the message TTL that will expire what they hold (0: none).
    #[serde(rename = "messageTTL", skip_serializing_if = "Option::is_none")]
    pub message_ttl: Option<TtlReport>,
    /// For retention: the policy and who set it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub policy: Option<serde_json::Value>,
    /// Who set the policy (retention and the grace period).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<PolicySource>,
}

/// The TTL that applies to what a cursor holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TtlReport {
    /// Seconds (0: messages never expire).
    pub seconds: u32,
    /// Who set it.
    pub source: PolicySource,
    /// When the oldest held message expires (ms), when a TTL is set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub oldest_expires_at: Option<u64>,
}

/// One backlog quota and the backlog it limits.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct QuotaReport {
    /// The quota.
    #[serde(flatten)]
    pub quota: BacklogQuota,
    /// Who set it.
    pub source: PolicySource,
    /// Whether it is exceeded now.
    pub exceeded: bool,
}

/// Why a topic's storage is held.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StorageHoldsReport {
    /// Full topic name.
    pub topic: String,
    /// The topic's ledger.
    pub ledger_id: u64,
    /// First stored entry id, if any is stored.
    pub first_entry_id: Option<u64>,
    /// Last durable entry id, if any.
    pub last_entry_id: Option<u64>,
    /// Entries below this id are gone for good.
    pub trimmed_before: u64,
    /// Stored entries.
    pub stored_entries: u64,
    /// Stored data bytes.
    pub stored_bytes: u64,
    /// Everything below this id may be deleted now; the upkeep deletes it shortly.
    pub trim_point: u64,
    /// Stored bytes below `trim_point`, about to be deleted.
    pub reclaimable_bytes: u64,
    /// Bytes the broker's whole log keyspace occupies on disk (all topics; deleted entries
    /// leave it as background reclamation drops their tables).
    pub broker_log_disk_bytes: u64,
    /// Who keeps what, lowest position first.
    pub holds: Vec<HoldReport>,
    /// Backlog quotas in effect, by type.
    pub backlog_quotas: BTreeMap<String, QuotaReport>,
    /// Bytes between the slowest durable subscription and the end of the log.
    pub backlog_bytes: u64,
    /// Whether producers are refused because of a backlog quota.
    pub producers_blocked: bool,
}

/// Builds the report for `input` (`topic` is the name it reports under).
///
/// # Errors
/// Storage failure or a corrupt entry.
pub fn build(
    storage: &Storage,
    topic: &str,
    input: &PlanInput,
    producers_blocked: bool,
) -> Result<StorageHoldsReport, StorageError> {
    let ledger = input.ledger_id;
    let shape = plan::shape(storage, input)?;
    let bounds = storage.log_bounds(ledger)?;
    let stored_bytes = storage.bytes_from(ledger, 0)?;
    let mut holds = Vec::new();
    for hold in &input.holds {
        let mut report = held(storage, input, hold.floor.max(shape.first))?;
        report.kind = kind_name(hold.kind).to_owned();
        report.name = Some(hold.name.clone());
        if hold.kind != HoldKind::Compaction {
            report.message_ttl = Some(ttl(input.effective.message_ttl_seconds, &report));
        }
        holds.push(report);
    }
    if shape.retain_from < shape.hold_point {
        holds.push(retention_hold(storage, input, shape.retain_from)?);
    }
    holds.sort_by_key(|h| h.position);
    mark_exclusive(storage, input, &mut holds)?;
    let backlog_bytes = plan::backlog(storage, input)?.map_or(0, |(bytes, _)| bytes);
    let mut backlog_quotas = BTreeMap::new();
    for (kind, sourced) in [
        (
            crate::metadata::BacklogQuotaType::DestinationStorage,
            input.effective.size_quota,
        ),
        (
            crate::metadata::BacklogQuotaType::MessageAge,
            input.effective.age_quota,
        ),
    ] {
        let Some(Sourced { value, source }) = sourced else {
            continue;
        };
        let exceeded = plan::exceeded(storage, input, kind, &value)?;
        let quota = QuotaReport {
            quota: value,
            source,
            exceeded,
        };
        backlog_quotas.insert(kind.as_str().to_owned(), quota);
    }
    Ok(StorageHoldsReport {
        topic: topic.to_owned(),
        ledger_id: ledger,
        first_entry_id: bounds.map(|b| b.first),
        last_entry_id: input.durable_next.checked_sub(1),
        trimmed_before: storage.trimmed_before(ledger)?,
        stored_entries: bounds.map_or(0, |b| b.last.saturating_add(1).saturating_sub(b.first)),
        stored_bytes,
        trim_point: shape.retain_from,
        reclaimable_bytes: stored_bytes
            .saturating_sub(storage.bytes_from(ledger, shape.retain_from)?),
        broker_log_disk_bytes: storage.log_disk_space(),
        holds,
        backlog_quotas,
        backlog_bytes,
        producers_blocked,
    })
}

fn kind_name(kind: HoldKind) -> &'static str {
    match kind {
        HoldKind::Subscription => "subscription",
        HoldKind::Reader => "reader",
        HoldKind::Compaction => "compaction",
    }
}

/// A hold at `position`, sizes filled in.
fn held(storage: &Storage, input: &PlanInput, position: u64) -> Result<HoldReport, StorageError> {
    let oldest = storage.entry_position(input.ledger_id, position)?;
    Ok(HoldReport {
        kind: String::new(),
        name: None,
        position,
        held_entries: input.durable_next.saturating_sub(position),
        held_bytes: storage.bytes_from(input.ledger_id, position)?,
        exclusive_bytes: 0,
        oldest_publish_time: oldest.map(|o| o.publish_time_ms),
        message_ttl: None,
        policy: None,
        source: None,
    })
}

fn ttl(ttl: Sourced<u32>, hold: &HoldReport) -> TtlReport {
    TtlReport {
        seconds: ttl.value,
        source: ttl.source,
        oldest_expires_at: hold
            .oldest_publish_time
            .filter(|_| ttl.value > 0)
            .map(|t| t.saturating_add(u64::from(ttl.value) * 1000)),
    }
}

/// The retention policy (or, when it would delete, the grace period) keeping acknowledged
/// entries from `position`.
fn retention_hold(
    storage: &Storage,
    input: &PlanInput,
    position: u64,
) -> Result<HoldReport, StorageError> {
    let mut hold = held(storage, input, position)?;
    let retention = input.effective.retention;
    let keeps =
        retention.value.retention_time_in_minutes != 0 && retention.value.retention_size_in_mb != 0;
    if keeps || input.grace_ms == 0 {
        hold.kind = "retention".to_owned();
        hold.policy = serde_json::to_value(retention.value).ok();
        hold.source = Some(retention.source);
    } else {
        hold.kind = "gracePeriod".to_owned();
        hold.policy = Some(serde_json::json!({ "seconds": input.grace_ms / 1000 }));
        hold.source = Some(PolicySource::Broker);
    }
    Ok(hold)
}

/// Fills `exclusive_bytes` of the lowest hold: what it keeps below the next one.
fn mark_exclusive(
    storage: &Storage,
    input: &PlanInput,
    holds: &mut [HoldReport],
) -> Result<(), StorageError> {
    let next = holds.get(1).map_or(input.durable_next, |h| h.position);
    if let Some(lowest) = holds.first_mut() {
        if lowest.position < next {
            let above = storage.bytes_from(input.ledger_id, next)?;
            lowest.exclusive_bytes = lowest.held_bytes.saturating_sub(above);
        }
    }
    Ok(())
}
