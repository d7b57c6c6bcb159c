//! Upkeep plans and reports against a real store in a temporary directory.

use bytes::Bytes;
use geminga_storage::{Entry, EntryMeta, Storage, StorageConfig, WriteOp};

use super::plan::{plan, HoldInput, HoldKind, PlanInput, QuotaBreach, MAX_TRIM_STEP};
use super::report;
use crate::metadata::{
    BacklogQuota, BacklogQuotaPolicy, BacklogQuotaType, EffectivePolicies, PolicySource,
    RetentionPolicies, Sourced,
};

const NOW: u64 = 10_000_000;
const LEDGER: u64 = 1;

fn storage() -> (tempfile::TempDir, Storage) {
    let dir = tempfile::tempdir().unwrap();
    let config = StorageConfig {
        fsync: false,
        ..StorageConfig::default()
    };
    let storage = Storage::open(dir.path(), config).unwrap();
    (dir, storage)
}

/// Appends `count` entries of `len` bytes from `from`, entry `i` published `age(i)` ms ago.
fn fill(s: &Storage, from: u64, count: u64, len: usize, age: impl Fn(u64) -> u64) {
    let ops: Vec<WriteOp> = (from..from + count)
        .map(|entry_id| WriteOp::Append {
            ledger_id: LEDGER,
            entry: Entry {
                entry_id,
                meta: EntryMeta {
                    num_messages: 1,
                    publish_time_ms: NOW - age(entry_id),
                    ..EntryMeta::default()
                },
                data: Bytes::from(vec![b'x'; len]),
            },
        })
        .collect();
    for chunk in ops.chunks(5_000) {
        s.write(chunk.to_vec()).unwrap();
    }
}

fn sub(name: &str, floor: u64) -> HoldInput {
    HoldInput {
        name: name.into(),
        kind: HoldKind::Subscription,
        floor,
    }
}

fn input(durable_next: u64, holds: Vec<HoldInput>) -> PlanInput {
    PlanInput {
        ledger_id: LEDGER,
        durable_next,
        holds,
        effective: EffectivePolicies::default(),
        grace_ms: 0,
        now_ms: NOW,
        quotas_enabled: true,
        compaction_horizon: None,
    }
}

fn retention(minutes: i32, mb: i64) -> Sourced<RetentionPolicies> {
    Sourced {
        value: RetentionPolicies {
            retention_time_in_minutes: minutes,
            retention_size_in_mb: mb,
        },
        source: PolicySource::Namespace,
    }
}

fn quota(limit_size: i64, limit_time: i64, policy: BacklogQuotaPolicy) -> Sourced<BacklogQuota> {
    Sourced {
        value: BacklogQuota {
            limit_size,
            limit_time,
            policy,
        },
        source: PolicySource::Topic,
    }
}

#[test]
fn by_default_everything_below_the_slowest_floor_is_trimmed() {
    let (_dir, s) = storage();
    fill(&s, 0, 10, 10, |_| 0);
    let holds = vec![sub("a", 7), sub("b", 5)];
    let p = plan(&s, &input(10, holds)).unwrap();
    assert_eq!(p.trim_before, Some(5));
    assert!(!p.more_to_trim);
    let p = plan(&s, &input(10, Vec::new())).unwrap();
    assert_eq!(
        p.trim_before,
        Some(10),
        "nothing holds an unsubscribed topic"
    );
    let reader = HoldInput {
        kind: HoldKind::Reader,
        ..sub("r", 2)
    };
    assert_eq!(
        plan(&s, &input(10, vec![reader])).unwrap().trim_before,
        Some(2)
    );
    s.write(vec![WriteOp::Trim {
        ledger_id: LEDGER,
        before_entry: 5,
    }])
    .unwrap();
    let p = plan(&s, &input(10, vec![sub("b", 5)])).unwrap();
    assert_eq!(p.trim_before, None, "nothing left to trim");
}

#[test]
fn retention_keeps_acknowledged_entries_by_time_or_size() {
    let (_dir, s) = storage();
    // 20 entries of 100 KiB; entry i was published (20 - i) minutes ago.
    fill(&s, 0, 20, 100 * 1024, |i| (20 - i) * 60_000);
    let holds = vec![sub("s", 20)];
    let mut i = input(20, holds);
    i.effective.retention = retention(-1, -1);
    assert_eq!(
        plan(&s, &i).unwrap().trim_before,
        None,
        "infinite retention"
    );
    i.effective.retention = retention(-1, 1);
    // The last 10 entries (1000 KiB) fit in 1 MiB, 11 do not.
    assert_eq!(plan(&s, &i).unwrap().trim_before, Some(10));
    i.effective.retention = retention(5, -1);
    // Entries 15.. are at most 5 minutes old.
    assert_eq!(plan(&s, &i).unwrap().trim_before, Some(15));
    i.effective.retention = retention(5, 1);
    assert_eq!(
        plan(&s, &i).unwrap().trim_before,
        Some(15),
        "deleted when expired or over size"
    );
    i.effective.retention = retention(30, 100);
    assert_eq!(plan(&s, &i).unwrap().trim_before, None, "young and small");
    i.holds = vec![sub("s", 3)];
    i.effective.retention = retention(0, 0);
    assert_eq!(
        plan(&s, &i).unwrap().trim_before,
        Some(3),
        "never past a hold"
    );
}

#[test]
fn the_grace_period_keeps_young_entries() {
    let (_dir, s) = storage();
    fill(&s, 0, 10, 10, |i| if i < 4 { 120_000 } else { 1_000 });
    let mut i = input(10, Vec::new());
    i.grace_ms = 60_000;
    assert_eq!(plan(&s, &i).unwrap().trim_before, Some(4));
}

#[test]
fn long_trims_go_in_steps() {
    let (_dir, s) = storage();
    let total = MAX_TRIM_STEP + 10;
    fill(&s, 0, total, 1, |_| 0);
    let p = plan(&s, &input(total, Vec::new())).unwrap();
    assert_eq!(p.trim_before, Some(MAX_TRIM_STEP));
    assert!(p.more_to_trim);
}

#[test]
fn size_quota_blocks_producers_or_evicts() {
    let (_dir, s) = storage();
    fill(&s, 0, 10, 100, |_| 0);
    let mut i = input(10, vec![sub("slow", 2), sub("fast", 9)]);
    i.effective.size_quota = Some(quota(800, -1, BacklogQuotaPolicy::ProducerException));
    let p = plan(&s, &i).unwrap();
    assert_eq!(
        p.blocked,
        Some(QuotaBreach {
            kind: BacklogQuotaType::DestinationStorage,
            policy: BacklogQuotaPolicy::ProducerException,
        }),
        "800 bytes of backlog reach the 800 byte limit"
    );
    assert_eq!(p.trim_before, Some(2));
    i.holds = vec![sub("slow", 3)];
    assert_eq!(plan(&s, &i).unwrap().blocked, None, "700 bytes fit");
    i.quotas_enabled = false;
    i.holds = vec![sub("slow", 0)];
    assert_eq!(
        plan(&s, &i).unwrap().blocked,
        None,
        "quota checks switched off"
    );
    i.quotas_enabled = true;
    i.effective.size_quota = Some(quota(500, -1, BacklogQuotaPolicy::ConsumerBacklogEviction));
    let p = plan(&s, &i).unwrap();
    assert_eq!(p.blocked, None);
    // 90% of 500 bytes: entries 6..10 (400 bytes) stay.
    assert_eq!(p.evict_before, Some(6));
}

#[test]
fn age_quota_counts_the_oldest_unacknowledged_message() {
    let (_dir, s) = storage();
    fill(&s, 0, 10, 10, |i| (10 - i) * 1_000);
    let mut i = input(10, vec![sub("s", 0)]);
    i.effective.age_quota = Some(quota(-1, 5, BacklogQuotaPolicy::ProducerRequestHold));
    let p = plan(&s, &i).unwrap();
    assert_eq!(
        p.blocked.map(|b| b.kind),
        Some(BacklogQuotaType::MessageAge),
        "10 s old > 5 s"
    );
    i.holds = vec![sub("s", 6)];
    assert_eq!(plan(&s, &i).unwrap().blocked, None, "4 s old");
    i.holds = vec![sub("s", 0)];
    i.effective.age_quota = Some(quota(-1, 5, BacklogQuotaPolicy::ConsumerBacklogEviction));
    assert_eq!(plan(&s, &i).unwrap().evict_before, Some(5));
    let compaction = HoldInput {
        kind: HoldKind::Compaction,
        ..sub("__compaction", 0)
    };
    i.holds = vec![compaction];
    assert_eq!(
        plan(&s, &i).unwrap().evict_before,
        None,
        "the compaction cursor is no backlog"
    );
}

#[test]
fn compaction_is_due_when_uncompacted_bytes_reach_the_threshold() {
    let (_dir, s) = storage();
    fill(&s, 0, 10, 100, |_| 0);
    let mut i = input(10, vec![sub("s", 0)]);
    i.effective.compaction_threshold_bytes.value = 1_000;
    assert!(plan(&s, &i).unwrap().compaction_due);
    i.compaction_horizon = Some(3);
    assert!(!plan(&s, &i).unwrap().compaction_due, "600 bytes since");
    i.effective.compaction_threshold_bytes.value = 0;
    i.compaction_horizon = None;
    assert!(!plan(&s, &i).unwrap().compaction_due, "0 switches it off");
}

#[test]
fn the_report_names_every_holder_and_its_bytes() {
    let (_dir, s) = storage();
    fill(&s, 0, 10, 100, |i| (10 - i) * 60_000);
    let mut i = input(10, vec![sub("slow", 4), sub("fast", 8)]);
    i.effective.retention = retention(-1, -1);
    i.effective.message_ttl_seconds = Sourced {
        value: 3_600,
        source: PolicySource::Namespace,
    };
    i.effective.size_quota = Some(quota(500, -1, BacklogQuotaPolicy::ProducerRequestHold));
    let r = report::build(&s, "persistent://t/n/x", &i, true).unwrap();
    assert_eq!(r.stored_entries, 10);
    assert_eq!(r.stored_bytes, 1_000);
    assert_eq!(r.trim_point, 0, "infinite retention keeps everything");
    let kinds: Vec<&str> = r.holds.iter().map(|h| h.kind.as_str()).collect();
    assert_eq!(kinds, vec!["retention", "subscription", "subscription"]);
    let retention_hold = &r.holds[0];
    assert_eq!(retention_hold.source, Some(PolicySource::Namespace));
    assert_eq!(retention_hold.held_bytes, 1_000);
    assert_eq!(
        retention_hold.exclusive_bytes, 400,
        "entries 0..4 only retention keeps"
    );
    let slow = &r.holds[1];
    assert_eq!(
        (slow.position, slow.held_bytes, slow.held_entries),
        (4, 600, 6)
    );
    let ttl = slow.message_ttl.unwrap();
    assert_eq!(ttl.seconds, 3_600);
    assert_eq!(ttl.oldest_expires_at, Some(NOW - 6 * 60_000 + 3_600_000));
    assert_eq!(r.backlog_bytes, 600);
    let size = &r.backlog_quotas["destination_storage"];
    assert!(size.exceeded);
    assert!(r.producers_blocked);
    let json = serde_json::to_value(&r).unwrap();
    assert_eq!(json["holds"][1]["type"], "subscription");
    assert_eq!(
        json["backlogQuotas"]["destination_storage"]["limitSize"],
        500
    );

    i.effective.retention = retention(0, 0);
    let r = report::build(&s, "persistent://t/n/x", &i, false).unwrap();
    assert_eq!(r.trim_point, 4);
    assert_eq!(
        r.reclaimable_bytes, 400,
        "below the slowest cursor, not trimmed yet"
    );
    assert_eq!(
        r.holds[0].exclusive_bytes, 400,
        "slow alone keeps entries 4..8"
    );
}
