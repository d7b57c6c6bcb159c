//! Delayed-delivery memory bench: what 10 million pending delayed messages cost the broker.
//!
//! Drives the real state machine (`SubscriptionState` of a Shared subscription) over a real
//! log in fjall: appends N small entries whose delivery time lies in the future, reads them
//! as the subscription would (each one is deferred into the on-disk index), persists the
//! cursor updates, then reopens storage and reloads the cursor as a restarted broker would,
//! and finally takes due entries out of the index. Prints the subscription state's size, the
//! process RSS along the way (it includes fjall's block cache and memtables, which are bounded
//! by configuration, not by N), the on-disk index, and the scan latencies.
//!
//! Run: `cargo bench --bench delayed` (N = 10 000 000; set `GEMINGA_DELAYED_N` to change it).
//! Needs about 2.5 GB of disk in the temp dir for N = 10M, removed at the end.

#![allow(
    clippy::print_stdout,
    reason = "the bench reports its figures on stdout"
)]

use std::error::Error;
use std::time::{Duration, Instant};

use bytes::Bytes;
use geminga_actors::subscription::{AttachedConsumer, SubscriptionState, MAX_DUE_BATCH};
use geminga_protocol::proto::command_subscribe::SubType;
use geminga_storage::{Cursor, Entry, EntryMeta, Storage, StorageConfig, WriteOp};

type Result<T> = std::result::Result<T, Box<dyn Error>>;

/// Delivery times start here (an arbitrary epoch ms); the state's clock is injected.
const BASE_MS: u64 = 1_700_000_000_000;
/// Entries per log write (and per read while deferring).
const CHUNK: u64 = 50_000;
const SUBSCRIPTION: &str = "bench";

fn rss_kib() -> u64 {
    status_kib("VmRSS:")
}

fn peak_rss_kib() -> u64 {
    status_kib("VmHWM:")
}

fn status_kib(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

fn dir_size(path: &std::path::Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(path) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() => dir_size(&e.path()),
            Ok(m) => m.len(),
            Err(_) => 0,
        })
        .sum()
}

/// Entry `id`, 64 bytes of payload, due at `BASE_MS + id` (one per millisecond).
fn entry(id: u64) -> Entry {
    Entry {
        entry_id: id,
        meta: EntryMeta {
            num_messages: 1,
            publish_time_ms: BASE_MS - 1,
            deliver_at_ms: Some(BASE_MS + id),
            checksum: 0,
            key_hash: None,
        },
        data: Bytes::from(vec![b'x'; 64]),
    }
}

fn append_log(storage: &Storage, ledger_id: u64, n: u64) -> Result<()> {
    let started = Instant::now();
    let mut id = 0;
    while id < n {
        let end = (id + CHUNK).min(n);
        let ops = (id..end)
            .map(|i| WriteOp::Append {
                ledger_id,
                entry: entry(i),
            })
            .collect();
        storage.write(ops)?;
        id = end;
    }
    storage.sync()?;
    println!(
        "log: {n} entries appended in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

fn shared_state(ledger_id: u64, cursor: Cursor, durable_next: u64) -> Result<SubscriptionState> {
    let mut state = SubscriptionState::new(ledger_id, cursor, true, durable_next, 0);
    state.add_consumer(AttachedConsumer {
        key: 1,
        name: "c".into(),
        sub_type: SubType::Shared,
    })?;
    state.refresh_delays();
    Ok(state)
}

/// What the subscription actor does with a cursor update: take it, write it, done.
fn persist(storage: &Storage, ledger_id: u64, state: &mut SubscriptionState) -> Result<()> {
    if let Some(update) = state.cursor_mut().take_update() {
        state.on_persist_started();
        storage.write(vec![WriteOp::Cursor { ledger_id, update }])?;
        state.on_persist_finished();
    }
    Ok(())
}

/// Reads the whole log through the state at a time before every delivery time: every entry
/// is deferred. Reports memory at a few checkpoints.
fn defer_all(storage: &Storage, ledger_id: u64, n: u64) -> Result<SubscriptionState> {
    let started = Instant::now();
    let mut state = shared_state(ledger_id, Cursor::new(SUBSCRIPTION, 0), n)?;
    let checkpoints = [n / 10, n / 2, n];
    while state.delayed_messages() < n {
        state.set_demand(state.epoch(), 1_000);
        let Some((from, _)) = state.next_read() else {
            break;
        };
        let entries = storage.read_entries(ledger_id, from, CHUNK as usize, 64 << 20)?;
        let before = state.delayed_messages();
        let out = state.on_read(from, entries, BASE_MS - 1);
        assert!(out.is_empty(), "everything is due later");
        persist(storage, ledger_id, &mut state)?;
        let after = state.delayed_messages();
        if checkpoints.iter().any(|c| before < *c && after >= *c) {
            println!(
                "  {after:>10} pending: state {:>8.2} MiB (cursor estimate), process RSS {:>7.1} MiB",
                state.cursor().memory_size_estimate() as f64 / (1 << 20) as f64,
                mib(rss_kib())
            );
        }
    }
    storage.sync()?;
    let secs = started.elapsed().as_secs_f64();
    println!(
        "deferred {} entries in {secs:.1} s ({:.0} entries/s, index keys written with the cursor)",
        state.delayed_messages(),
        state.delayed_messages() as f64 / secs
    );
    Ok(state)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted.get(index).copied().unwrap_or_default()
}

/// Takes `due` entries out of the index the way the subscription does (scan, read, undefer,
/// persist), timing each scan.
fn take_due(
    storage: &Storage,
    ledger_id: u64,
    state: &mut SubscriptionState,
    due: u64,
) -> Result<()> {
    let now = BASE_MS + due - 1;
    let started = Instant::now();
    let mut scans = Vec::new();
    let mut taken = 0u64;
    loop {
        state.set_demand(state.epoch(), MAX_DUE_BATCH);
        let Some(read) = state.due_read(now) else {
            break;
        };
        let scan = Instant::now();
        let found = storage.due_delayed(
            ledger_id,
            SUBSCRIPTION,
            read.incarnation,
            read.from_ms,
            read.now_ms,
            read.limit,
        )?;
        let mut entries = Vec::with_capacity(found.due.len());
        for key in &found.due {
            entries.extend(storage.read_entry(ledger_id, key.entry_id)?);
        }
        let out = state.on_due(&read, found, entries);
        persist(storage, ledger_id, state)?;
        scans.push(scan.elapsed());
        if out.is_empty() {
            break;
        }
        taken += out.len() as u64;
    }
    storage.sync()?;
    scans.sort();
    let secs = started.elapsed().as_secs_f64();
    println!(
        "took {taken} due entries out in {secs:.2} s ({:.0}/s); per scan of up to {MAX_DUE_BATCH}: \
         p50 {:?}, p99 {:?}, max {:?}",
        taken as f64 / secs,
        percentile(&scans, 0.5),
        percentile(&scans, 0.99),
        scans.last().copied().unwrap_or_default()
    );
    Ok(())
}

fn main() -> Result<()> {
    let n: u64 = std::env::var("GEMINGA_DELAYED_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000_000);
    let dir = tempfile::tempdir()?;
    let config = StorageConfig::default();
    println!(
        "delayed delivery bench: {n} pending delayed messages, fjall block cache {} MiB, \
         RSS at start {:.1} MiB",
        config.cache_size_bytes >> 20,
        mib(rss_kib())
    );
    let storage = Storage::open(dir.path(), config.clone())?;
    let ledger_id = storage
        .create_topic("persistent://public/default/delayed-bench")?
        .ledger_id;
    append_log(&storage, ledger_id, n)?;
    let state = defer_all(&storage, ledger_id, n)?;
    let keys = storage.due_delayed(
        ledger_id,
        SUBSCRIPTION,
        state.cursor().incarnation(),
        0,
        u64::MAX,
        3,
    )?;
    println!(
        "index: first keys {:?}; cursor persisted ~{:.2} MiB; data dir {:.0} MiB",
        keys.due,
        state.cursor().persisted_size_estimate() as f64 / (1 << 20) as f64,
        dir_size(dir.path()) as f64 / (1 << 20) as f64
    );
    drop(state);
    drop(storage);

    let reopened = Instant::now();
    let storage = Storage::open(dir.path(), config)?;
    let cursor = storage
        .load_cursor(ledger_id, SUBSCRIPTION)?
        .ok_or("cursor lost")?;
    let mut state = shared_state(ledger_id, cursor, n)?;
    println!(
        "restart: storage reopened and cursor reloaded in {:?}; {} pending, state {:.2} MiB, \
         process RSS {:.1} MiB",
        reopened.elapsed(),
        state.delayed_messages(),
        state.cursor().memory_size_estimate() as f64 / (1 << 20) as f64,
        mib(rss_kib())
    );
    state.set_demand(state.epoch(), 1_000);
    let skip = Instant::now();
    let next = state.next_read();
    println!(
        "restart: the sequential reader skips all deferred entries in {:?} (next read {next:?})",
        skip.elapsed()
    );
    take_due(&storage, ledger_id, &mut state, (n / 100).max(1))?;
    println!(
        "after: {} still pending, state {:.2} MiB; peak RSS {:.1} MiB",
        state.delayed_messages(),
        state.cursor().memory_size_estimate() as f64 / (1 << 20) as f64,
        mib(peak_rss_kib())
    );
    Ok(())
}
