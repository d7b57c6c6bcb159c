//! Property tests: random bytes and mutated valid frames never make the decoder (or the payload
//! and batch parsers behind it) panic or loop, and random read boundaries never change results.
#![cfg(test)]

use bytes::{Bytes, BytesMut};
use geminga_protocol::batch::parse_batch;
use geminga_protocol::commands::{self, client};
use geminga_protocol::proto::{MessageIdData, MessageMetadata};
use geminga_protocol::{Frame, Payload, ProtocolError, PulsarCodec};
use proptest::prelude::*;
use tokio_util::codec::{Decoder, Encoder};

/// Small enough that a random header often lands inside the limit and gets buffered.
const FUZZ_MAX_MESSAGE_SIZE: usize = 64 * 1024;

fn valid_frames() -> Vec<u8> {
    let metadata = MessageMetadata {
        producer_name: "p".into(),
        sequence_id: 1,
        publish_time: 2,
        num_messages_in_batch: Some(2),
        ..Default::default()
    };
    let body = geminga_protocol::batch::encode_batch(&[
        (Default::default(), b"one"),
        (Default::default(), b"two"),
    ]);
    let frames = [
        Frame::new(client::connect("pulsar-rs-v6.9.1", 12)),
        Frame::with_payload(client::send(1, 1, Some(2)), Payload::new(&metadata, &body)),
        Frame::with_payload(
            commands::message(1, MessageIdData::default(), 0, vec![]),
            Payload::new(&metadata, b"x"),
        ),
        Frame::new(commands::lookup_connect(1, "pulsar://h:6650", None)),
    ];
    let mut codec = PulsarCodec::new(FUZZ_MAX_MESSAGE_SIZE);
    let mut buf = BytesMut::new();
    for frame in frames {
        codec.encode(frame, &mut buf).unwrap();
    }
    buf.to_vec()
}

/// Decodes until the codec wants more bytes or fails, exercising every accessor of each frame.
/// Returns the frames and whether decoding ended in an error.
fn drain(bytes: &[u8]) -> (Vec<Frame>, Option<ProtocolError>) {
    let mut codec = PulsarCodec::new(FUZZ_MAX_MESSAGE_SIZE);
    let mut buf = BytesMut::from(bytes);
    let mut frames = Vec::new();
    // Each decoded frame consumes at least 8 bytes, so this bound is never the reason to stop.
    for _ in 0..=bytes.len() / 8 {
        match codec.decode(&mut buf) {
            Ok(Some(frame)) => {
                poke(&frame);
                frames.push(frame);
            }
            Ok(None) => return (frames, None),
            Err(error) => return (frames, Some(error)),
        }
    }
    panic!("decoder produced more frames than the input can hold");
}

/// Calls every fallible accessor; results are irrelevant, panics are not.
fn poke(frame: &Frame) {
    let _ = frame.command.command_type();
    if let Some(payload) = &frame.payload {
        let _ = payload.crc32c();
        let _ = payload.metadata();
        if let Ok(body) = payload.body() {
            for count in [0, 1, 2, 7, usize::MAX] {
                let _ = parse_batch(&body, count);
            }
        }
    }
}

#[derive(Clone, Debug)]
enum Mutation {
    Flip { at: usize, mask: u8 },
    Truncate { at: usize },
    Insert { at: usize, byte: u8 },
    Remove { at: usize },
    Overwrite { at: usize, word: u32 },
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), 1..=255u8).prop_map(|(at, mask)| Mutation::Flip { at, mask }),
        any::<usize>().prop_map(|at| Mutation::Truncate { at }),
        (any::<usize>(), any::<u8>()).prop_map(|(at, byte)| Mutation::Insert { at, byte }),
        any::<usize>().prop_map(|at| Mutation::Remove { at }),
        (any::<usize>(), any::<u32>()).prop_map(|(at, word)| Mutation::Overwrite { at, word }),
    ]
}

fn apply(bytes: &mut Vec<u8>, mutation: &Mutation) {
    if bytes.is_empty() {
        return;
    }
    let len = bytes.len();
    match *mutation {
        Mutation::Flip { at, mask } => bytes[at % len] ^= mask,
        Mutation::Truncate { at } => bytes.truncate(at % len),
        Mutation::Insert { at, byte } => bytes.insert(at % (len + 1), byte),
        Mutation::Remove { at } => {
            bytes.remove(at % len);
        }
        Mutation::Overwrite { at, word } => {
            // Sizes are 4-byte words, so overwriting whole words hits them far more often.
            let at = (at % len) & !3;
            for (i, b) in word.to_be_bytes().into_iter().enumerate() {
                if let Some(slot) = bytes.get_mut(at + i) {
                    *slot = b;
                }
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..2048)) {
        drain(&bytes);
    }

    #[test]
    fn random_bytes_behind_a_plausible_header_never_panic(
        body in prop::collection::vec(any::<u8>(), 4..1024),
    ) {
        // A correct totalSize gets past the framing so the command/payload parsers see garbage.
        let mut bytes = (body.len() as u32).to_be_bytes().to_vec();
        bytes.extend_from_slice(&body);
        drain(&bytes);
    }

    #[test]
    fn mutated_valid_frames_never_panic(
        mutations in prop::collection::vec(mutation(), 1..6),
    ) {
        let mut bytes = valid_frames();
        for m in &mutations {
            apply(&mut bytes, m);
        }
        drain(&bytes);
    }

    #[test]
    fn read_boundaries_do_not_change_the_decoded_frames(
        cuts in prop::collection::vec(any::<usize>(), 0..12),
    ) {
        let bytes = valid_frames();
        let (expected, error) = drain(&bytes);
        prop_assert!(error.is_none());
        prop_assert_eq!(expected.len(), 4);
        let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c % bytes.len()).collect();
        cuts.sort_unstable();
        cuts.push(bytes.len());
        let mut codec = PulsarCodec::new(FUZZ_MAX_MESSAGE_SIZE);
        let mut buf = BytesMut::new();
        let mut frames = Vec::new();
        let mut from = 0;
        for cut in cuts {
            buf.extend_from_slice(&bytes[from..cut]);
            from = cut;
            while let Some(frame) = codec.decode(&mut buf).unwrap() {
                frames.push(frame);
            }
        }
        prop_assert_eq!(frames, expected);
    }

    #[test]
    fn random_batch_bodies_never_panic(
        body in prop::collection::vec(any::<u8>(), 0..512),
        count in 0usize..64,
    ) {
        let _ = parse_batch(&Bytes::from(body), count);
    }
}
