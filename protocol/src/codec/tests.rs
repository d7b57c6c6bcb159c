//! Unit tests for framing: partial input, limits, payload sections and checksums.

use bytes::{BufMut, BytesMut};
use prost::Message as _;
use tokio_util::codec::{Decoder, Encoder};

use super::*;
use crate::commands;
use crate::proto::{base_command::Type, MessageIdData, MessageMetadata};

fn metadata() -> MessageMetadata {
    MessageMetadata {
        producer_name: "standalone-0-1".into(),
        sequence_id: 42,
        publish_time: 1_700_000_000_000,
        ..Default::default()
    }
}

fn encode(frame: Frame) -> BytesMut {
    let mut buf = BytesMut::new();
    PulsarCodec::default().encode(frame, &mut buf).unwrap();
    buf
}

fn decode_all(buf: &mut BytesMut) -> Vec<Frame> {
    let mut codec = PulsarCodec::default();
    let mut frames = Vec::new();
    while let Some(frame) = codec.decode(buf).unwrap() {
        frames.push(frame);
    }
    frames
}

fn send_frame(body: &[u8]) -> Frame {
    Frame::with_payload(
        commands::client::send(1, 42, None),
        Payload::new(&metadata(), body),
    )
}

/// Builds `[total][cmdSize][cmd]` followed by arbitrary payload bytes.
fn raw_frame(command: &BaseCommand, payload: &[u8]) -> BytesMut {
    let cmd = command.encode_to_vec();
    let mut buf = BytesMut::new();
    buf.put_u32((4 + cmd.len() + payload.len()) as u32);
    buf.put_u32(cmd.len() as u32);
    buf.put_slice(&cmd);
    buf.put_slice(payload);
    buf
}

#[test]
fn ping_matches_golden_bytes() {
    // type = 18 (field 1 varint), ping = field 18 (key 0x92 0x01) with length 0.
    let golden = [0, 0, 0, 9, 0, 0, 0, 5, 0x08, 0x12, 0x92, 0x01, 0x00];
    assert_eq!(&encode(Frame::new(commands::ping()))[..], &golden);
    let mut buf = BytesMut::from(&golden[..]);
    let frames = decode_all(&mut buf);
    assert_eq!(frames, vec![Frame::new(commands::ping())]);
    assert!(buf.is_empty());
}

#[test]
fn base_command_encoder_writes_the_same_bytes_as_frame_encoder() {
    let mut buf = BytesMut::new();
    PulsarCodec::default()
        .encode(commands::success(7), &mut buf)
        .unwrap();
    assert_eq!(buf, encode(Frame::new(commands::success(7))));
}

#[test]
fn payload_frame_layout_is_total_cmd_magic_crc_data() {
    let frame = send_frame(b"body");
    let payload = frame.payload.clone().unwrap();
    let cmd_len = frame.command.encoded_len();
    let buf = encode(frame);
    let total = 4 + cmd_len + 2 + 4 + payload.data.len();
    assert_eq!(buf.len(), 4 + total);
    assert_eq!(&buf[..4], &(total as u32).to_be_bytes());
    assert_eq!(&buf[4..8], &(cmd_len as u32).to_be_bytes());
    let at = 8 + cmd_len;
    assert_eq!(&buf[at..at + 2], &[0x0e, 0x01]);
    let crc = crc32c::crc32c(&payload.data);
    assert_eq!(&buf[at + 2..at + 6], &crc.to_be_bytes());
    assert_eq!(&buf[at + 6..], &payload.data[..]);
}

#[test]
fn encoder_reuses_a_stored_checksum_instead_of_recomputing() {
    let mut frame = send_frame(b"body");
    if let Some(payload) = frame.payload.as_mut() {
        payload.checksum = Checksum::Valid(0xdead_beef);
    }
    let cmd_len = frame.command.encoded_len();
    let buf = encode(frame);
    let at = 8 + cmd_len + 2;
    assert_eq!(&buf[at..at + 4], &0xdead_beef_u32.to_be_bytes());
}

#[test]
fn payload_frame_round_trips_with_valid_checksum_and_zero_copy_body() {
    let mut buf = encode(send_frame(b"hello world"));
    let frames = decode_all(&mut buf);
    assert_eq!(frames.len(), 1);
    let payload = frames[0].payload.as_ref().unwrap();
    assert_eq!(
        payload.checksum,
        Checksum::Valid(crc32c::crc32c(&payload.data))
    );
    assert_eq!(payload.metadata().unwrap(), metadata());
    assert_eq!(&payload.body().unwrap()[..], b"hello world");
    assert_eq!(frames[0].command.command_type(), Some(Type::Send));
}

#[test]
fn corrupted_payload_decodes_as_checksum_mismatch_not_error() {
    let mut buf = encode(send_frame(b"hello world"));
    let last = buf.len() - 1;
    buf[last] ^= 0xff;
    let frames = decode_all(&mut buf);
    let payload = frames[0].payload.as_ref().unwrap();
    match payload.checksum {
        Checksum::Mismatch { received, computed } => {
            assert_ne!(received, computed);
            assert_eq!(computed, crc32c::crc32c(&payload.data));
        }
        other => panic!("expected a mismatch, got {other:?}"),
    }
}

#[test]
fn payload_without_magic_decodes_with_absent_checksum() {
    // C++ below protocol v6 writes [metadataSize][metadata][body] right after the command.
    let data = Payload::new(&metadata(), b"old client").data;
    let mut buf = raw_frame(&commands::client::send(1, 1, None), &data);
    let frames = decode_all(&mut buf);
    let payload = frames[0].payload.as_ref().unwrap();
    assert_eq!(payload.checksum, Checksum::Absent);
    assert_eq!(payload.data, data);
    assert_eq!(&payload.body().unwrap()[..], b"old client");
}

#[test]
fn broker_entry_metadata_section_is_skipped() {
    let data = Payload::new(&metadata(), b"relayed").data;
    let entry = crate::proto::BrokerEntryMetadata {
        broker_timestamp: Some(1),
        index: Some(9),
    }
    .encode_to_vec();
    let mut tail = BytesMut::new();
    tail.put_u16(0x0e02);
    tail.put_u32(entry.len() as u32);
    tail.put_slice(&entry);
    tail.put_u16(0x0e01);
    tail.put_u32(crc32c::crc32c(&data));
    tail.put_slice(&data);
    let mut buf = raw_frame(
        &commands::message(1, MessageIdData::default(), 0, vec![]),
        &tail,
    );
    let frames = decode_all(&mut buf);
    let payload = frames[0].payload.as_ref().unwrap();
    assert_eq!(payload.data, data);
    assert!(matches!(payload.checksum, Checksum::Valid(_)));
}

#[test]
fn byte_by_byte_input_yields_none_until_the_frame_is_complete() {
    let bytes = encode(send_frame(b"slow network"));
    let mut codec = PulsarCodec::default();
    let mut buf = BytesMut::new();
    for (i, byte) in bytes.iter().enumerate() {
        buf.put_u8(*byte);
        let result = codec.decode(&mut buf).unwrap();
        if i + 1 < bytes.len() {
            assert!(result.is_none(), "frame yielded early at byte {i}");
        } else {
            assert_eq!(result.unwrap(), decode_all(&mut bytes.clone())[0]);
        }
    }
    assert!(buf.is_empty());
}

#[test]
fn partial_frame_reserves_the_capacity_it_needs() {
    let bytes = encode(send_frame(&[7u8; 4096]));
    let mut buf = BytesMut::from(&bytes[..10]);
    assert!(PulsarCodec::default().decode(&mut buf).unwrap().is_none());
    assert!(buf.capacity() >= bytes.len());
    assert_eq!(buf.len(), 10, "a partial frame must not be consumed");
}

#[test]
fn several_frames_in_one_buffer_decode_in_order() {
    let mut buf = BytesMut::new();
    buf.extend_from_slice(&encode(Frame::new(commands::ping())));
    buf.extend_from_slice(&encode(send_frame(b"a")));
    buf.extend_from_slice(&encode(Frame::new(commands::success(3))));
    let half = encode(Frame::new(commands::pong()));
    buf.extend_from_slice(&half[..5]);
    let frames = decode_all(&mut buf);
    let types: Vec<_> = frames.iter().map(|f| f.command.command_type()).collect();
    assert_eq!(
        types,
        vec![Some(Type::Ping), Some(Type::Send), Some(Type::Success)]
    );
    assert_eq!(buf.len(), 5, "the trailing partial frame stays buffered");
}

#[test]
fn oversize_header_fails_at_once_without_buffering() {
    let mut codec = PulsarCodec::new(1024);
    assert_eq!(codec.max_frame_size(), 1024 + FRAME_HEADROOM);
    let mut buf = BytesMut::new();
    buf.put_u32((codec.max_frame_size() + 1) as u32);
    let capacity = buf.capacity();
    match codec.decode(&mut buf) {
        Err(ProtocolError::FrameTooLarge { size, max }) => {
            assert_eq!(size, 1024 + FRAME_HEADROOM + 1);
            assert_eq!(max, 1024 + FRAME_HEADROOM);
        }
        other => panic!("expected FrameTooLarge, got {other:?}"),
    }
    assert_eq!(buf.capacity(), capacity);
    let mut huge = BytesMut::from(&[0xff, 0xff, 0xff, 0xff][..]);
    assert!(matches!(
        PulsarCodec::default().decode(&mut huge),
        Err(ProtocolError::FrameTooLarge { .. })
    ));
}

#[test]
fn frame_at_exactly_the_limit_is_accepted() {
    let frame = encode(send_frame(&[1u8; FRAME_HEADROOM + 300]));
    let total = frame.len() - 4;
    let mut codec = PulsarCodec::new(total - FRAME_HEADROOM);
    let mut buf = frame.clone();
    assert!(codec.decode(&mut buf).unwrap().is_some());
    let mut codec = PulsarCodec::new(total - FRAME_HEADROOM - 1);
    let mut buf = frame;
    assert!(matches!(
        codec.decode(&mut buf),
        Err(ProtocolError::FrameTooLarge { .. })
    ));
}

#[test]
fn default_limit_is_java_default() {
    assert_eq!(PulsarCodec::default().max_frame_size(), 5_253_120);
}

#[test]
fn total_size_too_small_for_cmd_size_is_malformed() {
    for total in 0u32..4 {
        let mut buf = BytesMut::new();
        buf.put_u32(total);
        buf.put_slice(&[0; 8]);
        assert!(matches!(
            PulsarCodec::default().decode(&mut buf),
            Err(ProtocolError::Malformed { .. })
        ));
    }
}

#[test]
fn cmd_size_beyond_the_frame_is_malformed() {
    let mut buf = BytesMut::new();
    buf.put_u32(8);
    buf.put_u32(5);
    buf.put_slice(&[0x08, 0x12, 0x92, 0x01]);
    assert!(matches!(
        PulsarCodec::default().decode(&mut buf),
        Err(ProtocolError::Malformed { .. })
    ));
}

#[test]
fn garbage_command_bytes_are_a_decode_error() {
    let mut buf = BytesMut::new();
    buf.put_u32(8);
    buf.put_u32(4);
    buf.put_slice(&[0xff, 0xff, 0xff, 0xff]);
    assert!(matches!(
        PulsarCodec::default().decode(&mut buf),
        Err(ProtocolError::Decode(_))
    ));
}

#[test]
fn metadata_size_beyond_the_payload_is_malformed() {
    let command = commands::client::send(1, 1, None);
    let mut with_crc = BytesMut::new();
    let data = [0, 0, 0, 50, 1, 2, 3];
    with_crc.put_u16(0x0e01);
    with_crc.put_u32(crc32c::crc32c(&data));
    with_crc.put_slice(&data);
    for tail in [&with_crc[..], &data[..], &[0x0e, 0x01, 0, 0][..], &[7][..]] {
        let mut buf = raw_frame(&command, tail);
        assert!(
            matches!(
                PulsarCodec::default().decode(&mut buf),
                Err(ProtocolError::Malformed { .. })
            ),
            "tail {tail:?} was accepted"
        );
    }
}

#[test]
fn truncated_broker_entry_section_is_malformed() {
    let command = commands::message(1, MessageIdData::default(), 0, vec![]);
    for tail in [&[0x0e, 0x02, 0, 0][..], &[0x0e, 0x02, 0, 0, 0, 9, 1][..]] {
        let mut buf = raw_frame(&command, tail);
        assert!(matches!(
            PulsarCodec::default().decode(&mut buf),
            Err(ProtocolError::Malformed { .. })
        ));
    }
}

#[test]
fn eof_inside_a_frame_is_an_error() {
    let bytes = encode(Frame::new(commands::ping()));
    let mut buf = BytesMut::from(&bytes[..6]);
    assert!(PulsarCodec::default().decode_eof(&mut buf).is_err());
}
