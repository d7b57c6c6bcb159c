//! Codec micro benchmark: encode + decode of a 1 KiB SEND and of a MESSAGE frame.
#![allow(clippy::unwrap_used, reason = "bench: a failed round trip aborts")]

use std::hint::black_box;

use bytes::BytesMut;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use geminga_protocol::commands;
use geminga_protocol::proto::{MessageIdData, MessageMetadata};
use geminga_protocol::{Frame, Payload, PulsarCodec};
use tokio_util::codec::{Decoder, Encoder};

const BODY_LEN: usize = 1024;

fn metadata() -> MessageMetadata {
    MessageMetadata {
        producer_name: "bench-producer".into(),
        sequence_id: 1,
        publish_time: 1_700_000_000_000,
        ..Default::default()
    }
}

/// Encodes `frame` and decodes it back through one reused buffer, as a connection would.
fn round_trip(codec: &mut PulsarCodec, buf: &mut BytesMut, frame: Frame) -> Frame {
    codec.encode(frame, buf).unwrap();
    codec.decode(buf).unwrap().unwrap()
}

fn bench_codec(c: &mut Criterion) {
    let payload = Payload::new(&metadata(), &[0xab; BODY_LEN]);
    let send = Frame::with_payload(commands::client::send(1, 1, None), payload.clone());
    let message_id = MessageIdData {
        ledger_id: 10,
        entry_id: 20,
        ..Default::default()
    };
    // A dispatched MESSAGE reuses the stored payload and its verified checksum.
    let message = Frame::with_payload(commands::message(1, message_id, 0, vec![]), payload);

    let mut group = c.benchmark_group("codec");
    group.throughput(Throughput::Bytes(BODY_LEN as u64));
    for (name, frame) in [("send_1k", send), ("message_1k", message)] {
        let mut codec = PulsarCodec::default();
        let mut buf = BytesMut::with_capacity(4 * BODY_LEN);
        group.bench_function(name, |b| {
            b.iter(|| black_box(round_trip(&mut codec, &mut buf, black_box(frame.clone()))))
        });
    }
    group.finish();
}

criterion_group!(benches, bench_codec);
criterion_main!(benches);
