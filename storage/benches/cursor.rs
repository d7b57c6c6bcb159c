//! Cursor bench: 1M random individual acks over a 2M-entry backlog. Prints the persisted and
//! in-memory size of the resulting state and the cost of one more ack, then times acking,
//! incremental updates and a full persist + load through fjall.

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

use std::hint::black_box;
use std::time::Instant;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use geminga_storage::{Cursor, Storage, StorageConfig, WriteOp};

const BACKLOG: u64 = 2_000_000;
const ACKS: usize = 1_000_000;

/// 0..n in a fixed pseudo-random order (xorshift Fisher-Yates), so runs are comparable.
fn shuffled(n: u64) -> Vec<u64> {
    let mut ids: Vec<u64> = (0..n).collect();
    let mut state = 0x2545_F491_4F6C_DD1D_u64;
    for i in (1..ids.len()).rev() {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        ids.swap(i, (state % (i as u64 + 1)) as usize);
    }
    ids
}

fn acked_cursor(acks: &[u64]) -> Cursor {
    let mut cursor = Cursor::new("bench", 0);
    for &id in acks {
        cursor.ack(id);
    }
    cursor
}

/// Prints the figures the brief asks for, measured once outside criterion.
fn report(ids: &[u64]) {
    let started = Instant::now();
    let mut cursor = acked_cursor(&ids[..ACKS]);
    let ack_time = started.elapsed();
    let full = cursor.take_update().unwrap();
    println!("cursor: {ACKS} random acks over a {BACKLOG} backlog in {ack_time:?}");
    println!(
        "cursor: floor {} , {} acked above it, {} chunks",
        cursor.ack_floor(),
        cursor.individually_acked(),
        full.chunks_written()
    );
    println!(
        "cursor: persisted_size_estimate = {} bytes",
        cursor.persisted_size_estimate()
    );
    println!(
        "cursor: memory_size_estimate    = {} bytes",
        cursor.memory_size_estimate()
    );
    println!(
        "cursor: full update writes      = {} value bytes",
        full.bytes_written()
    );
    cursor.ack(ids[ACKS]);
    let one = cursor.take_update().unwrap();
    println!(
        "cursor: one more ack writes      = {} value bytes ({} chunk, header written: {})",
        one.bytes_written(),
        one.chunks_written(),
        one.header_written()
    );

    let dir = tempfile::tempdir().unwrap();
    let storage = Storage::open(dir.path(), StorageConfig::default()).unwrap();
    let started = Instant::now();
    storage
        .write(vec![WriteOp::Cursor {
            ledger_id: 1,
            update: full,
        }])
        .unwrap();
    storage.sync().unwrap();
    let persist_time = started.elapsed();
    let started = Instant::now();
    let loaded = storage.load_cursor(1, "bench").unwrap().unwrap();
    println!(
        "cursor: full persist+fsync {persist_time:?}, load_cursor {:?}",
        started.elapsed()
    );
    assert_eq!(
        loaded.individually_acked() + loaded.ack_floor(),
        ACKS as u64
    );
}

fn bench(c: &mut Criterion) {
    let ids = shuffled(BACKLOG);
    report(&ids);
    let mut group = c.benchmark_group("cursor");
    group.sample_size(10);
    group.bench_function("1M_random_acks_of_2M", |b| {
        b.iter(|| black_box(acked_cursor(&ids[..ACKS]).individually_acked()));
    });
    let base = {
        let mut cursor = acked_cursor(&ids[..ACKS]);
        cursor.take_update();
        cursor
    };
    group.sample_size(50);
    let mut next = ACKS;
    group.bench_function("ack_plus_take_update_on_1M_state", |b| {
        b.iter_batched_ref(
            || base.clone(),
            |cursor| {
                next = if next + 1 < ids.len() { next + 1 } else { ACKS };
                cursor.ack(ids[next]);
                black_box(cursor.take_update())
            },
            BatchSize::LargeInput,
        );
    });
    let dir = tempfile::tempdir().unwrap();
    let config = StorageConfig {
        fsync: false,
        ..StorageConfig::default()
    };
    let storage = Storage::open(dir.path(), config).unwrap();
    let mut full = base.clone();
    full.force_full_update();
    let update = full.take_update().unwrap();
    group.sample_size(10);
    group.bench_function("persist_and_load_1M_state", |b| {
        b.iter(|| {
            let op = WriteOp::Cursor {
                ledger_id: 1,
                update: update.clone(),
            };
            storage.write(vec![op]).unwrap();
            black_box(storage.load_cursor(1, "bench").unwrap())
        });
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
