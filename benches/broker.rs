//! End-to-end publish throughput through an in-process broker, durable (fsync on), with the
//! native client: 1 KiB messages, batched and unbatched.
//!
//! Run with `cargo bench --bench broker`. The broker and the client share the machine's cores,
//! as they would with `pulsar-perf` on the same host.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "benchmark set-up")]

use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use geminga::{
    config::BrokerConfig,
    perf::{produce, ProduceOptions},
    start_in_thread,
};

const MESSAGES: u64 = 20_000;
const SIZE: usize = 1024;

fn publish(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = BrokerConfig {
        data_dir: dir.path().to_path_buf(),
        bind: "127.0.0.1:0".into(),
        admin_bind: "127.0.0.1:0".into(),
        ..BrokerConfig::default()
    };
    let broker = start_in_thread(config).expect("broker starts");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let mut group = c.benchmark_group("publish_1kib_durable");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(20));
    group.throughput(Throughput::Bytes(MESSAGES * SIZE as u64));
    for batched in [true, false] {
        let name = if batched { "batched" } else { "unbatched" };
        let mut round = 0u64;
        group.bench_function(name, |b| {
            b.iter_custom(|iterations| {
                let mut total = Duration::ZERO;
                for _ in 0..iterations {
                    round += 1;
                    let mut options = ProduceOptions::new(
                        broker.service_url.clone(),
                        format!("bench-{name}-{round}"),
                    );
                    options.message_size = SIZE;
                    options.num_messages = MESSAGES;
                    if !batched {
                        options.batching = None;
                    }
                    let start = Instant::now();
                    let report = runtime.block_on(produce(&options)).expect("produce");
                    total += start.elapsed();
                    assert_eq!(report.messages, MESSAGES);
                    assert_eq!(report.errors, 0);
                }
                total
            });
        });
    }
    group.finish();
    broker.shutdown();
}

criterion_group!(benches, publish);
criterion_main!(benches);
