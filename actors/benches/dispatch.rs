//! Dispatch throughput of Shared and Key_Shared on the plain `DispatcherState`, with 1, 4 and
//! 16 consumers: entries flow from a prepared log through read requests, placement, acks and
//! FLOW refills, as the actors drive them, without actix or storage.
#![allow(
    clippy::expect_used,
    clippy::indexing_slicing,
    missing_docs,
    reason = "bench: a broken run aborts; criterion's macros generate undocumented items"
)]

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use geminga_actors::dispatcher::{
    DispatchConsumer, DispatchLimits, DispatcherState, ReadEntry, ReadRequest,
};
use geminga_protocol::proto::command_subscribe::SubType;
use geminga_storage::{Entry, EntryMeta};

/// Entries dispatched per measured iteration.
const ENTRIES: u64 = 20_000;
/// Distinct keys for Key_Shared.
const KEYS: u64 = 1_000;
/// Receiver queue of every consumer (the clients' default).
const QUEUE: u32 = 1_000;

fn log(keyed: bool) -> Vec<ReadEntry> {
    (0..ENTRIES)
        .map(|id| ReadEntry {
            entry: Entry {
                entry_id: id,
                meta: EntryMeta {
                    num_messages: 1,
                    key_hash: keyed.then(|| murmur(id % KEYS)),
                    ..EntryMeta::default()
                },
                data: Bytes::from_static(b"payload"),
            },
            ack_set: None,
            redelivery_count: 0,
        })
        .collect()
}

/// A cheap stand-in for the key hash (the broker computes it once at publish).
fn murmur(key: u64) -> u32 {
    let mut h = key.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    h ^= h >> 29;
    (h as u32) ^ ((h >> 32) as u32)
}

fn state(sub_type: SubType, consumers: u64) -> DispatcherState {
    let mut d = DispatcherState::new(DispatchLimits::default());
    for key in 0..consumers {
        let consumer = DispatchConsumer {
            key,
            name: format!("consumer-{key}"),
            priority_level: 0,
            sub_type,
            key_shared: None,
            partition: None,
        };
        d.add_consumer(consumer).expect("consumer accepted");
        d.flow(key, QUEUE);
    }
    d
}

/// Dispatches the whole log; consumers ack each delivery and refill FLOW at half queue.
fn run(mut d: DispatcherState, log: &[ReadEntry], consumers: u64) -> u64 {
    let mut next = 0usize;
    let mut delivered = 0u64;
    let mut received = vec![0u32; consumers as usize];
    while delivered < ENTRIES {
        let requests = d.next_requests();
        if requests.is_empty() {
            break;
        }
        for request in requests {
            let (entries, replayed) = match request {
                ReadRequest::Fresh(n) => {
                    let end = (next + n).min(log.len());
                    let slice = log[next..end].to_vec();
                    next = end;
                    (slice, false)
                }
                ReadRequest::Replay(ids) => (
                    ids.iter().map(|id| log[*id as usize].clone()).collect(),
                    true,
                ),
            };
            for (key, deliveries) in d.on_entries(0, entries, replayed) {
                let ids: Vec<u64> = deliveries.iter().map(|d| d.entry.entry_id).collect();
                delivered += ids.len() as u64;
                d.acked(&ids, None);
                let count = &mut received[key as usize];
                *count += ids.len() as u32;
                if *count >= QUEUE / 2 {
                    d.flow(key, *count);
                    *count = 0;
                }
            }
        }
    }
    delivered
}

fn dispatch(c: &mut Criterion) {
    for (sub_type, name, keyed) in [
        (SubType::Shared, "shared", false),
        (SubType::KeyShared, "key_shared", true),
    ] {
        let entries = log(keyed);
        let mut group = c.benchmark_group(format!("dispatch/{name}"));
        group.throughput(Throughput::Elements(ENTRIES));
        for consumers in [1u64, 4, 16] {
            group.bench_function(format!("{consumers}_consumers"), |b| {
                b.iter_batched(
                    || state(sub_type, consumers),
                    |d| {
                        let delivered = run(d, &entries, consumers);
                        assert_eq!(delivered, ENTRIES, "every entry dispatched");
                    },
                    BatchSize::SmallInput,
                );
            });
        }
        group.finish();
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(10)
        .warm_up_time(std::time::Duration::from_secs(1))
        .measurement_time(std::time::Duration::from_secs(3));
    targets = dispatch
}
criterion_main!(benches);
