//! `PulsarCodec`: length-prefixed framing, CRC32C verification and command (de)serialization.

use bytes::{Buf, BufMut, Bytes, BytesMut};
use prost::Message as _;
use tokio_util::codec::{Decoder, Encoder};

use crate::error::ProtocolError;
use crate::frame::{
    metadata_prefix_len, Checksum, Frame, Payload, BROKER_ENTRY_METADATA_MAGIC, CHECKSUM_MAGIC,
    DEFAULT_MAX_MESSAGE_SIZE, FRAME_HEADROOM,
};
use crate::proto::BaseCommand;

#[cfg(test)]
mod tests;

/// Size of the `totalSize` and `cmdSize` fields.
const SIZE_FIELD_LEN: usize = 4;

/// Decoder and encoder of Pulsar frames for `tokio_util::codec::Framed*`.
///
/// Decoding never panics and never loops: each call either consumes one whole frame, asks for
/// more bytes (`Ok(None)`), or fails. After an error the connection must be closed, since the
/// stream position is no longer trustworthy.
#[derive(Clone, Debug)]
pub struct PulsarCodec {
    /// Largest accepted `totalSize`: max_message_size plus [`FRAME_HEADROOM`] for the command.
    max_frame_size: usize,
}

impl PulsarCodec {
    /// A codec accepting messages up to `max_message_size` bytes; frames may be
    /// [`FRAME_HEADROOM`] larger to fit the command and headers.
    pub fn new(max_message_size: usize) -> PulsarCodec {
        PulsarCodec {
            max_frame_size: max_message_size.saturating_add(FRAME_HEADROOM),
        }
    }

    /// Largest `totalSize` the decoder accepts.
    pub fn max_frame_size(&self) -> usize {
        self.max_frame_size
    }
}

impl Default for PulsarCodec {
    /// Java's defaults: 5 MiB messages, 5 MiB + 10 KiB frames.
    fn default() -> Self {
        PulsarCodec::new(DEFAULT_MAX_MESSAGE_SIZE)
    }
}

impl Decoder for PulsarCodec {
    type Item = Frame;
    type Error = ProtocolError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Frame>, ProtocolError> {
        let Some(header) = src.first_chunk::<SIZE_FIELD_LEN>() else {
            return Ok(None);
        };
        let total_size = u32::from_be_bytes(*header) as usize;
        // Checked before buffering so a hostile length cannot make us reserve gigabytes.
        if total_size > self.max_frame_size {
            return Err(ProtocolError::FrameTooLarge {
                size: total_size,
                max: self.max_frame_size,
            });
        }
        if total_size < SIZE_FIELD_LEN {
            return Err(ProtocolError::malformed(format!(
                "totalSize {total_size} cannot hold the 4-byte cmdSize"
            )));
        }
        let frame_len = SIZE_FIELD_LEN + total_size;
        if src.len() < frame_len {
            src.reserve(frame_len - src.len());
            return Ok(None);
        }
        let mut frame = src.split_to(frame_len).freeze();
        frame.advance(SIZE_FIELD_LEN);
        parse_frame(frame).map(Some)
    }
}

impl Encoder<Frame> for PulsarCodec {
    type Error = ProtocolError;

    /// Writes `[total][cmdSize][cmd]`, plus `[0x0e01][crc][data]` for a payload frame. The CRC
    /// comes from [`Payload::crc32c`], so a verified or stored checksum is reused.
    fn encode(&mut self, frame: Frame, dst: &mut BytesMut) -> Result<(), ProtocolError> {
        encode_frame(&frame.command, frame.payload.as_ref(), dst)
    }
}

impl Encoder<BaseCommand> for PulsarCodec {
    type Error = ProtocolError;

    /// Writes a simple frame (no payload) without wrapping the command in a [`Frame`].
    fn encode(&mut self, command: BaseCommand, dst: &mut BytesMut) -> Result<(), ProtocolError> {
        encode_frame(&command, None, dst)
    }
}

/// Serializes one frame. Outbound size is not limited by `max_frame_size`: a MESSAGE is only
/// slightly larger than the SEND it came from, and refusing it would wedge the subscription.
fn encode_frame(
    command: &BaseCommand,
    payload: Option<&Payload>,
    dst: &mut BytesMut,
) -> Result<(), ProtocolError> {
    let cmd_size = command.encoded_len();
    let payload_len = payload.map_or(0, |p| 2 + 4 + p.data.len());
    let total_size = SIZE_FIELD_LEN + cmd_size + payload_len;
    let too_large = || ProtocolError::FrameTooLarge {
        size: total_size,
        max: u32::MAX as usize,
    };
    let total_field = u32::try_from(total_size).map_err(|_| too_large())?;
    let cmd_field = u32::try_from(cmd_size).map_err(|_| too_large())?;
    dst.reserve(SIZE_FIELD_LEN + total_size);
    dst.put_u32(total_field);
    dst.put_u32(cmd_field);
    command.encode(dst)?;
    if let Some(payload) = payload {
        dst.put_u16(CHECKSUM_MAGIC);
        dst.put_u32(payload.crc32c());
        dst.put_slice(&payload.data);
    }
    Ok(())
}

/// Parses everything after `totalSize`: `[cmdSize][cmd]` and an optional payload.
fn parse_frame(mut rest: Bytes) -> Result<Frame, ProtocolError> {
    let cmd_size = take_u32(&mut rest, "cmdSize")? as usize;
    let command_bytes = take_bytes(&mut rest, cmd_size, "command")?;
    let command = BaseCommand::decode(command_bytes)?;
    // A frame has a payload iff bytes remain after the command.
    let payload = if rest.is_empty() {
        None
    } else {
        Some(parse_payload(rest)?)
    };
    Ok(Frame { command, payload })
}

/// Parses `[0x0e02 section]? [0x0e01][crc]? [metadataSize][metadata][body]`.
fn parse_payload(mut rest: Bytes) -> Result<Payload, ProtocolError> {
    if peek_u16(&rest) == Some(BROKER_ENTRY_METADATA_MAGIC) {
        // Only brokers emit this section; skip it so a payload relayed by another broker still
        // yields exactly the bytes the CRC covers.
        rest.advance(2);
        let size = take_u32(&mut rest, "brokerEntryMetadataSize")? as usize;
        take_bytes(&mut rest, size, "broker entry metadata")?;
    }
    let checksum = if peek_u16(&rest) == Some(CHECKSUM_MAGIC) {
        rest.advance(2);
        let received = take_u32(&mut rest, "checksum")?;
        let computed = crc32c::crc32c(&rest);
        if received == computed {
            Checksum::Valid(received)
        } else {
            Checksum::Mismatch { received, computed }
        }
    } else {
        // C++ below protocol v6 writes the metadata right after the command.
        Checksum::Absent
    };
    metadata_prefix_len(&rest)?;
    Ok(Payload {
        data: rest,
        checksum,
    })
}

/// The next two bytes as a big-endian u16, without consuming them.
fn peek_u16(buf: &[u8]) -> Option<u16> {
    buf.first_chunk::<2>().map(|b| u16::from_be_bytes(*b))
}

/// Consumes a big-endian u32, or fails naming the missing field.
fn take_u32(buf: &mut Bytes, field: &str) -> Result<u32, ProtocolError> {
    let value = buf
        .first_chunk::<4>()
        .map(|b| u32::from_be_bytes(*b))
        .ok_or_else(|| {
            ProtocolError::malformed(format!(
                "frame ends before {field} ({} bytes left)",
                buf.len()
            ))
        })?;
    buf.advance(4);
    Ok(value)
}

/// Consumes `len` bytes zero-copy, or fails when fewer remain.
fn take_bytes(buf: &mut Bytes, len: usize, what: &str) -> Result<Bytes, ProtocolError> {
    if buf.len() < len {
        return Err(ProtocolError::malformed(format!(
            "{what} of {len} bytes exceeds the {} bytes left in the frame",
            buf.len()
        )));
    }
    Ok(buf.split_to(len))
}
