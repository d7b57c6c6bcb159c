//! Apache Pulsar's binary wire protocol for the Geminga broker: types, framing and codec.
//!
//! Role: turn bytes from a client connection into [`Frame`]s and back, and give the broker
//! typed constructors for every reply so the interop rules of the protocol digest
//! (`shared/docs/pulsar-wire-protocol.md`) are encoded once.
//!
//! What it does **not** do: no I/O, no runtime, no state. It never opens a socket and never
//! decides what to answer; it (de)compresses payloads only when a caller asks (the data path
//! forwards them as stored). A test client can reuse it as is.
//!
//! Modules:
//! - [`proto`] holds hand-written prost types mirroring `PulsarApi.proto` (no `protoc` needed).
//! - [`frame`] holds [`Frame`], [`Payload`], [`Checksum`] and the protocol constants.
//! - [`codec`] holds [`PulsarCodec`], a `tokio_util` `Decoder`/`Encoder` with a frame-size limit.
//! - [`commands`] holds constructors for every command the broker sends (and, in
//!   [`commands::client`], the client-side ones for tests).
//! - [`batch`] parses and builds batch payloads.
//! - [`compression`] (de)compresses payloads in the clients' LZ4, ZLIB, ZSTD and SNAPPY formats.
//! - [`message_id`] holds [`MessageId`], an ordered, copyable message position.
//! - [`topic_name`] holds [`TopicName`], which parses and normalises topic names.
//! - [`error`] holds [`ProtocolError`].

pub mod batch;
pub mod codec;
pub mod commands;
pub mod compression;
pub mod error;
pub mod frame;
pub mod message_id;
pub mod proto;
pub mod topic_name;

pub use codec::PulsarCodec;
pub use compression::CompressionError;
pub use error::ProtocolError;
pub use frame::{Checksum, Frame, Payload};
pub use message_id::MessageId;
pub use topic_name::{TopicDomain, TopicName};
