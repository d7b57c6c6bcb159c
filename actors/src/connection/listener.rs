//! The accept loop: one Connection actor per client, spread over the worker arbiters.

use std::time::Duration;

use actix::Arbiter;
use tokio::net::{TcpListener, TcpStream};
use tracing::{debug, warn};

use super::actor::Connection;
use crate::{
    context::BrokerContext,
    supervision::{supervise, ActorKind},
};

/// Accepts clients on `listener` until the future is dropped.
pub async fn serve(listener: TcpListener, broker: BrokerContext) {
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
        worker.spawn_fn(move || {
            let stream = match TcpStream::from_std(std_stream) {
                Ok(s) => s,
                Err(e) => return warn!(error = %e, %peer, "could not register the connection"),
            };
            let mut spec = broker.spec(ActorKind::Connection, peer.to_string(), None);
            spec.restart = false;
            let ctx_broker = broker.clone();
            supervise(&Arbiter::current(), spec, move |ctx, lifecycle| {
                Connection::new(ctx_broker, lifecycle, stream, peer, ctx)
            });
        });
    }
}
