//! One TCP connection to a broker: the CONNECT handshake, a writer task that batches frames
//! into few syscalls, a reader task that routes answers, and request/response helpers.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use geminga_protocol::codec::PulsarCodec;
use geminga_protocol::frame::{Frame, DEFAULT_MAX_MESSAGE_SIZE, PROTOCOL_VERSION};
use geminga_protocol::proto::{BaseCommand, CommandConnect};
use tokio::net::tcp::OwnedWriteHalf;
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot};
use tokio::task::AbortHandle;
use tokio_util::codec::{FramedRead, FramedWrite};

use super::error::server_error;
use super::router::{self, lock, PendingSend, SharedRoutes};
use super::ClientError;

/// What the client calls itself in CONNECT.
const CLIENT_VERSION: &str = concat!("geminga-client-", env!("CARGO_PKG_VERSION"));
/// Frames queued for the writer before senders wait; bounds memory under load.
const WRITE_QUEUE: usize = 4096;
/// Bytes the writer buffers before it must flush; large so pipelined frames share syscalls.
const WRITE_BUFFER: usize = 256 * 1024;
/// Frames written between explicit flushes, so a steady stream still gets flushed promptly.
const MAX_FRAMES_PER_FLUSH: usize = 1024;

/// Timeouts and credentials of a connection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConnectOptions {
    /// How long TCP connect plus CONNECT/CONNECTED may take.
    pub connect_timeout: Duration,
    /// How long a request waits for its response.
    pub operation_timeout: Duration,
    /// Credentials sent in CONNECT; `None` connects without.
    pub auth: Option<Authentication>,
}

/// Credentials of CONNECT: the method (`token`, `basic`) and its data.
#[derive(Clone, PartialEq, Eq)]
pub struct Authentication {
    /// `auth_method_name`.
    pub method: String,
    /// `auth_data`.
    pub data: Vec<u8>,
}

impl Authentication {
    /// A JWT, as Pulsar's `AuthenticationToken` sends it.
    #[must_use]
    pub fn token(token: &str) -> Self {
        Self {
            method: "token".to_owned(),
            data: token.as_bytes().to_vec(),
        }
    }
}

impl std::fmt::Debug for Authentication {
    // The data is a secret; it stays out of logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authentication")
            .field("method", &self.method)
            .finish_non_exhaustive()
    }
}

impl Default for ConnectOptions {
    fn default() -> Self {
        ConnectOptions {
            connect_timeout: Duration::from_secs(10),
            operation_timeout: Duration::from_secs(30),
            auth: None,
        }
    }
}

/// A handle to one broker connection. Cheap to clone; the connection closes when the last
/// handle (including producers and consumers made from it) is dropped.
#[derive(Clone)]
pub struct Connection {
    inner: Arc<Inner>,
}

struct Inner {
    addr: String,
    writer: mpsc::Sender<Frame>,
    routes: SharedRoutes,
    next_id: AtomicU64,
    server_version: String,
    protocol_version: i32,
    max_message_size: usize,
    options: ConnectOptions,
    tasks: [AbortHandle; 2],
}

impl Drop for Inner {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("addr", &self.inner.addr)
            .field("server_version", &self.inner.server_version)
            .finish_non_exhaustive()
    }
}

impl Connection {
    /// Dials `addr` (`host:port`), performs CONNECT/CONNECTED and starts the I/O tasks.
    ///
    /// # Errors
    /// [`ClientError::Connect`] when dialling fails, [`ClientError::Timeout`] when the handshake
    /// is too slow, [`ClientError::Server`] when the broker answers ERROR, and
    /// [`ClientError::Handshake`] for any other first frame.
    pub async fn connect(addr: &str, options: ConnectOptions) -> Result<Connection, ClientError> {
        let after = options.connect_timeout;
        tokio::time::timeout(after, Self::handshake(addr, options))
            .await
            .map_err(|_| ClientError::Timeout {
                operation: "connect",
                after,
            })?
    }

    async fn handshake(addr: &str, options: ConnectOptions) -> Result<Connection, ClientError> {
        let connect_error = |source| ClientError::Connect {
            addr: addr.to_owned(),
            source,
        };
        let stream = TcpStream::connect(addr).await.map_err(connect_error)?;
        stream.set_nodelay(true).map_err(connect_error)?;
        let (read, write) = stream.into_split();
        let mut reader = FramedRead::new(read, PulsarCodec::default());
        let mut writer = FramedWrite::new(write, PulsarCodec::default());
        writer.set_backpressure_boundary(WRITE_BUFFER);
        let connect = CommandConnect {
            client_version: CLIENT_VERSION.to_owned(),
            protocol_version: Some(PROTOCOL_VERSION),
            auth_method_name: options.auth.as_ref().map(|a| a.method.clone()),
            auth_data: options.auth.as_ref().map(|a| a.data.clone()),
            ..Default::default()
        };
        writer.send(Frame::new(connect)).await?;
        let handshake_error = |reason: String| ClientError::Handshake {
            addr: addr.to_owned(),
            reason,
        };
        let first = match reader.next().await {
            Some(frame) => frame?.command,
            None => return Err(handshake_error("connection closed before CONNECTED".into())),
        };
        if let Some(error) = first.error {
            return Err(ClientError::Server {
                operation: "connect",
                error: server_error(error.error),
                message: error.message,
            });
        }
        let Some(connected) = first.connected else {
            return Err(handshake_error(format!(
                "expected CONNECTED, got {:?}",
                first.r#type()
            )));
        };
        let max_message_size = connected
            .max_message_size
            .and_then(|size| usize::try_from(size).ok())
            .filter(|size| *size > 0)
            .unwrap_or(DEFAULT_MAX_MESSAGE_SIZE);
        // Inbound MESSAGE frames may be as large as the broker allows.
        *reader.decoder_mut() = PulsarCodec::new(max_message_size.max(DEFAULT_MAX_MESSAGE_SIZE));

        let routes = SharedRoutes::default();
        let (tx, rx) = mpsc::channel(WRITE_QUEUE);
        let read_task = tokio::spawn(router::read_loop(reader, routes.clone(), tx.clone()));
        let write_task = tokio::spawn(write_loop(writer, rx, routes.clone()));
        Ok(Connection {
            inner: Arc::new(Inner {
                addr: addr.to_owned(),
                writer: tx,
                routes,
                next_id: AtomicU64::new(0),
                server_version: connected.server_version,
                protocol_version: connected.protocol_version.unwrap_or(0),
                max_message_size,
                options,
                tasks: [read_task.abort_handle(), write_task.abort_handle()],
            }),
        })
    }

    /// `host:port` this connection dialled.
    #[must_use]
    pub fn addr(&self) -> &str {
        &self.inner.addr
    }

    /// The broker's `server_version` from CONNECTED.
    #[must_use]
    pub fn server_version(&self) -> &str {
        &self.inner.server_version
    }

    /// The negotiated protocol version from CONNECTED.
    #[must_use]
    pub fn protocol_version(&self) -> i32 {
        self.inner.protocol_version
    }

    /// The broker's `max_message_size` (5 MiB when it did not say).
    #[must_use]
    pub fn max_message_size(&self) -> usize {
        self.inner.max_message_size
    }

    /// Whether the connection has ended; every operation on it then fails.
    #[must_use]
    pub fn is_closed(&self) -> bool {
        lock(&self.inner.routes).is_closed()
    }

    /// A fresh id; request, producer and consumer ids share one counter, which keeps each of
    /// them unique on the connection.
    pub(crate) fn next_id(&self) -> u64 {
        self.inner.next_id.fetch_add(1, Ordering::Relaxed)
    }

    pub(crate) fn routes(&self) -> &SharedRoutes {
        &self.inner.routes
    }

    pub(crate) fn operation_timeout(&self) -> Duration {
        self.inner.options.operation_timeout
    }

    /// Queues a frame that expects no answer (FLOW, ACK, ...).
    pub(crate) async fn write(&self, frame: Frame) -> Result<(), ClientError> {
        self.inner
            .writer
            .send(frame)
            .await
            .map_err(|_| self.closed_error())
    }

    /// Queues a frame without waiting; `Ok(false)` when the queue is full.
    pub(crate) fn try_write(&self, frame: Frame) -> Result<bool, ClientError> {
        match self.inner.writer.try_send(frame) {
            Ok(()) => Ok(true),
            Err(mpsc::error::TrySendError::Full(_)) => Ok(false),
            Err(mpsc::error::TrySendError::Closed(_)) => Err(self.closed_error()),
        }
    }

    fn closed_error(&self) -> ClientError {
        ClientError::disconnected(format!("connection to {} is closed", self.inner.addr))
    }

    /// Sends a request carrying `request_id` and waits for the command that answers it.
    /// A broker ERROR becomes [`ClientError::Server`].
    pub(crate) async fn request(
        &self,
        operation: &'static str,
        request_id: u64,
        command: impl Into<BaseCommand>,
    ) -> Result<BaseCommand, ClientError> {
        let (tx, rx) = oneshot::channel();
        lock(&self.inner.routes).add_request(request_id, tx)?;
        if let Err(error) = self.write(Frame::new(command)).await {
            lock(&self.inner.routes).remove_request(request_id);
            return Err(error);
        }
        let after = self.operation_timeout();
        let response = match tokio::time::timeout(after, rx).await {
            Ok(Ok(response)) => response?,
            Ok(Err(_)) => return Err(self.closed_error()),
            Err(_) => {
                lock(&self.inner.routes).remove_request(request_id);
                return Err(ClientError::Timeout { operation, after });
            }
        };
        match response.error {
            Some(error) => Err(ClientError::Server {
                operation,
                error: server_error(error.error),
                message: error.message,
            }),
            None => Ok(response),
        }
    }

    /// Registers the receipt waiters of a SEND, then queues it. Callers serialise calls per
    /// producer so SENDs leave in sequence order.
    pub(crate) async fn send_payload(
        &self,
        producer_id: u64,
        sequence_id: u64,
        frame: Frame,
        pending: PendingSend,
    ) -> Result<(), ClientError> {
        lock(&self.inner.routes).add_send(producer_id, sequence_id, pending)?;
        if let Err(error) = self.write(frame).await {
            lock(&self.inner.routes).fail_send(producer_id, sequence_id, &error);
            return Err(error);
        }
        Ok(())
    }
}

/// Writes queued frames, feeding everything already queued before one flush.
async fn write_loop(
    mut sink: FramedWrite<OwnedWriteHalf, PulsarCodec>,
    mut rx: mpsc::Receiver<Frame>,
    routes: SharedRoutes,
) {
    let result: Result<(), ClientError> = async {
        while let Some(frame) = rx.recv().await {
            sink.feed(frame).await?;
            for _ in 0..MAX_FRAMES_PER_FLUSH {
                let Ok(frame) = rx.try_recv() else { break };
                sink.feed(frame).await?;
            }
            SinkExt::<Frame>::flush(&mut sink).await?;
        }
        Ok(())
    }
    .await;
    if let Err(error) = result {
        lock(&routes).close(&format!("write failed: {error}"));
    }
}

/// The response's command type, for error messages.
pub(crate) fn type_name(command: &BaseCommand) -> String {
    format!("{:?}", command.r#type())
}
