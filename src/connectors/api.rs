//! The connector API: the [`Source`] and [`Sink`] traits a connector implements, the records
//! they exchange with the runtime, and [`ConnectorError`].

use std::{collections::BTreeMap, future::Future, pin::Pin};

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use tokio::sync::oneshot;

use super::config::{ConnectorId, ProcessingGuarantee};

/// The future a connector method returns. Connectors run on their instance's arbiter, so the
/// future need not be `Send`.
pub type ConnectorFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, ConnectorError>> + 'a>>;

/// Why a connector operation failed.
#[derive(Clone, Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConnectorError {
    /// The configuration is wrong (answered 400 at create/update; the instance fails at open).
    #[error("invalid connector config: {reason}")]
    InvalidConfig {
        /// What is wrong.
        reason: String,
    },
    /// The external system failed (a file, a database, a socket). The instance is restarted
    /// with backoff and the error shows in its status.
    #[error("{system}: {reason}")]
    External {
        /// Which system (`file`, `postgres`...).
        system: &'static str,
        /// What happened.
        reason: String,
    },
    /// Talking to the broker failed (publish, subscribe, ack).
    #[error("broker: {reason}")]
    Broker {
        /// What happened.
        reason: String,
    },
    /// Reading or writing the connector's metadata failed.
    #[error("metadata: {reason}")]
    Metadata {
        /// What happened.
        reason: String,
    },
    /// No such connector, or no such built-in type.
    #[error("{what} does not exist")]
    NotFound {
        /// What is missing.
        what: String,
    },
    /// The connector exists already.
    #[error("{what} already exists")]
    AlreadyExists {
        /// What exists.
        what: String,
    },
    /// The runtime is not running (shutting down or being replaced).
    #[error("the connector runtime is not available")]
    Unavailable,
}

impl ConnectorError {
    /// An [`ConnectorError::InvalidConfig`].
    pub fn invalid(reason: impl Into<String>) -> Self {
        Self::InvalidConfig {
            reason: reason.into(),
        }
    }

    /// An [`ConnectorError::External`] failure of `system`.
    pub fn external(system: &'static str, reason: impl ToString) -> Self {
        Self::External {
            system,
            reason: reason.to_string(),
        }
    }

    /// A [`ConnectorError::Broker`] failure.
    pub fn broker(reason: impl ToString) -> Self {
        Self::Broker {
            reason: reason.to_string(),
        }
    }

    /// Whether the failure is the broker's or the runtime's (a "system" exception in Pulsar's
    /// status), rather than the external system's.
    pub fn is_system(&self) -> bool {
        matches!(
            self,
            Self::Broker { .. } | Self::Metadata { .. } | Self::Unavailable
        )
    }
}

/// Where a source record comes from: a partition of the external system (a file, a table)
/// and an offset in it that grows with every record of that partition.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct SourceOffset {
    /// The partition (file name, table name...).
    pub partition: String,
    /// The offset after this record (a byte offset, a column value...).
    pub offset: i64,
}

/// The highest committed offset per partition; what a source resumes from.
pub type SourceOffsets = BTreeMap<String, i64>;

/// One record read by a source.
#[derive(Debug, Default)]
pub struct SourceRecord {
    /// Message key (routing and Key_Shared).
    pub key: Option<String>,
    /// Message body.
    pub value: Bytes,
    /// Message properties.
    pub properties: Vec<(String, String)>,
    /// Event time, epoch ms.
    pub event_time: Option<u64>,
    /// Where the record comes from; `None` for a source that cannot replay (the runtime then
    /// keeps no position for it).
    pub offset: Option<SourceOffset>,
    /// Told once the record is handled under the connector's guarantee: published and stored
    /// (at-least-once, effectively-once), or sent (at-most-once); an error otherwise.
    pub done: Option<oneshot::Sender<Result<(), String>>>,
}

/// What a source is told when it opens.
#[derive(Clone, Debug)]
pub struct SourceContext {
    /// The connector.
    pub id: ConnectorId,
    /// This instance (0-based) and how many run.
    pub instance: u32,
    /// Instances running.
    pub parallelism: u32,
    /// The connector's `configs`.
    pub config: Map<String, Value>,
    /// The guarantee the runtime applies.
    pub guarantee: ProcessingGuarantee,
    /// The committed offsets: continue after them.
    pub offsets: SourceOffsets,
}

/// A connector that reads an external system. The runtime publishes what [`Source::read`]
/// returns to the destination topic and keeps the offsets, under the processing guarantee.
pub trait Source {
    /// Opens the external system; `context.offsets` says where to continue.
    fn open(&mut self, context: SourceContext) -> ConnectorFuture<'_, ()>;

    /// The next records. May wait for data; returning an empty batch is fine (the runtime
    /// calls again). An error fails the instance, which is restarted with backoff.
    fn read(&mut self) -> ConnectorFuture<'_, Vec<SourceRecord>>;

    /// Releases the external system (called on a clean stop only).
    fn close(&mut self) -> ConnectorFuture<'_, ()> {
        Box::pin(async { Ok(()) })
    }
}

/// The position of a message in its topic, ordered as the topic's log.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct MessagePosition {
    /// The topic's ledger.
    pub ledger_id: u64,
    /// The entry in the ledger.
    pub entry_id: u64,
    /// The message within a batch entry (-1 when not batched).
    pub batch_index: i32,
}

/// One message handed to a sink.
#[derive(Clone, Debug)]
pub struct SinkRecord {
    /// Full name of the topic it was read from.
    pub topic: String,
    /// Its position in that topic.
    pub position: MessagePosition,
    /// Message key.
    pub key: Option<String>,
    /// Message body.
    pub value: Bytes,
    /// Message properties.
    pub properties: Vec<(String, String)>,
    /// Event time, epoch ms, if the producer set one.
    pub event_time: Option<u64>,
    /// Publish time, epoch ms.
    pub publish_time: u64,
}

/// What a sink is told when it opens.
#[derive(Clone, Debug)]
pub struct SinkContext {
    /// The connector.
    pub id: ConnectorId,
    /// This instance (0-based).
    pub instance: u32,
    /// Instances running.
    pub parallelism: u32,
    /// The connector's `configs`.
    pub config: Map<String, Value>,
    /// The guarantee the runtime applies.
    pub guarantee: ProcessingGuarantee,
}

/// Positions a sink committed in its target system, per topic.
pub type CommittedPositions = BTreeMap<String, MessagePosition>;

/// A connector that writes messages to an external system. The runtime consumes the inputs
/// and acks what was written, under the processing guarantee.
pub trait Sink {
    /// Opens the external system.
    fn open(&mut self, context: SinkContext) -> ConnectorFuture<'_, ()>;

    /// Writes a batch. `Ok` means it is durable in the target system. Under
    /// effectively-once, the sink must store each topic's highest position of the batch in
    /// the same transaction as the data (see [`Sink::committed`]).
    fn write(&mut self, records: Vec<SinkRecord>) -> ConnectorFuture<'_, ()>;

    /// Whether [`Sink::committed`] is implemented, so effectively-once can be offered.
    fn supports_effectively_once(&self) -> bool {
        false
    }

    /// The positions stored by earlier writes (effectively-once): the runtime skips messages
    /// at or below them after a restart.
    fn committed(&mut self) -> ConnectorFuture<'_, CommittedPositions> {
        Box::pin(async { Ok(CommittedPositions::new()) })
    }

    /// Releases the external system (called on a clean stop only).
    fn close(&mut self) -> ConnectorFuture<'_, ()> {
        Box::pin(async { Ok(()) })
    }
}
