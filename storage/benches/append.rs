//! Append bench: `write` of a group of entries followed by one `sync` (fsync on), for 1 KiB
//! and 128 KiB entries, with and without key-value separation. Before the timed runs it
//! prints, per configuration, sustained throughput and the bytes the process wrote to disk
//! per payload byte (write amplification, from /proc/self/io, background flushes and
//! compactions included) and the data dir's size with 64 MiB retained, which is what
//! `StorageConfig::kv_separation`'s default rests on. `SUSTAINED_ONLY=1` skips criterion.

#![allow(
    clippy::print_stdout,
    reason = "the bench reports its figures on stdout"
)]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    reason = "bench"
)]

use std::time::{Duration, Instant};

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use geminga_storage::{Entry, EntryMeta, Storage, StorageConfig, WriteOp};

/// (entry size, entries per sync) combinations measured.
const CASES: [(usize, usize); 5] = [
    (1024, 1),
    (1024, 64),
    (1024, 512),
    (128 * 1024, 1),
    (128 * 1024, 16),
];

/// Incompressible payload, so LZ4 in the value log or in blocks gains nothing for free.
fn payload(len: usize) -> Bytes {
    let mut state = 0x9E37_79B9_7F4A_7C15_u64;
    let data: Vec<u8> = (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect();
    Bytes::from(data)
}

fn config(kv_separation: bool) -> StorageConfig {
    StorageConfig {
        fsync: true,
        kv_separation,
        ..StorageConfig::default()
    }
}

/// Appends one group at `next` and syncs it.
fn append_group(storage: &Storage, next: &mut u64, group: usize, data: &Bytes) {
    let ops = (0..group)
        .map(|i| {
            let entry_id = *next + i as u64;
            let meta = EntryMeta {
                num_messages: 1,
                publish_time_ms: entry_id,
                ..EntryMeta::default()
            };
            WriteOp::Append {
                ledger_id: 1,
                entry: Entry {
                    entry_id,
                    meta,
                    data: data.clone(),
                },
            }
        })
        .collect();
    storage.write(ops).unwrap();
    storage.sync().unwrap();
    *next += group as u64;
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

fn disk_write_bytes() -> u64 {
    let io = std::fs::read_to_string("/proc/self/io").unwrap_or_default();
    io.lines()
        .find_map(|l| l.strip_prefix("write_bytes: "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

/// Writes `total` payload bytes with retention (trim to the last ~64 MiB), then drops the
/// storage so background work finishes, and reports throughput and write amplification.
fn sustained(kv_separation: bool, size: usize, group: usize, total: usize) {
    let dir = tempfile::tempdir().unwrap();
    let storage = Storage::open(dir.path(), config(kv_separation)).unwrap();
    let data = payload(size);
    let keep = (64 * 1024 * 1024 / size) as u64;
    let before = disk_write_bytes();
    let started = Instant::now();
    let mut next = 0;
    while (next as usize) * size < total {
        append_group(&storage, &mut next, group, &data);
        if next > keep && next % (keep / 4).max(1) < group as u64 {
            storage
                .write(vec![WriteOp::Trim {
                    ledger_id: 1,
                    before_entry: next - keep,
                }])
                .unwrap();
        }
    }
    let elapsed = started.elapsed();
    let on_disk = dir_size(dir.path());
    let reads = Instant::now();
    let tail = storage
        .read_entries(1, next - keep.min(next), usize::MAX, 32 * 1024 * 1024)
        .unwrap();
    let read_time = reads.elapsed();
    drop(storage);
    let written = disk_write_bytes() - before;
    let mib = (next as usize * size) as f64 / (1024.0 * 1024.0);
    println!(
        "append kv_sep={kv_separation:<5} {:>6} B x{group:<3}: {:>7.1} MiB/s {:>8.0} entries/s, \
         disk bytes/payload byte {:.2}, {} MiB on disk for 64 MiB retained; \
         read {} entries ({} MiB) in {read_time:?}",
        size,
        mib / elapsed.as_secs_f64(),
        next as f64 / elapsed.as_secs_f64(),
        written as f64 / (mib * 1024.0 * 1024.0),
        on_disk / (1024 * 1024),
        tail.len(),
        tail.len() * size / (1024 * 1024),
    );
}

fn bench(c: &mut Criterion) {
    for kv in [false, true] {
        sustained(kv, 1024, 512, 256 * 1024 * 1024);
        sustained(kv, 128 * 1024, 16, 1024 * 1024 * 1024);
    }
    // Set to skip the criterion runs when only the sustained figures are wanted.
    if std::env::var_os("SUSTAINED_ONLY").is_some() {
        return;
    }
    let mut group = c.benchmark_group("append_sync");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    for kv in [false, true] {
        for (size, entries) in CASES {
            // A fresh database per case, so one case's background flushes and compactions
            // do not land in the next case's samples.
            let dir = tempfile::tempdir().unwrap();
            let storage = Storage::open(dir.path(), config(kv)).unwrap();
            let mut next = 0;
            let data = payload(size);
            group.throughput(Throughput::Bytes((size * entries) as u64));
            let id = BenchmarkId::new(format!("kv_sep={kv}/{}KiB", size / 1024), entries);
            group.bench_with_input(id, &entries, |b, &entries| {
                b.iter(|| append_group(&storage, &mut next, entries, &data));
            });
        }
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
