//! What a topic's log upkeep should do now: how far to trim (retention), whether a backlog
//! quota blocks producers or evicts subscriptions, and whether compaction is due. Plain
//! blocking code over [`Storage`]: run it on the blocking pool.

use geminga_storage::{Storage, StorageError};

use crate::metadata::{BacklogQuota, BacklogQuotaPolicy, BacklogQuotaType, EffectivePolicies};

/// Entries tombstoned by one trim write at most; a longer prefix is trimmed in steps.
pub const MAX_TRIM_STEP: u64 = 50_000;

/// Bytes in a megabyte, as Pulsar counts `retentionSizeInMB`.
const MB: u64 = 1024 * 1024;

/// What keeps a prefix of the log.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub enum HoldKind {
    /// A durable subscription's cursor: everything from its ack floor is unacknowledged.
    Subscription,
    /// A reader (non-durable cursor), while it is connected.
    Reader,
    /// The compaction cursor: entries after the compaction horizon are not compacted yet.
    Compaction,
}

/// One hold: a cursor and the first entry it still needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HoldInput {
    /// Subscription name.
    pub name: String,
    /// What kind of cursor.
    pub kind: HoldKind,
    /// Its ack floor: the lowest entry id it may still need.
    pub floor: u64,
}

/// A snapshot of the topic for one upkeep pass.
#[derive(Clone, Debug)]
pub struct PlanInput {
    /// The topic's ledger.
    pub ledger_id: u64,
    /// Entries below this id are durable.
    pub durable_next: u64,
    /// Every cursor's floor.
    pub holds: Vec<HoldInput>,
    /// Retention, quotas and compaction threshold in effect.
    pub effective: EffectivePolicies,
    /// Entries younger than this are never trimmed (ms; 0: none).
    pub grace_ms: u64,
    /// The clock (ms since the Unix epoch).
    pub now_ms: u64,
    /// Whether backlog quotas are enforced.
    pub quotas_enabled: bool,
    /// The compaction horizon, once compacted.
    pub compaction_horizon: Option<u64>,
}

/// A backlog quota that is exceeded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QuotaBreach {
    /// Which quota.
    pub kind: BacklogQuotaType,
    /// Its policy.
    pub policy: BacklogQuotaPolicy,
}

/// What to do.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Plan {
    /// Trim every entry below this id.
    pub trim_before: Option<u64>,
    /// The trim is one step of a longer one: run again right after.
    pub more_to_trim: bool,
    /// A producer-blocking quota is exceeded: refuse and disconnect producers.
    pub blocked: Option<QuotaBreach>,
    /// An eviction quota is exceeded: move durable subscriptions up to this id.
    pub evict_before: Option<u64>,
    /// The compaction cursor's backlog reached the compaction threshold.
    pub compaction_due: bool,
}

/// Where the log stands, measured once per pass.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LogShape {
    /// First stored entry (`durable_next` when the log is empty).
    pub first: u64,
    /// Stored entries end here (exclusive).
    pub end: u64,
    /// Everything below this id is held by nobody (the lowest floor, capped at `end`).
    pub hold_point: u64,
    /// Retention and the grace period keep entries from here (`<= hold_point`).
    pub retain_from: u64,
}

/// The plan for `input`.
///
/// # Errors
/// Storage failure or a corrupt entry.
pub fn plan(storage: &Storage, input: &PlanInput) -> Result<Plan, StorageError> {
    let shape = shape(storage, input)?;
    let mut plan = Plan::default();
    if shape.retain_from > shape.first {
        let before = shape
            .retain_from
            .min(shape.first.saturating_add(MAX_TRIM_STEP));
        plan.trim_before = Some(before);
        plan.more_to_trim = before < shape.retain_from;
    }
    if input.quotas_enabled {
        for (kind, quota) in input.effective.quotas() {
            if !exceeded(storage, input, kind, &quota)? {
                continue;
            }
            let breach = QuotaBreach {
                kind,
                policy: quota.policy,
            };
            if quota.policy == BacklogQuotaPolicy::ConsumerBacklogEviction {
                let target = eviction_target(storage, input, kind, &quota)?;
                plan.evict_before = plan.evict_before.max(Some(target));
            } else if plan.blocked.is_none() {
                plan.blocked = Some(breach);
            }
        }
    }
    plan.compaction_due = compaction_due(storage, input)?;
    Ok(plan)
}

/// The first entry, the end, the hold point and where retention keeps entries from.
///
/// # Errors
/// Storage failure.
pub fn shape(storage: &Storage, input: &PlanInput) -> Result<LogShape, StorageError> {
    let end = input.durable_next;
    let first = storage
        .log_bounds(input.ledger_id)?
        .map_or(end, |b| b.first.min(end));
    let hold_point = input
        .holds
        .iter()
        .map(|h| h.floor)
        .min()
        .unwrap_or(end)
        .clamp(first, end);
    let retain_from = retain_from(storage, input, first, hold_point)?;
    Ok(LogShape {
        first,
        end,
        hold_point,
        retain_from,
    })
}

/// Where retention (time or size, Pulsar's "expired or over size" rule) and the grace period
/// keep unheld entries from; at most `hold_point`.
fn retain_from(
    storage: &Storage,
    input: &PlanInput,
    first: u64,
    hold_point: u64,
) -> Result<u64, StorageError> {
    if hold_point <= first {
        return Ok(first);
    }
    let retention = input.effective.retention.value;
    let by_time = match u64::try_from(retention.retention_time_in_minutes) {
        Ok(minutes) => first_newer_than(storage, input, minutes.saturating_mul(60_000))?,
        Err(_) => first,
    };
    let by_size = match u64::try_from(retention.retention_size_in_mb) {
        Ok(mb) => first_within_size(storage, input, first, mb.saturating_mul(MB))?,
        Err(_) => first,
    };
    let by_grace = if input.grace_ms > 0 {
        first_newer_than(storage, input, input.grace_ms)?
    } else {
        hold_point
    };
    Ok(by_time.max(by_size).min(by_grace).min(hold_point))
}

/// The first entry published within the last `age_ms` (`durable_next` if none is).
fn first_newer_than(
    storage: &Storage,
    input: &PlanInput,
    age_ms: u64,
) -> Result<u64, StorageError> {
    let cutoff = input.now_ms.saturating_sub(age_ms);
    Ok(storage
        .find_by_publish_time(input.ledger_id, cutoff)?
        .unwrap_or(input.durable_next))
}

/// The first entry from which the log is smaller than `limit` bytes.
fn first_within_size(
    storage: &Storage,
    input: &PlanInput,
    first: u64,
    limit: u64,
) -> Result<u64, StorageError> {
    if storage.bytes_from(input.ledger_id, first)? < limit {
        return Ok(first);
    }
    let end = storage.end_offset(input.ledger_id)?;
    let offset = end.saturating_sub(limit).saturating_add(1);
    Ok(storage
        .find_by_offset(input.ledger_id, offset)?
        .unwrap_or(input.durable_next))
}

/// The floor of the slowest durable subscription (the compaction cursor does not count, as
/// in Pulsar, so compacted topics are not blocked by it).
pub fn slowest_subscription(input: &PlanInput) -> Option<u64> {
    input
        .holds
        .iter()
        .filter(|h| h.kind == HoldKind::Subscription)
        .map(|h| h.floor)
        .min()
        .filter(|floor| *floor < input.durable_next)
}

/// The slowest subscription's backlog: (bytes, publish time of its oldest entry).
///
/// # Errors
/// Storage failure.
pub fn backlog(storage: &Storage, input: &PlanInput) -> Result<Option<(u64, u64)>, StorageError> {
    let Some(floor) = slowest_subscription(input) else {
        return Ok(None);
    };
    let Some(oldest) = storage.entry_position(input.ledger_id, floor)? else {
        return Ok(None);
    };
    Ok(Some((
        storage.bytes_from(input.ledger_id, floor)?,
        oldest.publish_time_ms,
    )))
}

/// Whether `quota` of `kind` is exceeded now. An empty backlog never is, even with a limit
/// of 0.
///
/// # Errors
/// Storage failure.
pub fn exceeded(
    storage: &Storage,
    input: &PlanInput,
    kind: BacklogQuotaType,
    quota: &BacklogQuota,
) -> Result<bool, StorageError> {
    let Some((bytes, oldest_ms)) = backlog(storage, input)? else {
        return Ok(false);
    };
    Ok(match kind {
        BacklogQuotaType::DestinationStorage => {
            u64::try_from(quota.limit_size).is_ok_and(|limit| bytes > 0 && bytes >= limit)
        }
        BacklogQuotaType::MessageAge => u64::try_from(quota.limit_time)
            .is_ok_and(|limit| input.now_ms.saturating_sub(oldest_ms) > limit.saturating_mul(1000)),
    })
}

/// Where evicted subscriptions move to: the size quota keeps at most 90% of its limit (as
/// Pulsar's eviction does, so it does not run again at once); the age quota drops everything
/// older than its limit.
fn eviction_target(
    storage: &Storage,
    input: &PlanInput,
    kind: BacklogQuotaType,
    quota: &BacklogQuota,
) -> Result<u64, StorageError> {
    let end = input.durable_next;
    match kind {
        BacklogQuotaType::DestinationStorage => {
            let keep = u64::try_from(quota.limit_size).unwrap_or(0) / 10 * 9;
            let end_offset = storage.end_offset(input.ledger_id)?;
            let offset = end_offset.saturating_sub(keep);
            Ok(storage
                .find_by_offset(input.ledger_id, offset)?
                .unwrap_or(end))
        }
        BacklogQuotaType::MessageAge => {
            let limit = u64::try_from(quota.limit_time).unwrap_or(0);
            first_newer_than(storage, input, limit.saturating_mul(1000))
        }
    }
}

/// Whether the bytes not compacted yet reached the compaction threshold.
fn compaction_due(storage: &Storage, input: &PlanInput) -> Result<bool, StorageError> {
    let Ok(threshold) = u64::try_from(input.effective.compaction_threshold_bytes.value) else {
        return Ok(false);
    };
    if threshold == 0 {
        return Ok(false);
    }
    let from = input.compaction_horizon.map_or(0, |h| h.saturating_add(1));
    Ok(storage.bytes_from(input.ledger_id, from)? >= threshold)
}
