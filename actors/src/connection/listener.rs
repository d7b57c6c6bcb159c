//! The accept loops (plain and TLS): one Connection actor per client, spread over the worker
//! arbiters; connection limits are applied here, before any actor exists.

use std::{net::SocketAddr, sync::Arc, time::Duration};

use actix::Arbiter;
use bytes::BytesMut;
use geminga_protocol::{codec::PulsarCodec, commands, frame::Frame, proto::ServerError};
use tokio::{
    io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt},
    net::{TcpListener, TcpStream},
};
use tokio_rustls::TlsAcceptor;
use tokio_util::codec::Encoder;
use tracing::{debug, warn};

use super::actor::{Connection, Transport};
use crate::{
    context::BrokerContext,
    security::{ConnectionPermit, LimitExceeded},
    supervision::{supervise, ActorKind},
};

/// How long a TLS client may take to finish its handshake.
const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a refused client gets to send its CONNECT before it is told why and closed.
const REFUSAL_READ_TIMEOUT: Duration = Duration::from_secs(2);

/// Accepts plain-TCP clients on `listener` until the future is dropped.
pub async fn serve(listener: TcpListener, broker: BrokerContext) {
    accept_loop(listener, broker, None).await;
}

/// Accepts TLS clients (`pulsar+ssl://`) on `listener` until the future is dropped.
pub async fn serve_tls(
    listener: TcpListener,
    broker: BrokerContext,
    tls: Arc<rustls::ServerConfig>,
) {
    accept_loop(listener, broker, Some(TlsAcceptor::from(tls))).await;
}

async fn accept_loop(listener: TcpListener, broker: BrokerContext, tls: Option<TlsAcceptor>) {
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(e) => {
                // Usually out of file descriptors: back off instead of spinning.
                warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        if let Err(e) = stream.set_nodelay(true) {
            debug!(error = %e, %peer, "could not disable Nagle");
        }
        let admitted = broker.security().connections.admit(peer.ip());
        // A tokio stream belongs to the runtime that registered it: move it as a std stream.
        let std_stream = match stream.into_std() {
            Ok(s) => s,
            Err(e) => {
                warn!(error = %e, %peer, "could not hand the connection over");
                continue;
            }
        };
        let Some(worker) = broker.next_worker().cloned() else {
            return;
        };
        let broker = broker.clone();
        let tls = tls.clone();
        worker.spawn_fn(move || {
            let stream = match TcpStream::from_std(std_stream) {
                Ok(s) => s,
                Err(e) => return warn!(error = %e, %peer, "could not register the connection"),
            };
            actix_rt::spawn(open(broker, stream, peer, tls, admitted));
        });
    }
}

/// Finishes the TLS handshake if any, then starts the connection or refuses it.
async fn open(
    broker: BrokerContext,
    stream: TcpStream,
    peer: SocketAddr,
    tls: Option<TlsAcceptor>,
    admitted: Result<ConnectionPermit, LimitExceeded>,
) {
    let mut transport = match tls {
        None => Transport::tcp(stream),
        Some(acceptor) => {
            match tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                Ok(Ok(tls)) => {
                    let peer_certificates = tls
                        .get_ref()
                        .1
                        .peer_certificates()
                        .map(|c| c.iter().map(|c| c.clone().into_owned()).collect());
                    let (read, write) = tokio::io::split(tls);
                    Transport {
                        read: Box::new(read),
                        write: Box::new(write),
                        peer_certificates,
                        permit: None,
                    }
                }
                Ok(Err(e)) => return debug!(error = %e, %peer, "TLS handshake failed"),
                Err(_) => return debug!(%peer, "TLS handshake timed out"),
            }
        }
    };
    match admitted {
        Ok(permit) => transport.permit = Some(permit),
        Err(limit) => return refuse(transport, peer, &limit).await,
    }
    let mut spec = broker.spec(ActorKind::Connection, peer.to_string(), None);
    spec.restart = false;
    supervise(&Arbiter::current(), spec, move |ctx, lifecycle| {
        Connection::with_transport(broker, lifecycle, transport, peer, ctx)
    });
}

/// Tells a client over a connection limit why it is refused (after reading its CONNECT, so
/// closing does not reset the socket before the answer is read), then closes.
async fn refuse(transport: Transport, peer: SocketAddr, limit: &LimitExceeded) {
    warn!(%peer, reason = %limit, "connection refused");
    let Transport {
        mut read,
        mut write,
        ..
    } = transport;
    let mut scratch = [0u8; 4096];
    let _ = tokio::time::timeout(REFUSAL_READ_TIMEOUT, read.read(&mut scratch)).await;
    let mut bytes = BytesMut::new();
    let error = commands::error(u64::MAX, ServerError::NotAllowedError, limit.to_string());
    if PulsarCodec::new(1024 * 1024)
        .encode(Frame::new(error), &mut bytes)
        .is_ok()
    {
        let _ = write_and_close(&mut write, &bytes).await;
    }
    // Drain what the client still sends until it closes, briefly.
    let _ = tokio::time::timeout(REFUSAL_READ_TIMEOUT, drain(&mut read)).await;
}

async fn write_and_close(
    write: &mut (impl AsyncWrite + Unpin + ?Sized),
    bytes: &[u8],
) -> std::io::Result<()> {
    write.write_all(bytes).await?;
    write.flush().await?;
    write.shutdown().await
}

async fn drain(read: &mut (impl AsyncRead + Unpin + ?Sized)) {
    let mut scratch = [0u8; 4096];
    while matches!(read.read(&mut scratch).await, Ok(n) if n > 0) {}
}
